"""Stopping hopeless trials early, on the per-epoch validation score every trial records.

Optuna's own pruners need ``Trial.report``, which Optuna refuses in multi-objective studies
("Trial.report is not supported for multi-objective optimization"), so each trial stores its
validation curve as a user attribute and a rule here reads the other trials' curves:

- ``median``: stop when the best score so far is below the median of the other trials at this epoch
  (Optuna's ``MedianPruner`` rule). It ignores size and latency, so it may stop a small model that
  would have been on the front.
- ``dominated``: stop only when a trial at least as small (parameters) and as cheap (MACs) was ahead
  by ``margin`` at this epoch: then this trial cannot reach the accuracy–size front as it is going.
- ``none``.
"""

from __future__ import annotations

import statistics
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

from edgekd.sweep.space import StopSpec


@dataclass(frozen=True)
class Curve:
    """One trial's validation score per epoch (1-based: ``scores[0]`` is epoch 1), and its model's cost."""

    scores: Sequence[float]
    params: int
    macs: int

    def at(self, epoch: int) -> float | None:
        return self.scores[epoch - 1] if len(self.scores) >= epoch else None


class StopRule(ABC):
    """Whether a running trial should stop at ``epoch``, given the finished trials' curves."""

    def __init__(self, spec: StopSpec) -> None:
        self.spec = spec

    def should_stop(self, epoch: int, mine: Curve, others: Sequence[Curve]) -> bool:
        if epoch < self.spec.warmup_epochs or len(others) < self.spec.startup_trials:
            return False
        return self._stop(epoch, mine, [c for c in others if c.at(epoch) is not None])

    @abstractmethod
    def _stop(self, epoch: int, mine: Curve, others: Sequence[Curve]) -> bool:
        """The rule itself, on the other trials that reached ``epoch``."""


class NeverStop(StopRule):
    def _stop(self, epoch: int, mine: Curve, others: Sequence[Curve]) -> bool:
        return False


class MedianStop(StopRule):
    def _stop(self, epoch: int, mine: Curve, others: Sequence[Curve]) -> bool:
        if len(others) < self.spec.startup_trials:
            return False
        best = max(mine.scores[:epoch])
        return best < statistics.median(c.at(epoch) for c in others)


class DominatedStop(StopRule):
    def _stop(self, epoch: int, mine: Curve, others: Sequence[Curve]) -> bool:
        best = max(mine.scores[:epoch])
        return any(c.params <= mine.params and c.macs <= mine.macs and c.at(epoch) >= best + self.spec.margin
                   for c in others)


RULES = {"none": NeverStop, "median": MedianStop, "dominated": DominatedStop}


def build_rule(spec: StopSpec) -> StopRule:
    """The stopping rule a space names.

    Example:
        >>> rule = build_rule(StopSpec(name="dominated", warmup_epochs=2, startup_trials=1, margin=0.05))
        >>> small_good = Curve([0.70, 0.80, 0.82], params=1000, macs=10**6)
        >>> rule.should_stop(2, Curve([0.50, 0.55], params=5000, macs=5 * 10**6), [small_good])
        True
        >>> rule.should_stop(2, Curve([0.50, 0.55], params=500, macs=10**5), [small_good])  # smaller: may be on the front
        False
    """
    return RULES[spec.name](spec)
