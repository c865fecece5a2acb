"""torch → TFLite with litert-torch: fp32, or fully-integer int8 through PT2E.

The input is made NHWC with ``litert_torch.to_channel_last_io`` (the layout
LiteRT kernels use), so the graph starts without a TRANSPOSE. int8 uses the
PT2E flow: ``torch.export`` → ``prepare_pt2e`` with litert-torch's
``PT2EQuantizer`` (symmetric, per-channel weights, static activations) →
calibration on representative windows → ``convert_pt2e(fold_quantize=False)``
→ ``litert_torch.convert(..., quant_config=...)``. For Conv-BN-ReLU, pooling,
mean and Linear blocks this gives an int8 graph with int8 input and output and
no float op (checked with ``edgekd.audit``).
"""

from __future__ import annotations

import contextlib
import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from edgekd.atomic import atomic_path
from edgekd.errors import InputError
from edgekd.exporting.common import backend_error, check_calibration, eval_mode, with_minmax_activations

if TYPE_CHECKING:
    import torch

PRECISIONS = ("fp32", "int8")
CALIBRATION_METHODS = ("histogram", "minmax")


def export_tflite(
    model: torch.nn.Module,
    example: torch.Tensor,
    path: str | os.PathLike[str],
    *,
    precision: str = "fp32",
    calibration: np.ndarray | None = None,
    nhwc_input: bool = True,
    calibration_method: str = "histogram",
) -> Path:
    """Convert ``model`` to a batch-1 TFLite file.

    Args:
        model: the torch module; its ``forward`` takes one NCHW tensor (exported in eval mode).
        example: an example NCHW input; only its first sample is used (batch size 1).
        path: the ``.tflite`` file to write (atomically).
        precision: ``"fp32"`` or ``"int8"`` (full integer, int8 input and output).
        calibration: for int8, representative inputs ``(N, C, H, W)`` float32
            (windows of the training set), run one at a time through the observers.
        nhwc_input: give the TFLite model an NHWC input (no TRANSPOSE in the graph);
            ``False`` keeps NCHW, at the price of a TRANSPOSE.
        calibration_method: int8 activation observers: ``histogram`` (litert-torch's
            default, clips outliers by minimising the quantization error) or ``minmax``.

    Returns:
        ``path``.

    Raises:
        InputError: unknown precision, or missing / wrongly shaped calibration data.
        BackendError: torch.export or the converter failed; nothing is left at ``path``.
    """
    if precision not in PRECISIONS:
        raise InputError(f"TFLite precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if calibration_method not in CALIBRATION_METHODS:
        raise InputError(f"litert-torch calibration method must be one of {', '.join(CALIBRATION_METHODS)}, "
                         f"got {calibration_method!r}")
    import litert_torch
    import torch

    name = type(model).__name__
    example = example[:1]
    data = None
    if precision == "int8":
        data = torch.from_numpy(check_calibration(calibration, tuple(example.shape[1:]), name))
    path = Path(path)
    with eval_mode(model), _quiet(), atomic_path(path) as tmp:
        try:
            net: Any = model
            if nhwc_input and example.ndim >= 3:  # channels last (NHWC, NWC); a flat (N, F) input stays as it is
                perm = (0, *range(2, example.ndim), 1)
                net = litert_torch.to_channel_last_io(model, args=[0]).eval()
                example = example.permute(*perm).contiguous()
                data = None if data is None else data.permute(*perm).contiguous()
            if data is None:
                edge_model = litert_torch.convert(net, (example,))
            else:
                edge_model = _convert_int8(net, example, data, calibration_method)
            edge_model.export(str(tmp))
        except Exception as exc:
            raise backend_error(f"TFLite {precision} conversion", name, exc) from exc
    return path


def _convert_int8(net: torch.nn.Module, example: torch.Tensor, data: torch.Tensor, method: str = "histogram") -> Any:
    """Quantize ``net`` with PT2E on ``data`` (in ``example``'s layout) and convert it.

    Returns:
        The litert-torch edge model (int8 weights, activations, input and output).
    """
    import litert_torch
    import torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False)
    if method == "minmax":
        config = with_minmax_activations(config)
    quantizer = PT2EQuantizer().set_global(config)
    graph = prepare_pt2e(torch.export.export(net, (example,)).module(), quantizer)
    with torch.no_grad():
        for sample in data:
            graph(sample.unsqueeze(0))
    graph = convert_pt2e(graph, fold_quantize=False)
    # Traced from an eval-mode model; exported graphs refuse .eval(), so set the flag
    # litert-torch checks (it would warn "converted in training mode").
    graph.training = False
    return litert_torch.convert(graph, (example,), quant_config=QuantConfig(pt2e_quantizer=quantizer))


def export_tflite_qat(qat: Any, path: str | os.PathLike[str]) -> Path:
    """Convert a quantization-aware fine-tuned network (``edgekd.quantize.qat.QATModel``) to int8 TFLite.

    The fake-quant graph is converted with ``convert_pt2e`` (ranges learned in
    fine-tuning) and lowered by litert-torch with the same quantizer: int8
    weights, activations, input and output, NHWC input.
    """
    import litert_torch
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    path = Path(path)
    qat.net.eval()
    with _quiet(), atomic_path(path) as tmp:
        try:
            graph = convert_pt2e(copy.deepcopy(qat.net.graph), fold_quantize=False)
            graph.training = False
            edge_model = litert_torch.convert(graph, (qat.example,), quant_config=QuantConfig(pt2e_quantizer=qat.quantizer))
            edge_model.export(str(tmp))
        except Exception as exc:
            raise backend_error("TFLite int8-qat conversion", type(qat.float_model).__name__, exc) from exc
    return path


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Turn litert-torch's progress printout off for the conversion, then restore the setting."""
    key = "LITERT_TORCH_SHOW_PROGRESS"
    before = os.environ.get(key)
    os.environ[key] = "n"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before
