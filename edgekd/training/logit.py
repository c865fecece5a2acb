"""Logit KD: the student's logits against the teacher's through ``student.loss`` (Hinton KD, DKD, or CE).

This is the trainer's behaviour when it is given a plain loss: the baseline
every other method is compared with.
"""

from __future__ import annotations

import torch
from torch import nn

from edgekd.training.method import Batch, BindContext, DistillMethod, FrozenOutputs, MethodParams
from edgekd.training.methods import METHODS


@METHODS.register("logit")
class LogitKD(DistillMethod):
    """``loss(student(x), y, teacher(x))``; without a teacher, ``loss(student(x), y, None)``."""

    name = "logit"
    Params = MethodParams

    def bind(self, ctx: BindContext) -> None:
        super().bind(ctx)
        self.teacher = (
            FrozenOutputs(ctx.teacher, [], ctx.train_x, ctx.online, where="teacher") if ctx.teacher is not None else None
        )

    def loss(self, student: nn.Module, batch: Batch) -> torch.Tensor:
        teacher_logits = self.teacher(batch)[0] if self.teacher is not None else None
        return self.loss_fn(student(batch.x), batch.y, teacher_logits)
