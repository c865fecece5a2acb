"""A trial's objective values, its budget constraints, and the Pareto front of the feasible trials.

Constraints follow Optuna's convention: one value per budget, ``<= 0`` when the budget holds
(``size_kb - budget``, ``latency_p90_ms - budget``, ``accuracy_drop_pp - budget``, ``min_metric - metric``).
An infeasible trial stays in the study (the sampler learns from it) but is never on the front.
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
