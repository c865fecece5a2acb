"""Versions of Python and every backend, read from package metadata (nothing is imported)."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = (
    "edgekd", "numpy", "torch", "onnx", "onnxruntime", "onnxscript", "ai-edge-litert", "tflite-runtime",
    "litert-torch", "tensorflow-cpu", "torchao", "nncf", "torch-pruning", "onnx2tf", "executorch",
)


def versions() -> dict[str, str]:
    """``{"python": "3.11.7", "torch": "2.13.0+cpu", ...}`` for the installed packages."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
