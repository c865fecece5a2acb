"""The pipeline: recipe → data → teacher → distilled student → artifacts per target → measured report.

Each stage is a function with a clear input and output; ``run`` only wires them.
Every figure in the report is measured by running the exported file on test
recordings the models never trained on; torch-side numbers stand beside them,
labelled ``torch``.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from edgekd.errors import InputError
from edgekd.recipe import ModelSpec, Recipe
from edgekd.runtime.frontend import AudioFrontend
from edgekd.targets import TargetProfile, load_target

Log = Callable[[str], None]


def default_log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Prepared:
    """The data stage's output: windows per split and what they came from."""

    windows: dict  # split -> WindowSet
    recordings: list
    classes: list[str]
    positive: str | None
    data_hash: str


@dataclass
class Trained:
    """A trained model with its complexity and torch-side test metrics."""

    role: str
    spec: ModelSpec
    model: object
    params: int
    macs: int
    train: object
    torch_metrics: dict


# ---------------------------------------------------------------- checks first
def check_recipe(recipe: Recipe) -> tuple[AudioFrontend, list[TargetProfile]]:
    """Everything that can be checked before any work: front-end, targets, registry names."""
    frontend = AudioFrontend.from_dict(recipe.frontend)
    targets = [load_target(t) for t in recipe.export.targets]
    from edgekd.distill.losses import build_loss, needs_teacher
    from edgekd.models import MODELS

    for role in ("teacher", "student"):
        spec: ModelSpec = getattr(recipe, role)
        MODELS.get(spec.model)
        build_loss(spec.loss.name, spec.loss.params, where=f"{role}.loss")
        if role == "teacher" and needs_teacher(spec.loss.name):
            raise InputError(f"teacher.loss: {spec.loss.name!r} needs a teacher; train the teacher with 'ce'")
        if spec.checkpoint and not Path(spec.checkpoint).is_file():
            raise InputError(f"{role}.checkpoint: {spec.checkpoint}: file not found")
        if spec.train.epochs == 0 and not spec.checkpoint:
            raise InputError(f"{role}.train.epochs: 0 means 'use {role}.checkpoint as it is', but no checkpoint is set")
    from edgekd.export import EXPORTERS

    for target in targets:
        for fmt in target.formats:
            for precision in target.precisions:
                if f"{fmt}-{precision}" not in EXPORTERS:
                    can = sorted(k.split("-", 1)[1] for k in EXPORTERS.names() if k.startswith(f"{fmt}-"))
                    raise InputError(
                        f"target {target.name!r} ({target.source}) asks for {fmt} {precision}, which edgekd cannot "
                        f"produce yet; {fmt} precisions available: {', '.join(can)}"
                    )
    if not Path(recipe.data.path).is_dir():
        raise InputError(f"data.path: {recipe.data.path}: folder not found")
    return frontend, targets


# ---------------------------------------------------------------- data
def prepare_data(recipe: Recipe, frontend: AudioFrontend, log: Log) -> Prepared:
    """List, validate, split (record-wise, stratified) and featurise the recordings."""
    from edgekd.data.features import FeatureCache, build_windows
    from edgekd.data.recordings import dataset_hash, list_recordings
    from edgekd.data.splits import stratified_split

    d = recipe.data
    recs = list_recordings(d.path, d.classes)
    strata = ["|".join(r.label if k == "label" else r.group for k in d.stratify) for r in recs]
    split_seed = recipe.seed if d.split.seed is None else d.split.seed
    idx = stratified_split(strata, d.split.fractions(), split_seed)
    cache = FeatureCache(d.cache_dir)
    windows = {}
    for split, ids in idx.items():
        if not ids:
            raise InputError(f"data.split: the {split} split is empty; {len(recs)} recordings are too few")
        windows[split] = build_windows(
            [recs[i] for i in ids], d.classes, frontend, cache, resample=d.resample, progress=sys.stderr.isatty()
        )
    for split, ws in windows.items():
        log(f"  {split:5s}: {len(ws.recordings):4d} recordings, {len(ws.x):5d} windows")
    return Prepared(windows, recs, list(d.classes), d.positive, dataset_hash(recs))


