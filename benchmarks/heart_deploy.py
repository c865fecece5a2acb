"""Benchmark: the heart models edgekd ships, on all 1,084 dev recordings, judged within each database.

After the data grew to 1,084 recordings, training-a is mostly abnormal and training-b mostly normal, and
the databases can be told apart by their sound (``../shared/data/heart-physionet2016/SOURCE.md``): a model
can score by recognising the stethoscope. So the teacher and the students are trained with every
(database, label) cell drawn equally often (``train.balance: group_label``) and selected on the mean of
their validation MAcc *within* each database (``train.select: group_mean``), never on test.

1. The teacher (``recipes/heart.yaml``'s architecture) on the 60/20/20 record-wise split (seed 0), shipped
   as ``models/heart-teacher.pt`` with its provenance (``models/heart-teacher.json``: command, data hash,
   versions, every item it saw); ``make demo`` distils from it.
2. The student, distilled from that file, for training seeds 0, 1, 2 on the same split, exported
   (TFLite and ONNX, fp32 and int8) and measured by running each file on the 215 test recordings.
3. The int8 files of the student with the best validation score are copied with their sidecars to
   ``benchmarks/results/artifacts/heart/``.

Writes ``benchmarks/results/heart_deploy.{json,md}``. Resumable (checkpoints under ``--out``); each seed
can run in its own process (``--seeds 1``), and ``--seeds 0 1 2`` then collects them.

Run:  make benchmark        (or: .venv/bin/python benchmarks/heart_deploy.py [--seeds 0 1 2])
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from heart_data import SHARED  # noqa: E402
from mfcc_baseline import run_baseline  # noqa: E402
from shipped import (artifact, best_seed, deploy_parser, mean_sd, run_student, ship_artifacts,  # noqa: E402
                     ship_teacher, stored_results, train_teacher, with_ci, write_md)

from edgekd.atomic import write_json  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402

RECIPE = ROOT / "recipes" / "heart.yaml"
SPLIT = "data.split={train: 0.6, val: 0.2, test: 0.2, seed: 0}"
# one-cycle schedules: no early stop (patience = epochs), the annealing epochs are where the schedule pays
TEACHER = ["teacher.checkpoint=null", "teacher.train.epochs=30", "teacher.train.patience=30", "teacher.train.balance=group_label",
           "teacher.train.select=group_mean", "teacher.train.epoch_windows=4096", "teacher.train.threads=2"]
STUDENT = ["student.train.epochs=40", "student.train.patience=40", "student.train.balance=group_label",
           "student.train.select=group_mean", "student.train.epoch_windows=4096", "student.train.threads=1",
           "export.precisions=[fp32, int8]", "export.targets=[x86_64]", "export.teacher=true"]
GROUPS = ("training-a", "training-b", "training-e")
TARGETS = {"within_subset_macc": 0.72, "pooled_macc": 0.85, "teacher_gap_pp": 1.0}


def _cells(m: dict) -> list[str]:
    pg = m["per_group"]
    return [with_ci(m, "macc") + f" (n={m['n']})"] + [with_ci(pg[g], "macc") + f" (n={pg[g]['n']})" for g in GROUPS]


def summarise(reports: dict[int, dict]) -> dict:
    """Per-seed MAcc (pooled and per database) of the teacher's fp32 and the student's int8 files, their means,
    and the issue's targets checked on the int8 TFLite student."""
    rows: dict[str, dict[str, list[float]]] = {}
    for seed, rep in sorted(reports.items()):
        for label, (role, fmt, prec) in {"teacher tflite fp32": ("teacher", "tflite", "fp32"),
                                         "student tflite fp32": ("student", "tflite", "fp32"),
                                         "student tflite int8": ("student", "tflite", "int8"),
                                         "student onnx int8": ("student", "onnx", "int8")}.items():
            m = artifact(rep, role, fmt, prec)["metrics"]
            r = rows.setdefault(label, {k: [] for k in ("pooled", *GROUPS)})
            r["pooled"].append(m["macc"])
            for g in GROUPS:
                r[g].append(m["per_group"][g]["macc"])
    mean = {label: {k: sum(v) / len(v) for k, v in r.items()} for label, r in rows.items()}
    s, t = mean["student tflite int8"], mean["teacher tflite fp32"]
    checks = {
        "within_training_a": {"value": s["training-a"], "target": TARGETS["within_subset_macc"]},
        "within_training_b": {"value": s["training-b"], "target": TARGETS["within_subset_macc"]},
        "pooled": {"value": s["pooled"], "target": TARGETS["pooled_macc"]},
    }
    for c in checks.values():
        c["met"] = c["value"] >= c["target"]
        c["short_by_pp"] = max(0.0, 100 * (c["target"] - c["value"]))
    gap = 100 * (t["pooled"] - s["pooled"])
    checks["teacher_gap"] = {"value_pp": gap, "target_pp": TARGETS["teacher_gap_pp"],
                             "met": gap <= TARGETS["teacher_gap_pp"]}
    return {"per_seed": rows, "mean": mean, "checks": checks}


