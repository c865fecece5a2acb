"""Checkpoint-ensemble KD (knowledge fusion): one model's own training checkpoints, averaged, as the teacher.

Checkpoints taken along one training run disagree where the model is unsure,
and their average is a better-calibrated teacher than any one of them (Wang et
al., "Efficient knowledge distillation from model checkpoints", NeurIPS 2022).
``train_model(..., snapshot_every=N)`` keeps such checkpoints.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field
from torch import nn

from edgekd.training.method import BindContext, MethodParams, TeacherRef, load_frozen
from edgekd.distillation.methods.multi_teacher import MultiTeacherKD
from edgekd.training.methods import METHODS


class CheckpointEnsembleParams(MethodParams):
    checkpoints: list[str] = Field(min_length=2)
    model: Optional[str] = None  # the checkpoints' architecture; None: the main teacher's
    params: dict[str, Any] = {}
    include_teacher: bool = False  # also average in the main teacher


@METHODS.register("checkpoint_ensemble")
class CheckpointEnsembleKD(MultiTeacherKD):
    """``loss(student, y, mean over checkpoints of logits)``."""

    name = "checkpoint_ensemble"
    Params = CheckpointEnsembleParams
    where = "student.distill.params.checkpoints"

    def _models(self, ctx: BindContext) -> list[nn.Module]:
        p: CheckpointEnsembleParams = self.params
        shape = tuple(ctx.train_x.shape[1:])
        models = [
            load_frozen(
                TeacherRef(model=p.model, params=p.params, checkpoint=c),
                like=ctx.teacher, num_classes=ctx.num_classes, input_shape=shape, where=f"{self.where}[{i}]",
            )
            for i, c in enumerate(p.checkpoints)
        ]
        return ([ctx.teacher] if p.include_teacher and ctx.teacher is not None else []) + models

    def combine(self) -> str:
        return "mean"
