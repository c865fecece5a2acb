"""Feature KD: hint (FitNets) or attention-transfer losses on named layer pairs, plus the logit loss.

Forward hooks read the student's and teacher's maps (neither model is edited).
For hints, a learnable adapter (resize + 1×1 conv) maps each student map onto
its teacher map's shape where they differ; adapters train with the student and
are dropped at export.
"""

from __future__ import annotations

from typing import Literal, Optional

import torch
from pydantic import Field
from torch import nn

from edgekd.distillation.feature_losses import FEATURE_LOSSES, Adapter, needs_adapter
from edgekd.training.hooks import FeatureTap, tap_once
from edgekd.training.method import Batch, BindContext, DistillMethod, FrozenOutputs, LayerPair, MethodParams
from edgekd.training.methods import METHODS
from edgekd.errors import InputError


class FeatureParams(MethodParams):
    pairs: list[LayerPair] = Field(min_length=1)
    kind: Literal["hint", "at"] = "hint"
    weight: Optional[float] = Field(None, ge=0)  # default: 1 for hints, 1000 for AT (the AT paper's beta)


def layer_shapes(model: nn.Module, names: list[str], x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Output shapes of named layers, from one forward pass in eval mode (BN statistics untouched)."""
    return {n: tuple(t.shape) for n, t in tap_once(model, names, x).items()}


def build_adapters(
    student: nn.Module, teacher: nn.Module, pairs: list[LayerPair], example: torch.Tensor
) -> nn.ModuleDict:
    """One adapter per pair whose student and teacher maps differ in shape (keyed by pair index)."""
    s_shapes = layer_shapes(student, [p.student for p in pairs], example)
    t_shapes = layer_shapes(teacher, [p.teacher for p in pairs], example)
    adapters = nn.ModuleDict()
    for i, p in enumerate(pairs):
        s, t = s_shapes[p.student], t_shapes[p.teacher]
        if len(s) != 4 or len(t) != 4:
            raise InputError(f"feature KD: layers {p.student!r}/{p.teacher!r} are not (N, C, H, W) maps ({s}, {t})")
        if needs_adapter(s, t):
            adapters[str(i)] = Adapter(s[1], t[1], t[2:])
    return adapters


def refresh_adapters(current: nn.ModuleDict, wanted: nn.ModuleDict) -> None:
    """Keep trained adapters whose shapes still fit; replace the rest (e.g. after pruning changed the student).

    Args:
        current: the method's adapters, updated in place.
        wanted: freshly built adapters for the models as they are now.
    """
    def shape(m: nn.Module) -> tuple:
        return tuple((k, tuple(v.shape)) for k, v in m.state_dict().items()) + (getattr(m, "size", None),)

    if set(current) != set(wanted) or any(shape(current[k]) != shape(wanted[k]) for k in wanted):
        for k in list(current):
            del current[k]
        current.update(wanted)


def pair_losses(
    kind: str, pairs: list[LayerPair], s_feats: dict, t_feats: dict, adapters: nn.ModuleDict
) -> list[torch.Tensor]:
    """The feature loss of each pair (student maps through their adapters for hints)."""
    fn = FEATURE_LOSSES.get(kind)
    out = []
    for i, p in enumerate(pairs):
        s = s_feats[p.student]
        if kind == "hint" and str(i) in adapters:
            s = adapters[str(i)](s)
        out.append(fn(s, t_feats[p.teacher]))
    return out


@METHODS.register("feature")
class FeatureKD(DistillMethod):
    """``loss(student, y, teacher) + weight · mean over pairs of hint/AT(student map, teacher map)``."""

    name = "feature"
    Params = FeatureParams

    def bind(self, ctx: BindContext) -> None:
        super().bind(ctx)
        if ctx.teacher is None:
            raise InputError("student.distill: method 'feature' needs a teacher")
        p: FeatureParams = self.params
        self.weight = p.weight if p.weight is not None else (1.0 if p.kind == "hint" else 1000.0)
        self.s_tap = FeatureTap(ctx.student, [q.student for q in p.pairs], where="student.distill.params.pairs")
        self.teacher = FrozenOutputs(
            ctx.teacher, [q.teacher for q in p.pairs], ctx.train_x, ctx.online, where="student.distill.params.pairs"
        )
        if p.kind == "hint":
            example = torch.from_numpy(ctx.train_x[:1].copy())
            refresh_adapters(self._extra, build_adapters(ctx.student, ctx.teacher, p.pairs, example))

    def loss(self, student: nn.Module, batch: Batch) -> torch.Tensor:
        t_logits, t_feats = self.teacher(batch)
        s_logits = student(batch.x)
        feats = pair_losses(self.params.kind, self.params.pairs, self.s_tap.out, t_feats, self._extra)
        return self.loss_fn(s_logits, batch.y, t_logits) + self.weight * torch.stack(feats).mean()

    def unbind(self) -> None:
        self.s_tap.remove()
        self.teacher.remove()
