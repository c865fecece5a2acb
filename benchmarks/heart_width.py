"""Benchmark: is the heart student too narrow? A wider student (12/24/48 channels, 36.6 k parameters) against the
shipped one (8/16/40, 19.6 k), same teacher, split, settings and seed as ``benchmarks/heart_deploy.py``.

The choice is read on validation (the mean within-database MAcc that selects epochs); the test figures of the
exported int8 files are shown, not used. Writes ``benchmarks/results/heart_width.{json,md}``. Resumable.

Run:  .venv/bin/python benchmarks/heart_width.py      (after benchmarks/heart_deploy.py)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import heart_deploy as h  # noqa: E402
from shipped import artifact, run_student, with_ci, write_md  # noqa: E402

from edgekd.atomic import write_json  # noqa: E402

WIDTHS = [12, 24, 48]


def main() -> int:
    out = ROOT / "runs" / "heart-deploy"
    wide = run_student(h.RECIPE, [f"data.path={h.SHARED}", h.SPLIT, "name=heart-deploy-wide-s0", "seed=0",
                                  "teacher.checkpoint=models/heart-teacher.pt", "teacher.train.epochs=0", *h.STUDENT,
                                  f"student.params.widths=[{', '.join(map(str, WIDTHS))}]"], out / "wide-s0")
    base = json.loads((ROOT / "benchmarks" / "results" / "heart_deploy.json").read_text())["reports"]["0"]
    rows = []
    for name, rep in (("shipped 8/16/40", base), ("wider 12/24/48", wide)):
        st = next(m for m in rep["models"] if m["role"] == "student")
        a = artifact(rep, "student", "tflite", "int8")
        m = a["metrics"]
        rows.append(f"| {name} | {st['params']:,} | {st['macs'] / 1e6:.1f} M | {a['size_bytes'] / 1024:.1f} | "
                    f"{st['train']['best_val_score']:.3f} | {with_ci(m, 'macc')} | "
                    + " | ".join(with_ci(m['per_group'][g], 'macc') for g in h.GROUPS)
                    + f" | {a['latency']['p50_ms']:.3f} |")
    text = "\n".join([
        "# Heart student width: chosen on validation (seed 0, the split and teacher of heart_deploy.py)", "",
        "Command: `python benchmarks/heart_width.py`. Validation: mean within-database MAcc (torch, the selection "
        "score). Test: the exported int8 TFLite file on 215 recordings, MAcc [95 % CI]; shown, not used to choose.",
        "", "| student | params | MACs | int8 KB | val score | test MAcc pooled | " + " | ".join(h.GROUPS)
        + " | p50 ms |", "|---|---:|---:|---:|---:|---:|" + "---:|" * len(h.GROUPS) + "---:|", *rows, ""])
    write_json(ROOT / "benchmarks" / "results" / "heart_width.json", {"widths": WIDTHS, "wide_report": wide})
    write_md(ROOT / "benchmarks" / "results" / "heart_width.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
