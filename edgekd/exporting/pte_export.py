"""torch → ExecuTorch ``.pte`` with the XNNPACK backend: fp32, or int8 through PT2E.

The route (ExecuTorch 1.5): ``torch.export`` → ``to_edge_transform_and_lower(ep,
partitioner=[XnnpackPartitioner()])`` → ``to_executorch()``. int8 uses the PT2E
flow with ExecuTorch's ``XNNPACKQuantizer`` and
``get_symmetric_quantization_config(is_per_channel=True)`` (symmetric int8
weights per output channel, static int8 activations) → calibration on the same
representative windows the other backends get, one at a time (the graph is
exported at batch 1) → ``convert_pt2e`` → lowered to XNNPACK. The ``.pte`` keeps
a float input and output; the quantize/dequantize at its edges run inside the
XNNPACK delegate.

What XNNPACK does not take (e.g. ``x.mean(dim=(2, 3))`` without ``keepdim``)
stays on ExecuTorch's portable CPU kernels, in float; ``edgekd inspect`` lists
those ops.

Everything heavy (torch, torchao, executorch) is imported inside the functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekd.atomic import atomic_path
from edgekd.errors import InputError
from edgekd.exporting.common import backend_error, check_calibration, eval_mode, with_minmax_activations

if TYPE_CHECKING:
    import torch

from edgekd.runtime.pte import RUNTIME_ENV  # noqa: F401  (where every figure of a .pte is measured)

PRECISIONS = ("fp32", "int8")
CALIBRATION_METHODS = ("histogram", "minmax")


def executorch_version() -> str:
    """The installed executorch's version (package metadata; nothing imported)."""
    from importlib import metadata

    try:
        return metadata.version("executorch")
    except metadata.PackageNotFoundError:
        return "unknown"


def export_pte(
    model: torch.nn.Module,
    example: torch.Tensor,
    path: str | os.PathLike[str],
    *,
    precision: str = "fp32",
    calibration: np.ndarray | None = None,
    calibration_method: str = "histogram",
) -> Path:
    """Convert ``model`` to a batch-1 ExecuTorch program lowered to XNNPACK.

    Args:
        model: the torch module; its ``forward`` takes one NCHW tensor (exported in eval mode).
        example: an example NCHW input; only its first sample is used (batch size 1).
        path: the ``.pte`` file to write (atomically).
        precision: ``"fp32"`` or ``"int8"`` (int8 weights and activations, float input and output).
        calibration: for int8, representative inputs ``(N, C, H, W)`` float32 (windows of the
            training set), run one at a time through the observers.
        calibration_method: int8 activation observers: ``histogram`` (the XNNPACK quantizer's
            default) or ``minmax``.

    Returns:
        ``path``.

    Raises:
        InputError: unknown precision or method, or missing / wrongly shaped calibration data.
        BackendError: torch.export, quantization or lowering failed; nothing is left at ``path``.
    """
    if precision not in PRECISIONS:
        raise InputError(f"ExecuTorch precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if calibration_method not in CALIBRATION_METHODS:
        raise InputError(f"executorch calibration method must be one of {', '.join(CALIBRATION_METHODS)}, "
                         f"got {calibration_method!r}")
    name = type(model).__name__
    data = None
    if precision == "int8":
        data = check_calibration(calibration, tuple(example.shape[1:]), name)
    import torch

    example = example[:1].detach().float().contiguous()
    path = Path(path)
    with eval_mode(model), torch.no_grad():
        try:
            program = _lower(model, example, data, calibration_method)
        except Exception as exc:
            raise backend_error(f"ExecuTorch {precision} export", name, exc) from exc
        with atomic_path(path) as tmp:
            tmp.write_bytes(program.buffer)
    return path


def _lower(model: Any, example: Any, data: np.ndarray | None, method: str) -> Any:
    """``torch.export`` (→ PT2E int8 on ``data``) → XNNPACK-lowered ExecuTorch program."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    net: Any = model
    if data is not None:
        net = _quantize(model, example, data, method)
    exported = torch.export.export(net, (example,))
    edge = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])
    return edge.to_executorch()


def _quantize(model: Any, example: Any, data: np.ndarray, method: str) -> Any:
    """PT2E int8 with the XNNPACK quantizer (symmetric, per-channel weights), calibrated on ``data``."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    config = get_symmetric_quantization_config(is_per_channel=True)
    if method == "minmax":
        config = with_minmax_activations(config)
    quantizer = XNNPACKQuantizer().set_global(config)
    graph = prepare_pt2e(torch.export.export(model, (example,)).module(), quantizer)
    for sample in torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)):
        graph(sample.unsqueeze(0))
    return convert_pt2e(graph)
