"""Self-distillation: the student learns from its own earlier snapshot, or from a same-architecture teacher.

Snapshot mode (no ``checkpoint``): every ``every`` epochs the current student is
frozen and becomes the teacher of the following epochs (after snapshot
distillation, Yang et al., CVPR 2019). Until the first snapshot exists the
student's own detached logits stand in for the teacher, so the soft term is zero
and only the hard-label term trains. With ``checkpoint``, a model of the
student's own architecture with those weights is the teacher ("born-again"
networks, Furlanello et al., ICML 2018). No separate teacher is needed.
"""

from __future__ import annotations

import copy
from typing import Optional

import torch
from pydantic import Field
from torch import nn

from edgekd.training.method import (
    Batch,
    BindContext,
    DistillMethod,
    FrozenOutputs,
    MethodParams,
    TeacherRef,
    load_frozen,
)
from edgekd.training.methods import METHODS


class SelfDistillParams(MethodParams):
    checkpoint: Optional[str] = None  # weights of a same-architecture teacher; None: the student's own snapshots
    every: int = Field(1, ge=1)  # snapshot period in epochs


@METHODS.register("self_distill")
class SelfDistillation(DistillMethod):
    """``loss(student, y, snapshot(x))``; before the first snapshot, ``loss(student, y, student.detach())``."""

    name = "self_distill"
    Params = SelfDistillParams

    def __init__(self, params, loss) -> None:
        super().__init__(params, loss)
        self.snapshot_state: dict | None = None

    def bind(self, ctx: BindContext) -> None:
        super().bind(ctx)
        p: SelfDistillParams = self.params
        self.snapshot_state = None  # a snapshot of an earlier call (another student shape) must not carry over
        if p.checkpoint:
            model = load_frozen(
                TeacherRef(checkpoint=p.checkpoint), like=ctx.student, num_classes=ctx.num_classes,
                input_shape=tuple(ctx.train_x.shape[1:]), where="student.distill.params.checkpoint",
            )
            self.frozen = FrozenOutputs(model, [], ctx.train_x, ctx.online, where="student.distill")
        else:
            self.frozen = None

    def _take(self, student: nn.Module, state: dict | None = None) -> None:
        snap = copy.deepcopy(student)
        if state is not None:
            snap.load_state_dict(state)
        self.snapshot_state = {k: v.detach().clone() for k, v in snap.state_dict().items()}
        # a fresh cache per snapshot: outputs on the clean windows change with every snapshot
        self.frozen = FrozenOutputs(snap, [], self.ctx.train_x, online=True, where="student.distill")
        if not self.ctx.online:
            self.frozen.online = False
            self.frozen.cache = {"logits": _predict(snap, self.ctx.train_x)}

    def end_epoch(self, student: nn.Module, epoch: int) -> None:
        if self.params.checkpoint is None and epoch % self.params.every == 0:
            self._take(student)

    def loss(self, student: nn.Module, batch: Batch) -> torch.Tensor:
        s_logits = student(batch.x)
        t_logits = self.frozen(batch)[0] if self.frozen is not None else s_logits.detach()
        return self.loss_fn(s_logits, batch.y, t_logits)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "snapshot": self.snapshot_state}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if state.get("snapshot") is not None:  # resumed: rebuild the snapshot saved with last.pt
            self._take(self.ctx.student, state["snapshot"])


def _predict(model: nn.Module, x, batch_size: int = 256):
    from edgekd.models.inference import predict_logits

    return predict_logits(model, x, batch_size)
