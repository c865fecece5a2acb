"""Benchmark: every distillation method on the same data, seeds and epochs, measured on the int8 TFLite file.

For each (method, seed) the student is trained from scratch with the method,
exported to int8 TFLite, its decision threshold chosen on the validation split
by running the file (as ``pipeline.operating_point``), and scored on the test
split by running the file. The teacher is the one the full-set benchmark
trained (reused, not retrained). One extra, cheap model (a wider student-style
CNN trained with CE, a checkpoint kept every epoch) supplies the second teacher
of multi-teacher KD and the checkpoints of checkpoint-ensemble KD.

Writes ``benchmarks/results/kd_methods.json`` and ``kd_methods.md`` after every
run; each (method, seed) is resumable (its ``result.json`` is reused, an
interrupted training resumes from ``last.pt``).

Run:  .venv/bin/python benchmarks/kd_methods.py --task heart     (through /work/coord/heavy on shared machines)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from heart_data import default_heart_data  # noqa: E402

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.pipeline import check_recipe, default_log, prepare_data  # noqa: E402
from edgekd.recipe import DistillSpec, LossSpec, load_recipe  # noqa: E402

# the task's recipe, data and the trained teacher reused from its full-set benchmark run
TASKS = {
    "heart": {
        "recipe": "recipes/heart.yaml",
        "data": None,  # the first 500 dev recordings (benchmarks/heart_data.py), the set of the committed results
        "overrides": ["name=heart-full", "data.split={train: 0.6, val: 0.2, test: 0.2}"],  # as heart_full.py
        "teacher": ROOT / "runs" / "heart-full" / "checkpoints" / "teacher" / "best.pt",
        "extra_teacher": {"model": "heart_student", "params": {"widths": [16, 32, 64], "kernel": 5}},
    },
    "plant": {
        "recipe": "recipes/plant.yaml",
        "data": ROOT.parent / "shared" / "data" / "plant-mangoleafbd",
        "overrides": ["name=plant-full"],
        "teacher": ROOT / "runs" / "plant-full" / "checkpoints" / "teacher" / "best.pt",
        "extra_teacher": None,  # the plant student's architecture at double width (set from the recipe)
    },
}

ORDER = ["kd", "dkd", "hint", "at", "multi_teacher", "checkpoint_ensemble", "self_distill", "mixup", "stagewise", "ce"]


def method_specs(kd_loss: LossSpec, pairs: list[dict], stages: list[dict], extra: dict, snapshots: list[str]) -> dict:
    """Benchmark row → (student.loss, student.distill, what it is). Every row but ``ce``/``dkd`` uses the recipe's KD loss."""
    return {
        "kd": (kd_loss, None, "logit KD (Hinton), the recipe's T and alpha"),
        "dkd": (LossSpec(name="dkd", params={"alpha": 1.0, "beta": 8.0, "temperature": 4.0}), None,
                "decoupled KD (alpha 1, beta 8, T 4: the paper's defaults)"),
        "hint": (kd_loss, DistillSpec(method="feature", params={"pairs": pairs, "kind": "hint"}),
                 "logit KD + FitNets hints on the 2 deepest stage pairs (1x1-conv adapters)"),
        "at": (kd_loss, DistillSpec(method="feature", params={"pairs": pairs, "kind": "at"}),
               "logit KD + attention transfer on the 2 deepest stage pairs (weight 1000)"),
        "multi_teacher": (kd_loss, DistillSpec(method="multi_teacher", params={
            "teachers": [{**extra, "checkpoint": snapshots[-1]}], "combine": "confidence"}),
            "logit KD from the teacher + the extra CNN, confidence-weighted per example"),
        "checkpoint_ensemble": (kd_loss, DistillSpec(method="checkpoint_ensemble", params={
            "checkpoints": snapshots, "model": extra["model"], "params": extra["params"]}),
            f"logit KD from the mean of the extra CNN's last {len(snapshots)} epoch checkpoints"),
        "self_distill": (LossSpec(name="kd", params={**kd_loss.params, "alpha": 0.5}),
                         DistillSpec(method="self_distill", params={"every": 1}),
                         "KD (alpha 0.5: the hard labels weigh more than a self-teacher) from the student's own "
                         "snapshot of the previous epoch (no teacher)"),
        "mixup": (kd_loss, DistillSpec(method="mixup", params={"alpha": 0.4}),
                  "logit KD on mixup inputs (Beta(0.4, 0.4)); the teacher labels the mixed input, per batch"),
        "stagewise": (kd_loss, DistillSpec(method="stagewise", params={"stages": stages, "stage_epochs": 1}),
                      f"{len(stages)} stages x 1 epoch of block-wise hints (the same 2 stage pairs), then logit KD end to end"),
        "ce": (LossSpec(name="ce"), None, "no teacher: cross-entropy only (reference)"),
    }


