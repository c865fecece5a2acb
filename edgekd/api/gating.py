"""``edgekd.gate``: measured artifacts against budgets, as a verdict a release pipeline can act on."""

from __future__ import annotations

import fnmatch
import warnings
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from edgekd.errors import InputError, warn_deprecated
from edgekd.report.gate import GateResult


def gate(results: Any, budgets: Optional[Mapping[str, Any]] = None, *, artifacts: Union[str, Sequence[str]] = (),
         target: Any = None, base: Optional[Path] = None) -> GateResult:
    """Judge every deployed artifact against its target's budgets; ``.passed`` says whether all hold.

    API rules: ``target`` is a device profile, never a filter: the artifacts made for it are judged against its
    budgets; which artifacts to gate is ``artifacts=``. Budgets are layered: the target profile's, then the
    recipe's (when ``results`` is a run's report), then ``budgets``. Only students are gated (teachers are
    references). A budget that cannot be checked is a skipped case, never a pass. Every gated file must exist and
    have the SHA-256 its record carries: a record cannot vouch for a file swapped after it was measured.

    Args:
        results: a ``report.json`` path (``edgekd.write_report`` writes one from step-by-step results), its
            object, an ``edgekd.compress`` result, or a list of artifact records (``Exported.measured(...)``).
        budgets: ``{"size_kb": 64, "min_metric": 0.75, ...}`` for every target, or ``{target: {...}}`` per target.
            Keys: ``size_kb``, ``latency_p90_ms``, ``latency_end_to_end_p90_ms`` (per item: front-end + model, as
            ``bench`` measures it beside the model), ``ram_kb``, ``accuracy_drop_pp``, ``min_metric``,
            ``fully_integer``, ``allow_estimated_latency`` (sizes in KiB).
        artifacts: gate only these (one glob or a list): ``"student-*-int8"`` matches names, ``"rpi4/*"``
            (``TARGET/NAME``) every artifact made for ``rpi4``; the others are listed as not gated.
        target: a device profile (name, path or ``TargetProfile``): only artifacts made for it are gated, against
            its budgets (a profile given as a path or object replaces the one of that name). A name that is no
            profile but a target of the results (``"local"``) still filters, with a DeprecationWarning: pass
            ``artifacts="local/*"``.
        base: the folder relative artifact paths are read from (default: the report's folder, the compress run's
            folder, or the working directory).

    Returns:
        ``GateResult``: ``passed``, ``violations``, ``checks``, ``skipped``, ``not_gated``, ``to_dict()``.

    Raises:
        InputError: a malformed report, an unknown budget key or target, a pattern that matches nothing, nothing
            to gate (no deployed student selected), a gated target without any budget, or (a report file) an
            artifact path that is absolute or climbs out of the report's folder.

    Example:
        >>> import hashlib, pathlib, tempfile, edgekd
        >>> model = pathlib.Path(tempfile.mkdtemp()) / "student.tflite"; _ = model.write_bytes(b"x" * 90_000)
        >>> record = {"name": "student-tflite-int8", "role": "student", "target": "x86_64", "format": "tflite",
        ...           "precision": "int8", "path": str(model), "size_bytes": 90_000,
        ...           "sha256": hashlib.sha256(model.read_bytes()).hexdigest(), "metrics": {"balanced_accuracy": 0.9}}
        >>> verdict = edgekd.gate([record], {"size_kb": 64, "latency_p90_ms": None, "accuracy_drop_pp": None},
        ...                       artifacts="x86_64/student-*")
        >>> verdict.passed, [c.budget for c in verdict.violations]
        (False, ['size_kb'])
    """
    from edgekd.report.gate import gate_report

    label, report, folder = _as_report(results)
    patterns = [artifacts] if isinstance(artifacts, str) else list(artifacts)  # one pattern, not its letters
    raw = report.get("artifacts")
    listed = [a for a in raw if isinstance(a, Mapping)] if isinstance(raw, list) else []  # else refused by the gate
    targets = {a.get("target") for a in listed}
    budgets = dict(budgets or {})
    per_target = {k: dict(v) for k, v in budgets.items() if isinstance(v, Mapping)}
    shared = {k: v for k, v in budgets.items() if not isinstance(v, Mapping)}
    unknown = [k for k in per_target if k not in targets]
    if unknown:
        raise InputError(f"budgets: {', '.join(map(repr, unknown))} is not a target of these results "
                         f"({', '.join(sorted(map(str, targets)))})")
    scope = _target_scope(target, report, targets, per_target)
    chosen = _chosen(listed, patterns, scope) if any("/" in p for p in patterns) else None
    if chosen is not None:
        scope = scope or (next(iter({t for t, _ in chosen})) if len({t for t, _ in chosen}) == 1 else None)
        patterns = sorted({_exact(n) for _, n in chosen})
    result = gate_report(report, label, base=base or folder, target=scope, per_target=per_target,
                         per_target_source="budgets (per target)", overrides=shared, overrides_source="budgets",
                         artifact_patterns=patterns, confined=isinstance(results, (str, Path)))
    return result if chosen is None else _only(result, chosen, listed)


