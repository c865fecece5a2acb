"""Benchmark: the plant recipe on all 543 MangoLeafBD dev photos (7 classes).

Trains the MobileNetV2-like teacher and distils the depthwise-separable student
(``recipes/plant.yaml``), exports both, and measures every artifact by running
the exported file on the stratified test split (photos neither model trained
on). The issue's done-criterion is checked on the artifacts: the int8 TFLite
student's top-1 within 2 points of the teacher's fp32 TFLite top-1, and its
file at least 10x smaller. Writes ``benchmarks/results/plant_full.json`` and
``plant_full.md``. Resumable: checkpoints and the image cache stay under ``runs/``.

Run:  /work/coord/heavy .venv/bin/python benchmarks/plant_full.py     (one torch thread: train.threads=1)
      .venv/bin/python benchmarks/plant_full.py --data ../shared/data/plant-mangoleafbd
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from shipped import with_ci  # noqa: E402

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.pipeline import run  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402


def _artifact(report: dict, role: str, fmt: str, precision: str) -> dict:
    for a in report["artifacts"]:
        if (a["role"], a["format"], a["precision"]) == (role, fmt, precision):
            return a
    raise KeyError(f"{role} {fmt} {precision} not in the report")


def criteria(report: dict) -> dict:
    """The issue's done-criterion, from the artifact rows."""
    teacher = _artifact(report, "teacher", "tflite", "fp32")
    student = _artifact(report, "student", "tflite", "int8")
    drop = 100.0 * (teacher["metrics"]["accuracy"] - student["metrics"]["accuracy"])
    ratio = teacher["size_bytes"] / student["size_bytes"]
    return {
        "teacher_tflite_fp32_top1": teacher["metrics"]["accuracy"],
        "student_tflite_int8_top1": student["metrics"]["accuracy"],
        "top1_drop_pp": drop,
        "within_2pp": drop <= 2.0,
        "size_ratio": ratio,
        "at_least_10x_smaller": ratio >= 10.0,
        "student_int8_fully_integer": student["audit"].get("fully_integer"),
        "student_int8_transposes": student["audit"].get("transposes"),
    }


def near_shots(recipe, seconds: tuple[float, ...] = (60.0, 300.0)) -> dict:
    """How many test photos were taken within N seconds of a training photo of the same class.

    Consecutive phone shots are often the same leaf; the recipe keeps bursts of shots less than
    ``data.split.keep_together_s`` apart in one split, so the first count should be 0. Capture
    times come from the file names.
    """
    from edgekd.data.images import capture_time
    from edgekd.pipeline import prepare_data

    data = prepare_data(recipe, lambda s: None)
    train = [(r.label, capture_time(r)) for r in data.windows["train"].recordings]
    test = [(r.label, capture_time(r)) for r in data.windows["test"].recordings]
    out = {"keep_together_s": recipe.data.split.keep_together_s, "test_photos": len(test)}
    for limit in seconds:
        out[f"within_{limit:g}s"] = sum(
            1 for c, t in test
            if t is not None and any(c == c2 and t2 is not None and abs((t - t2).total_seconds()) <= limit
                                     for c2, t2 in train)
        )
    return out