def train_extra_teacher(recipe, data, spec: dict, epochs: int, out: Path, log) -> tuple[list[str], dict]:
    """Train the cheap extra model once (CE), keeping a checkpoint per epoch; its last 4 checkpoints."""
    import torch

    from edgekd.distillation.objective import build_objective
    from edgekd.training.trainer import train_model
    from edgekd.models import build_model
    from edgekd.flow.steps import torch_test_metrics
    from edgekd.recipe import ModelSpec

    done = out / "result.json"
    if not done.is_file():
        torch.manual_seed(1)
        shape = data.windows["train"].x.shape[1:]
        model = build_model(spec["model"], num_classes=len(data.classes), input_shape=shape, **spec["params"])
        mspec = ModelSpec(model=spec["model"], params=spec["params"], loss=LossSpec(name="ce"))
        train_spec = recipe.student.train
        cfg = train_spec.model_copy(update={"epochs": epochs, "patience": epochs, "threads": 1}).trainer_config()
        res = train_model(
            model, data.windows["train"], data.windows["val"],
            build_objective(mspec, data.windows["train"].y, len(data.classes), where="extra_teacher"),
            labels=data.classes, positive=data.positive, cfg=cfg, seed=1, checkpoint_dir=out / "checkpoints",
            log=lambda s: log(f"  [extra teacher] {s}"), fingerprint_extra=f"extra|{spec}|{data.data_hash}",
            snapshot_every=1, augment=data.task.augmentation() if train_spec.augment else None,
        )
        torch_test = torch_test_metrics(model, data)
        write_json(done, {"seconds": res.seconds, "best_epoch": res.best_epoch, "val_score": res.best_score,
                          "torch_test_macc": torch_test.get("macc"), "epochs": epochs, **spec})
    info = json.loads(done.read_text())
    snaps = [str(out / "checkpoints" / f"epoch{e:03d}.pt") for e in range(info["epochs"] - 3, info["epochs"] + 1)]
    return snaps, info


def load_teacher(recipe, data, path: Path):
    import torch

    from edgekd.models import build_model

    shape = data.windows["train"].x.shape[1:]
    teacher = build_model(recipe.teacher.model, num_classes=len(data.classes), input_shape=shape, **recipe.teacher.params)
    state = torch.load(path, map_location="cpu", weights_only=True)
    teacher.load_state_dict(state["model"])
    return teacher.eval()


def run_one(recipe, data, teacher, row: str, loss: LossSpec, distill, seed: int, epochs: int, consistent: bool,
            out: Path, log) -> dict:
    """Train one student with one method and seed, export int8 TFLite, measure the file (val threshold, test)."""
    import torch

    from edgekd.distillation.objective import build_objective, check_objective
    from edgekd.training.trainer import train_model
    from edgekd.exporting import EXPORTERS
    from edgekd.models import build_model
    from edgekd.flow.steps import torch_test_metrics
    from edgekd.quantize.calibration import calibration_windows
    from edgekd.runtime.artifact import load_artifact
    from edgekd.runtime.evaluate import evaluate_windows, recording_probabilities
    from edgekd.runtime.threshold import choose_threshold

    done = out / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    spec = recipe.student.model_copy(update={"loss": loss, "distill": distill})
    check_objective(spec, where="student")
    train, val, test = data.windows["train"], data.windows["val"], data.windows["test"]
    torch.manual_seed(seed)
    model = build_model(spec.model, num_classes=len(data.classes), input_shape=train.x.shape[1:], **spec.params)
    cfg = spec.train.model_copy(update={"epochs": epochs, "patience": epochs, "threads": 1,
                                        "consistent_teacher": consistent}).trainer_config()
    objective = build_objective(spec, train.y, len(data.classes), where="student")
    t0 = time.perf_counter()
    res = train_model(
        model, train, val, objective, labels=data.classes, positive=data.positive, cfg=cfg, seed=seed,
        checkpoint_dir=out / "checkpoints", teacher=teacher if row != "ce" else None,
        log=lambda s: log(f"  [{row} seed {seed}] {s}"), augment=data.task.augmentation() if spec.train.augment else None,
        fingerprint_extra=f"{spec.model}|{spec.params}|{spec.loss}|{data.data_hash}",
    )
    wall = time.perf_counter() - t0
    path = out / "student-tflite-int8.tflite"
    calibration = calibration_windows(train, recipe.export.calibration_windows, recipe.seed)
    EXPORTERS.get("tflite-int8")(model, torch.from_numpy(train.x[:1].copy()), path, calibration)
    art = load_artifact(path, threads=1)
    pos = data.classes.index(data.positive)
    ids, probs = recording_probabilities(art, val.x, val.rec)
    threshold = choose_threshold(probs[:, pos], val.y_rec[ids] == pos)
    val_m = evaluate_windows(art, val.x, val.rec, val.y_rec, data.classes, data.positive, None, threshold)
    groups = [r.group for r in test.recordings]
    test_m = evaluate_windows(art, test.x, test.rec, test.y_rec, data.classes, data.positive, groups, threshold)
    result = {
        "method": row, "seed": seed, "epochs": epochs, "loss": loss.model_dump(),
        "distill": distill.model_dump() if distill else None,
        "train_seconds": res.seconds if res.resumed_from == 0 else None, "train_wall_seconds": wall,
        "resumed_from": res.resumed_from, "best_epoch": res.best_epoch, "val_score_torch_smoothed": res.best_score,
        "history": res.history, "size_bytes": path.stat().st_size, "threshold": threshold,
        "val_macc_int8": val_m["macc"], "test_int8": {k: test_m[k] for k in ("macc", "sensitivity", "specificity", "accuracy")},
        "test_int8_per_group": {g: m["macc"] for g, m in test_m["per_group"].items()},
        "test_torch_macc": torch_test_metrics(model, data)["macc"],
        "runtime": art.runtime,
    }
    write_json(done, result)
    return result


