"""Audit exported artifacts: what ops, dtypes, layouts and quantization they really contain.

``inspect_artifact`` imports onnx / ai-edge-litert only when called.
"""

from edgekd.audit.inspect import inspect_artifact

__all__ = ["inspect_artifact"]
