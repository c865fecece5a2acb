"""torch → fp32 ONNX with the dynamo exporter: one self-contained file, dynamic batch.

Why these choices: ``external_data=False`` keeps the weights inside the
``.onnx`` (the dynamo exporter otherwise writes ``X.onnx.data`` beside it,
which a device copy easily loses); the dynamic batch axis lets ONNX Runtime
evaluate whole batches.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from edgekd.atomic import atomic_path
from edgekd.exporting.common import backend_error, eval_mode

if TYPE_CHECKING:
    import torch


def export_onnx(
    model: torch.nn.Module,
    example: torch.Tensor,
    path: str | os.PathLike[str],
    *,
    input_name: str = "input",
    output_name: str = "logits",
    opset: int = 18,
    dynamic_batch: bool = True,
) -> Path:
    """Export ``model`` to a single-file fp32 ONNX model with a dynamic batch dim.

    The model is exported in eval mode (its mode is restored afterwards), written
    to a temp file, checked with ``onnx.checker`` and only then renamed to ``path``.

    Args:
        model: the torch module; its ``forward`` takes one NCHW tensor.
        example: an example input ``(N, C, H, W)``.
        path: the ``.onnx`` file to write.
        input_name: the graph input's name.
        output_name: the graph output's name.
        opset: the ONNX opset.
        dynamic_batch: a dynamic batch dim (``False``: the example's batch size, fixed;
            converters such as onnx2tf need fixed shapes).

    Returns:
        ``path``.

    Raises:
        BackendError: torch.export or the ONNX translation failed (e.g. an op with no
            ONNX equivalent); nothing is left at ``path``.
    """
    import onnx
    import torch

    path = Path(path)
    with eval_mode(model), atomic_path(path) as tmp:
        try:
            torch.onnx.export(
                model,
                (example,),
                str(tmp),
                dynamo=True,
                external_data=False,
                input_names=[input_name],
                output_names=[output_name],
                opset_version=opset,
                dynamic_shapes=({0: torch.export.Dim("batch")},) if dynamic_batch else None,
                verbose=False,
            )
            onnx.checker.check_model(str(tmp), full_check=True)
        except Exception as exc:
            raise backend_error("ONNX export", type(model).__name__, exc) from exc
        finally:
            tmp.with_name(tmp.name + ".data").unlink(missing_ok=True)
    return path