# ---------------------------------------------------------------- training
def train_role(
    role: str, recipe: Recipe, data: Prepared, frontend: AudioFrontend, out: Path, log: Log, teacher=None
) -> Trained:
    """Build and train (or load) the teacher or the student, then score it torch-side on the test split."""
    import torch

    from edgekd.distill.losses import build_loss
    from edgekd.distill.trainer import TrainConfig, train_model
    from edgekd.models import build_model
    from edgekd.models.complexity import count_macs, count_params

    spec: ModelSpec = getattr(recipe, role)
    torch.manual_seed(recipe.seed)
    model = build_model(spec.model, num_classes=len(data.classes), input_shape=frontend.input_shape, **spec.params)
    if spec.checkpoint:
        try:  # weights_only: a checkpoint from elsewhere must not run code when unpickled
            state = torch.load(spec.checkpoint, map_location="cpu", weights_only=True)
            model.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
        except Exception as exc:  # corrupt file, pickled code, or weights of another architecture
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{role}.checkpoint: {spec.checkpoint}: cannot load into {spec.model}: {first}") from None
        log(f"  loaded {role} weights from {spec.checkpoint}")
    params = dict(spec.loss.params)
    if spec.loss.name in ("ce", "kd") and "class_weights" not in params:
        counts = np.bincount(data.windows["train"].y, minlength=len(data.classes)).astype(float)
        params["class_weights"] = (counts.sum() / (len(counts) * np.maximum(counts, 1))).tolist()
    loss = build_loss(spec.loss.name, params, where=f"{role}.loss")
    if spec.train.epochs == 0:  # a trained checkpoint used as it is: scored on validation, not trained
        from edgekd.distill.trainer import TrainResult, predict_logits, recording_metrics, score_of

        val = data.windows["val"]
        score = score_of(recording_metrics(predict_logits(model, val.x), val, data.classes, data.positive))
        log(f"  [{role}] train.epochs is 0: using {spec.checkpoint} as it is (val score {score:.3f})")
        result = TrainResult(best_epoch=0, best_score=score, epochs_run=0, resumed_from=0)
    else:
        result = train_model(
            model,
            data.windows["train"],
            data.windows["val"],
            loss,
            labels=data.classes,
            positive=data.positive,
            cfg=TrainConfig(**spec.train.model_dump()),
            seed=recipe.seed,
            checkpoint_dir=out / "checkpoints" / role,
            teacher=teacher,
            log=lambda s: log(f"  [{role}] {s}"),
            fingerprint_extra=f"{spec.model}|{spec.params}|{spec.loss}|{data.data_hash}",
        )
    metrics = torch_test_metrics(model, data)
    return Trained(
        role=role,
        spec=spec,
        model=model,
        params=count_params(model),
        macs=count_macs(model, frontend.input_shape),
        train=result,
        torch_metrics=metrics,
    )


def torch_test_metrics(model, data: Prepared) -> dict:
    """Torch-side test metrics with the same decision rule as the artifacts (threshold chosen on val)."""
    from edgekd.distill.trainer import predict_logits
    from edgekd.runtime.metrics import aggregate_by_group, classification_metrics, softmax
    from edgekd.runtime.threshold import choose_threshold, decide

    val, test = data.windows["val"], data.windows["test"]
    pos = data.classes.index(data.positive) if data.positive in data.classes else None
    threshold = None
    if pos is not None and len(data.classes) == 2:
        ids, probs = aggregate_by_group(softmax(predict_logits(model, val.x)), val.rec)
        threshold = choose_threshold(probs[:, pos], val.y_rec[ids] == pos)
    ids, probs = aggregate_by_group(softmax(predict_logits(model, test.x)), test.rec)
    out = classification_metrics(test.y_rec[ids], decide(probs, pos, threshold), data.classes, data.positive)
    if threshold is not None:
        out["threshold"] = threshold
    return out


