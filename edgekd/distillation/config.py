"""Typed settings of one training run: the loss, the distillation method, and the trainer's settings.

Recipes (``teacher:``/``student:`` sections) and the Python API (``edgekd.distill``)
validate with these models, so a misspelled key fails before any work, naming it.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TrainSpec(_Strict):
    """How a model is trained: epochs, batch, optimiser, early stopping, selection, threads."""

    epochs: int = Field(30, ge=0)  # 0: use the model's `checkpoint` as it is (no training)
    batch_size: int = Field(64, ge=2)
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    patience: int = Field(8, ge=1)
    smooth: int = Field(3, ge=1)  # model selection on the mean val score of the last N epochs
    # the task's training augmentation (audio: SpecAugment; photos: crops and colour; arrays: noise if set);
    # `spec_augment` is the older name of this switch
    augment: bool = Field(True, validation_alias=AliasChoices("augment", "spec_augment"))
    consistent_teacher: bool = True  # the teacher labels the student's augmented view (else clean windows, once)
    threads: int = Field(2, ge=1)

    def trainer_config(self) -> Any:
        """The trainer's ``TrainConfig`` (every setting but ``augment``, which picks the augmentation)."""
        from edgekd.distillation.trainer import TrainConfig

        return TrainConfig(**self.model_dump(exclude={"augment"}))


class LossSpec(_Strict):
    """A registered logit-level loss (``ce``, ``kd``, ``dkd``, plugins') and its parameters."""

    name: str
    params: dict[str, Any] = {}


class DistillSpec(_Strict):
    """A distillation method (``edgekd.distillation.methods``) and its parameters; ``loss`` stays the logit-level loss."""

    method: str = "logit"
    params: dict[str, Any] = {}


class Objective(_Strict):
    """What a training step optimises: the logit loss, wrapped in a distillation method if one is named."""

    loss: LossSpec = LossSpec(name="ce")
    distill: Optional[DistillSpec] = None
