"""Benchmark: the plant models edgekd ships, tested on each class's latest captures (a time-based split).

Photos taken later look different (another day's light and colour), and a random split does not test
that. Here each class's photos are ordered by capture time (file-name stamp): the latest 20 % are the
test split, the 20 % before them validation, the earliest 60 % training (``data.split.by: time``). The
burst-aware random split of ``benchmarks/plant_full.py`` stays beside it.

1. The teacher (``recipes/plant.yaml``'s architecture, with the augmentation and input size chosen on
   validation in ``benchmarks/results/plant_select.json``), shipped as ``models/plant-teacher.pt`` with its
   provenance; the students use the same front-end and augmentation.
2. The student, distilled from that file, pruned and recovered as the recipe says, for training seeds
   0, 1, 2, exported and measured by running each file on the test photos.
3. The int8 files of the student with the best validation score are copied with their sidecars to
   ``benchmarks/results/artifacts/plant/``.

Writes ``benchmarks/results/plant_deploy.{json,md}``. Resumable; each seed can run in its own process.

Run:  .venv/bin/python benchmarks/plant_deploy.py [--seeds 0 1 2] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from shipped import (artifact, best_seed, deploy_parser, mean_sd, run_student, ship_artifacts,  # noqa: E402
                     ship_teacher, stored_results, train_teacher, with_ci, write_md)

from edgekd.atomic import write_json  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402

RECIPE = ROOT / "recipes" / "plant.yaml"
DATA = ROOT.parent / "shared" / "data" / "plant-mangoleafbd"
SPLIT = "data.split={train: 0.6, val: 0.2, test: 0.2, seed: 0, by: time}"
# session-shift augmentation (white balance, exposure, blur) beside the recipe's crops and colour jitter
AUGMENT = ["data.augment.white_balance=0.1", "data.augment.exposure=0.25", "data.augment.blur_p=0.25"]
SELECTION = ROOT / "benchmarks" / "results" / "plant_select.json"


def chosen_overrides() -> list[str]:
    """The recipe overrides of the variant ``benchmarks/plant_select.py`` chose on validation."""
    import json

    if not SELECTION.is_file():
        raise SystemExit(f"{SELECTION} is missing: run benchmarks/plant_select.py first (it chooses on validation)")
    stored = json.loads(SELECTION.read_text())
    return list(stored["variants"][stored["chosen"]]["overrides"])
STUDENT = ["export.precisions=[fp32, int8]", "export.targets=[x86_64]", "export.budgets={x86_64: {size_kb: 256}}",
           "export.teacher=true",
           "student.train.threads=1", "teacher.train.epochs=0"]
TARGETS = {"top1": 0.90, "teacher_gap_pp": 1.0, "size_ratio": 20.0}


def summarise(reports: dict[int, dict]) -> dict:
    """Per-seed top-1 of the teacher's fp32 and the student's files, means, and the issue's targets."""
    rows: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for rep in reports.values():
        for label, key in {"teacher tflite fp32": ("teacher", "tflite", "fp32"),
                           "student tflite fp32": ("student", "tflite", "fp32"),
                           "student tflite int8": ("student", "tflite", "int8"),
                           "student onnx int8": ("student", "onnx", "int8")}.items():
            a = artifact(rep, *key)
            rows.setdefault(label, []).append(a["metrics"]["accuracy"])
            sizes[label] = a["size_bytes"]
    mean = {k: sum(v) / len(v) for k, v in rows.items()}
    s, t = mean["student tflite int8"], mean["teacher tflite fp32"]
    ratio = sizes["teacher tflite fp32"] / sizes["student tflite int8"]
    checks = {"top1": {"value": s, "target": TARGETS["top1"], "met": s >= TARGETS["top1"],
                       "short_by_pp": max(0.0, 100 * (TARGETS["top1"] - s))},
              "teacher_gap": {"value_pp": 100 * (t - s), "target_pp": TARGETS["teacher_gap_pp"],
                              "met": 100 * (t - s) <= TARGETS["teacher_gap_pp"]},
              "size_ratio": {"value": ratio, "target": TARGETS["size_ratio"], "met": ratio >= TARGETS["size_ratio"]}}
    return {"per_seed": rows, "mean": mean, "sizes": sizes, "checks": checks}