# ---------------------------------------------------------------- export
def export_plan(target: TargetProfile, role: str, export_teacher: bool) -> list[tuple[str, str]]:
    """(format, precision) pairs to export for one model on one target."""
    if role == "teacher":
        return [(f, "fp32") for f in target.formats] if export_teacher else []
    return [(f, p) for f in target.formats for p in target.precisions]


def export_artifacts(
    recipe: Recipe,
    trained: list[Trained],
    data: Prepared,
    frontend: AudioFrontend,
    targets: list[TargetProfile],
    out: Path,
    log: Log,
) -> list[dict]:
    """Write every artifact and its sidecar; identical exports are made once and copied per target."""
    import torch

    from edgekd.export import EXPORTERS
    from edgekd.quantize.calibration import calibration_windows
    from edgekd.runtime.artifact import describe_io
    from edgekd.runtime.sidecar import write_sidecar
    from edgekd.versions import versions

    train = data.windows["train"]
    calibration = calibration_windows(train, recipe.export.calibration_windows, recipe.seed)
    n_cal = len(calibration)
    example = torch.from_numpy(train.x[:1].copy())
    made: dict[tuple[str, str, str], Path] = {}
    entries = []
    for target in targets:
        for t in trained:
            for fmt, precision in export_plan(target, t.role, recipe.export.teacher):
                name = f"{t.role}-{fmt}-{precision}"  # unique per format: each has its own sidecar
                path = out / "artifacts" / target.name / f"{name}.{fmt}"
                key = (t.role, fmt, precision)
                t0 = time.perf_counter()
                if key in made:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(made[key], path)
                else:
                    EXPORTERS.get(f"{fmt}-{precision}")(t.model, example, path, calibration)
                    made[key] = path
                io = describe_io(path)
                write_sidecar(
                    path,
                    {
                        "name": name,
                        "task": recipe.task,
                        "labels": data.classes,
                        "positive": data.positive,
                        "frontend": frontend.to_dict(),
                        "aggregation": "mean window probability per recording",
                        "format": fmt,
                        "precision": precision,
                        "target": target.name,
                        "backend": "litert-torch" if fmt == "tflite" else "torch.onnx+onnxruntime.quantization",
                        "model": {"name": t.spec.model, "role": t.role, "params": t.params, "macs": t.macs},
                        "calibration": {"windows": n_cal, "source": "training split, round-robin over recordings"} if precision == "int8" else None,
                        "input": io["input"],
                        "output": io["output"],
                        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "versions": versions(),
                    },
                )
                log(f"  {target.name}/{path.name}: {path.stat().st_size / 1024:.1f} KB ({time.perf_counter() - t0:.1f} s)")
                entries.append(
                    {"name": name, "role": t.role, "target": target.name, "format": fmt, "precision": precision, "file": path}
                )
    return entries


# ---------------------------------------------------------------- measurement
def operating_point(art, val, data: Prepared) -> float | None:
    """Choose a two-class artifact's threshold on the validation split and record it in its sidecar."""
    from edgekd.runtime.evaluate import recording_probabilities
    from edgekd.runtime.sidecar import read_sidecar, write_sidecar
    from edgekd.runtime.threshold import choose_threshold

    if len(data.classes) != 2 or data.positive is None:
        return None
    pos = data.classes.index(data.positive)
    ids, probs = recording_probabilities(art, val.x, val.rec)
    threshold = choose_threshold(probs[:, pos], val.y_rec[ids] == pos)
    meta = read_sidecar(art.path)
    meta["decision"] = {
        "positive": data.positive,
        "threshold": threshold,
        "rule": "recording is positive when its mean window probability of the positive class >= threshold",
        "chosen_on": f"validation split ({len(ids)} recordings), max MAcc, by running this artifact",
    }
    write_sidecar(art.path, meta)
    return threshold


