"""Where a shipped checkpoint came from (``<checkpoint>.json``), and the check that it never saw the test items.

A teacher trained once on a full data set and committed (``models/heart-teacher.pt``) is reused by runs on
other splits and samples. If such a run's test split holds an item the teacher learned from, the teacher's
test score is not a test score, and what the student learns from it leaks the answer. The provenance file
records the command, data hash, seed, versions and every training and validation item (name and SHA-256);
``check_unseen`` refuses a run whose test split shares a file's content with them.

Example:
    >>> import json, tempfile, pathlib
    >>> from edgekd.models.provenance import provenance_path
    >>> provenance_path("models/heart-teacher.pt").name
    'heart-teacher.json'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from edgekd.atomic import write_json
from edgekd.errors import InputError

SCHEMA = "edgekd.checkpoint/1"


def provenance_path(checkpoint: str | Path) -> Path:
    """The provenance file beside a checkpoint: same name, ``.json``."""
    return Path(checkpoint).with_suffix(".json")


def write_provenance(checkpoint: str | Path, *, model: str, params: Mapping[str, Any], seen: Mapping[str, Iterable[Any]],
                     **facts: Any) -> Path:
    """Write ``<checkpoint>.json``: the model key and parameters, the items per split it saw, and ``facts``
    (command, data hash, seed, versions, scores). ``seen``: ``{"train": items, "val": items}``."""
    from edgekd.hashing import file_sha256

    record = {"schema": SCHEMA, "checkpoint": Path(checkpoint).name, "sha256": file_sha256(checkpoint),
              "model": model, "params": dict(params), **facts,
              "seen": {split: [{"file": it.file, "label": it.label, "group": it.group, "sha256": it.sha256}
                               for it in items] for split, items in seen.items()}}
    path = provenance_path(checkpoint)
    write_json(path, record)
    return path


def read_provenance(checkpoint: str | Path) -> Optional[dict]:
    """The provenance of a checkpoint, or None when it has none (a checkpoint from elsewhere).

    Raises:
        InputError: the file exists but is not a provenance record (not a regular file of JSON, a missing or
            malformed ``sha256``, an item entry without its ``file`` or ``sha256``), or it describes another
            checkpoint.
    """
    import os

    from edgekd.inputfile import read_json

    path = provenance_path(checkpoint)
    if not os.path.lexists(path):
        return None
    record = read_json(path, "provenance")  # a regular file (a FIFO is refused), JSON no deeper than ours
    if not isinstance(record, dict) or record.get("schema") != SCHEMA or not isinstance(record.get("seen"), dict):
        raise InputError(f"{path}: not an {SCHEMA} provenance file (schema {record.get('schema')!r})"
                         if isinstance(record, dict) else f"{path}: not a JSON object")
    _check_record(record, path)
    from edgekd.hashing import file_sha256

    if record.get("sha256") != file_sha256(checkpoint):
        raise InputError(f"{path}: describes a checkpoint with SHA-256 {str(record.get('sha256'))[:12]}…, "
                         f"not {Path(checkpoint).name}; the two files do not belong together")
    return record


def _is_digest(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value.lower())


def _check_record(record: dict, path: Path) -> None:
    """The fields ``check_unseen`` relies on: the checkpoint's ``sha256`` and, per split, items with a ``file``
    and a ``sha256``. Why: a record without them cannot show what the checkpoint saw, so it is refused naming
    the field (exit 2), never a ``KeyError`` (exit 3) and never a silent pass."""
    if not _is_digest(record.get("sha256")):
        raise InputError(f"{path}: sha256 is {record.get('sha256')!r:.80}, not the checkpoint's SHA-256 (64 hex "
                         "digits): the record cannot say which checkpoint it describes")
    for split, entries in record["seen"].items():
        if not isinstance(entries, list):
            raise InputError(f"{path}: seen.{split} must list the items of that split, got {entries!r:.80}")
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or not _is_digest(e.get("sha256")) or not isinstance(e.get("file"), str):
                raise InputError(f"{path}: seen.{split}[{i}] is {e!r:.120}: each item needs its file name and the "
                                 "sha256 of its content (64 hex digits)")


def check_unseen(checkpoint: str | Path, test_items: Iterable[Any], role: str) -> Optional[dict]:
    """Refuse a run whose test split holds an item the checkpoint was trained or selected on.

    Returns:
        The provenance record (None when the checkpoint has none: nothing can be checked).

    Raises:
        InputError: naming how many test items the checkpoint saw, and one of them.
    """
    record = read_provenance(checkpoint)
    if record is None:
        return None
    seen = {e["sha256"]: (split, e["file"]) for split, entries in record["seen"].items() for e in entries}
    overlap = [(it.file, seen[it.sha256]) for it in test_items if it.sha256 in seen]
    if overlap:
        file, (split, name) = overlap[0]
        raise InputError(
            f"{role}.checkpoint: {checkpoint} was trained on {len(overlap)} of this run's test items (e.g. {file}, "
            f"in its {split} split as {name}; {provenance_path(checkpoint).name}); its test score would not be a "
            "test score. Assign those items to train/val (data.split.file) or train the "
            f"{role} here (set {role}.train.epochs and drop {role}.checkpoint)")
    return record
