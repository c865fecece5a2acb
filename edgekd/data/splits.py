"""Record-wise, stratified, seeded train/val/test splits.

Splitting is done on recordings, never on windows: all windows of one recording
land in one split, so a test score never rewards memorising a recording.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Sequence

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
    if set(fractions) != set(SPLITS):
        raise InputError(f"data.split must give exactly {', '.join(SPLITS)}; got {', '.join(fractions)}")
    if abs(sum(fractions.values()) - 1.0) > 1e-6 or min(fractions.values()) <= 0:
        raise InputError(f"data.split fractions must be positive and sum to 1; got {fractions}")
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
