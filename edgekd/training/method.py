"""What a distillation method is: per-batch behaviour the trainer calls.

A method decides which teacher outputs (logits, named feature maps) a batch
needs, how inputs are mixed, and the loss. The trainer owns the loop (order,
augmentation, optimiser, schedule, validation, checkpoints) and calls:

    method.bind(ctx)              once, before training (hooks, adapters, teacher caches)
    method.loss(student, batch)   per batch
    method.end_epoch(student, e)  after each epoch (snapshots)
    method.selectable(e)          whether epoch e's weights may be selected (stage-wise warm-up: no)
    method.unbind()               after training (hooks removed)

Modules a method trains with the student (adapters) come from
``extra_modules()``; they are optimised with the student and are not part of
it, so export never sees them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from edgekd.training.hooks import FeatureTap
from edgekd.training.losses import LossFn


class MethodParams(BaseModel):
    """Typed parameters of a method (a misspelled key fails, naming it)."""

    model_config = ConfigDict(extra="forbid")


class TeacherRef(MethodParams):
    """A frozen model from the registry with weights from a local checkpoint (loaded with weights_only=True)."""

    model: Optional[str] = None  # registry key; None: the main teacher's architecture
    params: dict[str, Any] = {}
    checkpoint: str


class LayerPair(MethodParams):
    """A student layer and the teacher layer it learns from (names from ``named_modules()``)."""

    student: str
    teacher: str


@dataclass
class BindContext:
    """What a method may use when training starts.

    Attributes:
        student, teacher: the networks (teacher frozen; None when the run has none).
        train_x: the clean training windows (for teacher caches).
        num_classes: output size.
        online: the teacher labels the student's augmented view batch by batch (consistent
            teaching); otherwise teacher outputs on the clean windows are computed once and looked up.
        epochs: the planned number of epochs.
    """

    student: nn.Module
    teacher: Optional[nn.Module]
    train_x: np.ndarray
    num_classes: int
    online: bool
    epochs: int


@dataclass
class Batch:
    """One training batch: the view the student sees, the clean windows, labels and their indices."""

    x: torch.Tensor
    x_clean: torch.Tensor
    y: torch.Tensor
    idx: torch.Tensor
    epoch: int
    gen: torch.Generator


class DistillMethod:
    """Base class: logits of the student against one logit-level loss (``student.loss``).

    Args:
        params: the method's typed parameters.
        loss: the logit-level loss (``ce``, ``kd``, ``dkd``): ``loss(student, targets, teacher)``.
    """

    name = "base"
    Params: type[MethodParams] = MethodParams

    def __init__(self, params: MethodParams, loss: LossFn) -> None:
        self.params = params
        self.loss_fn = loss
        self._extra: nn.ModuleDict = nn.ModuleDict()

    # ------------------------------------------------------------ lifecycle
    def bind(self, ctx: BindContext) -> None:
        self.ctx = ctx

    def loss(self, student: nn.Module, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def end_epoch(self, student: nn.Module, epoch: int) -> None:
        pass

    def selectable(self, epoch: int) -> bool:
        return True

    def unbind(self) -> None:
        pass

    # ------------------------------------------------------------ trained extras and resume
    def extra_modules(self) -> nn.ModuleDict:
        """Modules trained with the student (adapters), discarded at export."""
        return self._extra

    def state_dict(self) -> dict:
        """What resume needs beyond the student: adapter weights (and snapshots, where a method keeps one)."""
        return {"extra": self._extra.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self._extra.load_state_dict(state["extra"])

    def fingerprint(self) -> str:
        return f"{self.name}|{self.params.model_dump_json()}"


class FrozenOutputs:
    """Logits and named feature maps of a frozen model, run per batch or looked up from a cache.

    The cache holds outputs on the clean training windows, computed once (float16 for
    feature maps) and shared between methods and runs in the same process.

    Args:
        model: the frozen network (put in eval mode).
        layers: names of the feature maps wanted besides the logits.
        train_x: the clean training windows.
        online: run the model on each batch instead of looking outputs up.
    """

    _memo: dict[tuple, np.ndarray] = {}

    def __init__(self, model: nn.Module, layers: list[str], train_x: np.ndarray, online: bool, *, where: str) -> None:
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.layers = list(dict.fromkeys(layers))
        self.tap = FeatureTap(model, self.layers, where=where) if self.layers else None
        self.online = online
        self.cache: dict[str, np.ndarray] = {}
        if not online:
            self.cache = self._cached(train_x)

    def _key(self, train_x: np.ndarray, name: str) -> tuple:
        first = next(self.model.parameters(), None)  # a file-backed teacher (ONNX Runtime) has none
        weights = (first.data_ptr(), float(first.detach().flatten()[0])) if first is not None else ()
        return (id(self.model), *weights, id(train_x), train_x.shape, name)

    def _cached(self, train_x: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
        names = ["logits", *self.layers]
        missing = [n for n in names if self._key(train_x, n) not in self._memo]
        if missing:
            parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
            for i in range(0, len(train_x), batch_size):
                logits, feats = self._run(torch.from_numpy(train_x[i : i + batch_size]))
                parts["logits"].append(logits.numpy())
                for n in self.layers:
                    parts[n].append(feats[n].numpy().astype(np.float16))
            for n in names:
                self._memo[self._key(train_x, n)] = np.concatenate(parts[n])
        return {n: self._memo[self._key(train_x, n)] for n in names}

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        with torch.no_grad():
            logits = self.model(x)
        feats = dict(self.tap.out) if self.tap else {}
        return logits, feats

    def __call__(self, batch: Batch, x: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Outputs for this batch: on ``x`` (or the student's view) when online or when ``x`` is given."""
        if self.online or x is not None:
            return self._run(batch.x if x is None else x)
        idx = batch.idx.numpy()
        logits = torch.from_numpy(self.cache["logits"][idx])
        return logits, {n: torch.from_numpy(self.cache[n][idx].astype(np.float32)) for n in self.layers}

    def remove(self) -> None:
        if self.tap:
            self.tap.remove()

    @classmethod
    def clear_cache(cls) -> None:
        cls._memo.clear()


def load_frozen(ref: TeacherRef, *, like: nn.Module | None, num_classes: int, input_shape: tuple[int, ...], where: str) -> nn.Module:
    """Build ``ref.model`` from the registry (or copy ``like``'s architecture) and load ``ref.checkpoint``."""
    from edgekd.errors import InputError

    if ref.model is not None:
        from edgekd.models import build_model

        model = build_model(ref.model, num_classes=num_classes, input_shape=input_shape, **ref.params)
    elif like is not None:
        model = copy.deepcopy(like)
    else:
        raise InputError(f"{where}: name the architecture ('model:') — there is no main teacher to copy it from")
    try:
        state = torch.load(ref.checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{where}: {ref.checkpoint}: cannot load: {first}") from None
    return model.eval()
