"""Benchmark: heart-sound teacher and student on a stethoscope they never heard (leave one database out).

The dev set's three databases (training-a, -b, -e) differ in stethoscope, population and noise
(``../shared/data/heart-physionet2016/SOURCE.md``). For each database D, teacher and student are trained on the
other two (record-wise 60/20/20 split of those, stratified by database and label, selected on the mean
within-database validation MAcc) and then run, as exported files, on

- the in-domain test split (the 20 % of the two training databases never used for training or selection), and
- every recording of D (out of domain).

A student that keeps what its teacher knows loses no more against it out of domain than in domain. For each
held-out database and training seed (teacher and student both re-trained per seed): the teacher's fp32 TFLite
file and the student's int8 TFLite file, MAcc with its 95 % interval (Wilson for each recall, MOVER for their mean).

Writes ``benchmarks/results/heart_lodo.{json,md}``. Resumable (``runs/heart-lodo/``).

Run:  .venv/bin/python benchmarks/heart_lodo.py [--held-out training-a ...] [--seeds 0 1 2] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from heart_data import SHARED  # noqa: E402
from shipped import artifact, mean_sd, run_student, ship_teacher, train_teacher, with_ci  # noqa: E402

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402

RECIPE = ROOT / "recipes" / "heart.yaml"
GROUPS = ("training-a", "training-b", "training-e")
SPLIT = "data.split={train: 0.6, val: 0.2, test: 0.2, seed: 0}"
TEACHER = ["teacher.checkpoint=null", "teacher.train.epochs=20", "teacher.train.patience=20",
           "teacher.train.balance=group_label", "teacher.train.select=group_mean", "teacher.train.epoch_windows=4096",
           "teacher.train.threads=2"]
STUDENT = ["student.train.epochs=40", "student.train.patience=40", "student.train.balance=group_label",
           "student.train.select=group_mean", "student.train.epoch_windows=4096", "student.train.threads=2",
           "export.precisions=[fp32, int8]", "export.targets=[x86_64]", "export.teacher=true",
           "bench.runs=20", "bench.warmup=2"]


def folder_view(source: Path, dest: Path, keep) -> Path:
    """A folder of symlinks to the recordings of ``source`` whose manifest row ``keep`` accepts (+ labels, manifest)."""
    with open(source / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if keep(r)]
    names = {r["file"] for r in rows}
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.wav"):
        if old.name not in names:
            old.unlink()
    for name in sorted(names):
        if not (dest / name).exists():
            os.symlink(source / name, dest / name)
    with open(source / "labels.csv", newline="") as f:
        labels = [r for r in csv.DictReader(f) if r["file"] in names]
    for fname, table in (("labels.csv", labels), ("manifest.csv", rows)):
        with open(dest / fname, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(table[0]))
            w.writeheader()
            w.writerows(table)
    return dest


def group_of(row: dict) -> str:
    sub = row.get("source_subset") or ""
    return sub if sub.startswith("training-") else f"training-{row['file'][0]}"


def run_one(held_out: str, seed: int, source: Path, out: Path, extra: list[str], student_extra: list[str] = (),
            tag: str = "") -> dict:
    """Teacher and student trained without ``held_out``, measured in domain and on ``held_out``.

    ``student_extra`` (with a ``tag`` naming it) changes the student only: the teacher of the untagged run is reused.
    """
    from edgekd.runtime.evaluate import evaluate_folder

    train_dir = folder_view(source, out / "data" / f"without-{held_out}", lambda r: group_of(r) != held_out)
    ood_dir = folder_view(source, out / "data" / held_out, lambda r: group_of(r) == held_out)
    run_dir = out / f"{held_out}-s{seed}"
    base = [f"data.path={train_dir}", SPLIT, f"data.cache_dir={ROOT / 'runs' / 'heart-cache'}", f"seed={seed}"]
    recipe_t = load_recipe(RECIPE, [*base, f"name=heart-lodo-{held_out}-s{seed}-teacher", *TEACHER, *extra])
    teacher, data, result = train_teacher(recipe_t, run_dir / "teacher")
    teacher_path = run_dir / "teacher.pt"
    ship_teacher(recipe_t, teacher, data, result, teacher_path, "python benchmarks/heart_lodo.py")
    report = run_student(RECIPE, [*base, f"name=heart-lodo-{held_out}-s{seed}", f"teacher.checkpoint={teacher_path}",
                                  *STUDENT, *extra, *student_extra,
                                  "teacher.train.epochs=0"],  # the teacher trained above, as it is
                         run_dir / (f"student-{tag}" if tag else "student"))
    row = {"held_out": held_out, "seed": seed, "tag": tag, "teacher_val": result.best_score,
           "student_val": next(m["train"]["best_val_score"] for m in report["models"] if m["role"] == "student")}
    for role, prec in (("teacher", "fp32"), ("student", "int8")):
        a = artifact(report, role, "tflite", prec)
        ood = evaluate_folder(run_dir / (f"student-{tag}" if tag else "student") / a["path"], ood_dir, threads=1)
        row[role] = {"file": a["path"], "in_domain": _brief(a["metrics"]), "out_of_domain": _brief(ood)}
    return row


def _brief(m: dict) -> dict:
    keep = ("n", "macc", "sensitivity", "specificity", "accuracy", "confusion", "labels", "positive", "ci95")
    out = {k: m[k] for k in keep if k in m}
    if "per_group" in m:
        out["per_group"] = {g: {k: v[k] for k in ("n", "macc", "confusion", "labels", "positive") if k in v}
                            | {"labels": m.get("labels"), "positive": m.get("positive")}
                            for g, v in m["per_group"].items()}
    return out


def summarise(rows: list[dict]) -> dict:
    """Per held-out database: mean ± sd over seeds of each file's MAcc in and out of domain, and the gaps."""
    out = {}
    for d in GROUPS:
        rs = [r for r in rows if r["held_out"] == d]
        if not rs:
            continue
        cell = {}
        for role in ("teacher", "student"):
            for where in ("in_domain", "out_of_domain"):
                cell[f"{role}_{where}"] = [r[role][where]["macc"] for r in rs]
        cell["gap_in_pp"] = [100 * (t - s) for t, s in zip(cell["teacher_in_domain"], cell["student_in_domain"])]
        cell["gap_out_pp"] = [100 * (t - s) for t, s in zip(cell["teacher_out_of_domain"], cell["student_out_of_domain"])]
        cell["seeds"] = [r["seed"] for r in rs]
        cell["holds"] = statistics.mean(cell["gap_out_pp"]) <= statistics.mean(cell["gap_in_pp"])
        out[d] = cell
    return out


