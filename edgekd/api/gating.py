"""``edgekd.gate``: measured artifacts against budgets, as a verdict a release pipeline can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from edgekd.errors import InputError


def gate(results: Any, budgets: Optional[Mapping[str, Any]] = None, *, target: Optional[str] = None,
         artifacts: Sequence[str] = (), base: Optional[Path] = None) -> Any:
    """Judge every deployed artifact against its target's budgets; ``.passed`` says whether all hold.

    Budgets are layered: the target profile's, then the recipe's (when ``results`` is a run's report),
    then ``budgets``. Only students are gated (teachers are references). A budget that cannot be
    checked is a skipped case, never a pass.

    Args:
        results: a ``report.json`` path (``edgekd.write_report`` writes one from step-by-step results), its
            object, an ``edgekd.compress`` result, or a list of artifact records (``Exported.measured(...)``): each with ``name``, ``target``, ``format``, ``precision``,
            ``size_bytes``, ``metrics`` (and ``latency``, ``audit`` where measured).
        budgets: ``{"size_kb": 64, "min_metric": 0.75, ...}`` for every target, or
            ``{target: {...}}`` per target. Keys: ``size_kb``, ``latency_p90_ms``, ``ram_kb``,
            ``accuracy_drop_pp``, ``min_metric``, ``fully_integer``, ``allow_estimated_latency``.
        target: gate only this target. artifacts: only artifacts whose name matches these globs (one glob or a
            list).
        base: the folder relative artifact paths are read from (default: the report's folder, the
            compress run's folder, or the working directory).

    Every gated file must exist and have the SHA-256 its record carries (``Exported.measured`` and
    reports record it): a record cannot vouch for a file swapped after it was measured.

    Returns:
        ``edgekd.report.gate.GateResult``: ``passed``, ``violations``, ``checks``, ``to_dict()``.

    Raises:
        InputError: a malformed report, an unknown budget key or target.

    Example:
        >>> import edgekd
        >>> import hashlib, pathlib, tempfile, edgekd
        >>> model = pathlib.Path(tempfile.mkdtemp()) / "student.tflite"; _ = model.write_bytes(b"x" * 90_000)
        >>> record = {"name": "student-tflite-int8", "role": "student", "target": "x86_64", "format": "tflite",
        ...           "precision": "int8", "path": str(model), "size_bytes": 90_000,
        ...           "sha256": hashlib.sha256(model.read_bytes()).hexdigest(), "metrics": {"balanced_accuracy": 0.9}}
        >>> verdict = edgekd.gate([record], {"size_kb": 64, "latency_p90_ms": None, "accuracy_drop_pp": None})
        >>> verdict.passed, [c.budget for c in verdict.violations]
        (False, ['size_kb'])
    """
    from edgekd.report.gate import gate_report
    from edgekd.report.schema import SCHEMA, load_report

    folder = None
    if isinstance(results, (str, Path)):
        label, report, folder = str(results), load_report(results), Path(results).parent
    elif hasattr(results, "report") and isinstance(getattr(results, "report"), dict):
        label, report, folder = str(getattr(results, "out", "compress result")), results.report, Path(results.out)
    elif isinstance(results, Mapping):
        label, report = "report", results
    elif isinstance(results, (list, tuple)):
        label, report = "artifacts", {"schema": SCHEMA, "artifacts": [dict(r) for r in results]}
    else:
        raise InputError(f"results: expected a report (path or object), a compress result or a list of artifact "
                         f"records, got {type(results).__name__}")
    if isinstance(artifacts, str):  # one pattern, not its letters
        artifacts = [artifacts]
    budgets = dict(budgets or {})
    targets = {a.get("target") for a in report.get("artifacts") or [] if isinstance(a, Mapping)}
    per_target = {k: v for k, v in budgets.items() if isinstance(v, Mapping)}
    shared = {k: v for k, v in budgets.items() if not isinstance(v, Mapping)}
    unknown = [k for k in per_target if k not in targets]
    if unknown:
        raise InputError(f"budgets: {', '.join(map(repr, unknown))} is not a target of these results "
                         f"({', '.join(sorted(map(str, targets)))})")
    return gate_report(report, label, base=base or folder, target=target, per_target=per_target,
                       per_target_source="budgets (per target)",
                       overrides=shared, overrides_source="budgets", artifact_patterns=list(artifacts))
