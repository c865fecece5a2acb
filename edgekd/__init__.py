"""edgekd: distil, prune, quantize and export a PyTorch model for a device, and prove it on the artifact.

The public API is a few verbs with plain inputs and typed results::

    import edgekd
    trained = edgekd.distill(student, teacher, train, val, epochs=30)       # your nn.Modules, your data
    small = edgekd.prune(trained.model, {"macs_ratio": 0.5}, example)
    art = edgekd.export(small.model, "student.tflite", precision="int8", calibration=train)
    print(edgekd.evaluate(art.path, test).macc, edgekd.bench(art.path, "rpi4").p90_ms)
    edgekd.gate(..., {"size_kb": 64})         # or edgekd.compress(teacher, student, data) for all of it

Importing the package is cheap: torch, TensorFlow and the runtimes are imported
lazily, when a verb is called (``edgekd --help`` and a device install stay light).
"""

from __future__ import annotations

from typing import Any

from edgekd.errors import BackendError, EdgekdError, InputError, PluginError

__version__ = "0.1.0"

_VERBS = ("prepare", "distill", "prune", "export", "evaluate", "bench", "gate", "compress", "model", "write_report")

__all__ = ["BackendError", "EdgekdError", "InputError", "PluginError", "__version__", *_VERBS]


def __getattr__(name: str) -> Any:
    if name in _VERBS:
        from edgekd import api

        return getattr(api, name)
    raise AttributeError(f"module 'edgekd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_VERBS))
