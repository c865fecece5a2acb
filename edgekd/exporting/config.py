"""Typed export settings (the recipe's ``export:`` section and ``edgekd.compress``'s ``export=``)."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from edgekd.training.config import DistillSpec, LossSpec, Objective, follow_up_objective
from edgekd.targets import Format, Precision


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CalibrationSpec(_Strict):
    """int8 calibration: how many training windows, and the range method (one name, or ``{backend: name}``)."""

    windows: Optional[int] = Field(None, ge=8)  # default: export.calibration_windows
    method: Union[None, str, dict[str, str]] = None  # onnxruntime: minmax|entropy|percentile; litert-torch: histogram|minmax


class QATSpec(_Strict):
    """Quantization-aware fine-tuning of the student (precision ``int8-qat``), distilled from the teacher."""

    epochs: int = Field(4, ge=1)
    lr: float = Field(5e-4, gt=0)
    batch_size: Optional[int] = Field(None, ge=2)  # default: the student's batch size
    patience: int = Field(10, ge=1)
    loss: Optional[LossSpec] = None  # default: the student's loss when it learns from the teacher, else kd (KD_DEFAULTS)
    distill: Optional[DistillSpec] = None  # a distillation method around that loss (edgekd.distillation.methods)


class MixedSpec(_Strict):
    """Mixed precision (per-layer int4/int8/fp32 weights): the file-size budget to meet."""

    size_kb: Optional[float] = Field(None, gt=0)  # default: the target's budgets.size_kb


class NncfSpec(_Strict):
    """The ``nncf`` ONNX backend's settings (``int8`` with ``backends: {onnx: nncf}``, and ``int8-ac``)."""

    preset: Literal["performance", "mixed"] = "performance"  # mixed: asymmetric activations
    fast_bias_correction: bool = True  # false: NNCF's slower full Bias Correction
    subset_size: int = Field(300, ge=1)  # calibration inputs NNCF collects statistics on


class ExportSpec(_Strict):
    targets: list[str] = Field(["x86_64"], min_length=1)
    calibration_windows: int = Field(256, ge=8)
    teacher: bool = True  # also export the teacher in fp32, for the size/accuracy comparison
    precisions: Optional[list[Precision]] = None  # the student's precisions on every target (default: the profile's)
    calibration: CalibrationSpec = CalibrationSpec()
    qat: QATSpec = QATSpec()
    mixed: MixedSpec = MixedSpec()
    nncf: NncfSpec = NncfSpec()
    # Export backend per format for every target, over each profile's own ``backends`` (e.g. {onnx: nncf}).
    backends: dict[Format, str] = {}
    # The product's budgets per target, layered over the device profile's (e.g. {x86_64: {size_kb: 256}}):
    # a profile says what the device can take, the recipe what this model's release must meet.
    budgets: dict[str, dict[str, Any]] = {}

    def calibration_count(self) -> int:
        return self.calibration.windows or self.calibration_windows

    def qat_loss(self, student_loss: LossSpec) -> LossSpec:
        """The QAT fine-tuning loss: ``qat.loss``, else the one rule of ``follow_up_objective`` (the student's loss
        when it learns from the teacher, else kd at ``KD_DEFAULTS``)."""
        given = Objective(loss=self.qat.loss) if self.qat.loss is not None else None
        return follow_up_objective(Objective(loss=student_loss), given).loss
