"""Model inputs of a set of items (``WindowSet``) and the on-disk cache of front-end features.

A task's ``featurize`` fills a ``WindowSet`` from files through its front-end;
``WindowSet.from_arrays`` makes one from examples already in memory. The cache
key is the file's SHA-256 plus the front-end's parameter hash, so a changed file
or a changed parameter never reuses stale features, and a renamed file still
hits the cache.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from edgekd.atomic import atomic_path
from edgekd.data.items import Item
from edgekd.errors import InputError


class FeatureCache:
    """A folder of ``.npy`` feature arrays keyed by content and front-end hash."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root else None

    def _path(self, key: str) -> Path | None:
        return self.root / f"{key}.npy" if self.root else None

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        from edgekd.runtime.npyfile import read_npy

        try:
            return read_npy(path, "feature cache")  # an empty, truncated or garbage entry: InputError, not EOFError
        except InputError:
            return None  # a damaged cache entry is recomputed

    def put(self, key: str, value: np.ndarray) -> None:
        path = self._path(key)
        if path is None:
            return
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, value, allow_pickle=False)


@dataclass
class WindowSet:
    """Model inputs (windows) of a set of items, with the item each window came from.

    A recording gives several windows, a photo or an array example one; predictions are
    aggregated per item.

    Attributes:
        x: (n_windows, *input_shape) float32 model inputs.
        y: (n_windows,) class index of each window's item.
        rec: (n_windows,) index into ``recordings``.
        recordings: the items, in order.
        classes: the class names ``y`` indexes, when known (``edgekd.prepare`` and ``from_arrays`` set them).

    Example:
        >>> import numpy as np
        >>> ws = WindowSet.from_arrays(np.zeros((4, 1, 8, 8)), [0, 1, 0, 1])
        >>> ws.x.shape, ws.y_rec.tolist()
        ((4, 1, 8, 8), [0, 1, 0, 1])
    """

    x: np.ndarray
    y: np.ndarray
    rec: np.ndarray
    recordings: list[Item]
    classes: Optional[list[str]] = None

    @property
    def y_rec(self) -> np.ndarray:
        """Class index per recording, in ``recordings`` order."""
        out = np.zeros(len(self.recordings), dtype=np.int64)
        out[self.rec] = self.y
        return out

    @property
    def groups(self) -> list[str]:
        """The subset of each item, in ``recordings`` order."""
        return [r.group for r in self.recordings]

    def subset(self, item_ids: Sequence[int]) -> "WindowSet":
        """The windows of the given items (renumbered in the given order)."""
        ids = list(item_ids)
        where = {old: new for new, old in enumerate(ids)}
        mask = np.isin(self.rec, ids)
        rec = np.asarray([where[int(r)] for r in self.rec[mask]], dtype=np.int64)
        return WindowSet(self.x[mask], self.y[mask], rec, [self.recordings[i] for i in ids], self.classes)

    @classmethod
    def from_items(cls, xs: Sequence[np.ndarray], items: Sequence[Item], classes: Sequence[str],
                   input_shape: Sequence[int]) -> "WindowSet":
        """Stack per-item windows ``xs[i]`` of shape ``(n_i, *input_shape)`` into one set."""
        classes = list(classes)
        ys, rs = [], []
        for i, (x, item) in enumerate(zip(xs, items)):
            ys.append(np.full(len(x), classes.index(item.label), dtype=np.int64))
            rs.append(np.full(len(x), i, dtype=np.int64))
        return cls(
            x=np.concatenate(xs) if len(xs) else np.zeros((0, *input_shape), np.float32),
            y=np.concatenate(ys) if ys else np.zeros(0, np.int64),
            rec=np.concatenate(rs) if rs else np.zeros(0, np.int64),
            recordings=list(items),
            classes=classes,
        )

    @classmethod
    def from_arrays(cls, x: np.ndarray, y: Sequence, *, classes: Optional[Sequence[str]] = None,
                    groups: Optional[Sequence[str]] = None, item: Optional[Sequence[int]] = None,
                    where: str = "data") -> "WindowSet":
        """Examples already in memory: ``x`` (N, *input_shape), labels ``y`` (class indices or names).

        Args:
            x: the model inputs.
            y: one label per example: integer class indices, or class names (then ``classes``
                gives their order; default: sorted).
            classes: class names in output order (default: ``"0"``, ``"1"``, ... for indices).
            groups: the subset of each example (e.g. the source database), for stratified splits and
                per-group metrics; default ``all``.
            item: the item (recording) index of each example, when several windows come from one
                item; default: every example is its own item.
            where: what the data is called in messages.

        Raises:
            InputError: mismatched lengths, non-finite or non-numeric ``x``, labels outside ``classes``,
                or an item whose windows carry different labels.
        """
        x = np.asarray(x)
        if x.dtype.kind not in "biuf" or x.ndim < 2:
            raise InputError(f"{where}: x must be a numeric array (N, *input_shape), got {x.dtype} {list(x.shape)}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not np.all(np.isfinite(x)):
            raise InputError(f"{where}: x contains NaN or infinity")
        labels, names = _label_indices(y, classes, len(x), where)
        item_ids = np.arange(len(x)) if item is None else np.asarray(item, dtype=np.int64)
        if len(item_ids) != len(x):
            raise InputError(f"{where}: {len(item_ids)} item ids for {len(x)} examples")
        uniq, rec = np.unique(item_ids, return_inverse=True)
        grp = ["all"] * len(x) if groups is None else [str(g) for g in groups]
        if len(grp) != len(x):
            raise InputError(f"{where}: {len(grp)} groups for {len(x)} examples")
        first = {}
        for i, r in enumerate(rec.tolist()):
            if r in first and labels[first[r]] != labels[i]:
                raise InputError(f"{where}: item {uniq[r]} has windows labelled {names[labels[first[r]]]!r} and "
                                 f"{names[labels[i]]!r}")
            first.setdefault(r, i)
        items = []
        for r, i in sorted(first.items()):
            digest = hashlib.sha256(x[rec == r].tobytes()).hexdigest()
            items.append(Item(None, f"#{uniq[r]}", names[labels[i]], grp[i], digest))
        return cls(x=x, y=labels.astype(np.int64), rec=rec.astype(np.int64), recordings=items, classes=list(names))


def _label_indices(y: Sequence, classes: Optional[Sequence[str]], n: int, where: str) -> tuple[np.ndarray, list[str]]:
    """(class index per example, class names) from integer or string labels."""
    arr = np.asarray(y)
    if arr.ndim != 1 or len(arr) != n:
        raise InputError(f"{where}: expected {n} labels (one per example), got shape {list(arr.shape)}")
    if arr.dtype.kind in "iub":
        k = int(arr.max()) + 1 if n else 0
        names = list(classes) if classes is not None else [str(i) for i in range(max(k, 2))]
        if n and (arr.min() < 0 or arr.max() >= len(names)):
            raise InputError(f"{where}: label indices must be in 0..{len(names) - 1} ({len(names)} classes), "
                             f"got {int(arr.min())}..{int(arr.max())}")
        return arr.astype(np.int64), [str(c) for c in names]
    if arr.dtype.kind in "US" or arr.dtype == object:
        values = [str(v) for v in arr.tolist()]
        names = [str(c) for c in classes] if classes is not None else sorted(set(values))
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise InputError(f"{where}: labels {unknown} are not among the classes {names}")
        return np.asarray([names.index(v) for v in values], dtype=np.int64), names
    raise InputError(f"{where}: labels must be class indices or names, got dtype {arr.dtype}")
