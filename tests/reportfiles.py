"""Test helper: a report fixture made real: its student artifact files written beside it, their SHA-256 recorded.

The gate checks that every gated file exists and is the one measured, so the trimmed reports in
tests/data/reports (whose artifacts are not in the repo) are copied into a folder with a file of the recorded
size for each student artifact, and each record's ``sha256`` set to that file's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def materialise(report_path: Path, folder: Path, edit=None) -> Path:
    """Copy ``report_path`` into ``folder`` with its student files; ``edit(report)`` may change it first."""
    report = json.loads(Path(report_path).read_text())
    if edit is not None:
        edit(report)
    folder.mkdir(parents=True, exist_ok=True)
    for a in report.get("artifacts", []):
        if not isinstance(a, dict) or a.get("role", "student") != "student" or not isinstance(a.get("path"), str) \
                or not a["path"] or Path(a["path"]).is_absolute() or ".." in Path(a["path"]).parts:
            continue
        path = folder / a["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        size = a["size_bytes"] if isinstance(a.get("size_bytes"), int) and a["size_bytes"] > 0 else 1000
        stem = (str(a.get("name")) or "x").encode()
        data = (stem * (size // len(stem) + 1))[:size]
        path.write_bytes(data)
        a.setdefault("sha256", hashlib.sha256(data).hexdigest())
    out = folder / "report.json"
    out.write_text(json.dumps(report))
    return out
