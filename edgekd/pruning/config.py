"""Typed settings of structured pruning (the recipe's ``prune:`` section and ``edgekd.prune``'s options)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgekd.distillation.config import DistillSpec, LossSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PruneTargetSpec(_Strict):
    """Exactly one global target: a parameter ratio, a MAC budget (absolute or ratio), or an int8 file size."""

    params_ratio: Optional[float] = Field(None, gt=0, lt=1)  # keep at most this share of the parameters
    macs: Optional[float] = Field(None, gt=0)  # multiply-accumulates per example, e.g. 5.5e+6
    macs_ratio: Optional[float] = Field(None, gt=0, lt=1)  # keep at most this share of the MACs
    int8_kb: Optional[float] = Field(None, gt=0)  # predicted int8 TFLite size (calibrated on one export)

    @model_validator(mode="after")
    def _exactly_one(self) -> "PruneTargetSpec":
        given = [k for k in ("params_ratio", "macs", "macs_ratio", "int8_kb") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of params_ratio, macs, macs_ratio, int8_kb (got {', '.join(given) or 'none'})")
        return self


class PruneScheduleSpec(_Strict):
    kind: Literal["oneshot", "iterative"] = "oneshot"
    steps: int = Field(1, ge=1)  # iterative: prune in this many steps, recovering after each


class RecoverSpec(_Strict):
    """Fine-tuning after each pruning step; other trainer settings come from the student's training."""

    epochs: int = Field(5, ge=0)
    lr: float = Field(1e-3, gt=0)
    loss: LossSpec = LossSpec(name="kd")  # any registered loss: kd (from the teacher), ce (no KD recovery), ...
    distill: Optional[DistillSpec] = None  # any distillation method around that loss (hint, mixup, ...)


class PruneSpec(_Strict):
    """Structured channel pruning of the student (``edgekd.prune``)."""

    target: PruneTargetSpec
    importance: str = "taylor"  # a key of edgekd.pruning.importance.IMPORTANCES
    scope: Literal["uniform", "global"] = "uniform"
    schedule: PruneScheduleSpec = PruneScheduleSpec()
    ignore: list[str] = []  # layer names never pruned; the classifier always is
    min_channels: int = Field(1, ge=1)
    gradient_batches: int = Field(8, ge=1)  # training batches for gradient-based importance (taylor)
    recover: RecoverSpec = RecoverSpec()
    order: Literal["distill-prune-distill", "prune-distill"] = "distill-prune-distill"
