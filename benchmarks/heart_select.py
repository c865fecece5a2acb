"""Benchmark: choose the heart student's training method on validation, over seeds.

Logit KD (the recipe's first method) is compared with mixup KD ("function matching" on
mixed inputs, Beyer et al., CVPR 2022: a patient and consistent teacher). Both use the same
student, teacher, split (seed 0, 60/20/20) and 60 epochs, with training seeds 0, 1, 2.
The choice is made on the validation split only (the smoothed validation MAcc that also
picks each run's epoch); test MAcc of the exported int8 TFLite file is printed beside it,
labelled, and is not used to choose. Mixup won and is now the recipe's method, so the
mixup runs are also ``benchmarks/heart_seeds.py``'s. Runs resume from their checkpoints
(``heart_seeds.run_seed`` says where each lives), so a finished run costs only its export.

Writes ``benchmarks/results/heart_select.{json,md}``.

Run:  .venv/bin/python benchmarks/heart_select.py                        (after make benchmark)
      .venv/bin/python benchmarks/heart_select.py --methods mixup --seeds 1   (one run, e.g. one per core)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from heart_data import default_heart_data  # noqa: E402

from heart_seeds import run_dir, run_seed  # noqa: E402

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402

#: candidate name -> recipe overrides on top of recipes/heart.yaml (which now sets the chosen mixup)
CANDIDATES: dict[str, list[str]] = {
    "kd": ["student.distill=null"],
    "mixup": ["student.distill={method: mixup, params: {alpha: 0.4}}"],
}


def saved_report(seed: int, data: str, runs: Path, extra: list[str]) -> dict:
    """The report.json a finished run wrote (same run folder as ``run_seed``)."""
    recipe = load_recipe(ROOT / "recipes" / "heart.yaml", [f"data.path={data}", *extra])
    path = run_dir(recipe, seed, runs) / "report.json"
    if not path.is_file():
        raise SystemExit(f"{path}: no report; run the benchmark without --reuse-reports first")
    return json.loads(path.read_text())


def row(report: dict) -> dict:
    """Validation score (used to choose) and test metrics of the int8 TFLite student (not used)."""
    student = next(m for m in report["models"] if m["role"] == "student")
    art = next(a for a in report["artifacts"] if a["name"] == "student-tflite-int8")
    m = art["metrics"]
    return {"val_macc_smoothed": student["train"]["best_val_score"], "best_epoch": student["train"]["best_epoch"],
            "test_macc_int8_tflite": m["macc"], "test_sens": m["sensitivity"], "test_spec": m["specificity"],
            "test_per_group": {g: v["macc"] for g, v in m["per_group"].items()}}


def _join(per_seed: dict, key: str) -> str:
    return ", ".join(f"{r[key]:.3f}" for r in per_seed.values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="heart folder (default: the first 500 dev recordings, the set the committed results were measured on; benchmarks/heart_data.py)")
    ap.add_argument("--runs", default=str(ROOT / "runs"))
    ap.add_argument("--methods", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--reuse-reports", action="store_true",
                    help="read each finished run's report.json instead of resuming it (no re-export)")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    args.data = args.data or default_heart_data()
    get = saved_report if args.reuse_reports else run_seed
    rows = {name: {s: row(get(s, args.data, Path(args.runs), CANDIDATES[name])) for s in args.seeds}
            for name in args.methods}
    if args.methods != list(CANDIDATES) or args.seeds != [0, 1, 2]:
        print(rows)  # a partial run (one per core): the full command writes the results
        return 0
    command = "python benchmarks/heart_select.py" + (" --reuse-reports" if args.reuse_reports else "")
    summary = {}
    for name, per_seed in rows.items():
        val = [r["val_macc_smoothed"] for r in per_seed.values()]
        test = [r["test_macc_int8_tflite"] for r in per_seed.values()]
        summary[name] = {"val_mean": statistics.fmean(val), "val_std": statistics.stdev(val),
                         "test_mean": statistics.fmean(test), "test_std": statistics.stdev(test)}
    chosen = max(summary, key=lambda n: (summary[n]["val_mean"], n == "kd"))  # ties keep the recipe's kd
    lines = [
        "# Heart student: training method chosen on validation (full dev set, one split, one teacher)",
        "",
        f"Command: `{command}`  ",
        "Split seed 0 (60/20/20 record-wise, stratified by label and database; 100 val, 100 test recordings), "
        "training seeds 0, 1, 2, 60 epochs, the teacher of `benchmarks/heart_full.py`. The choice uses the "
        "validation column only; test MAcc is of the exported int8 TFLite file and is shown, not used.",
        "",
        "| method | val MAcc (smoothed, torch) per seed | val mean ± std | test MAcc int8 TFLite per seed | test mean ± std |",
        "|---|---|---:|---|---:|",
    ]
    for name, per_seed in rows.items():
        s = summary[name]
        lines.append(
            f"| {name} | {_join(per_seed, 'val_macc_smoothed')} | "
            f"{s['val_mean']:.3f} ± {s['val_std']:.3f} | "
            f"{_join(per_seed, 'test_macc_int8_tflite')} | "
            f"{s['test_mean']:.3f} ± {s['test_std']:.3f} |")
    lines += ["", f"Chosen on validation: **{chosen}** (ties keep the recipe's logit KD)."]
    results = Path(args.results)
    write_json(results / "heart_select.json", {"command": command,
                                               "candidates": CANDIDATES, "rows": rows, "summary": summary,
                                               "chosen": chosen})
    write_text(results / "heart_select.md", "\n".join(lines) + "\n")
    print((results / "heart_select.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
