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

import json
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
        InputError: the file exists but is not a provenance record, or it describes another checkpoint.
    """
    path = provenance_path(checkpoint)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable provenance file ({type(exc).__name__}: {exc})") from None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA or not isinstance(record.get("seen"), dict):
        raise InputError(f"{path}: not an {SCHEMA} provenance file (schema {record.get('schema')!r})"
                         if isinstance(record, dict) else f"{path}: not a JSON object")
    from edgekd.hashing import file_sha256

    if record.get("sha256") != file_sha256(checkpoint):
        raise InputError(f"{path}: describes a checkpoint with SHA-256 {str(record.get('sha256'))[:12]}…, "
                         f"not {Path(checkpoint).name}; the two files do not belong together")
    return record


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