def render(meta: dict, reports: dict[int, dict], summary: dict) -> str:
    d = reports[min(reports)]["data"]
    lines = [
        "# Plant-disease leaves: the shipped models, tested on each class's latest captures",
        "",
        f"Command: `{meta['command']}`  ",
        f"Data hash `{d['hash'][:16]}` (543 MangoLeafBD photos, 7 classes). Split by capture time within each "
        f"class: the earliest 60 % train, the next 20 % validation, the latest 20 % test "
        f"({d['splits']['test']['photos'] if 'photos' in d['splits']['test'] else d['splits']['test']['recordings']} "
        "photos, never used for training or selection). Teacher trained once (`models/plant-teacher.pt`); "
        f"students distilled from it with training seeds {', '.join(map(str, sorted(reports)))}. Every figure is "
        "the exported file run on the test photos; brackets are 95 % intervals (Wilson for top-1, Jeffreys draws of "
        "the class recalls for balanced accuracy), n the number of photos.",
        "",
        f"Teacher: best epoch {meta['teacher']['best_epoch']} of {meta['teacher']['epochs_run']}, validation "
        f"balanced accuracy {meta['teacher']['val_score']:.3f}. Settings chosen on validation: "
        "`benchmarks/results/plant_select.md`.",
        "",
        "## Per seed",
        "",
        "| seed | file | top-1 [95 % CI] | balanced acc [95 % CI] | n | size KB |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for seed, rep in sorted(reports.items()):
        for key in (("teacher", "tflite", "fp32"), ("student", "tflite", "fp32"), ("student", "tflite", "int8"),
                    ("student", "onnx", "int8")):
            a = artifact(rep, *key)
            m = a["metrics"]
            lines.append(f"| {seed} | `{Path(a['path']).name}` | {with_ci(m, 'accuracy')} | "
                         f"{with_ci(m, 'balanced_accuracy')} | {m['n']} | {a['size_bytes'] / 1024:.1f} |")
    lines += ["", "## Mean ± sd over seeds (top-1)", "", "| file | top-1 |", "|---|---:|"]
    lines += [f"| {k} | {mean_sd(v)} |" for k, v in summary["per_seed"].items()]
    c = summary["checks"]
    lines += ["", "## The issue's targets (int8 TFLite student, mean of the seeds)", "",
              f"- top-1 {c['top1']['value']:.3f} (target ≥ {c['top1']['target']:.2f}): **"
              + ("met" if c["top1"]["met"] else f"NOT met, short by {c['top1']['short_by_pp']:.1f} points") + "**",
              f"- teacher fp32 file − student int8 file: {c['teacher_gap']['value_pp']:+.1f} points (target ≤ "
              f"{c['teacher_gap']['target_pp']:.0f}): **{'met' if c['teacher_gap']['met'] else 'NOT met'}**",
              f"- size: teacher fp32 file / student int8 file = {c['size_ratio']['value']:.1f}x (target ≥ "
              f"{c['size_ratio']['target']:.0f}x): **{'met' if c['size_ratio']['met'] else 'NOT met'}**"]
    best = reports[meta["shipped"]["seed"]]
    m = artifact(best, "student", "tflite", "int8")["metrics"]
    lines += ["", f"## Shipped student (seed {meta['shipped']['seed']}, best validation): int8 TFLite confusion on the "
              "test photos (rows: true class)", "",
              "| true \\ predicted | " + " | ".join(m["labels"]) + " |", "|---|" + "---:|" * len(m["labels"])]
    for label, row in zip(m["labels"], m["confusion"]):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", "Files: " + ", ".join(f"`benchmarks/results/artifacts/plant/{n}`" for n in meta["shipped"]["files"]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = deploy_parser(__doc__, "plant", str(DATA)).parse_args(argv)
    if args.render:
        stored, reports = stored_results(args.results, "plant_deploy")
        write_md(Path(args.results) / "plant_deploy.md", render(stored, reports, stored["summary"]))
        return 0
    out, teacher_path = Path(args.out), Path(args.teacher)
    command = "python benchmarks/plant_deploy.py" + "".join(f" --set '{s}'" for s in args.set)
    base = [f"data.path={args.data}", SPLIT, *chosen_overrides(), f"data.cache_dir={ROOT / 'runs' / 'plant-cache'}"]
    recipe_t = load_recipe(RECIPE, [*base, "name=plant-deploy-teacher", *args.set])
    teacher, data, result = train_teacher(recipe_t, out / "teacher")
    ship_teacher(recipe_t, teacher, data, result, teacher_path, command)
    reports = {}
    for seed in args.seeds:
        reports[seed] = run_student(RECIPE, [*base, f"name=plant-deploy-s{seed}", f"seed={seed}",
                                             f"teacher.checkpoint={teacher_path}", *STUDENT, *args.set],
                                    out / f"s{seed}")
    if len(args.seeds) < 3:
        print(f"seeds {args.seeds} done; run with --seeds 0 1 2 to write the results")
        return 0
    best = best_seed(reports)
    shipped = ship_artifacts(reports[best], out / f"s{best}", ROOT / "benchmarks" / "results" / "artifacts" / "plant")
    meta = {"command": command, "teacher": {"path": str(teacher_path.relative_to(ROOT)), "best_epoch": result.best_epoch,
                                            "epochs_run": result.epochs_run, "val_score": result.best_score},
            "shipped": {"seed": best, "files": shipped}}
    summary = summarise(reports)
    results = Path(args.results)
    write_json(results / "plant_deploy.json", {**meta, "summary": summary,
                                               "reports": {str(k): v for k, v in reports.items()}})
    write_md(results / "plant_deploy.md", render(meta, reports, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
