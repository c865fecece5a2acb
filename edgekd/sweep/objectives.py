"""A trial's objective values, its budget constraints, and the Pareto front of the feasible trials.

Feasible means what ``edgekd gate`` would say of the trial's files: ``gate_checks`` runs the gate's own checker
(``edgekd.report.budgets.check_artifact``) on the trial's judged artifact and its fp32 twin, as report rows
measured on validation (size, latency on the space's runner, audit, per-item decisions), so RAM, fully-integer,
estimated/emulated latency and the paired accuracy-drop rule all count. Constraints follow Optuna's convention, one
value per budget, ``<= 0`` when it holds (``size_kb - budget``, ...), made to agree with the gate's verdicts
(``agree``). An infeasible trial stays in the study (the sampler learns from it) but is never on the front.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from edgekd.sweep.space import OBJECTIVES

CONSTRAINED = ("size_kb", "latency_p90_ms", "accuracy_drop_pp", "min_metric")


def objective_values(figures: Mapping[str, Any], objectives: Sequence[str]) -> list[float]:
    """The figures Optuna optimises, in the space's order."""
    return [float(figures[o]) for o in objectives]


def constraint_values(figures: Mapping[str, Any], budgets: Mapping[str, Any]) -> dict[str, Optional[float]]:
    """Budget → ``figure - limit`` (``<= 0``: met). A budget whose figure was not measured is None (not met)."""
    out: dict[str, Optional[float]] = {}
    for name in CONSTRAINED:
        limit = budgets.get(name)
        if limit is None:
            continue
        if name == "min_metric":
            out[name] = float(limit) - float(figures["metric"])
        else:
            value = figures.get(name)
            out[name] = None if value is None else float(value) - float(limit)
    return out


def gate_checks(figures: Mapping[str, Any], budgets: Mapping[str, Any]) -> list:
    """The gate's verdicts on the trial's judged artifact (``figures["gate_rows"]``), one ``Check`` per budget.

    A trial without its rows (an older study's) fails closed: one failing check says why.
    """
    from edgekd.report.budgets import Check, check_artifact
    from edgekd.targets import Budgets

    rows = list(figures.get("gate_rows") or [])
    judged = next((r for r in rows if r.get("precision") == figures.get("precision")), None)
    if judged is None:
        return [Check(str(figures.get("artifact")), "?", "file", "fail", None, 0, "",
                      "no gate rows recorded for this trial: it cannot be judged (re-run it)")]
    return check_artifact(judged, rows, Budgets(**budgets))


def agree(constraints: Mapping[str, Optional[float]], checks: Sequence[Any]) -> dict[str, Optional[float]]:
    """Constraint values that agree with the gate: a failed check's value is > 0, a passed or skipped one's <= 0
    (a budget only the gate knows, such as ``fully_integer`` or ``ram_kb``, gets 1.0 or 0.0)."""
    out = dict(constraints)
    for c in checks:
        v = out.get(c.budget)
        if c.status == "fail":
            out[c.budget] = v if v is not None and v > 0 else 1.0
        else:
            out[c.budget] = min(v, 0.0) if v is not None else 0.0
    return out


def feasible(constraints: Mapping[str, Optional[float]]) -> bool:
    """Every budget measured and met (a figure that could not be read fails, never passes)."""
    return all(v is not None and v <= 0 for v in constraints.values())


def pareto_mask(values: Sequence[Sequence[float]], directions: Sequence[str]) -> list[bool]:
    """Which rows no other row dominates (as good on every objective, better on one).

    Example:
        >>> pareto_mask([[0.9, 20], [0.8, 10], [0.7, 15]], ["maximize", "minimize"])
        [True, True, False]
    """
    sign = [1.0 if d == "minimize" else -1.0 for d in directions]
    rows = [[s * v for s, v in zip(sign, r)] for r in values]

    def dominates(a: list[float], b: list[float]) -> bool:
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

    return [not any(dominates(o, r) for j, o in enumerate(rows) if j != i) for i, r in enumerate(rows)]


def front(rows: Sequence[Mapping[str, Any]], objectives: Sequence[str]) -> list[int]:
    """Trial numbers on the front: complete and feasible rows only."""
    ok = [r for r in rows if r["state"] == "COMPLETE" and r.get("feasible")]
    mask = pareto_mask([objective_values(r["figures"], objectives) for r in ok], [OBJECTIVES[o] for o in objectives])
    return [r["number"] for r, on in zip(ok, mask) if on]
