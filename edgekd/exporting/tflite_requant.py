"""fp16 and dynamic-range int8 TFLite from an fp32 TFLite file, with AI Edge Quantizer.

litert-torch converts to fp32 (or PT2E int8) only; AI Edge Quantizer rewrites
the fp32 flatbuffer:

- ``fp16``: float16 weights (``FLOAT_CASTING``) with a DEQUANTIZE in front of
  each layer; activations and I/O stay float32. About half the fp32 size.
- ``int8-dynamic``: int8 per-channel weights, activations quantized on the fly
  by the kernels (``dynamic_wi8_afp32``); float32 I/O, no calibration data.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgekd.atomic import atomic_path, temp_dir
from edgekd.errors import InputError
from edgekd.exporting.common import backend_error

PRECISIONS = ("fp16", "int8-dynamic")


def requantize_tflite(fp32_path: str | os.PathLike[str], out_path: str | os.PathLike[str], precision: str) -> Path:
    """Write ``out_path``: the fp32 TFLite at ``fp32_path`` with ``precision`` weights.

    Raises:
        InputError: a precision other than ``fp16`` / ``int8-dynamic``.
        BackendError: AI Edge Quantizer failed.
    """
    if precision not in PRECISIONS:
        raise InputError(f"AI Edge Quantizer pass: precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    from ai_edge_quantizer import algorithm_manager, qtyping, quantizer, recipe

    out_path = Path(out_path)
    try:
        q = quantizer.Quantizer(str(fp32_path))
        if precision == "fp16":
            q.add_weight_only_config(
                regex=".*",
                operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
                num_bits=16,
                granularity=qtyping.QuantGranularity.TENSORWISE,
                algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING,
            )
        else:
            q.load_quantization_recipe(recipe.dynamic_wi8_afp32())
        result = _silently(q.quantize)
    except Exception as exc:
        raise backend_error(f"AI Edge Quantizer {precision}", Path(fp32_path).name, exc) from exc
    with temp_dir("aeq") as tmp, atomic_path(out_path) as out:
        staged = Path(tmp) / "q.tflite"
        result.export_model(str(staged), overwrite=True)
        out.write_bytes(staged.read_bytes())
    return out_path


def _silently(fn):  # type: ignore[no-untyped-def]
    """Call ``fn`` with its size summary (printed to stdout) swallowed."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return fn()
