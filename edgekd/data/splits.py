"""Record-wise, stratified, seeded train/val/test splits.

Splitting is done on recordings, never on windows: all windows of one recording
land in one split, so a test score never rewards memorising a recording.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Optional, Sequence

from edgekd.errors import InputError

SPLITS = ("train", "val", "test")


def stratified_split(
    strata: Sequence[str], fractions: dict[str, float], seed: int
) -> dict[str, list[int]]:
    """Assign each item to train/val/test, stratified by its stratum key.

    Within each stratum (e.g. ``"abnormal|training-a"``) items are shuffled with
    ``seed`` and cut by the fractions (largest-remainder rounding), so every
    split keeps the stratum proportions. A stratum of three or more items gives
    at least one item to every split.

    Args:
        strata: one key per item.
        fractions: ``{"train": .6, "val": .2, "test": .2}``; must sum to 1.
        seed: shuffling seed.

    Returns:
        ``{"train": [indices], "val": [...], "test": [...]}``, each sorted.
    """
    _check_fractions(fractions)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(strata):
        groups[key].append(i)
    rng = random.Random(seed)
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for key in sorted(groups):
        items = groups[key]
        rng.shuffle(items)
        counts = _allocate(len(items), [fractions[s] for s in SPLITS])
        start = 0
        for split, n in zip(SPLITS, counts):
            out[split].extend(items[start : start + n])
            start += n
    return {s: sorted(v) for s, v in out.items()}


def _check_fractions(fractions: dict[str, float]) -> None:
    """The three split fractions, positive, summing to 1 (else an InputError naming ``data.split``)."""
    if set(fractions) != set(SPLITS):
        raise InputError(f"data.split must give exactly {', '.join(SPLITS)}; got {', '.join(fractions)}")
    if abs(sum(fractions.values()) - 1.0) > 1e-6 or min(fractions.values()) <= 0:
        raise InputError(f"data.split fractions must be positive and sum to 1; got {fractions}")


def _allocate(n: int, fractions: list[float]) -> list[int]:
    """Split ``n`` into integer counts close to ``fractions`` (largest remainder)."""
    raw = [n * f for f in fractions]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    if n >= len(fractions):
        for i in range(len(counts)):
            if counts[i] == 0:
                donor = max(range(len(counts)), key=lambda j: counts[j])
                counts[donor] -= 1
                counts[i] += 1
    return counts


def grouped_stratified_split(
    strata: Sequence[str], groups: Sequence[str], fractions: dict[str, float], seed: int
) -> dict[str, list[int]]:
    """Like :func:`stratified_split`, but the items of one group always land in the same split.

    Used for photos: consecutive shots of one leaf (a capture burst) must not be split between
    train and test, or the test score rewards recognising the leaf. Within each stratum the
    groups are shuffled with ``seed``, one group goes to each of test, val and train first
    (when there are three or more), then each remaining group, largest first, goes to the split
    furthest below its target share of the stratum's items.

    Args:
        strata: one key per item (e.g. its label).
        groups: one group key per item; a group must not span strata.
        fractions: ``{"train": .6, "val": .2, "test": .2}``; must sum to 1.
        seed: shuffling seed.

    Returns:
        ``{"train": [indices], "val": [...], "test": [...]}``, each sorted.
    """
    _check_fractions(fractions)
    members: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (key, group) in enumerate(zip(strata, groups)):
        members[key][group].append(i)
    rng = random.Random(seed)
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for key in sorted(members):
        names = sorted(members[key])
        rng.shuffle(names)
        total = sum(len(members[key][g]) for g in names)
        have = {s: 0 for s in SPLITS}
        order = names
        if len(names) >= len(SPLITS):  # every split gets one group first: smallest splits first
            for split, g in zip(("test", "val", "train"), names):
                out[split].extend(members[key][g])
                have[split] += len(members[key][g])
            order = names[len(SPLITS):]
        for g in sorted(order, key=lambda g: -len(members[key][g])):  # stable: shuffled order breaks ties
            split = max(SPLITS, key=lambda s: fractions[s] * total - have[s])
            out[split].extend(members[key][g])
            have[split] += len(members[key][g])
    return {s: sorted(v) for s, v in out.items()}


def split_items(items: Sequence, fractions: dict[str, float], seed: int, stratify: Sequence[str] = ("label", "group"),
                keep_together: Optional[Sequence[str]] = None) -> dict[str, list[int]]:
    """Item indices per split, stratified by the items' ``label`` and/or ``group``.

    Args:
        items: objects with ``label`` and ``group`` (``edgekd.data.items.Item``).
        fractions: ``{"train": .6, "val": .2, "test": .2}``.
        seed: shuffling seed.
        stratify: which attributes make the stratum key.
        keep_together: a key per item; items sharing one land in the same split (capture bursts).
    """
    strata = ["|".join(it.label if k == "label" else it.group for k in stratify) for it in items]
    if keep_together is not None:
        return grouped_stratified_split(strata, keep_together, fractions, seed)
    return stratified_split(strata, fractions, seed)