def render(meta: dict, rows: list[dict], summary: dict) -> str:
    lines = [
        "# Heart sounds: leave one database out (teacher and student on a stethoscope they never heard)",
        "",
        f"Command: `{meta['command']}`  ",
        f"Host: {meta['host']}. Per held-out database D: teacher (`heart_teacher`) and student (the recipe's "
        "`heart_tcn`, mixup KD) trained on the other two databases (record-wise 60/20/20, stratified by database and "
        "label, balanced (database, label) sampling, selected on the mean within-database validation MAcc); every "
        "figure is the exported file (teacher fp32 TFLite, student int8 TFLite) run on the in-domain test split of "
        "the two training databases and on every recording of D. Brackets: 95 % intervals (Wilson for each recall, "
        "MOVER for their mean). Teacher and student are re-trained for each seed."
        + (" Student overrides: " + ", ".join(f"`{o}`" for o in meta["student_overrides"])
           + " (the teachers are those of the untagged run)." if meta.get("student_overrides") else ""),
        "",
        "## Mean ± sd over seeds (MAcc)",
        "",
        "| held out | seeds | teacher in domain | student in domain | gap in (pp) | teacher on D | student on D | "
        "gap on D (pp) | student loses no more on D |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for d, c in summary.items():
        lines.append(f"| {d} | {', '.join(map(str, c['seeds']))} | {mean_sd(c['teacher_in_domain'])} | "
                     f"{mean_sd(c['student_in_domain'])} | {statistics.mean(c['gap_in_pp']):+.1f} | "
                     f"{mean_sd(c['teacher_out_of_domain'])} | {mean_sd(c['student_out_of_domain'])} | "
                     f"{statistics.mean(c['gap_out_pp']):+.1f} | {'yes' if c['holds'] else '**no**'} |")
    lines += ["", "## Per run", "", "| held out | seed | file | in domain MAcc [95 % CI] (n) | on D MAcc [95 % CI] (n) |",
              "|---|---:|---|---:|---:|"]
    for r in rows:
        for role in ("teacher", "student"):
            i, o = r[role]["in_domain"], r[role]["out_of_domain"]
            lines.append(f"| {r['held_out']} | {r['seed']} | {role} `{Path(r[role]['file']).name}` | "
                         f"{with_ci(i, 'macc')} ({i['n']}) | {with_ci(o, 'macc')} ({o['n']}) |")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--out", default=str(ROOT / "runs" / "heart-lodo"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--held-out", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--set", action="append", default=[], help="recipe overrides for teacher and students")
    ap.add_argument("--student-set", action="append", default=[],
                    help="overrides for the student only (needs --tag; the untagged run's teachers are reused)")
    ap.add_argument("--tag", default="", help="names a student variant: results go to heart_lodo-<tag>.{json,md}")
    ap.add_argument("--render", action="store_true", help="only re-render the Markdown from the stored JSON")
    args = ap.parse_args(argv)
    if args.render:
        import json

        stem = "heart_lodo" + (f"-{args.tag}" if args.tag else "")
        stored = json.loads((Path(args.results) / f"{stem}.json").read_text())
        text = render(stored, stored["rows"], summarise(stored["rows"]))
        write_text(Path(args.results) / f"{stem}.md", text)
        print(text)
        return 0
    if bool(args.student_set) != bool(args.tag):
        ap.error("--student-set and --tag go together")
    rows = [run_one(d, s, Path(args.data).resolve(), Path(args.out), args.set, args.student_set, args.tag)
            for s in args.seeds for d in args.held_out]
    summary = summarise(rows)
    from edgekd.runtime.latency import host_info

    meta = {"command": "python benchmarks/heart_lodo.py" + "".join(f" --set '{s}'" for s in args.set)
            + "".join(f" --student-set '{s}'" for s in args.student_set) + (f" --tag {args.tag}" if args.tag else ""),
            "host": host_info()["cpu"], "student_overrides": args.student_set}
    results, stem = Path(args.results), "heart_lodo" + (f"-{args.tag}" if args.tag else "")
    write_json(results / f"{stem}.json", {**meta, "summary": summary, "rows": rows})
    text = render(meta, rows, summary)
    write_text(results / f"{stem}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