def _as_report(results: Any) -> tuple[str, Mapping[str, Any], Optional[Path]]:
    """``(label, report object, its folder or None)`` from any form ``gate`` takes."""
    from edgekd.report.schema import SCHEMA, load_report

    if isinstance(results, (str, Path)):
        return str(results), load_report(results), Path(results).parent
    if hasattr(results, "report") and isinstance(getattr(results, "report"), dict):
        return str(getattr(results, "out", "compress result")), results.report, Path(results.out)
    if isinstance(results, Mapping):
        return "report", results, None
    if isinstance(results, (list, tuple)):
        return "artifacts", {"schema": SCHEMA, "artifacts": [dict(r) for r in results]}, None
    raise InputError(f"results: expected a report (path or object), a compress result or a list of artifact "
                     f"records, got {type(results).__name__}")


def _target_scope(target: Any, report: Mapping[str, Any], targets: set, per_target: dict) -> Optional[str]:
    """The name of the target to gate (None: all). A profile given as a path or object becomes the first layer
    of its budgets (``per_target`` is updated in place); a name of the results that is no profile filters
    (deprecated)."""
    if target is None:
        return None
    from edgekd.targets import TargetProfile, available_targets, load_target

    if isinstance(target, str) and target in available_targets():
        return target  # the profile of that name: the gate's first layer already
    if isinstance(target, str) and target in targets and not target.endswith((".yaml", ".yml")):
        warn_deprecated(f"edgekd.gate(target={target!r}) as a filter is deprecated: {target!r} is no device profile; "
                      f"pass artifacts='{target}/*'")
        return target
    profile = target if isinstance(target, TargetProfile) else load_target(target)
    if profile.name not in targets:
        raise InputError(f"target: no artifact of these results was made for {profile.name!r} (they are for "
                         f"{', '.join(sorted(map(str, targets)))}); export with target={profile.name!r}")
    from edgekd.report.budgets import profile_budgets
    from edgekd.report.gate import recipe_budget_overrides

    per_target[profile.name] = {**profile_budgets(profile).model_dump(), **recipe_budget_overrides(report, profile.name),
                                **per_target.get(profile.name, {})}
    return profile.name


def _chosen(listed: list, patterns: list[str], scope: Optional[str]) -> set[tuple[str, str]]:
    """``(target, name)`` of every artifact a pattern selects (``NAME`` or ``TARGET/NAME`` globs)."""
    def hit(a: Mapping[str, Any], p: str) -> bool:
        t, _, n = p.rpartition("/")
        return fnmatch.fnmatchcase(str(a.get("name")), n) and (not t or fnmatch.fnmatchcase(str(a.get("target")), t))

    chosen = {(str(a.get("target")), str(a.get("name"))) for a in listed
              if (scope is None or a.get("target") == scope) and any(hit(a, p) for p in patterns)}
    if not chosen:
        have = ", ".join(f"{a.get('target')}/{a.get('name')}" for a in listed)
        raise InputError(f"artifacts {' '.join(patterns)}: matches no artifact (the results have: {have})")
    return chosen


def _exact(name: str) -> str:
    """A glob matching ``name`` only."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _only(result: GateResult, chosen: set[tuple[str, str]], listed: list) -> GateResult:
    """``result`` with the checks of the chosen ``(target, name)`` pairs only (a name can be on several targets);
    every other artifact of the results is listed as not gated."""
    from edgekd.report.budgets import is_deployed, not_deployed_reason

    kept = [c for c in result.checks if (c.target, c.artifact) in chosen]
    not_gated = [f"{a.get('name')} on {a.get('target')} ("
                 + (not_deployed_reason(a, listed) if not is_deployed(a, listed) else "not selected") + ")"
                 for a in listed if not is_deployed(a, listed) or (str(a.get("target")), str(a.get("name"))) not in chosen]
    return GateResult(result.report_path, result.report, result.targets, kept, not_gated)
