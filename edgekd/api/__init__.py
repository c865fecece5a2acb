"""The public verbs, one per stage, plus ``compress`` for the whole flow (also reachable as ``edgekd.<verb>``).

================  ==========================================================================
``distill``       train a student from a teacher (module, ONNX or .pt2 file) on your data
``prune``         remove whole channels until a params / MACs / int8-size budget holds
``export``        write a TFLite or ONNX artifact at a precision, with its sidecar
``evaluate``      accuracy of an artifact, by running the file on labelled data
``bench``         latency of an artifact with a target's runner
``gate``          measured artifacts against budgets
``compress``      all of it: distil → prune → export per target → measure → report (``edgekd.flow``)
``write_report``  step-by-step results as a portable ``report.json`` that ``edgekd gate`` reads
``model``         a registered architecture by name, optionally pretrained (``pretrained="imagenet"``)
================  ==========================================================================

Models are ``torch.nn.Module``s; data is a labelled folder, ``(x, y)`` numpy arrays, a torch ``Dataset``, or
``prepare``'s ``Prepared``. Importing this package imports neither torch nor TensorFlow; the verbs do, when called.

One rule each, everywhere:

- argument order: the model worked on first; ``teacher=`` and data by keyword
  (``distill(student, teacher=t, train=data)``);
- data: ``train=``, ``val=``, ``test=``; a ``Prepared`` is accepted wherever data is, and brings its task,
  classes and positive class (each verb takes the split it needs: train, val; ``evaluate`` the test split);
- ``target`` is always a device profile (name, path or ``TargetProfile``); filters are ``artifacts=``;
- mutation: a verb never changes the caller's module; it returns a new one (``.model``);
- results: typed dataclasses (``Distilled``, ``Pruned``, ``Exported``, ``Evaluation``, ``Benchmark``,
  ``GateResult``) with ``.to_dict()`` where they are JSON.

Old spellings (``distill(student, teacher, train, val)``, ``export(validation=)``, ``gate(target=)`` naming no
profile, ``Evaluation.metrics``, ``Benchmark.result``) still work and raise a ``DeprecationWarning`` naming
the new one.
"""

from __future__ import annotations

import importlib
from typing import Any

_VERBS = {
    "distill": "edgekd.api.distilling",
    "prune": "edgekd.api.pruning",
    "export": "edgekd.api.exporting",
    "evaluate": "edgekd.api.evaluating",
    "bench": "edgekd.api.evaluating",
    "gate": "edgekd.api.gating",
    "prepare": "edgekd.api.datasets",
    "write_report": "edgekd.api.reporting",
    "model": "edgekd.api.models",
}

__all__ = sorted(_VERBS)


def __getattr__(name: str) -> Any:
    if name in _VERBS:
        return getattr(importlib.import_module(_VERBS[name]), name)
    raise AttributeError(f"module 'edgekd.api' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_VERBS))