def measure_artifacts(
    recipe: Recipe, entries: list[dict], data: Prepared, targets: list[TargetProfile], out: Path, log: Log
) -> list[dict]:
    """Accuracy on the test split, latency and audit of every artifact, by running the file."""
    from edgekd.audit import inspect_artifact
    from edgekd.runtime.artifact import load_artifact
    from edgekd.runtime.evaluate import evaluate_windows
    from edgekd.runtime.latency import measure_latency

    by_name = {t.name: t for t in targets}
    test, val = data.windows["test"], data.windows["val"]
    groups = [r.group for r in test.recordings]
    results = []
    for e in entries:
        target = by_name[e["target"]]
        art = load_artifact(e["file"], threads=target.threads)
        threshold = operating_point(art, val, data)
        metrics = evaluate_windows(art, test.x, test.rec, test.y_rec, data.classes, data.positive, groups, threshold)
        metrics["artifact"] = str(e["file"].relative_to(out))
        latency = measure_latency(
            art, runs=recipe.bench.runs, warmup=recipe.bench.warmup, max_seconds=recipe.bench.max_seconds
        )
        latency["artifact"] = metrics["artifact"]
        audit = inspect_artifact(e["file"])
        row = {
            "name": e["name"],
            "role": e["role"],
            "target": e["target"],
            "format": e["format"],
            "precision": e["precision"],
            "path": str(e["file"].relative_to(out)),
            "size_bytes": e["file"].stat().st_size,
            "metrics": metrics,
            "latency": latency,
            "audit": audit,
        }
        score = metrics.get("macc", metrics["balanced_accuracy"])
        log(
            f"  {e['target']}/{e['file'].name:22s} {row['size_bytes'] / 1024:8.1f} KB  "
            f"MAcc {score:.3f}  p50 {latency['p50_ms']:.3f} ms  ({art.runtime})"
        )
        results.append(row)
    return results


# ---------------------------------------------------------------- the whole run
def run(recipe: Recipe, recipe_path: str, out: Path, log: Log = default_log) -> dict:
    """Run the recipe end to end and write ``report.json`` / ``report.md`` into ``out``.

    Returns:
        The report (schema ``edgekd.report/1``).
    """
    from edgekd.report.budgets import apply_budgets, profile_budgets
    from edgekd.report.html import render_html
    from edgekd.report.markdown import render_markdown
    from edgekd.report.schema import build_report, write_report

    t0 = time.perf_counter()
    frontend, targets = check_recipe(recipe)
    out.mkdir(parents=True, exist_ok=True)
    log(f"[1/5] data: {recipe.data.path}")
    data = prepare_data(recipe, frontend, log)
    log(f"[2/5] teacher: {recipe.teacher.model}")
    teacher = train_role("teacher", recipe, data, frontend, out, log)
    log(f"[3/5] student: {recipe.student.model} ({recipe.student.loss.name} from the teacher)")
    student = train_role("student", recipe, data, frontend, out, log, teacher=teacher.model)
    for t in (teacher, student):
        log(f"  {t.role}: {t.params} params, {t.macs / 1e6:.2f} M MACs, torch test MAcc "
            f"{t.torch_metrics.get('macc', t.torch_metrics['balanced_accuracy']):.3f}")
    log(f"[4/5] export: {', '.join(t.name for t in targets)}")
    entries = export_artifacts(recipe, [teacher, student], data, frontend, targets, out, log)
    log("[5/5] measure the artifacts on the test split")
    artifacts = measure_artifacts(recipe, entries, data, targets, out, log)
    apply_budgets(artifacts, {t.name: profile_budgets(t) for t in targets})
    report = build_report(recipe, recipe_path, data, frontend, [teacher, student], artifacts, targets,
                          seconds=time.perf_counter() - t0)
    write_report(report, out)
    from edgekd.atomic import write_text

    write_text(out / "report.md", render_markdown(report))
    render_html(report, out)
    log(f"report: {out / 'report.json'} and {out / 'report.md'} ({time.perf_counter() - t0:.0f} s)")
    return report
