"""Benchmark: the heart recipe on all 500 dev recordings, with a classical baseline on the same split.

Every network figure comes from running the exported .tflite/.onnx on the
record-wise test split (stratified by label and database); metrics are also
reported per database. Writes ``benchmarks/results/heart_full.json`` and
``heart_full.md``.

Run:  make benchmark            (or: .venv/bin/python benchmarks/heart_full.py --data ../shared/data/heart-physionet2016)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from heart_data import default_heart_data  # noqa: E402

from mfcc_baseline import run_baseline  # noqa: E402
from shipped import with_ci  # noqa: E402

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.pipeline import default_log, prepare_data, run  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402


PRECISIONS = "[fp32, int8, int8-qat]"  # the student's precisions in the full-set benchmarks


def _m(m: dict) -> str:
    """MAcc, sensitivity, specificity, each with its 95 % interval."""
    return " | ".join(with_ci(m, k) for k in ("macc", "sensitivity", "specificity"))


def render(report: dict, baseline: dict, command: str) -> str:
    groups = sorted(baseline["metrics"]["per_group"])
    lines = [
        "# Heart sounds, the earlier 500-recording dev set (PhysioNet 2016: training-a, -b, -e)",
        "",
        f"Command: `{command}`  ",
        f"Data hash `{report['data']['hash'][:16]}`, seed {report['seed']}, test split "
        f"{report['data']['splits']['test']['recordings']} recordings (record-wise, stratified by label and database). "
        "Artifact rows were measured by running the exported file; latency on this machine's CPU "
        f"({report['artifacts'][0]['latency']['host']['cpu']}). Brackets: 95 % intervals (Wilson for sensitivity and "
        "specificity, Jeffreys draws of the two recalls for MAcc); per-database columns give n.",
        "",
        "| model / artifact | params | size KB | MAcc | sens | spec | " + " | ".join(f"MAcc {g}" for g in groups)
        + " | p50 ms |",
        "|---|---:|---:|---:|---:|---:|" + "---:|" * len(groups) + "---:|",
    ]
    params = {m["role"]: m["params"] for m in report["models"]}
    for a in report["artifacts"]:
        pg = a["metrics"]["per_group"]
        lines.append(
            f"| {a['target']}/`{a['path'].split('/')[-1]}` | {params[a['role']]:,} | {a['size_bytes'] / 1024:.1f} | "
            f"{_m(a['metrics'])} | " + " | ".join(f"{with_ci(pg[g], 'macc')} (n={pg[g]['n']})" for g in groups)
            + f" | {a['latency']['p50_ms']:.3f} |"
        )
    for m in report["models"]:
        mt = m["metrics_torch"]
        lines.append(f"| torch {m['role']} (reference, not an artifact) | {m['params']:,} | – | {_m(mt)} | "
                     + " | ".join("–" for _ in groups) + " | – |")
    bm = baseline["metrics"]
    lines.append(
        f"| baseline: {baseline['name']} (C={baseline['C']}) | 27 | – | {_m(bm)} | "
        + " | ".join(f"{bm['per_group'][g]['macc']:.3f}" for g in groups) + " | – |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="heart folder (default: the first 500 dev recordings, the set the committed results were measured on; benchmarks/heart_data.py)")
    ap.add_argument("--out", default=str(ROOT / "runs" / "heart-full"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--render", action="store_true", help="only re-render heart_full.md from heart_full.json")
    args = ap.parse_args(argv)
    if args.render:
        stored = __import__("json").loads((Path(args.results) / "heart_full.json").read_text())
        write_text(Path(args.results) / "heart_full.md", render(stored["report"], stored["baseline"], stored["command"]))
        print((Path(args.results) / "heart_full.md").read_text())
        return 0
    args.data = args.data or default_heart_data()
    # 60/20/20 record-wise split: 100 test recordings (the demo recipe keeps a third for test on its small sample)
    # int8-qat beside int8 PTQ: the gate's accuracy_drop_pp then says which int8 file keeps the fp32 MAcc
    overrides = [f"data.path={args.data}", "name=heart-full", "data.split={train: 0.6, val: 0.2, test: 0.2}",
                 f"export.precisions={PRECISIONS}", *args.set]
    recipe = load_recipe(ROOT / "recipes" / "heart.yaml", overrides)
    report = run(recipe, "recipes/heart.yaml", Path(args.out))
    baseline = run_baseline(prepare_data(recipe, default_log), seed=recipe.seed)
    out_flag = [] if Path(args.out) == ROOT / "runs" / "heart-full" else [f"--out {os.path.relpath(args.out, ROOT)}"]
    command = "python benchmarks/heart_full.py " + " ".join(out_flag + [f"--set '{s}'" for s in args.set])
    results = Path(args.results)
    write_json(results / "heart_full.json", {"command": command.strip(), "report": report, "baseline": baseline})
    write_text(results / "heart_full.md", render(report, baseline, command.strip()))
    print((results / "heart_full.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
