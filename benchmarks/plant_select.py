"""Benchmark: the plant teacher's settings, chosen on validation of the time-based split (test never scored).

Each variant trains the recipe's teacher on the earliest 60 % of each class's photos and is scored on the
next 20 % (validation); the latest 20 % (test) is not touched. Variants: the recipe's augmentation; plus
session-shift augmentation (white balance, exposure, blur: the differences between capture days); each at
a larger input (128 px; the file size does not change with the input size, the latency does). ``benchmarks/plant_deploy.py`` uses the winner.

Writes ``benchmarks/results/plant_select.{json,md}``. Resumable.

Run:  .venv/bin/python benchmarks/plant_select.py [--variants recipe session session-128 recipe-128]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from plant_deploy import AUGMENT, DATA, RECIPE, SPLIT  # noqa: E402
from shipped import train_teacher, with_ci, write_md  # noqa: E402

from edgekd.atomic import write_json  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402

VARIANTS = {
    "recipe": [],
    "session": AUGMENT,
    "session-128": [*AUGMENT, "frontend.size=128", "frontend.resize=146"],
    "recipe-128": ["frontend.size=128", "frontend.resize=146"],
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(ROOT / "runs" / "plant-select"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--set", action="append", default=[])
    args = ap.parse_args(argv)
    rows = {}
    for name in args.variants:
        recipe = load_recipe(RECIPE, [f"data.path={args.data}", SPLIT, f"name=plant-select-{name}",
                                      f"data.cache_dir={ROOT / 'runs' / 'plant-cache'}", *VARIANTS[name], *args.set])
        _, _, result = train_teacher(recipe, Path(args.out) / name)
        v = result.val_metrics
        rows[name] = {"overrides": VARIANTS[name], "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                      "val_smoothed": result.best_score, "val": v}
    best = max(rows, key=lambda k: rows[k]["val_smoothed"])
    command = "python benchmarks/plant_select.py" + "".join(f" --set '{s}'" for s in args.set)
    lines = ["# Plant teacher: settings chosen on validation (time-based split)", "",
             f"Command: `{command}`  ",
             "Split by capture time within each class (earliest 60 % train, next 20 % validation, latest 20 % test, "
             "untouched here). Torch-side validation figures of the teacher (they choose; they are not test "
             "results). Selection: balanced accuracy on validation, mean of the last 3 epochs around the best.", "",
             "| variant | overrides | best epoch | val balanced acc (smoothed) | val top-1 [95 % CI] | val balanced "
             "acc [95 % CI] | n |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        v = r["val"]
        lines.append(f"| {name}{' (chosen)' if name == best else ''} | {', '.join(f'`{o}`' for o in r['overrides']) or '–'} | "
                     f"{r['best_epoch']}/{r['epochs_run']} | {r['val_smoothed']:.3f} | {with_ci(v, 'accuracy')} | "
                     f"{with_ci(v, 'balanced_accuracy')} | {v['n']} |")
    results = Path(args.results)
    write_json(results / "plant_select.json", {"command": command, "chosen": best, "variants": rows})
    write_md(results / "plant_select.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
