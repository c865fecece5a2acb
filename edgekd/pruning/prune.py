"""The mechanism: remove whole channels with torch-pruning's dependency graph, to meet a budget.

torch-pruning groups every channel with everything coupled to it (the conv's
BatchNorm, the next layer's input channels, a residual partner, a depthwise
conv that must keep in = out channels), so removing a channel keeps the
network consistent. This module adds the policy edgekd needs on top:

1. the groups that may be pruned (the classifier and the recipe's ``ignore``
   list excluded, names checked with a did-you-mean);
2. a removal order from importance scores: ``uniform`` removes the same share of
   every group (least important channels first), ``global`` ranks all channels
   together (scores normalised per group, torch-pruning's ``mean`` normaliser);
   a group never drops below ``min_channels``;
3. the smallest prefix of that order that meets the budget, found by bisection
   on copies of the model, then applied to the model in place;
4. with ``round_to`` (a target's ``simd_width``), every group keeps a multiple of
   it; a group no wider than ``round_to`` is left whole, and none drops below one
   multiple. The search runs over rounded steps (``rounded_steps``: each cuts one
   group by one multiple, in the order the unrounded prefix reaches it), so it
   stops at the largest rounded model within the budget instead of rounding every
   group down after the fact (which asked for 0.6 of the MACs could give 0.39). When
   even that lands more than ``SHORTFALL`` under the budget (multiples too coarse
   for the model), ``prune_to_budget`` warns (``RoundingShortfall``) and records it.

Example:
    >>> outcome = prune_to_budget(model, (1, 32, 188), IMPORTANCES.get("l2").build(), budget)
    >>> outcome.after.macs <= budget.limit
    True
"""

from __future__ import annotations

import copy
import difflib
import math
import warnings
from dataclasses import dataclass, field
from typing import Literal, Optional

import torch
from torch import nn

from edgekd.errors import InputError
from edgekd.pruning.budget import Budget, Cost, Int8SizeModel, measure_cost

Scope = Literal["uniform", "global"]
_ROOT_TYPES = (nn.Conv1d, nn.Conv2d, nn.Linear)
#: With ``round_to``, a result more than this share under the budget's limit is reported (``RoundingShortfall``).
SHORTFALL = 0.10


class RoundingShortfall(UserWarning):
    """Channel counts rounded to multiples of ``round_to`` could not come close to the budget: the model was cut
    further than asked (the message says how far and what to change)."""


def classifier_name(model: nn.Module, input_shape: tuple[int, ...]) -> str:
    """The name of the last conv/linear layer a forward pass runs: the classifier, never pruned."""
    from edgekd.models.complexity import hooked_forward

    order: list[str] = []
    names = {m: n for n, m in model.named_modules()}
    hooked_forward(model, input_shape, {t: lambda mod, _i, _o: order.append(names[mod]) for t in _ROOT_TYPES})
    if not order:
        raise InputError(f"{type(model).__name__} has no convolution or Linear layer to prune")
    return order[-1]


def resolve_ignored(model: nn.Module, names: list[str], input_shape: tuple[int, ...], where: str = "prune.ignore") -> list[str]:
    """Check the ignore list against the model's module names and add the classifier.

    Raises:
        InputError: a name that is not a module of the model (with the closest names).
    """
    known = [n for n, _ in model.named_modules() if n]
    layers = [n for n, m in model.named_modules() if isinstance(m, _ROOT_TYPES)]
    for name in names:
        if name not in known:  # suggest conv/linear layers first: those are what one keeps whole
            close = difflib.get_close_matches(name, layers, n=3) or difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise InputError(f"{where}: {type(model).__name__} has no layer {name!r}{hint} "
                             f"(its conv/linear layers: {', '.join(layers)})")
    head = classifier_name(model, input_shape)
    return list(dict.fromkeys([*names, head]))


