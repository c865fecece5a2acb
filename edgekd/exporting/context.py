"""What an exporter may need beyond the model: calibration method, validation data, a QAT model, a size budget.

The four positional exporter arguments (model, example, path, calibration) cover
fp32 and plain int8; the other precisions need more, carried here so that every
exporter keeps one signature: ``(model, example, path, calibration, *, context=None) -> ExportOutput``.
The context is an input only: what an exporter found out (a mixed-precision
assignment) comes back in its ``ExportOutput``. Nothing in this module imports torch.
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
        x: float windows ``(N, *input_shape)``.
        score: logits ``(N, classes)`` → the selection metric (higher is better),
            e.g. recording-level MAcc on the validation split.
    """

    x: np.ndarray
    score: Callable[[np.ndarray], float]
    #: item index per window (recording, photo), for metrics over a subset of items (``int8-ac``)
    items: Optional[np.ndarray] = None
    #: ``(logits of some windows, their item indices) -> (metric over those items, {item: aggregated
    #: probability of its true class})``; ``None``: ``int8-ac`` cannot use this validation data
    item_score: Optional[Callable[[np.ndarray, np.ndarray], tuple[float, Mapping[int, float]]]] = None


@dataclass(frozen=True)
class ExportContext:
    """Options of one model's exports.

    Attributes:
        calibration_method: one method name for every backend, or ``{backend: method}``;
            ``None``: each backend's default (see ``Backend.calibration_methods``).
        validation: for mixed precision (per-layer sensitivity).
        mixed_size_kb: the size budget a ``mixed`` artifact must meet.
        qat_model: the quantization-aware fine-tuned model (``edgekd.quantize.qat.QATModel``) an
            ``int8-qat`` export converts; made once by ``qat_finetune`` and shared by the TFLite and
            ONNX exports.
        max_drop_pp: ``int8-ac``: the largest validation drop against fp32, in points (the target's
            ``budgets.accuracy_drop_pp`` unless given).
        nncf: the ``nncf`` backend's options (``edgekd.exporting.nncf_quantize.NncfOptions`` or a mapping).
        fully_integer: the target runs only fully integer graphs: an ``int8-ac`` file that kept ops in float
            is refused.
        latency_probe: the target's runner as an ``edgekd.exporting.ort_forms.LatencyProbe``: where the
            ONNX int8 export times its candidate forms; ``None``: no measuring, the default form.
        log: progress lines.
    """

    calibration_method: Union[None, str, Mapping[str, str]] = None
    validation: Optional[Validation] = None
    mixed_size_kb: Optional[float] = None
    qat_model: Any = None
    max_drop_pp: Optional[float] = None
    nncf: Any = None
    fully_integer: bool = False
    latency_probe: Any = None
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)

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

    def require_qat(self) -> Any:
        """The QAT model an ``int8-qat`` export needs.

        Raises:
            InputError: none was given.
        """
        if self.qat_model is None:
            raise InputError("int8-qat export needs a quantization-aware fine-tuned model: make one with "
                             "edgekd.quantize.qat.qat_finetune(...) and pass it (edgekd.export(..., qat=...)), "
                             "or let edgekd.compress / edgekd run do it")
        return self.qat_model


@dataclass(frozen=True)
class ExportOutput:
    """What an exporter wrote: the file, and facts the sidecar should record (e.g. a mixed assignment)."""

    path: Path
    details: dict = field(default_factory=dict)
