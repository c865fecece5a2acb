"""A labelled item (a recording, a photo, an array file or an in-memory example) and content hashes.

Splits, evaluation and reports work on items; a task's reader makes them from a
labelled folder, and ``edgekd.data.sources`` makes them for in-memory data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from edgekd.hashing import file_sha256  # noqa: F401  (re-exported: the data loaders use it)


@dataclass(frozen=True)
class Item:
    """One labelled item: where it is (None for in-memory data), its name, label, subset and content hash.

    Attributes:
        path: the file, or None for an example given as an array.
        file: its name relative to the data folder (or ``#i`` for in-memory data).
        label: class name.
        group: the subset it comes from (e.g. the source database; ``all`` when unknown); splits are
            stratified by it and metrics reported per group.
        sha256: hex SHA-256 of its content.
    """

    path: Optional[Path]
    file: str
    label: str
    group: str
    sha256: str


#: the name the audio code has always used
Recording = Item


def dataset_hash(items: Iterable[Item]) -> str:
    """One hash over every (file, label, content hash): what a run was trained on."""
    h = hashlib.sha256()
    for r in sorted(items, key=lambda r: r.file):
        h.update(f"{r.file}\t{r.label}\t{r.sha256}\n".encode())
    return h.hexdigest()
