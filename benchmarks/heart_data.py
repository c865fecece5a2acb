"""The heart data sets the benchmarks use: the full dev set, or its first 500 recordings as a folder view.

``../shared/data/heart-physionet2016`` grew from 500 to 1,084 recordings (its SOURCE.md); the older 500 keep
their rows at the top of ``labels.csv``. ``dev_view(n)`` makes a folder of symlinks to the first ``n``
labelled recordings (with ``labels.csv``, ``manifest.csv`` and ``SOURCE.md`` restricted to them), so the
benchmarks committed on the 500-recording set (same files, same split) still run and reproduce.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "heart-physionet2016"


def dev_view(n: int = 500, source: Path = SHARED, dest: Path | None = None) -> Path:
    """A folder holding the first ``n`` recordings of ``source`` (symlinks), rebuilt when it is stale."""
    source = Path(source).resolve()
    dest = Path(dest or ROOT / "runs" / "data" / f"heart-dev{n}")
    with open(source / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))[:n]
    keep = {r["file"] for r in rows}
    marker = dest / ".view-of"
    stamp = f"{source}\n{n}\n"
    if marker.is_file() and marker.read_text() == stamp and len(list(dest.glob("*.wav"))) == len(keep):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.wav"):
        old.unlink()
    for name in sorted(keep):
        os.symlink(source / name, dest / name)
    with open(dest / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "label"])
        w.writeheader()
        w.writerows({"file": r["file"], "label": r["label"]} for r in rows)
    manifest = source / "manifest.csv"
    if manifest.is_file():
        with open(manifest, newline="") as f:
            reader = csv.DictReader(f)
            kept = [r for r in reader if r.get("file") in keep]
            fields = reader.fieldnames or []
        with open(dest / "manifest.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(kept)
    (dest / "SOURCE.md").write_text(f"A view of the first {n} recordings of {source} (see its SOURCE.md).\n")
    marker.write_text(stamp)
    return dest


def default_heart_data() -> str:
    """The heart set of the committed benchmarks: the first 500 dev recordings (a view, made on first use)."""
    return str(dev_view(500))
