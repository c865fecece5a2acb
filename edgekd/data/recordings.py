"""Labelled audio recordings (PhysioNet-2016 style folders) with their database of origin.

A folder holds ``*.wav`` plus ``labels.csv`` (``file,label``), the challenge's
``REFERENCE.csv`` (1 = abnormal, -1 = normal) or one sub-folder per class. The
database of each recording (``training-a`` ...) comes from a ``manifest.csv``
column ``source_subset`` when present, else from the PhysioNet record-name
prefix; splits are stratified by it and metrics reported per database.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from edgekd.runtime.labelled import read_labelled_folder

_PHYSIONET_NAME = re.compile(r"^([a-f])\d{4}", re.IGNORECASE)


@dataclass(frozen=True)
class Recording:
    """One labelled recording: where it is, its label, its database and content hash."""

    path: Path
    file: str
    label: str
    group: str
    sha256: str


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _groups_from_manifest(root: Path) -> dict[str, str]:
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        return {}
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "source_subset" not in rows[0] or "file" not in rows[0]:
        return {}
    return {r["file"]: r["source_subset"] for r in rows}


def recording_group(file: str, manifest: dict[str, str]) -> str:
    """Database of a recording: manifest first, then the PhysioNet name prefix, else ``all``."""
    if file in manifest:
        return manifest[file]
    m = _PHYSIONET_NAME.match(Path(file).name)
    return f"training-{m.group(1).lower()}" if m else "all"


def list_recordings(root: str | Path, classes: list[str]) -> list[Recording]:
    """List a labelled folder of WAVs (no decoding yet).

    Args:
        root: the folder.
        classes: allowed labels; any other label is an ``InputError`` naming the row.
    """
    root = Path(root)
    items = read_labelled_folder(root, extensions=(".wav",), classes=classes)
    manifest = _groups_from_manifest(root)
    return [
        Recording(
            path=it.path,
            file=it.file,
            label=it.label,
            group=recording_group(it.file, manifest),
            sha256=file_sha256(it.path),
        )
        for it in items
    ]


def dataset_hash(recordings: list[Recording]) -> str:
    """One hash over every (file, label, content hash): what a run was trained on."""
    h = hashlib.sha256()
    for r in sorted(recordings, key=lambda r: r.file):
        h.update(f"{r.file}\t{r.label}\t{r.sha256}\n".encode())
    return h.hexdigest()