def _graph(model: nn.Module, input_shape: tuple[int, ...], ignored: list[str]):
    """The dependency graph and the prunable groups, keyed by their root layer's name."""
    import torch_pruning as tp

    modules = dict(model.named_modules())
    ignored_modules = [sub for n in ignored for sub in modules[n].modules()]
    was_training = model.training
    model.eval()
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=torch.zeros(1, *input_shape))
    model.train(was_training)
    names = {m: n for n, m in modules.items()}
    groups = {}
    for group in graph.get_all_groups(ignored_layers=ignored_modules, root_module_types=list(_ROOT_TYPES)):
        root = group[0].dep.target.module
        groups[names[root]] = group
    return graph, groups


def score_channels(model: nn.Module, input_shape: tuple[int, ...], scorer, ignored: list[str]) -> dict[str, torch.Tensor]:
    """Importance of every channel of every prunable group (a 1-D tensor per group root name).

    Args:
        scorer: a torch-pruning ``Importance`` from ``IMPORTANCES.get(name).build()``;
            for ``taylor`` the model's ``.grad`` must hold loss gradients.
    """
    _, groups = _graph(model, input_shape, ignored)
    scores = {}
    for name, group in groups.items():
        imp = scorer(group)
        if imp is not None:
            scores[name] = torch.nan_to_num(imp.detach().float().cpu(), nan=0.0)
    return scores


def removal_order(scores: dict[str, torch.Tensor], scope: Scope = "uniform", min_channels: int = 1) -> list[tuple[str, int]]:
    """The order in which channels are removed: least important first, no group below ``min_channels``.

    ``uniform`` interleaves groups so that every group loses the same share of
    its channels; ``global`` ranks all channels by their (per-group normalised) score.
    """
    keyed = []
    for name, imp in scores.items():
        n = len(imp)
        removable = max(n - min_channels, 0)
        ranked = torch.argsort(imp, stable=True).tolist()[:removable]
        for rank, idx in enumerate(ranked):
            key = (rank + 1) / n if scope == "uniform" else float(imp[idx])
            keyed.append((key, float(imp[idx]), name, idx))
    keyed.sort(key=lambda t: (t[0], t[1], t[2], t[3]))
    return [(name, idx) for _, _, name, idx in keyed]


def round_kept(width: int, kept: int, round_to: int | None, min_channels: int = 1) -> int:
    """Channels a group of ``width`` keeps when ``kept`` are asked for and counts must be multiples of ``round_to``.

    Torch-Pruning's rule (``MetaPruner._round_to``: the kept count rounded down to a
    multiple), plus what keeps the group valid: an unpruned group stays as it is, a
    group no wider than ``round_to`` is left whole, and no group keeps fewer than
    the smallest multiple of ``round_to`` that is at least ``min_channels``.

    Example:
        >>> [round_kept(40, k, 16) for k in (40, 39, 32, 20, 3)]
        [40, 32, 32, 16, 16]
        >>> round_kept(8, 3, 16), round_kept(40, 21, None)
        (8, 21)
    """
    if not round_to or round_to <= 1 or kept >= width:
        return min(kept, width)
    if width <= round_to:
        return width
    floor = round_to * max(1, math.ceil(min_channels / round_to))
    return min(width, max(kept - kept % round_to, floor))


def rounded_removal(order: list[tuple[str, int]], prefix: int, widths: dict[str, int], round_to: int | None,
                    min_channels: int = 1) -> list[tuple[str, int]]:
    """The first ``prefix`` removals of ``order``, per group adjusted so the kept counts are multiples of ``round_to``.

    Each group loses its least important channels (its entries of ``order`` are ranked
    least important first), as many as ``round_kept`` leaves over.

    Example:
        >>> order = [("a", i) for i in range(39)]
        >>> len(rounded_removal(order, 10, {"a": 40}, 16))  # 30 kept -> 16
        24
    """
    if not round_to or round_to <= 1:
        return order[:prefix]
    per_group: dict[str, list[tuple[str, int]]] = {}
    for item in order:
        per_group.setdefault(item[0], []).append(item)
    asked: dict[str, int] = {}
    for name, _ in order[:prefix]:
        asked[name] = asked.get(name, 0) + 1
    out = []
    for name, items in per_group.items():
        width = widths[name]
        remove = width - round_kept(width, width - asked.get(name, 0), round_to, min_channels)
        out += items[:remove]
    return out


