"""Export a trained PyTorch model to ONNX and TFLite, in float and low bit-widths, with its sidecar.

Importing this package is cheap: torch, onnx, onnxruntime, TensorFlow and
litert-torch are imported inside the functions that need them (NNCF style: one
algorithm, lazily imported per-framework backends).

- ``edgekd.exporting.backends``: ``BACKENDS`` (litert-torch, onnx2tf, onnxruntime), what each
  produces, which one a target profile gets, and ``EXPORTERS`` (``{format}-{precision}`` →
  the default backend's exporter, returning the written path);
- ``edgekd.exporting.stage``: one artifact and its complete sidecar (``edgekd.export`` in the API);
- ``edgekd.exporting.common``: the helpers the exporter modules share.
"""

from __future__ import annotations

from edgekd.exporting.backends import BACKENDS, EXPORTERS, Exporter  # noqa: F401
from edgekd.exporting.common import backend_error, check_calibration, eval_mode  # noqa: F401

__all__ = ["BACKENDS", "EXPORTERS", "Exporter", "backend_error", "check_calibration", "eval_mode"]
