"""Benchmark: a heart student distilled from the teacher's ONNX export against one distilled from the torch teacher.

A teacher trained in another framework reaches edgekd as a file; this measures what that costs. One
torch teacher is trained (``recipes/heart.yaml``'s teacher, seed 0) and exported to ONNX with
``edgekd.export``; then the recipe's student (mixup KD, the teacher labelling every mixed window) is
distilled with ``edgekd.compress`` from each, for training seeds 0, 1, 2, on one split: the
committed benchmarks' record-wise 60/20/20 split (seed 0) of the first 500 dev recordings (the set
``benchmarks/results/heart_full.md`` was measured on). The only difference between the two arms is
the teacher object: an ``nn.Module`` or ``teacher.onnx`` run by ONNX Runtime. Every figure is the
exported int8 TFLite student run on the 100 test recordings (threshold chosen on validation).

Writes ``benchmarks/results/onnx_teacher.{json,md}``. Runs resume from ``--out``.

Run:  .venv/bin/python benchmarks/onnx_teacher.py --teacher-only            (train and export the teacher)
      .venv/bin/python benchmarks/onnx_teacher.py --arms torch &             (one arm per core, 1 thread each)
      .venv/bin/python benchmarks/onnx_teacher.py --arms onnx
      .venv/bin/python benchmarks/onnx_teacher.py                           (both arms, then the table)
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from heart_data import SHARED, dev_view  # noqa: E402

from edgekd.atomic import write_json, write_text  # noqa: E402

ARMS = ("torch", "onnx")
ARTIFACT = "student-tflite-int8"


def setup(data_dir: Path, out: Path, epochs: int | None):
    """The recipe, the prepared data (split seed 0, 60/20/20) and the trained torch teacher."""
    import edgekd
    from edgekd.pipeline import build_role, prepare_data
    from edgekd.recipe import load_recipe

    overrides = [f"data.path={data_dir}", "name=onnx-teacher", "data.split={train: 0.6, val: 0.2, test: 0.2, seed: 0}",
                 "student.train.threads=1", "export.teacher=false"]
    if epochs is not None:
        overrides.append(f"student.train.epochs={epochs}")
    recipe = load_recipe(ROOT / "recipes" / "heart.yaml", overrides)
    data = prepare_data(recipe, lambda s: None)
    teacher = build_role(recipe, "teacher", data.task, len(data.classes))
    run = edgekd.distill(teacher, train=data.train, val=data.val, task=data.task, classes=data.classes,
                         positive=data.positive, loss=recipe.teacher.loss, seed=0, workdir=out / "teacher",
                         log=lambda s: print(f"  [teacher] {s}", file=sys.stderr), **recipe.teacher.train.model_dump())
    return recipe, data, run


def export_teacher(run, data, out: Path) -> dict:
    """The teacher as ONNX fp32 (``edgekd.export``), and its parity with the torch teacher on validation."""
    import numpy as np

    import edgekd
    from edgekd.models.files import OnnxTeacher
    from edgekd.models.inference import predict_logits

    path = out / "teacher.onnx"
    art = edgekd.export(run.model.eval(), path, precision="fp32", task=data.task, classes=data.classes,
                        positive=data.positive, val=data.val, log=lambda s: None)
    reference = predict_logits(run.model, data.val.x)
    onnx = predict_logits(OnnxTeacher(path, data.task.input_shape, len(data.classes)), data.val.x)
    return {"path": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
            "size_bytes": art.size_bytes, "val_windows": int(len(reference)),
            "max_abs_logit_diff": float(np.abs(reference - onnx).max()),
            "top1_agreement": float((reference.argmax(1) == onnx.argmax(1)).mean()),
            "teacher_val_score": run.best_score, "teacher_best_epoch": run.best_epoch}


def run_arm(arm: str, seed: int, recipe, data, teacher_run, out: Path) -> dict:
    """One student: the recipe's, training seed ``seed``, from the torch teacher or its ONNX file."""
    import edgekd
    from edgekd.pipeline import build_role

    folder = out / arm / f"seed{seed}"
    done = folder / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    teacher = teacher_run.model.eval() if arm == "torch" else out / "teacher.onnx"
    seeded = recipe.model_copy(update={"seed": seed})
    student = build_role(seeded, "student", data.task, len(data.classes))
    result = edgekd.compress(
        student, data, teacher=teacher, targets=["x86_64"], loss=recipe.student.loss, method=recipe.student.distill,
        training=recipe.student.train.model_dump(), export=recipe.export, bench={"runs": 50, "warmup": 5},
        seed=seed, out=folder, names={"teacher": f"heart_teacher ({arm})", "student": recipe.student.label},
        log=lambda s: print(f"  [{arm} s{seed}] {s}", file=sys.stderr),
    )
    student_info = next(m for m in result.report["models"] if m["role"] == "student")
    art = result.artifact(ARTIFACT)
    m = art["metrics"]
    row = {"arm": arm, "seed": seed, "val_score_smoothed": student_info["train"]["best_val_score"],
           "best_epoch": student_info["train"]["best_epoch"], "epochs_run": student_info["train"]["epochs_run"],
           "train_seconds": student_info["train"]["seconds"],
           "test_macc": m["macc"], "test_sensitivity": m["sensitivity"], "test_specificity": m["specificity"],
           "test_n": m["n"], "test_per_group": {g: v["macc"] for g, v in m["per_group"].items()},
           "size_bytes": art["size_bytes"], "threshold": m.get("threshold"), "data_hash": data.data_hash}
    write_json(done, row)
    return row


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def render(result: dict) -> str:
    t = result["teacher_onnx"]
    lines = [
        "# A student distilled from the teacher's ONNX file vs from the torch teacher (heart sounds)",
        "",
        f"Command: `{result['command']}`  ",
        f"Data: the first 500 dev recordings (`benchmarks/heart_data.py`), record-wise 60/20/20 split, split seed 0, "
        f"data hash `{result['data_hash'][:16]}`; {result['test_n']} test recordings. Student: `recipes/heart.yaml` "
        f"(mixup KD, {result['student_epochs']} epochs, 1 thread), training seeds {', '.join(map(str, result['seeds']))}. "
        "Every MAcc is the exported int8 TFLite student run on the test split (threshold chosen on validation).",
        "",
        f"Teacher ONNX export: {t['size_bytes'] / 1024:.1f} KB, max |logit difference| vs torch "
        f"{t['max_abs_logit_diff']:.2e} on {t['val_windows']} validation windows, top-1 agreement "
        f"{t['top1_agreement']:.4f}.",
        "",
        "| teacher given as | val MAcc (smoothed, torch-side) per seed | test MAcc int8 TFLite per seed | mean ± sd |"
        " training-a | training-b | training-e |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for arm in ARMS:
        rows = result["rows"][arm]
        if not rows:
            continue
        mean, sd = _mean_sd([r["test_macc"] for r in rows])
        groups = sorted(rows[0]["test_per_group"])
        per_group = [statistics.fmean(r["test_per_group"][g] for r in rows) for g in groups]
        lines.append(f"| {'nn.Module (torch)' if arm == 'torch' else 'teacher.onnx (ONNX Runtime)'} | "
                     + ", ".join(f"{r['val_score_smoothed']:.3f}" for r in rows) + " | "
                     + ", ".join(f"{r['test_macc']:.3f}" for r in rows) + f" | {mean:.3f} ± {sd:.3f} | "
                     + " | ".join(f"{v:.3f}" for v in per_group) + " |")
    c = result.get("comparison")
    if c:
        lines += ["", f"Difference (ONNX − torch), paired by seed: {c['mean_diff']:+.3f} "
                      f"(per seed {', '.join(f'{d:+.3f}' for d in c['per_seed_diff'])}). Noise: the seed-to-seed sd of "
                      f"one arm is up to {c['max_sd']:.3f}, and one test recording moves MAcc by about "
                      f"{c['one_recording']:.3f}; the binomial standard error of a MAcc near "
                      f"{c['pooled_macc']:.2f} on {result['test_n']} recordings is {c['binomial_se']:.3f}.",
                  f"Verdict: **{c['verdict']}**."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--first", type=int, default=500, help="use the first N recordings (the committed benchmarks' set)")
    ap.add_argument("--out", default=str(ROOT / "runs" / "onnx-teacher"))
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="student epochs (default: the recipe's)")
    ap.add_argument("--teacher-only", action="store_true", help="train and export the teacher, then stop")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    data_dir = dev_view(args.first, Path(args.data)) if args.first else Path(args.data)
    recipe, data, teacher_run = setup(data_dir, out, args.epochs)
    info_path = out / "teacher_onnx.json"
    if not (info_path.is_file() and (out / "teacher.onnx").is_file()):  # exported once, then shared by the arms
        write_json(info_path, export_teacher(teacher_run, data, out))
    teacher_info = json.loads(info_path.read_text())
    print(json.dumps(teacher_info), file=sys.stderr)
    if args.teacher_only:
        return 0
    rows = {arm: [run_arm(arm, s, recipe, data, teacher_run, out) for s in args.seeds] for arm in args.arms}
    if args.arms != list(ARMS):
        print(json.dumps(rows, indent=1))  # one arm (one per core): the plain command writes the results
        return 0
    torch_m = [r["test_macc"] for r in rows["torch"]]
    onnx_m = [r["test_macc"] for r in rows["onnx"]]
    diffs = [o - t for o, t in zip(onnx_m, torch_m)]
    pooled = statistics.fmean(torch_m + onnx_m)
    n = rows["torch"][0]["test_n"]
    se = math.sqrt(pooled * (1 - pooled) / n)
    max_sd = max(_mean_sd(torch_m)[1], _mean_sd(onnx_m)[1])
    mean_diff = statistics.fmean(diffs)
    within = abs(mean_diff) <= max(2 * max_sd, se)
    verdict = ("within noise: the ONNX teacher's students reach the torch teacher's MAcc" if within else
               "outside noise: the two teachers give different students")
    result = {
        "command": "python benchmarks/onnx_teacher.py" + (f" --epochs {args.epochs}" if args.epochs else ""),
        "data_hash": data.data_hash, "test_n": n, "seeds": args.seeds,
        "student_epochs": recipe.student.train.epochs, "teacher_onnx": teacher_info, "rows": rows,
        "comparison": {"per_seed_diff": diffs, "mean_diff": mean_diff, "max_sd": max_sd, "pooled_macc": pooled,
                       "binomial_se": se, "one_recording": 1 / (n / 2), "within_noise": within, "verdict": verdict},
    }
    results = Path(args.results)
    write_json(results / "onnx_teacher.json", result)
    write_text(results / "onnx_teacher.md", render(result))
    print((results / "onnx_teacher.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
