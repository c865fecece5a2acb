"""edgekd: distil, prune, quantize and export a PyTorch model for a device, and prove it on the artifact.

The public API is a few verbs with plain inputs and typed results::

    import edgekd
    data = edgekd.prepare("photos/", task="image-classification")        # or (x, y) arrays, a torch Dataset
    trained = edgekd.distill(student, teacher=teacher, train=data, epochs=30)   # trains a copy of student
    small = edgekd.prune(trained.model, {"macs_ratio": 0.5}, train=data)
    art = edgekd.export(small.model.eval(), "student.tflite", precision="int8", calibration=data, val=data,
                        target="x86_64")                                   # a device profile: name, path or object
    ev, lat = edgekd.evaluate(art.path, data), edgekd.bench(art.path, "x86_64")   # data: its test split
    edgekd.gate([art.measured(ev, lat)], {"size_kb": 64})     # or edgekd.compress for all of it

One rule each, everywhere: the model worked on first, ``teacher=`` by keyword; data is ``train=``, ``val=``,
``test=`` and a ``Prepared`` is accepted wherever data is; ``target`` is a device profile (filters are
``artifacts=``); a verb never changes the caller's module, it returns a new one; results are typed dataclasses
with ``.to_dict()``.

Importing the package is cheap: torch, TensorFlow and the runtimes are imported
lazily, when a verb is called (``edgekd --help`` and a device install stay light).
"""

from __future__ import annotations

import os
from typing import Any

# Intel MKL (torch's BLAS on x86) picks its summation order by the memory alignment of each call's buffers unless
# told not to, so two identical runs could train to different weights (a demo in CI printed loss 3.2182 against
# 3.2151). Strict conditional numerical reproducibility fixes the order on one CPU; it must be set before torch
# loads MKL, and a user's own MKL_CBWR wins.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

from edgekd.errors import BackendError, EdgekdError, InputError, PluginError

__version__ = "0.1.0"

_VERBS = ("prepare", "distill", "prune", "export", "evaluate", "bench", "gate", "compress", "model", "write_report",
          "calibrate")

__all__ = ["BackendError", "EdgekdError", "InputError", "PluginError", "__version__", *_VERBS]


def __getattr__(name: str) -> Any:
    if name == "compress":  # a composition of the verbs: edgekd.flow, above the API
        from edgekd.flow.compress import compress

        return compress
    if name == "calibrate":  # a device's latency model: edgekd.calibration, above the API (it exports its suite)
        from edgekd.calibration import calibrate

        return calibrate
    if name in _VERBS:
        from edgekd import api

        return getattr(api, name)
    raise AttributeError(f"module 'edgekd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_VERBS))
