"""``edgekd gate``: a report's deployed artifacts against budgets, as a verdict CI can act on.

Budgets are resolved per target in three layers, each overriding the keys it sets:

1. the target profile of that name in ``targets/`` (``$EDGEKD_TARGETS``, ./targets,
   the repo's); when no profile of that name exists, the budgets recorded in
   the report at run time;
2. ``--budgets FILE``: a YAML mapping ``target name → budgets``;
3. ``--budget KEY=VALUE`` overrides, applied to every gated target
   (``none`` removes a budget).

Every layer is validated with the ``Budgets`` model, so a misspelled key is an
``InputError`` (exit 2) naming it, never a silently ignored budget. The figures
themselves are judged by ``edgekd.report.budgets`` (the same code the pipeline
uses for ``report.json``).

The gate never passes what it did not check; each of these is bad input (exit 2,
naming the report): a selection with no deployed (student) artifact ("nothing to
gate": a report of teachers only), a gated target whose layers set no budget at
all (no profile, none recorded, none given), and, for a report read from disk, an
artifact ``path`` that is absolute or climbs out of the report's folder.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

from edgekd.errors import InputError
from edgekd.report.budgets import (BUDGET_KEYS, Check, check_artifact, check_file, is_deployed,
                                   not_deployed_reason, profile_budgets)
from edgekd.report.schema import load_report
from edgekd.targets import Budgets, available_targets, load_target
from edgekd.yamlconf import read_yaml_mapping, validate

#: Keys every artifact needs for the gate to know which artifact it is judging.
REQUIRED_ARTIFACT_KEYS = ("name", "target", "format", "precision")


@dataclass
class TargetBudgets:
    """The budgets a target is gated on, and where each layer came from."""

    target: str
    budgets: Budgets
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"budgets": self.budgets.model_dump(exclude_none=True), "sources": self.sources}


@dataclass
class GateResult:
    """What ``edgekd gate`` found: one ``Check`` per gated artifact × set budget."""

    report_path: str
    report: Mapping[str, Any]
    targets: dict[str, TargetBudgets]
    checks: list[Check]
    not_gated: list[str]

    @property
    def violations(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def skipped(self) -> list[Check]:
        return [c for c in self.checks if c.status == "skip"]

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def exit_code(self) -> int:
        """0 when every budget holds, 1 when any is broken (the CLI contract)."""
        return 0 if self.passed else 1

    @property
    def gated_artifacts(self) -> list[str]:
        return list(dict.fromkeys(c.artifact for c in self.checks))

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": self.report_path,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "targets": {name: t.to_dict() for name, t in self.targets.items()},
            "checks": [c.to_dict() for c in self.checks],
            "violations": [c.to_dict() for c in self.violations],
            "not_gated": self.not_gated,
        }


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["size_kb=30", "min_metric=none"]`` → ``{"size_kb": "30", "min_metric": None}``, validated by key.

    Raises:
        InputError: an item without ``=``, or a key ``Budgets`` does not have (with a did-you-mean).
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--budget {item!r}: expected KEY=VALUE, e.g. --budget size_kb=64")
        value = value.strip()
        out[key.strip()] = None if value.lower() in ("", "none", "null") else value
    validate(Budgets, out, "--budget")
    return out


def read_budgets_file(path: str | Path, report_targets: Sequence[str]) -> dict[str, dict[str, Any]]:
    """A YAML mapping ``target → budgets``, each validated; a target the report lacks is an error."""
    path = Path(path)
    tree = read_yaml_mapping(path, "budgets")
    out: dict[str, dict[str, Any]] = {}
    for target, budgets in tree.items():
        if str(target) not in report_targets:
            raise InputError(f"{path}: target {target!r} is not in the report "
                             f"(report targets: {', '.join(report_targets)})")
        if budgets is None:
            budgets = {}
        if not isinstance(budgets, dict):
            raise InputError(f"{path}: {target}: budgets are a mapping of keys (size_kb, latency_p90_ms, ...)")
        validate(Budgets, budgets, f"{path}: {target}")
        out[str(target)] = budgets
    return out


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (shorter CI logs), else as is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def base_budgets(report: Mapping[str, Any], target: str) -> tuple[dict[str, Any], str]:
    """The first layer for ``target``: its profile in ``targets/``, else the budgets recorded in the report."""
    known = available_targets()
    if target in known:
        profile = load_target(known[target])
        b = profile_budgets(profile)
        return b.model_dump(exclude_none=True), f"profile {_shown_path(known[target])}"
    for t in report.get("targets") or []:
        if t.get("name") == target:
            return dict(t.get("budgets") or {}), "budgets recorded in the report (no profile of that name)"
    return {}, "no profile and none recorded in the report"


def recipe_budget_overrides(report: Mapping[str, Any], target: str, label: Any = "report") -> dict[str, Any]:
    """The recipe's own budgets for ``target`` (``export.budgets``), as recorded in the report.

    Raises:
        InputError: a level of ``recipe.config.export.budgets.<target>`` that is present but not a mapping
            (naming ``label``): budgets the gate cannot read are refused, never silently dropped.
    """
    node: Any = report
    where = []
    for key in ("recipe", "config", "export", "budgets", target):
        node = node.get(key) if isinstance(node, Mapping) else None
        where.append(str(key))
        if node is None:
            return {}
        if not isinstance(node, Mapping):
            raise InputError(f"{label}: {'.'.join(where)} is {node!r:.80}, not a mapping: the recipe's budgets "
                             "cannot be read")
    return dict(node)


def check_report_shape(report: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    """The report's artifacts, after checking the report against its JSON Schema (``report.schema.json``).

    Raises:
        InputError: a report the gate cannot read (not an object, no artifacts, an artifact without a name,
            target, format or precision). Malformed figures are not refused here: the budget checks fail them.
    """
    from edgekd.report.validation import check_structure

    check_structure(report, path)
    return list(report["artifacts"])


def run_gate(
    report_path: str | Path,
    *,
    target: Optional[str] = None,
    budgets_file: Optional[str | Path] = None,
    overrides: Sequence[str] = (),
    artifact_patterns: Sequence[str] = (),
) -> GateResult:
    """Load the report, resolve each target's budgets, judge its deployed artifacts.

    Args:
        report_path: ``report.json`` (schema ``edgekd.report/1``).
        target: gate only this target (it must be in the report).
        budgets_file: YAML ``target → budgets`` layered over the profiles.
        overrides: ``KEY=VALUE`` budgets layered over everything, for every gated target.
        artifact_patterns: gate only artifacts whose name matches one of these globs
            (``student-*-int8``); the others are listed as not gated.

    Raises:
        InputError: unknown schema, malformed report, unknown budget key, a target or
            artifact pattern the report does not have, nothing to gate, a target without
            budgets, an artifact path outside the report's folder (exit 2).
    """
    report = load_report(report_path)
    listed = report.get("artifacts") if isinstance(report.get("artifacts"), list) else []  # else refused below
    targets = [a.get("target") for a in listed if isinstance(a, dict)]
    file_tree = read_budgets_file(budgets_file, list(dict.fromkeys(targets))) if budgets_file else {}
    override_tree = parse_overrides(overrides)
    return gate_report(report, str(report_path), base=Path(report_path).parent, target=target, per_target=file_tree,
                       per_target_source=f"budgets file {budgets_file}", overrides=override_tree,
                       overrides_source="--budget " + " ".join(f"{k}={v}" for k, v in override_tree.items()),
                       artifact_patterns=artifact_patterns, confined=True)


def gate_report(
    report: Mapping[str, Any],
    label: str,
    *,
    base: Optional[Path] = None,
    target: Optional[str] = None,
    per_target: Optional[Mapping[str, Mapping[str, Any]]] = None,
    per_target_source: str = "budgets given per target",
    overrides: Optional[Mapping[str, Any]] = None,
    overrides_source: str = "budgets given for every target",
    artifact_patterns: Sequence[str] = (),
    confined: bool = False,
    require_budgets: bool = True,
) -> GateResult:
    """Judge a report's deployed artifacts against layered budgets (profile, recipe, per target, overrides).

    Args:
        report: the ``report.json`` object (or one with at least ``artifacts``).
        label: how messages name it (its path).
        base: the folder artifact paths are relative to (the report's; default: the working directory).
        target: gate only this target.
        per_target: ``target → budgets`` layered over the profiles and the recipe's.
        overrides: budgets layered over everything, for every gated target (``None`` values remove one).
        artifact_patterns: gate only artifacts whose name matches one of these globs.
        confined: the report was read from disk: an artifact path that is absolute or climbs out of ``base``
            with ``..`` is refused (records built in memory may name files anywhere).
        require_budgets: refuse a gated target without any budget (the gate; ``edgekd bundle`` records the
            verdict in its model card and bundles a target without budgets too).

    Raises:
        InputError: a malformed report, an unknown budget key, a target or pattern the report lacks, nothing to
            gate (no deployed artifact selected), a gated target without any budget, or (``confined``) an
            artifact path outside the report's folder.
    """
    path = label
    artifacts = check_report_shape(report, path)
    report_targets = list(dict.fromkeys(a["target"] for a in artifacts))
    if target is not None and target not in report_targets:
        raise InputError(f"{path}: target {target!r} is not in the report "
                         f"(report targets: {', '.join(report_targets)})")
    gated_targets = [target] if target else report_targets
    file_tree = dict(per_target or {})
    for name, tree in file_tree.items():
        if name not in report_targets:
            raise InputError(f"{per_target_source}: target {name!r} is not in the report "
                             f"(report targets: {', '.join(report_targets)})")
        validate(Budgets, dict(tree), f"{per_target_source}: {name}")
    override_tree = dict(overrides or {})
    if override_tree:
        validate(Budgets, {k: v for k, v in override_tree.items() if v is not None}, overrides_source)
    resolved: dict[str, TargetBudgets] = {}
    for t in gated_targets:
        tree, source = base_budgets(report, t)
        sources = [source]
        from_recipe = recipe_budget_overrides(report, t, path)
        if from_recipe:
            tree.update(from_recipe)
            sources.append("recipe export.budgets")
        if t in file_tree:
            tree.update(file_tree[t])
            sources.append(per_target_source)
        if override_tree:
            tree.update(override_tree)
            sources.append(overrides_source)
        tree = {k: v for k, v in tree.items() if v is not None}
        resolved[t] = TargetBudgets(t, validate(Budgets, tree, f"budgets of {t}"), sources)

    selected = [a for a in artifacts if a["target"] in resolved]
    if artifact_patterns:
        chosen = [a for a in selected if any(fnmatch.fnmatchcase(a["name"], p) for p in artifact_patterns)]
        if not chosen:
            names = ", ".join(a["name"] for a in selected)
            raise InputError(f"--artifact {' '.join(artifact_patterns)}: matches no artifact (report has: {names})")
    else:
        chosen = selected
    chosen_names = {a["name"] for a in chosen}

    def gated(a: dict) -> bool:  # an fp32 twin named with --artifact is gated too
        return is_deployed(a, artifacts) or (bool(artifact_patterns) and a.get("role", "student") == "student")

    if not any(gated(a) for a in chosen):
        _refuse_nothing_to_gate(path, chosen, artifacts, gated_targets)
    for t in dict.fromkeys(a["target"] for a in chosen if gated(a) and require_budgets):
        set_budgets = resolved[t].budgets.model_dump(exclude_none=True)
        if not any(set_budgets.get(k) not in (None, False) for k in BUDGET_KEYS):
            _refuse_no_budgets(path, t, resolved[t].sources)

    # Twins for the accuracy drop come from the whole report, even when only int8 files are gated.
    checks = [c for a in chosen if gated(a) for c in check_artifact(a, artifacts, resolved[a["target"]].budgets)]
    # every gated file must be the one that was measured
    checks += [check_file(a, base if base is not None else Path.cwd(), confined=confined, label=path)
               for a in chosen if gated(a)]
    not_gated = [
        f"{a['name']} ({not_deployed_reason(a, artifacts) if not gated(a) else 'not selected'})"
        for a in selected if a["name"] not in chosen_names or not gated(a)
    ]
    return GateResult(path, report, resolved, checks, not_gated)


def _refuse_nothing_to_gate(path: str, chosen: list[dict], artifacts: list[dict], gated_targets: list[str]) -> None:
    """A selection without one deployed artifact gates nothing: refused (exit 2), never ``PASS: all 0 checks``.

    Why exit 2 and not 1: no budget was broken (exit 1 means one was, CONTRACTS.md); the report, or the
    ``--target`` / ``--artifact`` selection, gives the gate nothing to judge, like a pattern that matches no
    artifact, which is bad input. Failing closed here means CI never reads a pass the gate did not check.
    """
    listed = ", ".join(f"{a['name']} ({not_deployed_reason(a, artifacts)})" for a in chosen) or "no artifact"
    raise InputError(f"{path}: nothing to gate: no deployed (student) artifact for target(s) "
                     f"{', '.join(gated_targets)}, only {listed}; the gate judges students, teachers and fp32 twins "
                     "are references")


def _refuse_no_budgets(path: str, target: str, sources: list[str]) -> None:
    """A gated target whose layers set no budget: every verdict would be a pass of nothing, so it is refused."""
    raise InputError(f"{path}: target {target!r} has no budgets to gate ({'; '.join(sources)}): budgets come from "
                     f"targets/{target}.yaml ($EDGEKD_TARGETS, ./targets, the shipped profiles), the report's "
                     "recorded targets, the recipe's export.budgets, --budgets FILE or --budget KEY=VALUE")
