"""Multi-teacher KD: several frozen teachers' logits combined per example, then the logit loss.

``mean`` averages the teachers' logits; ``confidence`` weights each teacher per
example by softmax over teachers of −CE(teacher, true label), so a teacher that
is wrong on an example counts less there (after CA-MKD, Zhang et al., ICASSP 2022).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
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
from edgekd.errors import InputError


def combine_logits(logits: list[torch.Tensor], targets: torch.Tensor, how: str) -> torch.Tensor:
    """One soft target per example from K teachers' logits.

    Args:
        logits: K tensors (N, C).
        targets: true labels (N,), used by ``confidence``.
        how: ``mean`` (equal weights) or ``confidence`` (softmax over teachers of −CE per example).
    Returns:
        (N, C) combined logits.
    """
    stacked = torch.stack(logits)  # K, N, C
    if how == "mean":
        return stacked.mean(0)
    if how == "confidence":
        ce = torch.stack([F.cross_entropy(t, targets, reduction="none") for t in logits])  # K, N
        w = torch.softmax(-ce, dim=0)
        return (w.unsqueeze(-1) * stacked).sum(0)
    raise ValueError(f"unknown combination {how!r}")


class MultiTeacherParams(MethodParams):
    teachers: list[TeacherRef] = Field(min_length=1)  # besides the main teacher (unless include_main is false)
    include_main: bool = True
    combine: Literal["mean", "confidence"] = "mean"


@METHODS.register("multi_teacher")
class MultiTeacherKD(DistillMethod):
    """``loss(student, y, combine(teacher_1, ..., teacher_K))``."""

    name = "multi_teacher"
    Params = MultiTeacherParams
    where = "student.distill.params.teachers"

    def _models(self, ctx: BindContext) -> list[nn.Module]:
        p: MultiTeacherParams = self.params
        shape = tuple(ctx.train_x.shape[1:])
        extra = [
            load_frozen(r, like=ctx.teacher, num_classes=ctx.num_classes, input_shape=shape, where=f"{self.where}[{i}]")
            for i, r in enumerate(p.teachers)
        ]
        if p.include_main:
            if ctx.teacher is None:
                raise InputError("student.distill: include_main is true but the run has no teacher")
            return [ctx.teacher, *extra]
        return extra

    def bind(self, ctx: BindContext) -> None:
        super().bind(ctx)
        self.teachers = [FrozenOutputs(m, [], ctx.train_x, ctx.online, where=self.where) for m in self._models(ctx)]

    def combine(self) -> str:
        """How the teachers' logits are combined (``mean`` or ``confidence``)."""
        return self.params.combine

    def loss(self, student: nn.Module, batch: Batch) -> torch.Tensor:
        logits = [t(batch)[0] for t in self.teachers]
        return self.loss_fn(student(batch.x), batch.y, combine_logits(logits, batch.y, self.combine()))
