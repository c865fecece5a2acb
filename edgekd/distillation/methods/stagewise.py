"""Stage-wise (block-wise) KD: the student learns the teacher's stages one at a time, then end to end.

For ``stage_epochs`` epochs per stage, the only loss is the hint between student
stage k (through its adapter) and teacher stage k; a forward hook detaches the
output of stage k−1, so earlier stages stay as they were learnt and later layers
get no gradient. Then the logit loss trains the whole student (plus, optionally,
the hints). Epochs of the block-wise phase are not candidates for model
selection (the head is untrained then). After progressive block-wise
distillation (e.g. Wang et al., "Progressive blockwise knowledge distillation", IJCAI 2018).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from edgekd.distillation.feature_losses import FEATURE_LOSSES
from edgekd.training.hooks import FeatureTap, GradientCut
from edgekd.training.method import Batch, BindContext, DistillMethod, FrozenOutputs, LayerPair, MethodParams
from edgekd.distillation.methods.feature import build_adapters, pair_losses, refresh_adapters
from edgekd.training.methods import METHODS
from edgekd.errors import InputError


class StagewiseParams(MethodParams):
    stages: list[LayerPair] = Field(min_length=1)  # in forward order
    stage_epochs: int = Field(2, ge=1)
    end_to_end_hint_weight: float = Field(0.0, ge=0)


@METHODS.register("stagewise")
class StagewiseKD(DistillMethod):
    name = "stagewise"
    Params = StagewiseParams

    def bind(self, ctx: BindContext) -> None:
        super().bind(ctx)
        p: StagewiseParams = self.params
        if ctx.teacher is None:
            raise InputError("student.distill: method 'stagewise' needs a teacher")
        self.blockwise_epochs = len(p.stages) * p.stage_epochs
        if ctx.epochs <= self.blockwise_epochs:
            raise InputError(
                f"student.distill.params: {len(p.stages)} stages × stage_epochs {p.stage_epochs} leave no "
                f"end-to-end epoch within train.epochs {ctx.epochs}"
            )
        where = "student.distill.params.stages"
        self.s_tap = FeatureTap(ctx.student, [s.student for s in p.stages], where=where)
        self.cuts = [GradientCut(ctx.student, s.student, where=where) for s in p.stages[:-1]]
        self.teacher = FrozenOutputs(ctx.teacher, [s.teacher for s in p.stages], ctx.train_x, ctx.online, where=where)
        example = torch.from_numpy(ctx.train_x[:1].copy())
        refresh_adapters(self._extra, build_adapters(ctx.student, ctx.teacher, p.stages, example))

    def stage_of(self, epoch: int) -> int | None:
        """The stage trained in this epoch (0-based), or None in the end-to-end phase."""
        if epoch > self.blockwise_epochs:
            return None
        return (epoch - 1) // self.params.stage_epochs

    def selectable(self, epoch: int) -> bool:
        return self.stage_of(epoch) is None

    def loss(self, student: nn.Module, batch: Batch) -> torch.Tensor:
        stage = self.stage_of(batch.epoch)
        for k, cut in enumerate(self.cuts):
            cut.active = stage is not None and k == stage - 1
        t_logits, t_feats = self.teacher(batch)
        s_logits = student(batch.x)
        stages = self.params.stages
        if stage is not None:
            i = str(stage)
            s = self.s_tap.out[stages[stage].student]
            if i in self._extra:
                s = self._extra[i](s)
            return FEATURE_LOSSES.get("hint")(s, t_feats[stages[stage].teacher])
        loss = self.loss_fn(s_logits, batch.y, t_logits)
        if self.params.end_to_end_hint_weight > 0:
            hints = pair_losses("hint", stages, self.s_tap.out, t_feats, self._extra)
            loss = loss + self.params.end_to_end_hint_weight * torch.stack(hints).mean()
        return loss

    def unbind(self) -> None:
        self.s_tap.remove()
        for c in self.cuts:
            c.remove()
        self.teacher.remove()
