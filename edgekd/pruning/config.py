"""Typed settings of structured pruning (the recipe's ``prune:`` section and ``edgekd.prune``'s options)."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edgekd.training.config import KD_DEFAULTS, DistillSpec, LossSpec, Objective, follow_up_objective


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


TARGET_KINDS = ("params_ratio", "macs", "macs_ratio", "int8_kb", "latency_p50_ms")


class PruneTargetSpec(_Strict):
    """Exactly one global target: a parameter ratio, a MAC budget (absolute or ratio), an int8 file size,
    or a latency measured on the target's runner (median of the timed invokes, ms)."""

    params_ratio: Optional[float] = Field(None, gt=0, lt=1)  # keep at most this share of the parameters
    macs: Optional[float] = Field(None, gt=0)  # multiply-accumulates per example, e.g. 5.5e+6
    macs_ratio: Optional[float] = Field(None, gt=0, lt=1)  # keep at most this share of the MACs
    int8_kb: Optional[float] = Field(None, gt=0)  # predicted int8 TFLite size in KiB (calibrated on one export)
    # p50 of the deploy artifact on the primary target's runner, predicted from a per-layer latency table
    # measured there (edgekd.pruning.latency_table), then measured on the pruned export
    latency_p50_ms: Optional[float] = Field(None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> "PruneTargetSpec":
        given = [k for k in TARGET_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(TARGET_KINDS)} (got {', '.join(given) or 'none'})")
        return self


class PruneScheduleSpec(_Strict):
    kind: Literal["oneshot", "iterative"] = "oneshot"
    steps: int = Field(1, ge=1)  # iterative: prune in this many steps, recovering after each


class RecoverSpec(_Strict):
    """Fine-tuning after each pruning step; other trainer settings come from the student's training."""

    epochs: int = Field(5, ge=0)
    lr: float = Field(1e-3, gt=0)
    # any registered loss: kd (from the teacher), ce (no KD recovery), ...; not set: in `compress`/`edgekd run` the
    # student's own loss and method when it learns from the teacher, else kd at KD_DEFAULTS (follow_up_objective)
    loss: LossSpec = LossSpec(name="kd", params=dict(KD_DEFAULTS))
    distill: Optional[DistillSpec] = None  # any distillation method around that loss (hint, mixup, ...)

    def for_student(self, student: Objective) -> "RecoverSpec":
        """These settings with the loss and method the student trained with, unless either was set here."""
        if {"loss", "distill"} & self.model_fields_set:
            return self
        follow = follow_up_objective(student)
        return self.model_copy(update={"loss": follow.loss, "distill": follow.distill})


class PruneSpec(_Strict):
    """Structured channel pruning of the student (``edgekd.prune``)."""

    target: PruneTargetSpec
    importance: str = "taylor"  # a key of edgekd.pruning.importance.IMPORTANCES
    scope: Literal["uniform", "global"] = "uniform"
    schedule: PruneScheduleSpec = PruneScheduleSpec()
    ignore: list[str] = []  # layer names never pruned; the classifier always is
    min_channels: int = Field(1, ge=1)
    # kept channel counts are multiples of this: "auto" = the primary target's simd_width (export.targets[0];
    # none when it has none), an int, or null (no rounding, the default)
    round_to: Union[Literal["auto"], int, None] = None
    gradient_batches: int = Field(8, ge=1)  # training batches for gradient-based importance (taylor)
    recover: RecoverSpec = RecoverSpec()
    order: Literal["distill-prune-distill", "prune-distill"] = "distill-prune-distill"

    @field_validator("round_to", mode="before")
    @classmethod
    def _round_to_value(cls, v: object) -> object:
        if v is None or v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            return v
        raise ValueError(f"expected 'auto' (the target's simd_width), a positive integer or null")