def render(report: dict, crit: dict, near: dict, command: str) -> str:
    test = report["data"]["splits"]["test"]
    lines = [
        "# Plant-disease leaves, full dev set (543 MangoLeafBD photos, 7 classes)",
        "",
        f"Command: `{command}`  ",
        f"Data hash `{report['data']['hash'][:16]}`, seed {report['seed']}, stratified 60/20/20 split: test "
        f"{test['recordings']} photos. Input {report['frontend']['size']}x{report['frontend']['size']} RGB "
        f"(shorter side {report['frontend']['resize']} px, centre crop). Artifact rows were measured by running the "
        f"exported file on the test split; latency on this machine's CPU "
        f"({report['artifacts'][0]['latency']['host'].get('cpu', '?')}, 1 thread); android-arm64 rows are estimated "
        "by the profile's per-op cost model, not measured. Brackets: 95 % intervals (Wilson for top-1, Jeffreys "
        f"draws of the class recalls for balanced accuracy), n = {test['recordings']} photos.",
        "",
        "| model / artifact | params | size KB | top-1 | balanced acc | p50 ms | fully int8 | transposes |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    params = {m["role"]: m["params"] for m in report["models"]}
    for a in report["artifacts"]:
        au = a["audit"]
        lines.append(
            f"| {a['target']}/`{a['path'].split('/')[-1]}` | {params[a['role']]:,} | {a['size_bytes'] / 1024:.1f} | "
            f"{with_ci(a['metrics'], 'accuracy')} | {with_ci(a['metrics'], 'balanced_accuracy')} | "
            f"{a['latency']['p50_ms']:.3f}"
            f"{' (estimated)' if a['latency'].get('estimated') else ''} | "
            f"{au.get('fully_integer')} | {au.get('transposes')} |"
        )
    for m in report["models"]:
        mt = m["metrics_torch"]
        lines.append(f"| torch {m['role']} (reference, not an artifact) | {m['params']:,} | – | {mt['accuracy']:.3f} | "
                     f"{mt['balanced_accuracy']:.3f} | – | – | – |")
    lines += [
        "",
        "## Done-criterion (measured on the artifacts)",
        "",
        f"- int8 TFLite student top-1 {crit['student_tflite_int8_top1']:.3f} vs fp32 TFLite teacher "
        f"{crit['teacher_tflite_fp32_top1']:.3f}: drop {crit['top1_drop_pp']:+.1f} points "
        f"(≤ 2 required): **{'met' if crit['within_2pp'] else 'NOT met'}**",
        f"- size: teacher fp32 / student int8 = {crit['size_ratio']:.1f}x (≥ 10x required): "
        f"**{'met' if crit['at_least_10x_smaller'] else 'NOT met'}**",
        "",
        "One test photo moves top-1 by " + f"{100 / test['recordings']:.1f} points. The split is stratified by class "
        "and keeps each capture burst (shots of one class less than "
        f"{near['keep_together_s']:g} s apart, "
        "usually the same leaf) in one split: "
        f"{near['within_60s']} of the {near['test_photos']} test photos were taken within 60 s of a training photo of "
        f"the same class, {near['within_300s']} within 5 minutes (same session, possibly the same tree). A random "
        "per-photo split would have put 97 of 108 test photos within 60 s of a training shot.",
    ]
    student = _artifact(report, "student", "tflite", "int8")["metrics"]
    lines += ["", "## Student int8 TFLite: confusion on the test split (rows: true class)", "",
              "| true \\ predicted | " + " | ".join(student["labels"]) + " |",
              "|---|" + "---:|" * len(student["labels"])]
    for label, row in zip(student["labels"], student["confusion"]):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "plant-mangoleafbd"))
    ap.add_argument("--out", default=str(ROOT / "runs" / "plant-full"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--render", action="store_true", help="only re-render plant_full.md from plant_full.json")
    args = ap.parse_args(argv)
    if args.render:
        import json

        stored = json.loads((Path(args.results) / "plant_full.json").read_text())
        write_text(Path(args.results) / "plant_full.md",
                   render(stored["report"], stored["criteria"], stored["near_shots"], stored["command"]))
        print((Path(args.results) / "plant_full.md").read_text())
        return 0
    overrides = [f"data.path={args.data}", "name=plant-full", f"data.cache_dir={Path(args.out) / 'cache'}", *args.set]
    recipe = load_recipe(ROOT / "recipes" / "plant.yaml", overrides)
    report = run(recipe, "recipes/plant.yaml", Path(args.out))
    crit = criteria(report)
    near = near_shots(recipe)
    command = "python benchmarks/plant_full.py " + " ".join(f"--set '{s}'" for s in args.set)
    results = Path(args.results)
    write_json(results / "plant_full.json", {"command": command.strip(), "criteria": crit, "near_shots": near, "report": report})
    write_text(results / "plant_full.md", render(report, crit, near, command.strip()))
    print((results / "plant_full.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