def summarise(results: list[dict], descriptions: dict) -> list[dict]:
    rows = []
    for name in ORDER:
        rs = [r for r in results if r["method"] == name]
        if not rs:
            continue
        macc = np.array([r["test_int8"]["macc"] for r in rs])
        secs = np.array([r["train_wall_seconds"] for r in rs])
        torch_macc = np.array([r["test_torch_macc"] for r in rs])
        rows.append({
            "method": name, "what": descriptions[name], "seeds": [r["seed"] for r in rs],
            "test_macc_int8_mean": float(macc.mean()), "test_macc_int8_std": float(macc.std(ddof=1)) if len(rs) > 1 else 0.0,
            "test_macc_int8_per_seed": macc.tolist(),
            "val_macc_int8_mean": float(np.mean([r["val_macc_int8"] for r in rs])),
            "sens_mean": float(np.mean([r["test_int8"]["sensitivity"] for r in rs])),
            "spec_mean": float(np.mean([r["test_int8"]["specificity"] for r in rs])),
            "test_macc_torch_mean": float(torch_macc.mean()),
            "train_seconds_mean": float(secs.mean()), "train_seconds_std": float(secs.std(ddof=1)) if len(rs) > 1 else 0.0,
            "size_bytes": rs[0]["size_bytes"],
        })
    return rows


