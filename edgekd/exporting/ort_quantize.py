"""fp32 ONNX → int8 QDQ ONNX with ONNX Runtime static quantization.

``quant_pre_process`` first, then ``quantize_static`` with uint8 activations and
int8 per-channel weights (U8S8) in the QDQ form by default. Which form runs fastest
depends on the graph and the CPU (QDQ S8S8 ran up to 2x slower than U8S8 on the
heart teacher here; QOperator U8S8 matched or beat QDQ on some graphs), so the
export for a measuring target times the forms (``edgekd.exporting.ort_forms``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from edgekd.atomic import atomic_path, temp_dir
from edgekd.errors import InputError
from edgekd.exporting.common import backend_error, check_calibration

_TYPES = {"uint8": "QUInt8", "int8": "QInt8"}
_METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
_CALIBRATION_BATCH = 8  # samples per calibration run when the batch dim is dynamic


class _Batches:
    """A CalibrationDataReader (ORT matches it by its ``get_next``) over an array.

    Args:
        name: the model's input name.
        data: calibration samples ``(N, C, H, W)``.
        batch: samples per run.
        fixed: the model's batch dim is fixed, so a short last batch is dropped.
    """

    def __init__(self, name: str, data: np.ndarray, batch: int, fixed: bool) -> None:
        chunks = [data[i : i + batch] for i in range(0, len(data), batch)]
        self._feeds = iter([{name: c} for c in chunks if not fixed or len(c) == batch])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def quantize_onnx_int8(
    fp32_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    calibration: np.ndarray,
    *,
    per_channel: bool = True,
    activation_type: str = "uint8",
    weight_type: str = "int8",
    calibrate_method: str = "minmax",
    quant_format: str = "QDQ",
) -> Path:
    """Quantize an fp32 ONNX model statically to int8 (QDQ by default, or the QOperator form).

    Args:
        fp32_path: the fp32 ``.onnx`` (e.g. from ``export_onnx``).
        out_path: the int8 ``.onnx`` to write (atomically).
        calibration: representative inputs ``(N, C, H, W)`` float32, windows of the
            training set; fed in batches of 8 (or the model's fixed batch size).
        per_channel: one weight scale per output channel.
        activation_type: ``"uint8"`` or ``"int8"``.
        weight_type: ``"int8"`` or ``"uint8"``.
        calibrate_method: ``"minmax"``, ``"entropy"`` or ``"percentile"``.
        quant_format: ``"QDQ"`` (QuantizeLinear/DequantizeLinear pairs that ONNX Runtime fuses) or
            ``"QOperator"`` (QLinearConv, QGemm, ... written out); which runs faster depends on the graph
            and the CPU, so ``edgekd.exporting.ort_forms`` measures both on the target.

    Returns:
        ``out_path``.

    Raises:
        InputError: a bad option, a missing model, or calibration data of the wrong shape.
        BackendError: ONNX Runtime failed to pre-process or quantize the model.
    """
    import onnxruntime
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    act = QuantType[_option("activation_type", activation_type, _TYPES)]
    weight = QuantType[_option("weight_type", weight_type, _TYPES)]
    method = CalibrationMethod[_option("calibrate_method", calibrate_method, _METHODS)]
    form = QuantFormat[_option("quant_format", quant_format, {"QDQ": "QDQ", "QOperator": "QOperator"})]
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    if not fp32_path.is_file():
        raise InputError(f"{fp32_path}: ONNX model not found")
    name, shape = _input_of(onnxruntime, fp32_path)
    data = check_calibration(calibration, tuple(shape[1:]), fp32_path.name)
    batch = shape[0] or min(_CALIBRATION_BATCH, len(data))
    with temp_dir("ortq") as tmp, atomic_path(out_path) as out_tmp:
        pre = Path(tmp) / "pre.onnx"
        try:
            quant_pre_process(str(fp32_path), str(pre))
            quantize_static(
                str(pre),
                str(out_tmp),
                _Batches(name, data, batch, fixed=shape[0] is not None),
                quant_format=form,
                per_channel=per_channel,
                activation_type=act,
                weight_type=weight,
                calibrate_method=method,
            )
        except Exception as exc:
            raise backend_error("ONNX Runtime quantization", fp32_path.name, exc) from exc
    return out_path


def _option(what: str, value: str, choices: dict[str, str]) -> str:
    """Map a user option to the ORT enum member name, or raise ``InputError``."""
    if value not in choices:
        raise InputError(f"{what} must be one of {', '.join(choices)}, got {value!r}")
    return choices[value]


def _input_of(onnxruntime: Any, path: Path) -> tuple[str, list[int | None]]:
    """Return the model's first input name and shape (``None`` for dynamic dims)."""
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise InputError(f"{path}: not a loadable ONNX model ({reason})") from None
    arg = session.get_inputs()[0]
    return arg.name, [d if isinstance(d, int) and d > 0 else None for d in arg.shape]


def quantize_onnx_dynamic(fp32_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Path:
    """Dynamic-range int8: int8 per-channel weights, activations quantized at run time (no calibration).

    ONNX Runtime's ``quantize_dynamic`` after ``quant_pre_process``; Conv becomes
    ``ConvInteger`` and Gemm/MatMul ``MatMulInteger`` fed by ``DynamicQuantizeLinear``,
    which ONNX Runtime's CPU provider runs with uint8 activations. Measured with ONNX Runtime 1.31:
    ``per_channel=True`` gives per-channel scales to MatMul weights only; Conv weights stay per-tensor
    (one scale for the whole kernel), which ``edgekd inspect`` reports, and ConvInteger ran about 7x
    slower than fp32 on x86.

    Raises:
        InputError: a missing model.
        BackendError: ONNX Runtime failed.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    if not fp32_path.is_file():
        raise InputError(f"{fp32_path}: ONNX model not found")
    with temp_dir("ortq") as tmp, atomic_path(out_path) as out_tmp:
        pre = Path(tmp) / "pre.onnx"
        try:
            quant_pre_process(str(fp32_path), str(pre))
            quantize_dynamic(str(pre), str(out_tmp), per_channel=True, weight_type=QuantType.QInt8)
        except Exception as exc:
            raise backend_error("ONNX Runtime dynamic quantization", fp32_path.name, exc) from exc
    return out_path
