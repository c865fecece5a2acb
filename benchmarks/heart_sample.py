"""Rebuild the in-repo heart sample (``data/heart-sample``) so ``make demo`` can distil from the shipped teacher.

The shipped teacher (``models/heart-teacher.pt``, ``benchmarks/heart_deploy.py``) was trained and selected on
the train and val splits of the 1,084 dev recordings (60/20/20, split seed 0). The demo's test recordings
must be ones it never saw, so the sample takes, per (database, label) cell, 8 recordings of at most 40 s
from that split's test part and 17 from its train/val part (13 train, 4 val for the demo), keeping the
previous sample's files where they qualify (``random.Random(2026)`` fills the rest). ``split.csv`` assigns
each file to the demo's train/val/test; ``labels.csv``, ``manifest.csv`` cover exactly these files.

Run:  .venv/bin/python benchmarks/heart_sample.py [--data ../shared/data/heart-physionet2016]
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from heart_data import SHARED  # noqa: E402

PER_CELL = {"test": 8, "train": 13, "val": 4}
MAX_SECONDS = 40.0


def teacher_split(data: Path) -> dict[str, str]:
    """file -> split of the shipped teacher's split (as ``heart_deploy.py`` makes it)."""
    import edgekd

    d = edgekd.prepare(str(data), task="audio-classification", split={"train": .6, "val": .2, "test": .2, "seed": 0},
                       stratify=["label", "group"], log=lambda s: None)
    return {it.file: s for s in ("train", "val", "test") for it in d.windows[s].recordings}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--dest", default=str(ROOT / "data" / "heart-sample"))
    args = ap.parse_args(argv)
    src, dest = Path(args.data), Path(args.dest)
    with open(src / "manifest.csv", newline="") as f:
        manifest = {r["file"]: r for r in csv.DictReader(f)}
        fields = list(next(iter(manifest.values())).keys())
    with open(src / "labels.csv", newline="") as f:
        labels = {r["file"]: r["label"] for r in csv.DictReader(f)}
    with open(dest / "labels.csv", newline="") as f:
        previous = {r["file"] for r in csv.DictReader(f)}
    where = teacher_split(src)
    rng = random.Random(2026)
    chosen: dict[str, str] = {}
    cells = sorted({(manifest[f]["source_subset"], labels[f]) for f in labels})
    for group, label in cells:
        pool = sorted(f for f in labels if labels[f] == label and manifest[f]["source_subset"] == group
                      and float(manifest[f]["duration_s"]) <= MAX_SECONDS)
        test_pool = [f for f in pool if where[f] == "test"]
        seen_pool = [f for f in pool if where[f] != "test"]
        for part, need in (("test", PER_CELL["test"]), ("seen", PER_CELL["train"] + PER_CELL["val"])):
            cand = test_pool if part == "test" else seen_pool
            keep = [f for f in cand if f in previous]
            rest = [f for f in cand if f not in previous]
            rng.shuffle(keep)
            rng.shuffle(rest)
            picked = (keep + rest)[:need]
            if len(picked) < need:
                raise SystemExit(f"{group}/{label}: only {len(picked)} {part} recordings of <= {MAX_SECONDS:g} s")
            if part == "test":
                chosen.update({f: "test" for f in picked})
            else:
                rng.shuffle(picked)
                chosen.update({f: ("val" if i < PER_CELL["val"] else "train") for i, f in enumerate(picked)})
    for old in dest.glob("*.wav"):
        if old.name not in chosen:
            old.unlink()
    for name in sorted(chosen):
        if not (dest / name).is_file():
            shutil.copyfile(src / name, dest / name)
    names = sorted(chosen)
    with open(dest / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label"])
        w.writerows([n, labels[n]] for n in names)
    with open(dest / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(manifest[n] for n in names)
    with open(dest / "split.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "split"])
        w.writerows([n, chosen[n]] for n in names)
    counts = {s: sum(v == s for v in chosen.values()) for s in ("train", "val", "test")}
    print(f"{dest}: {len(names)} recordings, {counts}; {len(set(names) - previous)} new, "
          f"{len(previous - set(names))} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
