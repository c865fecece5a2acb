"""95 % intervals of the figures a report gives (numpy only, also on the device side).

A test split of 100 recordings moves MAcc by one point per recording, so a figure
without its uncertainty cannot tell two models apart. Proportions (accuracy,
sensitivity, specificity, a class's recall) get the Wilson score interval. A mean
of per-class recalls (MAcc, balanced accuracy) gets the MOVER interval (method of
variance estimates recovery, Zou & Donner 2008; Newcombe's method 10 for a
difference of proportions) built from each class's Wilson interval:
``mean -/+ sqrt(sum((recall - low)^2)) / K`` and ``sqrt(sum((high - recall)^2)) / K``.
It is deterministic, does not collapse to a point when a recall is 0 or 1, and
always holds its own estimate (each Wilson interval holds its recall). An earlier
version took percentiles of Jeffreys-posterior draws; their mean is pulled away
from recalls near 1, so ``0.992 [0.962-0.990]`` could be printed.

Stored intervals are rounded outwards (low down, high up) to 4 decimals, so
rounding never moves an estimate outside its interval either.

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


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (``(nan, nan)`` for ``n == 0``)."""
    if n <= 0:
        return float("nan"), float("nan")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_recall_interval(confusion: Sequence[Sequence[int]]) -> tuple[float, float]:
    """95 % interval of the mean recall over the classes present (balanced accuracy; MAcc for two classes).

    MOVER over the present classes' Wilson intervals (module docstring): the bounds are the estimate
    minus / plus the root sum of squares of each recall's distance to its own bound, divided by the
    number of classes, so ``low <= estimate <= high`` always holds.
    """
    c = np.asarray(confusion, dtype=np.int64)
    support = c.sum(axis=1)
    present = np.flatnonzero(support > 0)
    if len(present) == 0:
        return float("nan"), float("nan")
    recalls = np.array([c[i, i] / support[i] for i in present], dtype=np.float64)
    bounds = np.array([wilson(int(c[i, i]), int(support[i])) for i in present], dtype=np.float64)
    estimate, k = float(recalls.mean()), len(present)
    below = math.sqrt(float(np.sum((recalls - bounds[:, 0]) ** 2))) / k
    above = math.sqrt(float(np.sum((bounds[:, 1] - recalls) ** 2))) / k
    return max(0.0, estimate - below), min(1.0, estimate + above)


def macc_interval(confusion: Sequence[Sequence[int]], positive: int) -> tuple[float, float]:
    """95 % interval of MAcc = (sensitivity + specificity) / 2 (``nan`` when a class is absent)."""
    c = np.asarray(confusion, dtype=np.int64)
    if c[positive].sum() == 0 or c[1 - positive].sum() == 0:
        return float("nan"), float("nan")
    return mean_recall_interval(c)


def _outward(pair: tuple[float, float]) -> list[float | None]:
    """``[low, high]`` rounded outwards to 4 decimals (``None`` for nan), so rounding never excludes the estimate."""
    lo, hi = pair
    if math.isnan(lo) or math.isnan(hi):
        return [None, None]
    return [max(0.0, math.floor(lo * 1e4) / 1e4), min(1.0, math.ceil(hi * 1e4) / 1e4)]


def metric_intervals(confusion: Sequence[Sequence[int]], positive: int | None = None) -> dict[str, list[float]]:
    """``{"accuracy": [lo, hi], "balanced_accuracy": [...], ("macc", "sensitivity", "specificity")}`` at 95 %.

    Example:
        >>> ci = metric_intervals([[40, 10], [5, 45]], positive=1)
        >>> sorted(ci), [round(v, 3) for v in ci["sensitivity"]]
        (['accuracy', 'balanced_accuracy', 'macc', 'sensitivity', 'specificity'], [0.786, 0.957])
    """
    c = np.asarray(confusion, dtype=np.int64)
    out = {"accuracy": wilson(int(np.trace(c)), int(c.sum())), "balanced_accuracy": mean_recall_interval(c)}
    if positive is not None and c.shape == (2, 2):
        neg = 1 - positive
        out["macc"] = macc_interval(c, positive)
        out["sensitivity"] = wilson(int(c[positive, positive]), int(c[positive].sum()))
        out["specificity"] = wilson(int(c[neg, neg]), int(c[neg].sum()))
    return {k: _outward(pair) for k, pair in out.items()}
