"""What an exporter may need beyond the model: calibration method, validation data, QAT and mixed settings.

The four positional exporter arguments (model, example, path, calibration) cover
fp32 and plain int8; the other precisions need more, carried here so that every
exporter keeps one signature: ``(model, example, path, calibration, *, context=None)``.
Nothing in this module imports torch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np

from edgekd.errors import InputError


@dataclass
class Validation:
    """Held-out windows that decide quantization choices (never the test split).

    Attributes:
        x: float windows ``(N, C, H, W)``.
        score: logits ``(N, classes)`` → the selection metric (higher is better),
            e.g. recording-level MAcc on the validation split.
    """

    x: np.ndarray
    score: Callable[[np.ndarray], float]


@dataclass
class ExportContext:
    """Options and shared state of one model's exports.

    Attributes:
        calibration_method: one method name for every backend, or ``{backend: method}``;
            ``None``: each backend's default (see ``Backend.calibration_methods``).
        validation: for mixed precision (per-layer sensitivity).
        mixed_size_kb: the size budget a ``mixed`` artifact must meet.
        qat: builds the quantization-aware fine-tuned model from the fp32 one
            (``edgekd.quantize.qat.QATModel``); called once, the result is cached
            so the TFLite and ONNX files share one fine-tuning.
        work_dir: where intermediate files (QAT checkpoints) may go.
        log: progress lines.
        details: per-artifact facts an exporter reports (mixed assignment,
            sensitivity, ...), keyed by the artifact path; the pipeline copies them
            into the sidecar and the report.
    """

    calibration_method: Union[None, str, Mapping[str, str]] = None
    validation: Optional[Validation] = None
    mixed_size_kb: Optional[float] = None
    qat: Optional[Callable[[Any], Any]] = None
    work_dir: Optional[Path] = None
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)
    cache: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def method_for(self, backend: str, choices: tuple[str, ...]) -> str:
        """The calibration method for ``backend`` (its first choice by default).

        Raises:
            InputError: the method asked for is not one this backend offers.
        """
        asked = self.calibration_method
        if isinstance(asked, Mapping):
            asked = asked.get(backend)
        if asked is None:
            return choices[0]
        if asked not in choices:
            raise InputError(
                f"export.calibration.method: {backend} cannot calibrate with {asked!r}; "
                f"it offers {', '.join(choices)} (give a mapping {{backend: method}} to choose per backend)"
            )
        return asked

    def qat_model(self, model: Any) -> Any:
        """The quantization-aware fine-tuned version of ``model`` (made once, then reused)."""
        key = ("qat", id(model))
        if key not in self.cache:
            if self.qat is None:
                raise InputError("int8-qat export needs training data and a teacher: run it through the pipeline "
                                 "(edgekd run) or pass ExportContext(qat=...)")
            self.cache[key] = self.qat(model)
        return self.cache[key]
