"""Versions of Python and every backend, read from package metadata (nothing is imported)."""

from __future__ import annotations

import os
import platform
from importlib import metadata

PACKAGES = (
    "edgekd", "numpy", "torch", "onnx", "onnxruntime", "onnxscript", "ai-edge-litert", "tflite-runtime",
    "litert-torch", "tensorflow-cpu", "torchao", "nncf", "torch-pruning", "onnx2tf", "executorch",
)


def versions() -> dict[str, str]:
    """``{"python": "3.11.7", "mkl_cbwr": "AUTO,STRICT", "torch": "2.13.0+cpu", ...}`` for the installed packages.

    ``mkl_cbwr`` is Intel MKL's reproducibility mode (set by ``import edgekd``): training is repeatable run to run
    only under a STRICT mode.
    """
    out = {"python": platform.python_version(), "mkl_cbwr": os.environ.get("MKL_CBWR", "")}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
