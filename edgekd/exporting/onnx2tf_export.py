"""torch → ONNX → onnx2tf → TensorFlow Lite converter: the fully-integer TFLite backend.

onnx2tf rewrites the NCHW ONNX graph into an NHWC TensorFlow SavedModel
(no layout TRANSPOSE left); ``TFLiteConverter`` then makes fp32, fp16
(float16 weights), dynamic-range int8 (int8 weights, float activations) or
full-integer int8 (``TFLITE_BUILTINS_INT8`` only, int8 input and output,
activations calibrated on representative windows) files. Unlike litert-torch's
PT2E path it quantizes residual ADDs too, so MCU/NPU targets that run only
integer kernels get a graph they can run.

Offline: for 4-D 3-channel inputs onnx2tf downloads a sample image array to
check its conversion; a zero array of that file name in its working folder
(a temp folder here) stops the download.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekd.atomic import atomic_path, temp_dir
from edgekd.errors import InputError
from edgekd.exporting.common import backend_error, check_calibration

if TYPE_CHECKING:
    import torch

PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8")
_SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"  # onnx2tf's download, see module doc


def export_onnx2tf(
    model: torch.nn.Module,
    example: torch.Tensor,
    path: str | os.PathLike[str],
    *,
    precision: str = "fp32",
    calibration: np.ndarray | None = None,
) -> Path:
    """Convert ``model`` to a batch-1 NHWC TFLite file through ONNX and onnx2tf.

    Args:
        model: the torch module (NCHW input).
        example: an example NCHW input; its first sample fixes the shape.
        path: the ``.tflite`` to write (atomically; internal tensor names stripped).
        precision: ``fp32``, ``fp16``, ``int8-dynamic`` or ``int8`` (full integer, int8 I/O).
        calibration: for ``int8``: representative windows ``(N, C, H, W)``.

    Returns:
        ``path``.

    Raises:
        InputError: unknown precision, missing or wrongly shaped calibration data.
        BackendError: the ONNX export, onnx2tf or the TFLite converter failed.
    """
    if precision not in PRECISIONS:
        raise InputError(f"onnx2tf: TFLite precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    from edgekd.exporting.onnx_export import export_onnx
    from edgekd.exporting.tflite_strip import strip_debug_strings

    name = type(model).__name__
    example = example[:1]
    data = None
    if precision == "int8":
        data = check_calibration(calibration, tuple(example.shape[1:]), name)
    path = Path(path)
    with temp_dir("onnx2tf") as tmp:
        onnx_path = export_onnx(model, example, Path(tmp) / "model.onnx", dynamic_batch=False)
        saved = Path(tmp) / "saved_model"
        try:
            _onnx_to_saved_model(onnx_path, saved, Path(tmp))
        except Exception as exc:
            raise backend_error("onnx2tf conversion", name, exc) from exc
        with atomic_path(path) as out:
            try:
                out.write_bytes(_convert(saved, precision, data))
            except Exception as exc:
                raise backend_error(f"TFLite {precision} conversion (onnx2tf backend)", name, exc) from exc
    strip_debug_strings(path)
    return path


def _onnx_to_saved_model(onnx_path: Path, saved: Path, workdir: Path) -> None:
    """Run onnx2tf quietly in ``workdir`` (where its sample array is found, so it never downloads)."""
    import onnx2tf

    np.save(workdir / _SAMPLE, np.zeros((20, 128, 128, 3), np.float32))
    with contextlib.chdir(workdir), _silence():
        onnx2tf.convert(
            input_onnx_file_path=str(onnx_path),
            output_folder_path=str(saved),
            copy_onnx_input_output_names_to_tflite=True,
            non_verbose=True,
            verbosity="error",
        )


def _convert(saved: Path, precision: str, data: np.ndarray | None) -> bytes:
    """The TFLite converter on the SavedModel at ``precision``."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if precision != "fp32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "fp16":
        conv.target_spec.supported_types = [tf.float16]
    if precision == "int8":
        nhwc = np.ascontiguousarray(data.transpose(0, 2, 3, 1))

        def representative() -> Any:
            for sample in nhwc:
                yield [sample[None]]

        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


@contextlib.contextmanager
def _silence() -> Any:
    """onnx2tf prints tables and progress to stdout; keep stdout clean for ``--json`` users."""
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        yield
