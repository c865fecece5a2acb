"""Ablation: does distillation + structured pruning beat its baselines, measured on the exported int8 files?

``--task heart`` (default): all 1,084 heart dev recordings, the split and the shipped teacher of
``benchmarks/heart_deploy.py`` (``models/heart-teacher.pt``), students sampled per (database, label) and
selected on the mean within-database validation MAcc; MAcc reported pooled and within each database.
``--task plant``: the MangoLeafBD time split and shipped teacher of ``benchmarks/plant_deploy.py``; top-1.
``--task heart500``: the earlier 500-recording set and split of ``benchmarks/heart_full.py`` (its results
file ``ablation.json``). The teacher's provenance proves it never saw a test item.

Rows:

- teacher fp32 TFLite, teacher int8 TFLite (post-training quantization alone);
- student from scratch (cross-entropy, no teacher);
- student with KD (Hinton, from the teacher);
- student KD, pruned (``recipes/heart-pruned.yaml``'s ``prune:`` section), recovered with KD;
- the same pruned student recovered with cross-entropy instead (no KD in recovery).

Every student row trains ``--epochs`` epochs (the pruned rows start from the
KD row's student and add ``--recover-epochs`` of recovery) for each of
``--seeds`` training seeds. Every figure is measured by running the exported
int8 TFLite file (fp32 for the teacher fp32 row): the decision threshold is
chosen on the validation split by running the artifact (``edgekd.export`` with validation data),
then MAcc / sensitivity / specificity on the test split, latency p50 with one thread.
The teacher is the shipped (trained) teacher, not retrained; with
``consistent_teacher: false`` the trainer computes its logits on the clean
training windows once per process and looks them up (the teacher costs about
5x a student epoch per pass on one CPU thread).

Resumable: every (row, seed) result is written to ``--out/results/`` as it
finishes and skipped on a re-run; training resumes from the trainer's checkpoints.

Run:  make ablation     (or: .venv/bin/python benchmarks/ablation.py --task heart|plant)
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from heart_data import default_heart_data  # noqa: E402

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.errors import InputError  # noqa: E402
from edgekd.pipeline import check_recipe, default_log, prepare_data  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402

ROWS = [
    ("teacher-fp32", "teacher fp32 (TFLite fp32)"),
    ("teacher-int8", "teacher int8 PTQ"),
    ("student-ce", "student from scratch (CE, no KD)"),
    ("student-kd", "student KD"),
    ("student-kd-pruned-kd", "student KD + pruning + KD recovery"),
    ("student-kd-pruned-ce", "student KD + pruning, CE recovery (no KD)"),
]
# the same recipe overrides as benchmarks/heart_full.py: 60/20/20 record-wise split, seed 0
FULL_SET = ["name=heart-full", "data.split={train: 0.6, val: 0.2, test: 0.2}"]
SHARED = ROOT.parent / "shared" / "data"
#: per task: recipe, data, overrides, teacher, results stem, and the trainer settings of the deploy benchmarks
TASKS = {
    "heart": {"recipe": "recipes/heart-pruned.yaml", "data": SHARED / "heart-physionet2016",
              "overrides": ["name=heart-ablation", "data.split={train: 0.6, val: 0.2, test: 0.2, seed: 0}"],
              "teacher": "models/heart-teacher.pt", "results": "ablation_heart",
              "train": {"balance": "group_label", "select": "group_mean", "epoch_windows": 4096}},
    "plant": {"recipe": "recipes/plant.yaml", "data": SHARED / "plant-mangoleafbd",
              "overrides": ["name=plant-ablation", "data.split={train: 0.6, val: 0.2, test: 0.2, seed: 0, by: time}",
                            "data.cache_dir=runs/plant-cache"],  # + the variant plant_select.py chose on validation
              "teacher": "models/plant-teacher.pt", "results": "ablation_plant", "train": {}},
    "heart500": {"recipe": "recipes/heart-pruned.yaml", "data": None, "overrides": FULL_SET,
                 "teacher": "runs/heart-full/checkpoints/teacher/best.pt", "results": "ablation", "train": {}},
}


def score_key(metrics: dict) -> str:
    """MAcc for a two-class screener, else top-1 (the plant issue's figure)."""
    return "macc" if "macc" in metrics else "accuracy"


def measure(model, name: str, precision: str, data, calibration, out: Path, log) -> dict:
    """Export ``model`` to TFLite (``precision``) with ``edgekd.export`` (threshold chosen on val by running it),
    score it on test with ``edgekd.evaluate`` and time it with ``edgekd.bench`` (1 thread)."""
    import torch

    import edgekd
    from edgekd.models.complexity import count_macs, count_params

    path = out / "artifacts" / f"{name}.tflite"
    example = torch.from_numpy(data.windows["train"].x[:1].copy())
    art = edgekd.export(model.eval(), path, precision=precision, example=example, calibration=calibration,
                        target="x86_64", task=data.task, classes=data.classes, positive=data.positive,
                        val=data.windows["val"], log=log)
    metrics = edgekd.evaluate(path, data.windows["test"], threads=1).to_dict()
    latency = edgekd.bench(path, runs=200, warmup=20, max_seconds=10, threads=1).to_dict()
    row = {
        "artifact": str(path.relative_to(out)),
        "params": count_params(model),
        "macs": count_macs(model, data.task.input_shape),
        "size_bytes": path.stat().st_size,
        "threshold": art.threshold,
        "score_name": score_key(metrics),
        "macc": metrics[score_key(metrics)],  # the row's score: MAcc (two classes) or top-1
        "sensitivity": metrics.get("sensitivity", float("nan")),
        "specificity": metrics.get("specificity", float("nan")),
        "accuracy": metrics["accuracy"],
        "n": metrics["n"],
        "ci95": (metrics.get("ci95") or {}).get(score_key(metrics)),
        "per_group": {g: {"score": m[score_key(m)], "n": m["n"], "ci95": (m.get("ci95") or {}).get(score_key(m))}
                      for g, m in (metrics.get("per_group") or {}).items()},
        "p50_ms": latency["p50_ms"],
        "runtime": f"{latency['runtime']} {latency['runtime_version']}",
    }
    log(f"  {name}: {row['params']:,} params, {row['macs'] / 1e6:.2f} M MACs, {row['size_bytes'] / 1024:.1f} KB, "
        f"{row['score_name']} {row['macc']:.3f} {row['ci95']} (n={row['n']}), p50 {row['p50_ms']:.3f} ms")
    return row


def class_weights(data) -> list[float]:
    counts = np.bincount(data.windows["train"].y, minlength=len(data.classes)).astype(float)
    return (counts.sum() / (len(counts) * np.maximum(counts, 1))).tolist()


def _mean_std(values: list[float]) -> tuple[float, float]:
    if any(v != v for v in values):  # NaN: the figure does not exist (sensitivity of a many-class task)
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(results: dict[str, list[dict]]) -> dict:
    out = {}
    for key, _ in ROWS:
        rows = results.get(key, [])
        if not rows:
            continue
        s = {"n": len(rows), "seeds": [r["seed"] for r in rows]}
        for col in ("params", "macs", "size_bytes", "macc", "sensitivity", "specificity", "p50_ms"):
            m, sd = _mean_std([float(r[col]) for r in rows])
            s[col] = {"mean": m, "std": sd}
        out[key] = s
    return out


def render(summary: dict, meta: dict, runs: dict[str, list[dict]]) -> str:
    def pm(s, col, fmt):
        v = s[col]
        return f"{v['mean']:{fmt}} ± {v['std']:{fmt}}" if s["n"] > 1 else f"{v['mean']:{fmt}}"

    lines = [
        "# Ablation: distillation and structured pruning on the heart dev set (int8 TFLite artifacts)",
        "",
        f"Command: `{meta['command']}`  ",
        f"Data: `{meta['data']['name']}`, hash `{meta['data']['hash'][:16]}`, record-wise 60/20/20 split (seed 0, stratified "
        f"by label and database; the split of `benchmarks/heart_full.py`): {meta['data']['test_recordings']} test recordings.  ",
        f"Students: {meta['epochs']} epochs each (seeds {', '.join(map(str, meta['seeds']))}); the pruned rows start from "
        f"the KD row's student of the same seed and add {meta['recover_epochs']} recovery epochs. Pruning: "
        f"{meta['prune']['summary']}.  ",
        "Every figure was measured by running the exported TFLite file (int8, fully integer, except the teacher fp32 row): "
        "decision threshold chosen on the validation split by running the artifact, metrics on the test split, "
        f"latency p50 with 1 thread ({meta['runtime']}, {meta['cpu']}). Mean ± std over seeds; the teacher rows are "
        "one trained teacher (`runs/heart-full`), so they have no spread. Latency was measured on a shared 2-core "
        "machine while other jobs ran: read it as indicative (one recording moves MAcc by 1-2 points on 100 test "
        "recordings, so is the metric's spread).",
        "",
        "| row | params | MACs | file KB | MAcc | sens | spec | p50 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in ROWS:
        if key not in summary:
            continue
        s = summary[key]
        lines.append(
            f"| {label} | {s['params']['mean']:,.0f} | {s['macs']['mean'] / 1e6:.2f} M | {s['size_bytes']['mean'] / 1024:.1f} | "
            f"{pm(s, 'macc', '.3f')} | {pm(s, 'sensitivity', '.3f')} | {pm(s, 'specificity', '.3f')} | {pm(s, 'p50_ms', '.3f')} |"
        )
    c = meta.get("criteria")
    if c:
        lines += [
            "",
            "## Done criteria (issue 3)",
            "",
            f"- MACs, KD-only / KD + pruning: {c['mac_reduction']:.2f}x (goal >= 2x): **{'met' if c['mac_reduction'] >= 2 else 'not met'}**",
            f"- int8 file, KD-only / KD + pruning: {c['size_kd_kb']:.1f} KB / {c['size_pruned_kb']:.1f} KB ({c['size_reduction']:.2f}x smaller)",
            f"- MAcc, KD + pruning + KD recovery vs KD-only: {c['macc_pruned']:.3f} vs {c['macc_kd']:.3f} "
            f"({c['macc_gap_points']:+.1f} points; goal within 1.5 points: **{'met' if abs(c['macc_gap_points']) <= 1.5 or c['macc_gap_points'] > 0 else 'not met'}**)",
            f"- KD recovery vs CE recovery of the same pruned student: {c['macc_pruned']:.3f} vs {c['macc_pruned_ce']:.3f} MAcc",
        ]
        lines += ["", "Per seed (MAcc): " + "; ".join(
            f"{k}: " + ", ".join(f"{v:.3f}" for v in vals) for k, vals in meta["per_seed_macc"].items()) + ".", "",
            "Pruned students per seed (the Taylor ranking, hence the exact channels, depends on the KD student): "
            + "; ".join(f"seed {r['seed']}: {r['params']:,} params, {r['macs'] / 1e6:.2f} M MACs, "
                        f"{r['size_bytes'] / 1024:.1f} KB" for r in runs.get("student-kd-pruned-kd", [])) + "."]
    return "\n".join(lines) + "\n"


def render_v2(summary: dict, meta: dict, runs: dict[str, list[dict]]) -> str:
    """The table of ``--task heart|plant``: each row's score per seed with its 95 % interval and n, the mean ± sd,
    and (heart) the mean within each database."""
    name = "MAcc" if meta["score_name"] == "macc" else "top-1"
    groups = sorted({g for rows in runs.values() for r in rows for g in r.get("per_group", {})} - {"all"})
    lines = [
        f"# Ablation: the value of each stage on {meta['title']} (int8 TFLite files)", "",
        f"Command: `{meta['command']}`  ",
        f"Data `{meta['data']['name']}`, hash `{meta['data']['hash'][:16]}`, {meta['split']}: "
        f"{meta['data']['test_recordings']} test items, never used for training or selection (the shipped teacher "
        f"`{meta['teacher']}` never saw one: its provenance file lists what it saw).  ",
        f"Students: {meta['epochs']} epochs each, seeds {', '.join(map(str, meta['seeds']))}; the pruned rows start from "
        f"the KD row's student of the same seed and add {meta['recover_epochs']} recovery epochs. Pruning: "
        f"{meta['prune']['summary']}. Trainer: {meta['train_note']}.  ",
        "Every figure is the exported TFLite file (int8, fully integer, except the teacher fp32 row) run on the test "
        "split, the decision threshold chosen on validation by running the file. Per seed: "
        f"{name} [95 % CI] (n); mean ± sd over seeds (the teacher rows are one shipped teacher).",
        "",
        f"| row | params | MACs | file KB | {name} per seed [95 % CI] | {name} mean ± sd | "
        + "".join(f"{g} | " for g in groups) + "p50 ms |",
        "|---|---:|---:|---:|---|---:|" + "---:|" * len(groups) + "---:|",
    ]
    for key, label in ROWS:
        if key not in summary:
            continue
        s, rows = summary[key], runs[key]
        per_seed = "; ".join(f"{r['macc']:.3f}" + (f" [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]" if r.get("ci95") else "")
                             for r in rows) + f" (n={rows[0]['n']})"
        mean = f"{s['macc']['mean']:.3f}" + (f" ± {s['macc']['std']:.3f}" if s["n"] > 1 else "")
        cells = []
        for g in groups:
            vals = [r["per_group"][g]["score"] for r in rows if g in r.get("per_group", {})]
            cells.append(f"{statistics.fmean(vals):.3f} (n={rows[0]['per_group'][g]['n']})" if vals else "–")
        lines.append(f"| {label} | {s['params']['mean']:,.0f} | {s['macs']['mean'] / 1e6:.2f} M | "
                     f"{s['size_bytes']['mean'] / 1024:.1f} | {per_seed} | {mean} | " + "".join(f"{c} | " for c in cells)
                     + f"{s['p50_ms']['mean']:.3f} |")
    c = meta["criteria"]
    lines += ["", "## What each stage is worth (means over seeds)", "",
              f"- int8 PTQ of the teacher: {name} {100 * c['ptq_delta']:+.1f} points, file {c['teacher_ratio']:.1f}x smaller",
              f"- KD over training the student from scratch: {100 * c['kd_gain']:+.1f} points",
              f"- KD + pruning + KD recovery vs KD-only: {100 * c['macc_gap_points'] / 100:+.1f} points at "
              f"{c['mac_reduction']:.2f}x fewer MACs and a {c['size_reduction']:.2f}x smaller file",
              f"- KD recovery vs CE recovery of the same pruned student: {c['macc_pruned']:.3f} vs {c['macc_pruned_ce']:.3f}",
              f"- student KD int8 vs teacher fp32 file: {100 * (c['macc_kd'] - c['teacher_fp32']):+.1f} points, "
              f"{c['student_vs_teacher_size']:.1f}x smaller", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="heart", choices=list(TASKS))
    ap.add_argument("--data", default=None, help="the data folder (default: the task's full dev set)")
    ap.add_argument("--recipe", default=None)
    ap.add_argument("--teacher", default=None, help="the trained teacher (default: the task's shipped one)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=10, help="training epochs of every student row")
    ap.add_argument("--recover-epochs", type=int, default=3, help="recovery epochs after pruning")
    ap.add_argument("--out", default=None, help="work folder (default: runs/ablation-<task>)")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--render", action="store_true", help="only re-render ablation.md from ablation.json")
    args = ap.parse_args(argv)
    task = TASKS[args.task]
    args.data = args.data or (str(task["data"]) if task["data"] else default_heart_data())
    args.recipe = args.recipe or str(ROOT / task["recipe"])
    args.teacher = args.teacher or str(ROOT / task["teacher"])
    args.out = args.out or str(ROOT / "runs" / ("ablation" if args.task == "heart500" else f"ablation-{args.task}"))
    stem = task["results"]
    renderer = render if args.task == "heart500" else render_v2
    if args.render:
        stored = json.loads((Path(args.results) / f"{stem}.json").read_text())
        write_text(Path(args.results) / f"{stem}.md", renderer(stored["summary"], stored, stored["runs"]))
        print((Path(args.results) / f"{stem}.md").read_text())
        return 0

    import torch

    torch.set_num_threads(1)
    from edgekd.training.losses import build_loss
    from edgekd.training.trainer import TrainConfig, train_model
    from edgekd.models import build_model
    from edgekd.pruning.budget import budget_from_target, measure_cost
    from edgekd.pruning.prune import resolve_ignored
    from edgekd.pruning.schedule import PruneSettings, Recovery, prune_and_recover
    from edgekd.quantize.calibration import calibration_windows
    from edgekd.runtime.latency import host_info
    from edgekd.versions import versions

    log = default_log
    t_start = time.perf_counter()
    out = Path(args.out)
    chosen = []
    if args.task == "plant":
        from plant_deploy import chosen_overrides

        chosen = chosen_overrides()
    recipe = load_recipe(args.recipe, [f"data.path={args.data}", *task["overrides"], *chosen])
    if recipe.prune is None:
        raise InputError(f"{args.recipe}: no prune: section")
    check_recipe(recipe)
    data = prepare_data(recipe, log)
    reference = ROOT / "benchmarks" / "results" / "heart_full.json"
    if args.task != "heart500":  # the shipped teacher's provenance: it never saw a test item
        from edgekd.models.provenance import check_unseen

        if check_unseen(args.teacher, data.windows["test"].recordings, "teacher") is None:
            raise InputError(f"{args.teacher}: no provenance file; the ablation needs a teacher known not to have "
                             "seen the test split")
    elif reference.is_file():  # the same split as the full-set benchmark, recording by recording
        ref = json.loads(reference.read_text())["report"]["data"]
        if ref["test_files"] != [r.file for r in data.windows["test"].recordings] or ref["hash"] != data.data_hash:
            raise InputError(f"the test split differs from {reference}; the ablation must use the same split")
    shape = data.task.input_shape
    augment = data.task.augmentation() if recipe.student.train.augment else None  # SpecAugment, as in training
    calibration = calibration_windows(data.windows["train"], recipe.export.calibration_windows, 0)
    train, val = data.windows["train"], data.windows["val"]
    balanced = task["train"].get("balance", "none") != "none"
    weights = None if balanced else class_weights(data)  # a balanced sampler already evens the classes out
    spec = recipe.student
    kd_params = {**spec.loss.params, **({"class_weights": weights} if weights else {})}
    done_dir = out / "results"

    def finished(key: str, seed: int) -> Path:
        return done_dir / f"{key}-seed{seed}.json"

    def record(key: str, seed: int, row: dict) -> dict:
        row = {**row, "row": key, "seed": seed}
        write_json(finished(key, seed), row)
        return row

    def load(key: str, seed: int) -> dict | None:
        p = finished(key, seed)
        return json.loads(p.read_text()) if p.is_file() else None

    teacher = build_model(recipe.teacher.model, num_classes=len(data.classes), input_shape=shape, **recipe.teacher.params)
    state = torch.load(args.teacher, map_location="cpu", weights_only=True)
    teacher.load_state_dict(state.get("model", state))
    teacher.eval()
    results: dict[str, list[dict]] = {k: [] for k, _ in ROWS}
    for key, precision in (("teacher-fp32", "fp32"), ("teacher-int8", "int8")):
        row = load(key, 0) or record(key, 0, measure(teacher, key, precision, data, calibration, out, log))
        results[key].append(row)

    cfg = spec.train.model_copy(update={"epochs": args.epochs, "threads": 1, "consistent_teacher": False,
                                        "patience": args.epochs, **task["train"]}).trainer_config()
    p = recipe.prune
    recover_cfg = TrainConfig(**{**cfg.__dict__, "epochs": args.recover_epochs, "lr": p.recover.lr})
    prune_summary = (f"{p.importance} importance, {p.scope} scope, target {p.target.model_dump(exclude_none=True)}, "
                     f"{p.schedule.kind} ({p.schedule.steps} step(s)), recovery lr {p.recover.lr}")
    for seed in args.seeds:
        students = {}
        for key, loss_name in (("student-ce", "ce"), ("student-kd", "kd")):
            ckpt_dir = out / "checkpoints" / f"seed{seed}" / key
            torch.manual_seed(seed)
            model = build_model(spec.model, num_classes=len(data.classes), input_shape=shape, **spec.params)
            ce_params = {"class_weights": weights} if weights else {}
            loss = build_loss(loss_name, ce_params if loss_name == "ce" else kd_params)
            log(f"[seed {seed}] {key}: {args.epochs} epochs")
            train_model(model, train, val, loss, labels=data.classes, positive=data.positive, cfg=cfg, seed=seed,
                        checkpoint_dir=ckpt_dir, teacher=teacher if loss_name == "kd" else None,
                        log=lambda s, k=key: log(f"  [{k} seed {seed}] {s}"), augment=augment,
                        fingerprint_extra=f"ablation|{key}|{spec.model}|{spec.params}|{data.data_hash}")
            students[key] = model
            row = load(key, seed) or record(key, seed, measure(model, f"{key}-seed{seed}", "int8", data,
                                                                calibration, out, log))
            results[key].append(row)
        kd_student = students["student-kd"]
        ignored = resolve_ignored(kd_student, p.ignore, shape)
        budget = budget_from_target(p.target, measure_cost(kd_student, shape))
        for key, loss_name in (("student-kd-pruned-kd", "kd"), ("student-kd-pruned-ce", "ce")):
            model = copy.deepcopy(kd_student)
            loss = build_loss(loss_name, kd_params if loss_name == "kd" else ({"class_weights": weights} if weights else {}))
            log(f"[seed {seed}] {key}: prune, then {args.recover_epochs} epochs of {loss_name} recovery")
            prune_and_recover(
                model,
                PruneSettings(budget=budget, importance=p.importance, ignored=ignored, steps=p.schedule.steps,
                              scope=p.scope, min_channels=p.min_channels, gradient_batches=p.gradient_batches,
                              # both rows prune the same channels (Taylor scores from the KD loss): only recovery differs
                              gradient_loss=build_loss("kd", kd_params), gradient_teacher=teacher),
                Recovery(loss=loss, cfg=recover_cfg, teacher=teacher if loss_name == "kd" else None, name=loss_name,
                         augment=augment),
                train=train, val=val, labels=data.classes, positive=data.positive, input_shape=shape, seed=seed,
                checkpoint_dir=out / "checkpoints" / f"seed{seed}" / key, log=lambda s, k=key: log(f"  [{k} seed {seed}] {s}"),
                fingerprint_extra=f"ablation|{key}|{data.data_hash}",
            )
            row = load(key, seed) or record(key, seed, measure(model, f"{key}-seed{seed}", "int8", data,
                                                                calibration, out, log))
            results[key].append(row)

    summary = summarise(results)
    kd, pr, prce = summary["student-kd"], summary["student-kd-pruned-kd"], summary["student-kd-pruned-ce"]
    criteria = {
        "mac_reduction": kd["macs"]["mean"] / pr["macs"]["mean"],
        "size_kd_kb": kd["size_bytes"]["mean"] / 1024,
        "size_pruned_kb": pr["size_bytes"]["mean"] / 1024,
        "size_reduction": kd["size_bytes"]["mean"] / pr["size_bytes"]["mean"],
        "macc_kd": kd["macc"]["mean"],
        "macc_pruned": pr["macc"]["mean"],
        "macc_pruned_ce": prce["macc"]["mean"],
        "macc_gap_points": 100 * (pr["macc"]["mean"] - kd["macc"]["mean"]),
        "teacher_fp32": summary["teacher-fp32"]["macc"]["mean"],
        "ptq_delta": summary["teacher-int8"]["macc"]["mean"] - summary["teacher-fp32"]["macc"]["mean"],
        "teacher_ratio": summary["teacher-fp32"]["size_bytes"]["mean"] / summary["teacher-int8"]["size_bytes"]["mean"],
        "kd_gain": kd["macc"]["mean"] - summary["student-ce"]["macc"]["mean"],
        "student_vs_teacher_size": summary["teacher-fp32"]["size_bytes"]["mean"] / kd["size_bytes"]["mean"],
    }
    defaults = ap.parse_args([])
    flags = [f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
             for k, v in vars(args).items() if k in ("seeds", "epochs", "recover_epochs") and v != getattr(defaults, k)]
    host = host_info()
    meta = {
        "command": " ".join(["python benchmarks/ablation.py", *([f"--task {args.task}"] if args.task != "heart" else []),
                             *flags]),
        "title": {"heart": "all 1,084 heart dev recordings", "plant": "the MangoLeafBD time split",
                  "heart500": "the 500-recording heart set"}[args.task],
        "split": ("split by capture time within each class (earliest 60 % train, next 20 % val, latest 20 % test)"
                  if args.task == "plant" else "record-wise 60/20/20 split (seed 0, stratified by label and database)"),
        "score_name": results["student-kd"][0].get("score_name", "macc"),
        "train_note": (f"balance {cfg.balance}, selection {cfg.select}, {cfg.epoch_windows or 'all'} windows per epoch, "
                       f"no early stop, teacher logits on clean inputs (consistent_teacher false)"),
        "data": {"name": Path(recipe.data.path).name, "hash": data.data_hash,
                 "test_recordings": len(data.windows["test"].recordings),
                 "test_files": [r.file for r in data.windows["test"].recordings]},
        "seeds": args.seeds,
        "epochs": args.epochs,
        "recover_epochs": args.recover_epochs,
        "teacher": str(Path(args.teacher).relative_to(ROOT)) if Path(args.teacher).is_relative_to(ROOT) else args.teacher,
        "prune": {"summary": prune_summary, "spec": p.model_dump(mode="json")},
        "train": cfg.__dict__,
        "runtime": results["student-kd"][0]["runtime"],
        "cpu": host.get("cpu"),
        "versions": versions(),
        "criteria": criteria,
        "per_seed_macc": {k: [r["macc"] for r in results[k]] for k, _ in ROWS if results[k]},
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    results_dir = Path(args.results)
    write_json(results_dir / f"{stem}.json", {**meta, "summary": summary, "runs": results})
    write_text(results_dir / f"{stem}.md", renderer(summary, meta, results))
    print((results_dir / f"{stem}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
