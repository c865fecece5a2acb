"""The latency policy: how many channels each layer keeps so the predicted latency meets a target (NetAdapt-style).

The importance criterion (``edgekd.pruning.importance``) decides *which*
channels of a group go (the least important first); the latency table
(``edgekd.pruning.latency_table``) decides *how many* per group. Greedy, as
NetAdapt (Yang et al., ECCV 2018) but with an importance proxy instead of a
short fine-tune per candidate:

1. every group may step from its current count to the next smaller count of
   its table's grid (multiples of ``round_to``; further down only when the next
   count saves nothing, e.g. a width that leaves SIMD lanes idle); a step saves
   ``table.latency(g, now) - table.latency(g, then)`` ms and loses the summed
   importance of the channels it removes;
2. if some steps alone reach the target, take the one that loses the least
   importance (do not overshoot); else take the step with the most latency saved
   per importance lost; steps that save nothing are never taken;
3. repeat until the predicted latency meets the target;
4. with a ``verify`` function (export + measure on the target's runner), the
   chosen model is measured; the additive table errs when neighbouring groups
   are both narrowed, so the target the greedy aims at is corrected by the
   measured error (``aim += target - measured``) and the plan redone from the
   same scores, for at most ``attempts`` measurements. Kept: the least-pruned
   measured plan that meets the target (else the fastest one measured).

Example:
    >>> from edgekd.pruning.latency_table import LatencyTable
    >>> table = LatencyTable(base_ms=1.0, widths={"a": 32, "b": 32},
    ...                      entries={"a": {16: 0.9}, "b": {16: 0.6}})
    >>> plan = choose_counts(table, {"a": [1.0] * 32, "b": [1.0] * 32}, target_ms=0.7)
    >>> plan.counts, round(plan.predicted_ms, 3)
    ({'a': 32, 'b': 16}, 0.6)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

import torch
from torch import nn

from edgekd.errors import InputError
from edgekd.pruning.budget import Budget, Int8SizeModel, measure_cost
from edgekd.pruning.latency_table import LatencyTable
from edgekd.pruning.prune import PruneOutcome, apply_removal, channel_counts, score_channels


@dataclass(frozen=True)
class LatencyChoice:
    """What the greedy policy chose.

    Attributes:
        counts: kept channels per group.
        predicted_ms: the table's prediction for ``counts``.
        steps: each step taken: group, from, to, ms saved, importance lost.
    """

    counts: dict[str, int]
    predicted_ms: float
    steps: list[dict] = field(default_factory=list)


def choose_counts(table: LatencyTable, scores: Mapping[str, Sequence[float]], target_ms: float, *,
                  min_channels: int = 1, where: str = "prune.target.latency_p50_ms") -> LatencyChoice:
    """Kept channel counts per group whose predicted latency is at most ``target_ms``.

    Args:
        table: measured latencies (its grid gives the counts a group may keep).
        scores: importance of every current channel of each group (its length is the group's current count);
            groups without scores are not pruned.
        target_ms: the latency to meet (same statistic as the table: p50).
        min_channels: no group keeps fewer.
        where: the recipe key, for messages.

    Raises:
        InputError: the target is below what the table can reach.
    """
    ranked = {g: sorted(float(v) for v in s) for g, s in scores.items() if g in table.widths}
    counts = {g: len(ranked[g]) if g in ranked else w for g, w in table.widths.items()}
    predicted = table.predict_counts(counts)
    steps: list[dict] = []
    while predicted > target_ms:
        reaching, best = None, None
        for g, imp in ranked.items():
            cur = counts[g]
            for cand in sorted(table.entries.get(g, {}), reverse=True):
                if cand >= cur or cand < min_channels:
                    continue
                saved = table.latency(g, cur) - table.latency(g, cand)
                if saved <= 0:
                    continue  # look further down this group's grid
                lost = sum(imp[: cur - cand])
                step = {"group": g, "from": cur, "to": cand, "saved_ms": saved, "importance_lost": lost}
                if predicted - saved <= target_ms:
                    if reaching is None or (lost, -saved) < (reaching["importance_lost"], -reaching["saved_ms"]):
                        reaching = step
                ratio = saved / max(lost, 1e-12)
                if best is None or ratio > best[0]:
                    best = (ratio, step)
                break  # the next count that saves latency: the step this group offers
        chosen = reaching or (best[1] if best else None)
        if chosen is None:
            on = table.meta.get("identity", {}).get("target", "the target")
            raise InputError(
                f"{where}: {target_ms:g} ms cannot be met: the latency table ({on}) "
                f"predicts at best {predicted:.4f} ms p50 from here (unpruned {table.base_ms:.4f} ms, floor "
                f"{table.floor_ms():.4f} ms); raise the target, set a smaller prune.round_to or prune.min_channels"
            )
        counts[chosen["group"]] = chosen["to"]
        predicted = table.predict_counts(counts)
        steps.append({**chosen, "predicted_ms": predicted})
    return LatencyChoice(counts=counts, predicted_ms=predicted, steps=steps)


def prune_to_latency(
    model: nn.Module,
    input_shape: tuple[int, ...],
    scorer,
    budget: Budget,
    table: LatencyTable,
    *,
    ignored: list[str],
    min_channels: int = 1,
    size_model: Int8SizeModel | None = None,
    verify: Optional[Callable[[nn.Module], float]] = None,
    attempts: int = 4,
    log: Callable[[str], None] = lambda s: None,
) -> PruneOutcome:
    """Prune ``model`` in place until the table predicts ``budget.limit`` ms or less (``choose_counts``), and with
    ``verify`` until the *measured* latency does (aim corrected by the measured error, at most ``attempts`` times).

    Args:
        model: the network (``.grad`` filled for gradient-based scorers).
        input_shape: one example's shape.
        scorer: a torch-pruning ``Importance``: which channels of a group go.
        budget: a ``latency_ms`` budget (``budget_from_target`` of ``latency_p50_ms``).
        table: the latency table measured on the unpruned architecture.
        ignored: layers never pruned (the classifier included).
        min_channels: no group keeps fewer.
        size_model: to report the predicted int8 size too.
        verify: ``verify(model) -> measured p50 ms`` of a candidate (export + the target's runner); None: trust
            the table.
        attempts: measurements at most with ``verify``.
        log: a line per measured attempt.

    Returns:
        The outcome; ``budget["policy"]`` holds the greedy steps, the predicted latency and the measured attempts.
    """
    before = measure_cost(model, input_shape, size_model, table)
    counts_before = channel_counts(model)
    scores = score_channels(model, input_shape, scorer, ignored)
    lists = {g: s.tolist() for g, s in scores.items()}
    goal = budget.limit

    def removal_for(choice: LatencyChoice) -> list[tuple[str, int]]:
        out = []
        for g, kept in choice.counts.items():
            if g in scores and kept < len(scores[g]):
                order = torch.argsort(scores[g], stable=True).tolist()
                out += [(g, i) for i in order[: len(scores[g]) - kept]]
        return out

    aim, tried, best, history = goal, {}, None, []
    for attempt in range(max(1, attempts) if verify is not None else 1):
        try:
            choice = choose_counts(table, lists, aim, min_channels=min_channels, where=budget.key)
        except InputError:
            if best is None:
                raise
            break  # the corrected aim is below what the table reaches: keep the best measured plan
        key = tuple(sorted(choice.counts.items()))
        if verify is None:
            best = (choice, None)
            break
        if key not in tried:
            trial = copy.deepcopy(model)
            apply_removal(trial, input_shape, ignored, removal_for(choice))
            tried[key] = float(verify(trial))
        measured = tried[key]
        history.append({"aim_ms": aim, "predicted_ms": choice.predicted_ms, "measured_ms": measured,
                        "counts": dict(choice.counts)})
        log(f"latency attempt {attempt + 1}: aim {aim:.4f} ms, predicted {choice.predicted_ms:.4f}, measured "
            f"{measured:.4f} (target {goal:.4f}; channels {dict(choice.counts)})")
        # rank: a plan that meets the target beats one that does not; among those that meet it the least pruned
        # (slowest), among the others the fastest
        rank = (0, -measured) if measured <= goal else (1, measured)
        if best is None or rank < best[2]:
            best = (choice, measured, rank)
        if goal * 0.9 <= measured <= goal or (measured <= goal and not choice.steps):
            break  # close enough below the target, or met with nothing pruned (no plan is less pruned)
        aim += goal - measured
    choice = best[0]
    removal = removal_for(choice)
    apply_removal(model, input_shape, ignored, removal)
    after = measure_cost(model, input_shape, size_model, table)
    counts_after = channel_counts(model)
    return PruneOutcome(
        before=before, after=after,
        budget={"key": budget.key, "target": budget.wanted, "measure": budget.measure, "limit": budget.limit,
                "policy": {"kind": "netadapt-greedy", "predicted_ms": choice.predicted_ms, "steps": choice.steps,
                           "table": table.key, "attempts": history,
                           "measured_ms": best[1] if verify is not None else None}},
        removed=len(removal),
        channels={n: [counts_before[n], counts_after.get(n, 0)] for n in counts_before},
    )