def render(meta: dict, reports: dict[int, dict], summary: dict, baseline: dict) -> str:
    first = reports[min(reports)]
    d = first["data"]
    lines = [
        "# Heart sounds: the shipped models on all 1,084 dev recordings, judged within each database",
        "",
        f"Command: `{meta['command']}`  ",
        f"Data hash `{d['hash'][:16]}` (1,084 recordings: training-a, -b, -e), split seed 0, 60/20/20 record-wise, "
        f"stratified by label and database: {d['splits']['test']['recordings']} test recordings never used for "
        "training or selection. Teacher trained once (`models/heart-teacher.pt`); students distilled from it with "
        f"training seeds {', '.join(map(str, sorted(reports)))}. Every figure is the exported file run on the test "
        "split; brackets are 95 % intervals (Jeffreys draws of the two recalls), n is the number of recordings.",
        "",
        "## Training choices (chosen on validation)",
        "",
        "- Balanced sampling: every (database, label) cell is drawn equally often (`train.balance: group_label`).",
        "- Selection: mean of the validation MAcc within each database (`train.select: group_mean`), smoothed "
        "over 3 epochs.",
        f"- Teacher: best epoch {meta['teacher']['best_epoch']} of {meta['teacher']['epochs_run']}, validation "
        f"score {meta['teacher']['val_score']:.3f} (within-database MAcc: "
        + ", ".join(f"{g} {v:.3f}" for g, v in meta["teacher"]["val_per_group"].items()) + ").",
        "",
        "## Per seed (MAcc [95 % CI] (n))",
        "",
        "| seed | file | pooled | " + " | ".join(GROUPS) + " | size KB |",
        "|---:|---|---:|" + "---:|" * len(GROUPS) + "---:|",
    ]
    for seed, rep in sorted(reports.items()):
        for role, fmt, prec in (("teacher", "tflite", "fp32"), ("student", "tflite", "fp32"),
                                ("student", "tflite", "int8"), ("student", "onnx", "int8")):
            a = artifact(rep, role, fmt, prec)
            lines.append(f"| {seed} | `{Path(a['path']).name}` | " + " | ".join(_cells(a["metrics"]))
                         + f" | {a['size_bytes'] / 1024:.1f} |")
    lines += ["", "## Mean ± sd over seeds", "", "| file | pooled | " + " | ".join(GROUPS) + " |",
              "|---|---:|" + "---:|" * len(GROUPS)]
    for label, r in summary["per_seed"].items():
        lines.append(f"| {label} | " + " | ".join(mean_sd(r[k]) for k in ("pooled", *GROUPS)) + " |")
    bm = baseline["metrics"]
    lines.append(f"| baseline: {baseline['name']} (C={baseline['C']}), seed 0 split | {bm['macc']:.3f} | "
                 + " | ".join(f"{bm['per_group'][g]['macc']:.3f}" for g in GROUPS) + " |")
    c = summary["checks"]
    lines += ["", "## The issue's targets (int8 TFLite student, mean of the seeds)", ""]
    for key, name in (("within_training_a", "MAcc within training-a"), ("within_training_b", "MAcc within training-b"),
                      ("pooled", "pooled MAcc")):
        v = c[key]
        lines.append(f"- {name} {v['value']:.3f} (target ≥ {v['target']:.2f}): **"
                     + ("met" if v["met"] else f"NOT met, short by {v['short_by_pp']:.1f} points") + "**")
    g = c["teacher_gap"]
    lines.append(f"- teacher fp32 file − student int8 file, pooled: {g['value_pp']:+.1f} points (target ≤ "
                 f"{g['target_pp']:.0f}): **{'met' if g['met'] else 'NOT met'}**")
    lines += ["", "## Validation against test", "",
              "| seed | student val score (mean within-database MAcc, torch) | teacher val score | student int8 TFLite "
              "test, pooled | drop int8 vs fp32 TFLite (points) |", "|---:|---:|---:|---:|---:|"]
    for seed, rep in sorted(reports.items()):
        val = next(m["train"]["best_val_score"] for m in rep["models"] if m["role"] == "student")
        fp32 = artifact(rep, "student", "tflite", "fp32")["metrics"]["macc"]
        int8 = artifact(rep, "student", "tflite", "int8")["metrics"]["macc"]
        lines.append(f"| {seed} | {val:.3f} | {meta['teacher']['val_score']:.3f} | {int8:.3f} | "
                     f"{100 * (fp32 - int8):+.1f}{' (the gate fails it: accuracy_drop_pp 2)' if fp32 - int8 > 0.02 else ''} |")
    vals = [next(m["train"]["best_val_score"] for m in r["models"] if m["role"] == "student") for r in reports.values()]
    gaps = [100 * (meta["teacher"]["val_score"] - v) for v in vals]
    lines += ["", f"On validation the students are {min(gaps):.1f} to {max(gaps):.1f} points below the teacher (mean "
              "within-database MAcc, the selection score); on test the pooled gap of the int8 TFLite files is "
              f"{summary['checks']['teacher_gap']['value_pp']:.1f} points on average. Both splits are small (about two "
              "recordings per point), so the test gap is measured with a few points of uncertainty. Where a seed's post-training int8 file loses more than 2 points against its fp32 twin, "
              "`edgekd gate` fails that file (the x86_64 profile's `accuracy_drop_pp: 2`); `int8-qat` in "
              "`export.precisions` is the remedy the earlier 500-recording benchmark measured (`heart_full.md`)."]
    lines += ["", f"Shipped (best validation score, seed {meta['shipped']['seed']}): "
              + ", ".join(f"`benchmarks/results/artifacts/heart/{n}`" for n in meta["shipped"]["files"]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = deploy_parser(__doc__, "heart", str(SHARED)).parse_args(argv)
    if args.render:
        stored, reports = stored_results(args.results, "heart_deploy")
        write_md(Path(args.results) / "heart_deploy.md", render(stored, reports, stored["summary"], stored['baseline']))
        return 0
    out, teacher_path = Path(args.out), Path(args.teacher)
    command = "python benchmarks/heart_deploy.py" + "".join(f" --set '{s}'" for s in args.set)
    base = [f"data.path={args.data}", SPLIT]
    recipe_t = load_recipe(RECIPE, [*base, "name=heart-deploy-teacher", *TEACHER, *args.set])
    teacher, data, result = train_teacher(recipe_t, out / "teacher")
    ship_teacher(recipe_t, teacher, data, result, teacher_path, command)
    reports = {}
    for seed in args.seeds:
        reports[seed] = run_student(RECIPE, [*base, f"name=heart-deploy-s{seed}", f"seed={seed}",
                                             f"teacher.checkpoint={teacher_path}", "teacher.train.epochs=0",
                                             *STUDENT, *args.set], out / f"s{seed}")
    if len(args.seeds) < 3:
        print(f"seeds {args.seeds} done; run with --seeds 0 1 2 to write the results")
        return 0
    best = best_seed(reports)
    shipped = ship_artifacts(reports[best], out / f"s{best}", ROOT / "benchmarks" / "results" / "artifacts" / "heart")
    baseline = run_baseline(data, seed=0)
    summary = summarise(reports)
    meta = {"command": command, "teacher": {"path": str(teacher_path.relative_to(ROOT)), "best_epoch": result.best_epoch,
                                            "epochs_run": result.epochs_run, "val_score": result.best_score,
                                            "val_per_group": next((h.get("val_group_scores", {}) for h in result.history
                                                                   if h["epoch"] == result.best_epoch), {})},
            "shipped": {"seed": best, "files": shipped}}
    results = Path(args.results)
    write_json(results / "heart_deploy.json", {**meta, "summary": summary, "baseline": baseline,
                                               "reports": {str(k): v for k, v in reports.items()}})
    write_md(results / "heart_deploy.md", render(meta, reports, summary, baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
