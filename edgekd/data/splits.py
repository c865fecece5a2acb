"""Record-wise, stratified, seeded train/val/test splits.

Splitting is done on recordings, never on windows: all windows of one recording
land in one split, so a test score never rewards memorising a recording.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path
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


def time_split(strata: Sequence[str], times: Sequence[float], fractions: dict[str, float],
               groups: Optional[Sequence[str]] = None) -> dict[str, list[int]]:
    """Within each stratum, the latest items go to test, the next-latest to val, the earliest to train.

    Items are taken in blocks (a group, e.g. a capture burst, is one block; else each item), latest block
    first: a block joins test while test holds less than its share of the stratum, then val likewise, and
    the rest is train. A stratum of three or more blocks gives every split at least one block.

    Args:
        strata: one key per item (e.g. its label).
        times: one capture time per item (any increasing number, e.g. a POSIX timestamp).
        fractions: ``{"train": .6, "val": .2, "test": .2}``.
        groups: a block key per item (items of a block share a split); None: every item its own block.

    Returns:
        ``{"train": [indices], "val": [...], "test": [...]}``, each sorted.

    Example:
        >>> time_split(["a"] * 5, [5, 1, 4, 2, 3], {"train": .6, "val": .2, "test": .2})
        {'train': [1, 3, 4], 'val': [2], 'test': [0]}
    """
    _check_fractions(fractions)
    blocks: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, key in enumerate(strata):
        blocks[key][groups[i] if groups is not None else str(i)].append(i)
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for key in sorted(blocks):
        members = blocks[key]
        total = sum(len(v) for v in members.values())
        latest_first = sorted(members, key=lambda b: max(times[i] for i in members[b]), reverse=True)
        have = {s: 0 for s in SPLITS}
        fill_order = ("test", "val", "train")
        for n_left, b in zip(range(len(latest_first), 0, -1), latest_first):
            for k, split in enumerate(fill_order):
                # leave enough blocks for the splits filled after this one that are still empty
                still_empty = sum(1 for later in fill_order[k + 1:] if have[later] == 0)
                reserve = len(latest_first) >= len(SPLITS) and n_left <= still_empty
                if split == "train" or (have[split] < fractions[split] * total - 1e-9 and not reserve):
                    out[split].extend(members[b])
                    have[split] += len(members[b])
                    break
    return {s: sorted(v) for s, v in out.items()}


def split_items(items: Sequence, fractions: dict[str, float], seed: int, stratify: Sequence[str] = ("label", "group"),
                keep_together: Optional[Sequence[str]] = None,
                times: Optional[Sequence[float]] = None) -> dict[str, list[int]]:
    """Item indices per split, stratified by the items' ``label`` and/or ``group``.

    Args:
        items: objects with ``label`` and ``group`` (``edgekd.data.items.Item``).
        fractions: ``{"train": .6, "val": .2, "test": .2}``.
        seed: shuffling seed.
        stratify: which attributes make the stratum key.
        keep_together: a key per item; items sharing one land in the same split (capture bursts).
        times: a capture time per item: split by time (:func:`time_split`) instead of at random.
    """
    strata = ["|".join(it.label if k == "label" else it.group for k in stratify) for it in items]
    if times is not None:
        return time_split(strata, times, fractions, keep_together)
    if keep_together is not None:
        return grouped_stratified_split(strata, keep_together, fractions, seed)
    return stratified_split(strata, fractions, seed)


def split_from_file(items: Sequence, path: str | Path) -> dict[str, list[int]]:
    """Item indices per split as a CSV ``file,split`` assigns them (every item listed once).

    Raises:
        InputError: the file is unreadable, lacks a column, names an unknown split, or leaves an item out.
    """
    path = Path(path)
    where = f"data.split.file: {path}"
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"file", "split"} <= set(reader.fieldnames):
                raise InputError(f"{where}: needs the columns file,split (has {', '.join(reader.fieldnames or [])})")
            assigned: dict[str, str] = {}
            for line, row in enumerate(reader, start=2):
                name, split = (row.get("file") or "").strip(), (row.get("split") or "").strip()
                if split not in SPLITS:
                    raise InputError(f"{where}: line {line}: split {split!r} is not one of {', '.join(SPLITS)}")
                if name in assigned:
                    raise InputError(f"{where}: line {line}: {name!r} is listed twice")
                assigned[name] = split
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{where}: cannot read it ({type(exc).__name__}: {exc})") from None
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    missing = []
    for i, it in enumerate(items):
        split = assigned.get(it.file)
        if split is None:
            missing.append(it.file)
        else:
            out[split].append(i)
    if missing:
        raise InputError(f"{where}: {len(missing)} item(s) of the data folder are not assigned, e.g. {missing[0]!r}; "
                         "list them, or split by fractions: --set 'data.split={train: 0.6, val: 0.2, test: 0.2}'")
    return out