def render(meta: dict, rows: list[dict]) -> str:
    lines = [
        f"# Distillation methods side by side ({meta['task']})",
        "",
        f"Command: `{meta['command']}`  ",
        f"Data hash `{meta['data_hash'][:16]}`, split seed {meta['split_seed']} (the split of `benchmarks/heart_full.py`), "
        f"test {meta['test_recordings']} recordings. Every student: {meta['student']}, {meta['epochs']} epochs, "
        f"seeds {meta['seeds']}, 1 torch thread. Teacher: `{meta['teacher']}` (reused, not retrained). "
        f"{meta['teacher_signal']}",
        "",
        f"Extra model for multi-teacher / checkpoint-ensemble KD: {meta['extra_teacher']}",
        "",
        "MAcc = (sensitivity + specificity) / 2 per recording, **measured by running the exported int8 TFLite file** "
        "(threshold chosen on the validation split by running the same file); mean ± std over seeds. Torch-side "
        "test MAcc of the same weights is given for reference only. Training time: wall seconds of the training "
        "loop on a shared 2-core machine (the other cores were busy with other jobs, so treat ±20 % as noise); it "
        "includes building the teacher cache (20-30 s) in the first run of an invocation that needs it (the "
        "first `kd` run: logits; the first `hint` run: feature maps), which widens those rows' std.",
        "",
        "| method | what | int8 TFLite test MAcc (mean ± std) | per seed | sens | spec | val MAcc (int8) | torch test MAcc | train s (mean ± std) |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['method']}` | {r['what']} | **{r['test_macc_int8_mean']:.3f} ± {r['test_macc_int8_std']:.3f}** | "
            + ", ".join(f"{m:.3f}" for m in r["test_macc_int8_per_seed"])
            + f" | {r['sens_mean']:.3f} | {r['spec_mean']:.3f} | {r['val_macc_int8_mean']:.3f} | "
            f"{r['test_macc_torch_mean']:.3f} | {r['train_seconds_mean']:.0f} ± {r['train_seconds_std']:.0f} |"
        )
    lines += ["", f"Versions: {json.dumps(meta['versions'])}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", choices=sorted(TASKS), default="heart")
    ap.add_argument("--data", default=None, help="the task's data folder (default: the shared full dev set)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--methods", nargs="+", default=ORDER, choices=ORDER)
    ap.add_argument("--extra-teacher-epochs", type=int, default=6)
    ap.add_argument("--consistent-teacher", action="store_true",
                    help="the teacher labels every augmented batch (default: its outputs on the clean windows, cached)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    import torch

    from edgekd.distillation.stages import match_stages
    from edgekd.models import build_model
    from edgekd.versions import versions

    torch.set_num_threads(1)
    task = TASKS[args.task]
    out = Path(args.out or ROOT / "runs" / "kd-methods" / args.task)
    data_path = args.data or (str(task["data"]) if task["data"] else default_heart_data())
    recipe = load_recipe(ROOT / task["recipe"], [f"data.path={data_path}", *task["overrides"]])
    check_recipe(recipe)
    log = default_log
    data = prepare_data(recipe, log)
    teacher = load_teacher(recipe, data, Path(task["teacher"]))
    extra = task["extra_teacher"] or {
        "model": recipe.student.model,
        "params": {**recipe.student.params, "widths": [2 * w for w in recipe.student.params.get("widths", [])]},
    }
    snapshots, extra_info = train_extra_teacher(recipe, data, extra, args.extra_teacher_epochs, out / "extra-teacher", log)
    example = torch.from_numpy(data.windows["train"].x[:1].copy())
    probe = build_model(recipe.student.model, num_classes=len(data.classes), input_shape=example.shape[1:],
                        **recipe.student.params)
    stages = match_stages(probe, teacher, example, deepest=2)  # the two deepest equal-resolution stage pairs
    specs = method_specs(recipe.student.loss, stages, stages, extra, snapshots)
    descriptions = {k: v[2] for k, v in specs.items()}
    command = (f"python benchmarks/kd_methods.py --task {args.task} --epochs {args.epochs} --extra-teacher-epochs "
               f"{args.extra_teacher_epochs} --seeds " + " ".join(map(str, args.seeds))
               + (" --consistent-teacher" if args.consistent_teacher else ""))
    stem = "kd_methods" if args.task == "heart" else f"kd_methods_{args.task}"
    meta = {
        "task": args.task, "command": command, "data_hash": data.data_hash, "split_seed": recipe.seed,
        "test_recordings": len(data.windows["test"].recordings), "epochs": args.epochs, "seeds": args.seeds,
        "student": f"{recipe.student.model} {recipe.student.params}",
        "teacher": str(Path(task["teacher"]).relative_to(ROOT)),
        "teacher_signal": ("The teacher labels every augmented batch (consistent teaching)." if args.consistent_teacher else
                           "Teacher logits and feature maps are computed once on the clean training windows and cached "
                           "(students see SpecAugment views), except for mixup, where the teacher labels each mixed batch."),
        "extra_teacher": (f"`{extra['model']}` {extra['params']} trained with CE for {extra_info['epochs']} epochs (seed 1), "
                          f"a checkpoint per epoch; val MAcc {extra_info['val_score']:.3f}, torch test MAcc "
                          f"{extra_info['torch_test_macc']:.3f}, {extra_info['seconds']:.0f} s. Multi-teacher uses its last "
                          f"checkpoint with the main teacher; checkpoint-ensemble averages its last {len(snapshots)} checkpoints."),
        "stage_pairs": stages,
        "versions": versions(),
    }
    results = []
    for seed in args.seeds:  # seed-major: an interrupted benchmark still compares every method
        for row in args.methods:
            loss, distill, _ = specs[row]
            r = run_one(recipe, data, teacher, row, loss, distill, seed, args.epochs, args.consistent_teacher,
                        out / row / f"seed{seed}", log)
            log(f"{row} seed {seed}: int8 TFLite test MAcc {r['test_int8']['macc']:.3f} "
                f"(torch {r['test_torch_macc']:.3f}), {r['train_wall_seconds']:.0f} s")
            results.append(r)
            rows = summarise(results, descriptions)
            results_dir = Path(args.results)
            write_json(results_dir / f"{stem}.json", {**meta, "summary": rows, "runs": results})
            write_text(results_dir / f"{stem}.md", render(meta, rows))
    print((Path(args.results) / f"{stem}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