def rounded_steps(order: list[tuple[str, int]], widths: dict[str, int], round_to: int,
                  min_channels: int = 1) -> list[tuple[str, int]]:
    """The removals a growing budget makes when kept counts must be multiples of ``round_to``, one step at a time.

    Each step ``(group, removed)`` cuts one group to the next smaller multiple (``removed`` channels gone in all);
    steps are ordered by the position in ``order`` at which the unrounded prefix would have removed that many of
    the group's channels, so a prefix of steps follows the importance order at the granularity rounding allows.
    A group no wider than ``round_to`` has no step; none goes below ``round_kept``'s floor.

    Example:
        >>> order = [("a", 0), ("b", 0), ("a", 1), ("b", 1)] + [(g, i) for i in range(2, 24) for g in "ab"]
        >>> rounded_steps(order, {"a": 32, "b": 24}, 8)
        [('a', 8), ('b', 8), ('a', 16), ('b', 16), ('a', 24)]
    """
    positions: dict[str, list[int]] = {}
    for pos, (name, _) in enumerate(order):
        positions.setdefault(name, []).append(pos)
    floor = round_to * max(1, math.ceil(min_channels / round_to))
    steps = []
    for name, pos in positions.items():
        width = widths[name]
        if width <= round_to:
            continue
        kept = round_to * ((width - 1) // round_to)
        while kept >= floor and width - kept <= len(pos):
            steps.append((pos[width - kept - 1], name, width - kept))
            kept -= round_to
    return [(name, removed) for _, name, removed in sorted(steps)]


def step_state(steps: list[tuple[str, int]], k: int) -> dict[str, int]:
    """Channels removed per group after the first ``k`` of ``steps``."""
    state: dict[str, int] = {}
    for name, count in steps[:k]:
        state[name] = count
    return state


def state_removal(order: list[tuple[str, int]], state: dict[str, int]) -> list[tuple[str, int]]:
    """The channels a per-group count removes: each group's least important ones (its first entries in ``order``)."""
    per_group: dict[str, list[tuple[str, int]]] = {}
    for item in order:
        per_group.setdefault(item[0], []).append(item)
    return [item for name, count in state.items() for item in per_group[name][:count]]


def _counts(removal: list[tuple[str, int]]) -> dict[str, int]:
    state: dict[str, int] = {}
    for name, _ in removal:
        state[name] = state.get(name, 0) + 1
    return state


def closest_rounded(order: list[tuple[str, int]], steps: list[tuple[str, int]], k: int, widths: dict[str, int],
                    round_to: int, min_channels: int, cost_of, budget: Budget) -> dict[str, int]:
    """The largest rounded model within ``budget`` that a short local search finds, when step ``k`` overshot it.

    Candidates: the path's state after ``k`` steps; every one-multiple cut of any group from the state after
    ``k - 1`` steps (the path took only one of them); and Torch-Pruning's rule (the smallest channel prefix
    within the budget once every group is rounded down). The largest within the budget is kept, then multiples
    are given back to any group, one at a time, while the budget still holds. ``cost_of(state)`` prices a
    per-group count of removed channels.
    """
    ladders: dict[str, list[int]] = {}
    for name, count in steps:
        ladders.setdefault(name, [0]).append(count)
    priced: dict[tuple, Cost] = {}

    def price(state: dict[str, int]) -> Cost:
        key = tuple(sorted((n, c) for n, c in state.items() if c))
        if key not in priced:
            priced[key] = cost_of(state)
        return priced[key]

    def moved(state: dict[str, int], name: str, delta: int) -> Optional[dict[str, int]]:
        i = ladders[name].index(state.get(name, 0)) + delta
        return {**state, name: ladders[name][i]} if 0 <= i < len(ladders[name]) else None

    lo, hi = 0, len(order)  # Torch-Pruning's rule, searched over channel prefixes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if budget.met(price(_counts(rounded_removal(order, mid, widths, round_to, min_channels)))):
            hi = mid
        else:
            lo = mid
    start = step_state(steps, k - 1)
    candidates = [step_state(steps, k), _counts(rounded_removal(order, hi, widths, round_to, min_channels)),
                  *(moved(start, name, +1) for name in ladders)]
    best, best_value = step_state(steps, k), None
    while candidates:
        improved = False
        for cand in filter(None, candidates):
            cost = price(cand)
            if budget.met(cost) and (best_value is None or budget.value(cost) > best_value):
                best, best_value, improved = cand, budget.value(cost), True
        candidates = [moved(best, name, -1) for name in ladders] if improved else []
    return best


def apply_removal(model: nn.Module, input_shape: tuple[int, ...], ignored: list[str], removal: list[tuple[str, int]]) -> None:
    """Remove the listed channels (indices into each group's current channels) from ``model`` in place."""
    graph, groups = _graph(model, input_shape, ignored)
    per_group: dict[str, list[int]] = {}
    for name, idx in removal:
        per_group.setdefault(name, []).append(idx)
    for name, idxs in per_group.items():
        root = groups[name][0].dep
        group = graph.get_pruning_group(root.target.module, root.handler, sorted(idxs))
        if not graph.check_pruning_group(group):
            raise ValueError(f"pruning {len(idxs)} channels of {name} would remove all of them")
        group.prune()


def channel_counts(model: nn.Module) -> dict[str, int]:
    """Output channels of every conv/linear layer, by name."""
    return {n: (m.out_channels if isinstance(m, (nn.Conv1d, nn.Conv2d)) else m.out_features)
            for n, m in model.named_modules() if isinstance(m, _ROOT_TYPES)}


@dataclass
class PruneOutcome:
    """What a pruning step did: costs before and after, channels per layer, what it aimed at."""

    before: Cost
    after: Cost
    budget: dict
    removed: int
    channels: dict[str, list[int]] = field(default_factory=dict)  # layer -> [before, after]

    def to_dict(self) -> dict:
        return {"before": self.before.to_dict(), "after": self.after.to_dict(), "budget": self.budget,
                "removed_channels": self.removed, "channels": self.channels}


def floor_cost(model: nn.Module, input_shape: tuple[int, ...], ignored: list[str], min_channels: int = 1,
               size_model: Int8SizeModel | None = None, round_to: int | None = None, latency_model=None) -> Cost:
    """The cost with every prunable group cut to ``min_channels`` (rounded as ``round_kept`` says): the smallest
    a pruned model can be."""
    _, groups = _graph(model, input_shape, ignored)
    flat = {name: torch.zeros(len(group[0].idxs)) for name, group in groups.items()}
    order = removal_order(flat, "uniform", min_channels)
    widths = {name: len(v) for name, v in flat.items()}
    trial = copy.deepcopy(model)
    apply_removal(trial, input_shape, ignored, rounded_removal(order, len(order), widths, round_to, min_channels))
    return measure_cost(trial, input_shape, size_model, latency_model)


def _shortfall(budget: Budget, before: Cost, after: Cost, round_to: int) -> str:
    """What rounding cost, in the budget's terms, and what to change."""
    got, start = budget.value(after), budget.value(before)
    return (f"{budget.key}: {budget.wanted} asked for at most {budget.describe_value(budget.limit)} "
            f"({budget.limit / start:.2f} of the unpruned model); with channel counts in multiples of {round_to} the "
            f"largest model within it has {budget.describe_value(got)} ({got / start:.2f}), more than "
            f"{SHORTFALL:.0%} under: lower round_to (or None for no rounding), or ask for less pruning")


def prune_to_budget(
    model: nn.Module,
    input_shape: tuple[int, ...],
    scorer,
    budget: Budget,
    *,
    ignored: list[str],
    scope: Scope = "uniform",
    min_channels: int = 1,
    size_model: Int8SizeModel | None = None,
    round_to: int | None = None,
) -> PruneOutcome:
    """Remove the fewest channels (in importance order) that bring ``model`` within ``budget``; in place.

    Args:
        model: the network; its ``.grad`` must be filled first for gradient-based scorers.
        input_shape: one example's shape, channel first.
        scorer: a torch-pruning ``Importance``.
        budget: the bound to meet (``edgekd.pruning.budget``).
        ignored: layer names never pruned (from ``resolve_ignored``: includes the classifier).
        scope: ``uniform`` or ``global`` ranking.
        min_channels: no group keeps fewer channels.
        size_model: needed for an ``int8_bytes`` budget.
        round_to: kept channel counts are multiples of it (``round_kept``); None: any count. The search then
            runs over rounded steps (``rounded_steps``); a result more than ``SHORTFALL`` under the budget warns
            ``RoundingShortfall`` and is recorded as ``budget["shortfall"]`` of the outcome.

    Raises:
        InputError: the budget cannot be met even at ``min_channels`` per group.
    """
    before = measure_cost(model, input_shape, size_model)
    scores = score_channels(model, input_shape, scorer, ignored)
    order = removal_order(scores, scope, min_channels)
    widths = {name: len(v) for name, v in scores.items()}
    counts_before = channel_counts(model)

    rounded = bool(round_to and round_to > 1)
    steps = rounded_steps(order, widths, round_to, min_channels) if rounded else []
    choices = len(steps) if rounded else len(order)  # the search runs over rounded steps, or single channels

    def removal(k: int) -> list[tuple[str, int]]:
        return state_removal(order, step_state(steps, k)) if rounded else order[:k]

    def cost_of(removed: list[tuple[str, int]]) -> Cost:
        trial = copy.deepcopy(model)
        apply_removal(trial, input_shape, ignored, removed)
        return measure_cost(trial, input_shape, size_model)

    def cost_after(k: int) -> Cost:
        return cost_of(removal(k))

    if budget.met(before):
        k = 0
    else:
        floor = cost_after(choices)
        if not budget.met(floor):
            left = f"{min_channels} channel(s)" + (f" (rounded to multiples of {round_to})" if round_to else "")
            raise InputError(
                f"{budget.key}: {budget.wanted} cannot be met: with {left} left in every prunable "
                f"layer the model still has {budget.describe(floor)} (budget {budget.describe_value(budget.limit)}); "
                "raise the target or un-ignore layers"
            )
        lo, hi = 0, choices  # cost_after(lo) misses the budget, cost_after(hi) meets it
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if budget.met(cost_after(mid)):
                hi = mid
            else:
                lo = mid
        k = hi
    removed = removal(k)
    if rounded and k > 0 and budget.value(cost_of(removed)) < (1 - SHORTFALL) * budget.limit:
        # one rounded step overshot the budget by much: look around the path for a larger model within it
        removed = state_removal(order, closest_rounded(order, steps, k, widths, round_to, min_channels,
                                                       lambda state: cost_of(state_removal(order, state)), budget))
    apply_removal(model, input_shape, ignored, removed)
    after = measure_cost(model, input_shape, size_model)
    counts_after = channel_counts(model)
    record = {"key": budget.key, "target": budget.wanted, "measure": budget.measure, "limit": budget.limit}
    if rounded and k > 0 and budget.value(after) < (1 - SHORTFALL) * budget.limit:
        record["shortfall"] = _shortfall(budget, before, after, round_to)
        warnings.warn(record["shortfall"], RoundingShortfall, stacklevel=2)
    return PruneOutcome(
        before=before,
        after=after,
        budget=record,
        removed=len(removed),
        channels={n: [counts_before[n], counts_after.get(n, 0)] for n in counts_before},
    )
