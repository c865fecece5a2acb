"""Typed settings of one training run: the loss, the distillation method, and the trainer's settings.

Recipes (``teacher:``/``student:`` sections) and the Python API (``edgekd.distill``)
validate with these models, so a misspelled key fails before any work, naming it.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from edgekd.training.defaults import KD_DEFAULTS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)  # lr: .inf trains NaN


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
    # Sampling of training windows: `none` shuffles them all once per epoch; `label` draws every class equally
    # often, `group_label` every (group, label) cell (e.g. database x label), so a label that is rare in one
    # database is not learned as "this stethoscope" (draws with replacement, `epoch_windows` per epoch).
    balance: Literal["none", "label", "group_label"] = "none"
    epoch_windows: Optional[int] = Field(None, ge=2)  # windows per epoch; None: as many as the training set has
    # Model selection: `score` (MAcc or balanced accuracy over all of validation) or `group_mean` (its mean over
    # the groups, each scored within itself: a database the model finds easy cannot carry a hard one).
    select: Literal["score", "group_mean"] = "score"
    # Fine-tuning a pretrained model (``pretrained: imagenet``, or your own module with a ``pretrained_source``
    # record naming its fresh tensors; otherwise the last Linear layer is the new part): the pretrained tensors
    # learn at ``backbone_lr`` x ``lr``, and for the first ``freeze_epochs`` epochs only the new part learns
    # (frozen-then-unfrozen), so a randomly initialised classifier does not wreck the pretrained filters.
    backbone_lr: float = Field(1.0, ge=0, le=1)
    freeze_epochs: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _freeze_leaves_epochs(self) -> "TrainSpec":
        if self.freeze_epochs and self.epochs and self.freeze_epochs >= self.epochs:
            raise ValueError(f"freeze_epochs ({self.freeze_epochs}) must be less than epochs ({self.epochs}): "
                             "otherwise the pretrained part never trains (backbone_lr: 0 says that on purpose)")
        return self

    def trainer_config(self) -> Any:
        """The trainer's ``TrainConfig`` (every setting but ``augment``, which picks the augmentation)."""
        from edgekd.training.trainer import TrainConfig

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


def follow_up_objective(student: Objective, given: Optional[Objective] = None) -> Objective:
    """What a fine-tuning after the student's training optimises (pruning recovery, QAT): ``given`` when set, else
    the student's own objective when it learns from the teacher, else KD at ``KD_DEFAULTS``.

    Example:
        >>> follow_up_objective(Objective(loss=LossSpec(name="ce"))).loss.params
        {'temperature': 4.0, 'alpha': 0.1}
        >>> follow_up_objective(Objective(loss=LossSpec(name="kd", params={"temperature": 7.0}))).loss.params
        {'temperature': 7.0}
    """
    if given is not None:
        return given
    if student.loss.name != "ce" or student.distill is not None:
        return Objective(loss=student.loss, distill=student.distill)
    return Objective(loss=LossSpec(name="kd", params=dict(KD_DEFAULTS)))
