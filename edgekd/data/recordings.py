"""Labelled audio recordings (PhysioNet-2016 style folders) with their database of origin.

A folder holds ``*.wav`` plus ``labels.csv`` (``file,label``), the challenge's
``REFERENCE.csv`` (1 = abnormal, -1 = normal) or one sub-folder per class. The
database of each recording (``training-a`` ...) comes from a ``manifest.csv``
column ``source_subset`` when present, else from the PhysioNet record-name
prefix; splits are stratified by it and metrics reported per database.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from edgekd.data.items import Item, Recording, dataset_hash, file_sha256  # noqa: F401  (Recording: the audio name)
from edgekd.runtime.labelled import read_labelled_folder

_PHYSIONET_NAME = re.compile(r"^([a-f])\d{4}", re.IGNORECASE)


def groups_from_manifest(root: Path) -> dict[str, str]:
    """``file -> source_subset`` from the folder's ``manifest.csv`` (empty without one or without that column)."""
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        return {}
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        from edgekd.errors import InputError

        raise InputError(f"{manifest}: not a readable CSV file ({exc})") from None
    if not rows or "source_subset" not in rows[0] or "file" not in rows[0]:
        return {}
    return {r["file"]: r["source_subset"] for r in rows}


def recording_group(file: str, manifest: dict[str, str]) -> str:
    """Database of a recording: manifest first, then the PhysioNet name prefix, else ``all``."""
    if file in manifest:
        return manifest[file]
    m = _PHYSIONET_NAME.match(Path(file).name)
    return f"training-{m.group(1).lower()}" if m else "all"


def list_recordings(root: str | Path, classes: list[str], extensions: tuple[str, ...] = (".wav",)) -> list[Item]:
    """List a labelled folder of WAVs (no decoding yet).

    Args:
        root: the folder.
        classes: allowed labels; any other label is an ``InputError`` naming the row.
    """
    root = Path(root)
    items = read_labelled_folder(root, extensions=extensions, classes=classes)
    manifest = groups_from_manifest(root)
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
