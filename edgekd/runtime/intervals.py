"""95 % intervals of the figures a report gives (numpy only, also on the device side).

A test split of 100 recordings moves MAcc by one point per recording, so a figure
without its uncertainty cannot tell two models apart. Proportions (accuracy,
sensitivity, specificity, a class's recall) get the Wilson score interval; a mean
of per-class recalls (MAcc, balanced accuracy) gets the percentile interval of the
mean of per-class recalls drawn from their Jeffreys posteriors, Beta(k + 1/2,
n - k + 1/2) (2,000 draws, seed 0, so a report is reproducible), the posterior of
the balanced accuracy of Brodersen et al. (ICPR 2010) with Jeffreys priors. Unlike a
plain parametric bootstrap it does not collapse to a point when a recall is 0 or 1.

Example:
    >>> from edgekd.runtime.intervals import wilson
    >>> [round(v, 3) for v in wilson(80, 100)]
    [0.711, 0.867]
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

Z95 = 1.959964
DRAWS = 2000


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (``(nan, nan)`` for ``n == 0``)."""
    if n <= 0:
        return float("nan"), float("nan")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_recall_interval(confusion: Sequence[Sequence[int]], draws: int = DRAWS) -> tuple[float, float]:
    """95 % interval of the mean recall over the classes present (balanced accuracy; MAcc for two classes).

    Each present class's recall is drawn from its Jeffreys posterior ``Beta(k + 1/2, n - k + 1/2)`` (k right
    of n); the interval is the 2.5th and 97.5th percentile of the mean over ``draws`` draws (seed 0).
    """
    c = np.asarray(confusion, dtype=np.int64)
    support = c.sum(axis=1)
    present = np.flatnonzero(support > 0)
    if len(present) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(0)
    recalls = [rng.beta(c[i, i] + 0.5, support[i] - c[i, i] + 0.5, draws) for i in present]
    lo, hi = np.percentile(np.mean(recalls, axis=0), [2.5, 97.5])
    return float(lo), float(hi)


def macc_interval(confusion: Sequence[Sequence[int]], positive: int, draws: int = DRAWS) -> tuple[float, float]:
    """95 % interval of MAcc = (sensitivity + specificity) / 2 (``nan`` when a class is absent)."""
    c = np.asarray(confusion, dtype=np.int64)
    if c[positive].sum() == 0 or c[1 - positive].sum() == 0:
        return float("nan"), float("nan")
    return mean_recall_interval(c, draws)


def metric_intervals(confusion: Sequence[Sequence[int]], positive: int | None = None) -> dict[str, list[float]]:
    """``{"accuracy": [lo, hi], "balanced_accuracy": [...], ("macc", "sensitivity", "specificity")}`` at 95 %.

    Example:
        >>> ci = metric_intervals([[40, 10], [5, 45]], positive=1)
        >>> sorted(ci), [round(v, 3) for v in ci["sensitivity"]]
        (['accuracy', 'balanced_accuracy', 'macc', 'sensitivity', 'specificity'], [0.786, 0.957])
    """
    c = np.asarray(confusion, dtype=np.int64)
    out = {"accuracy": list(wilson(int(np.trace(c)), int(c.sum()))),
           "balanced_accuracy": list(mean_recall_interval(c))}
    if positive is not None and c.shape == (2, 2):
        neg = 1 - positive
        out["macc"] = list(macc_interval(c, positive))
        out["sensitivity"] = list(wilson(int(c[positive, positive]), int(c[positive].sum())))
        out["specificity"] = list(wilson(int(c[neg, neg]), int(c[neg].sum())))
    return {k: [round(v, 4) if not math.isnan(v) else None for v in pair] for k, pair in out.items()}
