"""Did a file really lose accuracy against its fp32 twin? Paired per-item flips, with an exact one-sided test.

Both files were run on the same test items (``metrics.per_item``: item ids, true class, decided class). An
item *became wrong* (b) when the twin got it right and this file did not, *became right* (c) the reverse. The
drop of the selection metric is a weighted sum over these discordant items: each item of class j weighs
``1 / (K * n_j)`` (K classes in the mean of recalls, n_j items of class j; all weights are equal for plain
accuracy or balanced classes), so ``drop = sum of weights(became wrong) - sum of weights(became right)``, exactly
the difference of the two files' figures.

Uncertainty, conditional on which items are discordant (as in McNemar's test): each discordant item went the
wrong way with probability pi. No drop is pi = 1/2; the one-sided p-value is the chance, at pi = 1/2, of a drop
at least as large as the one seen (with equal weights this is the exact one-sided McNemar test,
``P(Binomial(b + c, 1/2) >= b)``). The 95 % lower confidence bound of the drop is ``(2 pi_L - 1) * (total weight of
the discordant items)``, pi_L the exact (Clopper-Pearson-type) one-sided lower bound of pi; it is above zero
exactly when p <= 0.05. Everything is computed exactly (integer weights, binomial sums), no sampling.

Example:
    >>> ref = {"labels": ["a", "b"], "n": 4, "balanced_accuracy": 1.0,
    ...        "per_item": {"ids": [0, 1, 2, 3], "true": [0, 0, 1, 1], "predicted": [0, 0, 1, 1]}}
    >>> new = {**ref, "balanced_accuracy": 0.75, "per_item": {**ref["per_item"], "predicted": [0, 0, 1, 0]}}
    >>> d = paired_drop(ref, new, "balanced_accuracy")
    >>> d.became_wrong, d.became_right, round(d.drop_pp, 1), d.p_value
    (1, 0, 25.0, 0.5)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np

#: One-sided level of the test (the lower bound is a one-sided 95 % bound).
ALPHA = 0.05
#: Largest enumeration of the exact distribution (weight groups but the largest); beyond it the caller falls back.
MAX_STATES = 200_000


class NotPairable(ValueError):
    """The per-item data cannot be used: missing, malformed, or not the same items (the message says which)."""


class TooLarge(ValueError):
    """The exact distribution needs more than ``MAX_STATES`` states (many classes of different sizes)."""


@dataclass(frozen=True)
class PairedDrop:
    """The paired comparison of a file against its reference, in points of the selection metric."""

    n: int
    became_wrong: int
    became_right: int
    drop_pp: float
    lower_pp: float
    p_value: float

    @property
    def evidenced(self) -> bool:
        """The data show a drop: the exact one-sided test rejects "no drop" at ``ALPHA``."""
        return self.p_value <= ALPHA

    def describe(self) -> str:
        return (f"paired on n={self.n} items: {self.became_wrong} became wrong, {self.became_right} became right; "
                f"one-sided exact p={self.p_value:.3g}, 95 % lower bound of the drop {self.lower_pp:.2f} pp")


def _ints(value: Any, what: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise NotPairable(f"{what} is not a list of whole numbers")
    return value


def read_per_item(metrics: Mapping[str, Any], where: str) -> dict[int, tuple[int, int]]:
    """``metrics.per_item`` as ``{item id: (true class, decided class)}``, checked against ``labels`` and ``n``.

    Raises:
        NotPairable: absent (``metrics.per_item is missing``) or malformed, naming the problem.
    """
    per_item = metrics.get("per_item")
    if per_item is None:
        raise NotPairable(f"{where}: metrics.per_item is missing")
    if not isinstance(per_item, Mapping):
        raise NotPairable(f"{where}: metrics.per_item is {type(per_item).__name__}, not an object")
    ids, true, pred = (_ints(per_item.get(k), f"{where}: metrics.per_item.{k}") for k in ("ids", "true", "predicted"))
    labels = metrics.get("labels")
    if not isinstance(labels, list) or not labels:
        raise NotPairable(f"{where}: metrics.labels is missing, so the classes of metrics.per_item are unknown")
    if not len(ids) == len(true) == len(pred) or len(set(ids)) != len(ids):
        raise NotPairable(f"{where}: metrics.per_item has lists of different lengths or repeated ids")
    if metrics.get("n") != len(ids):
        raise NotPairable(f"{where}: metrics.per_item has {len(ids)} items but metrics.n is {metrics.get('n')!r}")
    if any(not 0 <= v < len(labels) for v in (*true, *pred)):
        raise NotPairable(f"{where}: metrics.per_item has a class index outside the {len(labels)} labels")
    return {i: (t, p) for i, t, p in zip(ids, true, pred)}


def _mean_recall(items: Mapping[int, tuple[int, int]], k: int, key: str, positive: Optional[int]) -> float:
    """The selection metric recomputed from per-item decisions, as ``edgekd.runtime.metrics`` computes it."""
    right, support = np.zeros(k), np.zeros(k)
    for t, p in items.values():
        support[t] += 1
        right[t] += t == p
    recall = np.divide(right, support, out=np.zeros(k), where=support > 0)
    if key == "macc":
        return float((recall[positive] + recall[1 - positive]) / 2)
    return float(recall[support > 0].mean()) if (support > 0).any() else 0.0


def _binomial_pmf(log_comb: np.ndarray, d: int, pi: float) -> np.ndarray:
    k = np.arange(d + 1)
    if pi <= 0.0:
        return (k == 0).astype(float)
    if pi >= 1.0:
        return (k == d).astype(float)
    return np.exp(log_comb + k * math.log(pi) + (d - k) * math.log1p(-pi))


class _ExactTail:
    """``P_pi(T >= t_obs)`` for ``T = sum over weight groups of u * (2 B - D)``, ``B ~ Binomial(D, pi)``.

    Weights are integers (``u``), so every comparison is exact. All groups but the largest are enumerated
    once (the threshold each point leaves for the last group does not depend on pi); the last group enters
    through its binomial survival function.
    """

    def __init__(self, groups: list[tuple[int, int]], t_obs: int):
        groups = sorted(groups, key=lambda g: g[1])
        *head, (self.u_last, self.d_last) = groups
        if math.prod(d + 1 for _, d in head) > MAX_STATES:
            raise TooLarge(f"the exact distribution would need more than {MAX_STATES:,} states")
        self.head = head
        self.log_combs = [self._log_comb(d) for _, d in head]
        self.log_comb_last = self._log_comb(self.d_last)
        points = list(itertools.product(*(range(d + 1) for _, d in head)))
        self.index = np.array(points, dtype=np.int64).reshape(len(points), len(head))
        # the last group must reach B >= need: u_last * (2B - D) >= t_obs - t
        self.need = np.array([self._need(t_obs - sum(u * (2 * k - d) for (u, d), k in zip(head, pt))) for pt in points],
                             dtype=np.int64)

    @staticmethod
    def _log_comb(d: int) -> np.ndarray:
        return np.array([math.lgamma(d + 1) - math.lgamma(k + 1) - math.lgamma(d - k + 1) for k in range(d + 1)])

    def _need(self, rest: int) -> int:
        # smallest B with u * (2B - D) >= rest  <=>  2B >= D + rest / u (ceil division on integers)
        return max(0, -((-(self.d_last * self.u_last + rest)) // (2 * self.u_last)))

    def __call__(self, pi: float) -> float:
        prob = np.ones(len(self.index))
        for g, (_, d) in enumerate(self.head):
            prob *= _binomial_pmf(self.log_combs[g], d, pi)[self.index[:, g]]
        last = _binomial_pmf(self.log_comb_last, self.d_last, pi)
        survival = np.concatenate([np.cumsum(last[::-1])[::-1], [0.0]])  # survival[k] = P(B >= k)
        return float(np.clip(np.sum(prob * survival[np.minimum(self.need, self.d_last + 1)]), 0.0, 1.0))


def paired_drop(reference: Mapping[str, Any], candidate: Mapping[str, Any], key: str) -> PairedDrop:
    """Flips between two files' per-item decisions and what they say about the drop of ``key``.

    Args:
        reference: the fp32 twin's ``metrics``; candidate: the judged file's ``metrics``.
        key: the selection metric, ``macc`` or ``balanced_accuracy``.

    Raises:
        NotPairable: per-item data missing, malformed, of other items, or not reproducing the figures.
        TooLarge: the exact distribution is too large to enumerate.
    """
    ref, new = read_per_item(reference, "fp32 twin"), read_per_item(candidate, "this file")
    labels = candidate["labels"]
    if reference["labels"] != labels:
        raise NotPairable(f"the fp32 twin's labels {reference['labels']} are not this file's {labels}")
    if ref.keys() != new.keys() or any(ref[i][0] != new[i][0] for i in ref):
        raise NotPairable("the two files were not measured on the same items (ids or true classes differ)")
    positive = labels.index(candidate["positive"]) if key == "macc" and candidate.get("positive") in labels else None
    if key == "macc" and (positive is None or len(labels) != 2):
        raise NotPairable("MAcc needs two labels and metrics.positive among them")
    for name, m, items in (("fp32 twin", reference, ref), ("this file", candidate, new)):
        figure = m.get(key)
        if not isinstance(figure, (int, float)) or abs(_mean_recall(items, len(labels), key, positive) - figure) > 1e-6:
            raise NotPairable(f"{name}: metrics.per_item does not reproduce metrics.{key} ({figure!r})")
    support = np.bincount([t for t, _ in ref.values()], minlength=len(labels))
    classes = 2 if key == "macc" else int((support > 0).sum())
    wrong = np.zeros(len(labels), dtype=np.int64)
    right = np.zeros(len(labels), dtype=np.int64)
    for i, (t, p_ref) in ref.items():
        was, now = p_ref == t, new[i][1] == t
        wrong[t] += was and not now
        right[t] += now and not was
    flipped = [j for j in range(len(labels)) if wrong[j] + right[j] > 0]
    b, c = int(wrong.sum()), int(right.sum())
    if not flipped:
        return PairedDrop(len(ref), 0, 0, 0.0, 0.0, 1.0)
    scale = math.lcm(*(int(support[j]) for j in flipped))  # item of class j weighs scale / n_j units
    groups: dict[int, int] = {}
    t_obs = 0
    for j in flipped:
        u = scale // int(support[j])
        groups[u] = groups.get(u, 0) + int(wrong[j] + right[j])
        t_obs += u * int(wrong[j] - right[j])
    total = sum(u * d for u, d in groups.items())
    unit = 100.0 / (classes * scale)  # points of the metric per weight unit
    tail = _ExactTail(list(groups.items()), t_obs)
    p = tail(0.5)
    lo, hi = 0.0, 1.0  # pi_L: the smallest pi at which a drop this large is no longer surprising (tail > alpha)
    if tail(0.0) <= ALPHA:
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if tail(mid) <= ALPHA else (lo, mid)
    return PairedDrop(len(ref), b, c, t_obs * unit, (2 * lo - 1) * total * unit, p)
