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
from types import SimpleNamespace
from typing import Callable

import numpy as np

from edgekd.errors import InputError
from edgekd.recipe import ModelSpec, Recipe
from edgekd.runtime.frontend import AudioFrontend
from edgekd.runtime.image import IMAGE_TASK
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
    from edgekd.runtime.frontends import build_frontend

    frontend = build_frontend(recipe.task, recipe.frontend)  # AudioFrontend or ImageFrontend
    targets = [load_target(t) for t in recipe.export.targets]
    from edgekd.distill.losses import needs_teacher
    from edgekd.distill.objective import check_objective
    from edgekd.models import MODELS

    for role in ("teacher", "student"):
        spec: ModelSpec = getattr(recipe, role)
        MODELS.get(spec.model)
        check_objective(spec, where=role)  # loss, distill method, their parameters and checkpoint files
        if role == "teacher" and needs_teacher(spec.loss.name):
            raise InputError(f"teacher.loss: {spec.loss.name!r} needs a teacher; train the teacher with 'ce'")
        if spec.checkpoint and not Path(spec.checkpoint).is_file():
            raise InputError(f"{role}.checkpoint: {spec.checkpoint}: file not found")
        if spec.train.epochs == 0 and not spec.checkpoint:
            raise InputError(f"{role}.train.epochs: 0 means 'use {role}.checkpoint as it is', but no checkpoint is set")
    # the other training steps take any method too: pruning recovery and QAT fine-tuning
    if recipe.prune is not None:
        check_objective(recipe.prune.recover, where="prune.recover")
    check_objective(SimpleNamespace(loss=qat_loss_spec(recipe), distill=recipe.export.qat.distill), where="export.qat")
    check_export(recipe, targets)
    if recipe.prune is not None:  # ignore names, schedule, reachable target: before any data or training
        from edgekd.prune.check import check_prune

        check_prune(recipe, frontend.input_shape)
    from edgekd.report.budgets import recipe_budgets

    for name in recipe.export.budgets:
        if name not in recipe.export.targets:
            raise InputError(f"export.budgets: {name!r} is not one of export.targets ({', '.join(recipe.export.targets)})")
    for target in targets:
        recipe_budgets(recipe, target)  # an unknown or bad budget key fails here, before any work
    if not Path(recipe.data.path).is_dir():
        raise InputError(f"data.path: {recipe.data.path}: folder not found")
    return frontend, targets


# ---------------------------------------------------------------- data
def prepare_data(recipe: Recipe, frontend: AudioFrontend, log: Log) -> Prepared:
    """List, validate, split (record-wise, stratified) and featurise the recordings."""
    from edgekd.data.features import FeatureCache, build_windows
    from edgekd.data.recordings import dataset_hash, list_recordings
    from edgekd.data.splits import stratified_split

    from edgekd.data.images import build_image_windows, list_images

    d = recipe.data
    image = recipe.task == IMAGE_TASK  # an image is a recording with exactly one window
    recs = list_images(d.path, d.classes) if image else list_recordings(d.path, d.classes)
    strata = ["|".join(r.label if k == "label" else r.group for k in d.stratify) for r in recs]
    split_seed = recipe.seed if d.split.seed is None else d.split.seed
    if image and d.split.keep_together_s:  # consecutive shots of one leaf never straddle train and test
        from edgekd.data.images import capture_bursts
        from edgekd.data.splits import grouped_stratified_split

        bursts = capture_bursts(recs, d.split.keep_together_s)
        idx = grouped_stratified_split(strata, bursts, d.split.fractions(), split_seed)
        log(f"  {len(set(bursts))} capture bursts (shots < {d.split.keep_together_s:g} s apart) kept in one split each")
    else:
        idx = stratified_split(strata, d.split.fractions(), split_seed)
    cache = FeatureCache(d.cache_dir)
    windows = {}
    for split, ids in idx.items():
        if not ids:
            raise InputError(f"data.split: the {split} split is empty; {len(recs)} recordings are too few")
        chosen = [recs[i] for i in ids]
        windows[split] = (
            build_image_windows(chosen, d.classes, frontend, cache, progress=sys.stderr.isatty()) if image else
            build_windows(chosen, d.classes, frontend, cache, resample=d.resample, progress=sys.stderr.isatty())
        )
    for split, ws in windows.items():
        log(f"  {split:5s}: {len(ws.recordings):4d} recordings, {len(ws.x):5d} windows")
    return Prepared(windows, recs, list(d.classes), d.positive, dataset_hash(recs))


# ---------------------------------------------------------------- training
def train_role(
    role: str, recipe: Recipe, data: Prepared, frontend: AudioFrontend, out: Path, log: Log, teacher=None,
    prepare: Callable | None = None,
) -> Trained:
    """Build and train (or load) the teacher or the student, then score it torch-side on the test split.

    ``prepare(model)``, if given, changes the built model in place before training (prune-distill prunes it).
    """
    import torch

    from edgekd.distill.objective import build_objective
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
    if prepare is not None:
        prepare(model)
    # the logit loss (class-weighted hard term), wrapped in the recipe's distillation method if it names one
    loss = build_objective(spec, data.windows["train"].y, len(data.classes), where=role)
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
            fingerprint_extra=f"{spec.model}|{spec.params}|{spec.loss}|{data.data_hash}{_augment_key(recipe)}",
            augment=training_augment(recipe, frontend),
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


def training_augment(recipe: Recipe, frontend):
    """The image task's training augmentation (None for audio: the trainer's SpecAugment applies).

    Every caller of ``train_model`` for this recipe (training, pruning recovery) should pass it as ``augment``.
    """
    if recipe.task != IMAGE_TASK:
        return None
    from edgekd.data.image_augment import ImageAugment, ImageAugmentSpec

    return ImageAugment(recipe.data.augment or ImageAugmentSpec(), frontend.mean, frontend.std)


def _augment_key(recipe: Recipe) -> str:
    """The augmentation settings, for the training fingerprint (empty for audio: unchanged fingerprints)."""
    if recipe.task != IMAGE_TASK:
        return ""
    from edgekd.data.image_augment import ImageAugmentSpec

    return "|" + (recipe.data.augment or ImageAugmentSpec()).model_dump_json()


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
def export_plan(
    target: TargetProfile, role: str, export_teacher: bool, precisions: list[str] | None = None
) -> list[tuple[str, str]]:
    """(format, precision) pairs to export for one model on one target.

    ``precisions`` (the recipe's ``export.precisions``) replaces the profile's list for the student.
    A precision only one of the target's formats has (``fp16``: TFLite; ``int4-weights``, ``mixed``:
    ONNX) is planned for that format only; one that none of them has stays in the plan, so that
    ``check_export`` refuses it with the list of what is possible.
    """
    from edgekd.export.backends import producible

    if role == "teacher":
        return [(f, "fp32") for f in target.formats] if export_teacher else []
    wanted = precisions or target.precisions
    return [(f, p) for f in target.formats for p in wanted
            if producible(f, p) or not any(producible(g, p) for g in target.formats)]


def plan_backend(target: TargetProfile, fmt: str, precision: str):
    """The export backend of one (format, precision) on ``target`` (its ``backends`` pin, ``fully_integer``)."""
    from edgekd.export.backends import choose_backend

    return choose_backend(fmt, precision, pinned=target.backends.get(fmt), fully_integer=target.fully_integer,
                          where=f"target {target.name!r} ({target.source})")


def mixed_budget_kb(recipe: Recipe, target: TargetProfile) -> float | None:
    """The size budget a ``mixed`` artifact must meet: ``export.mixed.size_kb``, else the target's ``size_kb``."""
    return recipe.export.mixed.size_kb or target.budgets.size_kb


def check_export(recipe: Recipe, targets: list[TargetProfile]) -> None:
    """Before any work: every (format, precision) has a backend, calibration methods exist, mixed has a budget."""
    from edgekd.export.backends import INTEGER_PRECISIONS
    from edgekd.export.context import ExportContext

    ctx = ExportContext(calibration_method=recipe.export.calibration.method)
    for target in targets:
        for fmt, precision in export_plan(target, "student", False, recipe.export.precisions):
            backend = plan_backend(target, fmt, precision)
            if precision in INTEGER_PRECISIONS:
                ctx.method_for(backend.name, backend.calibration_methods)
            if precision == "mixed" and mixed_budget_kb(recipe, target) is None:
                raise InputError(f"target {target.name!r} asks for mixed precision, which needs a size budget: "
                                 "set export.mixed.size_kb or the target's budgets.size_kb")


def export_context(recipe: Recipe, trained: list[Trained], data: Prepared, out: Path, log: Log):
    """The exporters' context: calibration method, validation windows (mixed precision) and the QAT job."""
    from edgekd.distill.trainer import recording_metrics, score_of
    from edgekd.export.context import ExportContext, Validation

    val = data.windows["val"]
    teacher = next((t.model for t in trained if t.role == "teacher"), None)

    def score(logits: np.ndarray) -> float:
        return score_of(recording_metrics(logits, val, data.classes, data.positive))

    return ExportContext(
        calibration_method=recipe.export.calibration.method,
        validation=Validation(val.x, score),
        qat=lambda model: qat_job(recipe, data, model, teacher, out, log),
        work_dir=out,
        log=log,
    )


def qat_loss_spec(recipe: Recipe):
    """The QAT fine-tuning loss: ``export.qat.loss``, else the student's when it is kd, else kd (T=4, alpha=0.5)."""
    from edgekd.recipe import LossSpec

    student_loss = recipe.student.loss
    return recipe.export.qat.loss or (student_loss if student_loss.name == "kd" else
                                      LossSpec(name="kd", params={"temperature": 4.0, "alpha": 0.5}))


def qat_job(recipe: Recipe, data: Prepared, model, teacher, out: Path, log: Log):
    """Quantization-aware fine-tuning of ``model`` with KD from ``teacher`` (the recipe's ``export.qat``)."""
    import torch

    from edgekd.distill.objective import build_objective
    from edgekd.distill.trainer import TrainConfig
    from edgekd.quantize.qat import qat_finetune

    spec = recipe.export.qat
    loss = qat_loss_spec(recipe)
    objective = build_objective(SimpleNamespace(loss=loss, distill=spec.distill), data.windows["train"].y,
                                len(data.classes), where="export.qat")
    settings = recipe.student.train.model_dump()
    settings.update(epochs=spec.epochs, lr=spec.lr, patience=spec.patience,
                    batch_size=spec.batch_size or settings["batch_size"])
    cfg = TrainConfig(**{k: v for k, v in settings.items() if k in TrainConfig.__dataclass_fields__})
    log(f"  QAT: {spec.epochs} epochs of fake-quantized fine-tuning ({loss.name} from the teacher, lr {spec.lr})")
    train = data.windows["train"]
    return qat_finetune(
        model, example=torch.from_numpy(train.x[:2].copy()), train=train, val=data.windows["val"],
        loss_fn=objective,
        teacher=teacher if loss.name != "ce" else None, labels=data.classes, positive=data.positive,
        cfg=cfg, seed=recipe.seed,
        checkpoint_dir=out / "checkpoints" / f"qat-{type(model).__name__}-{sum(p.numel() for p in model.parameters())}", log=lambda s: log(f"  [qat] {s}"),
    )


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

    from edgekd.export.backends import INTEGER_PRECISIONS
    from edgekd.quantize.calibration import calibration_windows
    from edgekd.runtime.artifact import describe_io
    from edgekd.runtime.sidecar import write_sidecar
    from edgekd.versions import versions

    train = data.windows["train"]
    calibration = calibration_windows(
        train, recipe.export.calibration.windows or recipe.export.calibration_windows, recipe.seed
    )
    n_cal = len(calibration)
    example = torch.from_numpy(train.x[:1].copy())
    context = export_context(recipe, trained, data, out, log)
    made: dict[tuple, Path] = {}
    entries = []
    for target in targets:
        for t in trained:
            for fmt, precision in export_plan(target, t.role, recipe.export.teacher, recipe.export.precisions):
                name = f"{t.role}-{fmt}-{precision}"  # unique per format: each has its own sidecar
                path = out / "artifacts" / target.name / f"{name}.{fmt}"
                backend = plan_backend(target, fmt, precision)
                mixed_kb = mixed_budget_kb(recipe, target) if precision == "mixed" else None
                key = (t.role, fmt, precision, backend.name, mixed_kb)
                t0 = time.perf_counter()
                if key in made:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(made[key], path)
                    context.details[str(path)] = context.details.get(str(made[key]), {})
                else:
                    context.mixed_size_kb = mixed_kb
                    backend.exporters[precision](t.model, example, path, calibration, context=context)
                    made[key] = path
                details = context.details.get(str(path), {})
                if precision == "int8-qat":
                    qat = context.qat_model(t.model).result
                    details = {**details, "qat": {"epochs_run": qat.epochs_run, "best_epoch": qat.best_epoch,
                                                  "best_val_score": qat.best_score, **recipe.export.qat.model_dump(
                                                      exclude={"loss"})}}
                calibrated = precision in INTEGER_PRECISIONS
                io = describe_io(path)
                write_sidecar(
                    path,
                    {
                        "name": name,
                        "task": recipe.task,
                        "labels": data.classes,
                        "positive": data.positive,
                        "frontend": frontend.to_dict(),
                        "aggregation": "one window per image" if recipe.task == IMAGE_TASK
                        else "mean window probability per recording",
                        "format": fmt,
                        "precision": precision,
                        "target": target.name,
                        "backend": backend.name,
                        "model": {"name": t.spec.model, "role": t.role, "params": t.params, "macs": t.macs},
                        "calibration": {
                            "windows": n_cal,
                            "method": context.method_for(backend.name, backend.calibration_methods),
                            "source": "training split, round-robin over recordings",
                        } if calibrated else None,
                        **details,
                        "input": io["input"],
                        "output": io["output"],
                        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "versions": versions(),
                    },
                )
                log(f"  {target.name}/{path.name}: {path.stat().st_size / 1024:.1f} KB ({time.perf_counter() - t0:.1f} s)")
                entries.append(
                    {"name": name, "role": t.role, "target": target.name, "format": fmt, "precision": precision,
                     "file": path, "backend": backend.name, "fully_integer_required": target.fully_integer,
                     **({"mixed": {k: v for k, v in details["mixed"].items() if k != "sensitivity"}}
                        if "mixed" in details else {}),
                     **({"qat": details["qat"]} if "qat" in details else {})}
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
    recipe: Recipe, entries: list[dict], data: Prepared, targets: list[TargetProfile], out: Path, log: Log,
    models: dict | None = None,
) -> list[dict]:
    """Accuracy on the test split, latency and audit of every artifact, by running the file.

    ``models`` (role → fp32 torch model) adds each artifact's ``parity`` with its torch model on the test windows.
    """
    from edgekd.audit import inspect_artifact
    from edgekd.audit.parity import parity
    from edgekd.distill.trainer import predict_logits
    from edgekd.runtime.artifact import load_artifact
    from edgekd.runtime.evaluate import evaluate_windows
    from edgekd.runtime.latency import measure_latency

    by_name = {t.name: t for t in targets}
    test, val = data.windows["test"], data.windows["val"]
    groups = [r.group for r in test.recordings]
    reference = {role: predict_logits(m, test.x) for role, m in (models or {}).items()}
    results = []
    for e in entries:
        target = by_name[e["target"]]
        art = load_artifact(e["file"], threads=target.threads)
        threshold = operating_point(art, val, data)
        metrics = evaluate_windows(art, test.x, test.rec, test.y_rec, data.classes, data.positive, groups, threshold)
        metrics["artifact"] = str(e["file"].relative_to(out))
        if target.runner.kind == "local":
            latency = measure_latency(
                art, runs=recipe.bench.runs, warmup=recipe.bench.warmup, max_seconds=recipe.bench.max_seconds
            )
        else:  # the target's own runner (ssh device, emulated, estimate): labelled by it, never passed as local
            from edgekd.bench.options import BenchOptions
            from edgekd.bench.registry import run_bench

            latency = run_bench(e["file"], target, BenchOptions(
                runs=recipe.bench.runs, warmup=recipe.bench.warmup, max_seconds=recipe.bench.max_seconds))
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
        for key in ("backend", "fully_integer_required", "mixed", "qat"):
            if key in e:
                row[key] = e[key]
        if e["role"] in reference:
            row["parity"] = parity(reference[e["role"]], art.predict(test.x))
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
    from edgekd.report.budgets import apply_budgets, recipe_budgets
    from edgekd.report.html import render_html
    from edgekd.report.markdown import render_markdown
    from edgekd.report.schema import build_report, write_report

    t0 = time.perf_counter()
    frontend, targets = check_recipe(recipe)
    prune_plan = None
    if recipe.prune is not None:  # an int8-size target is calibrated on one export here, before any training
        from edgekd.prune.check import check_prune

        prune_plan = check_prune(recipe, frontend.input_shape, calibrate=recipe.prune.target.int8_kb is not None)
    out.mkdir(parents=True, exist_ok=True)
    log(f"[1/5] data: {recipe.data.path}")
    data = prepare_data(recipe, frontend, log)
    log(f"[2/5] teacher: {recipe.teacher.model}")
    teacher = train_role("teacher", recipe, data, frontend, out, log)
    method = f", method {recipe.student.distill.method}" if recipe.student.distill else ""
    log(f"[3/5] student: {recipe.student.model} ({recipe.student.loss.name} from the teacher{method})")
    prune_init, pruning = None, None
    if recipe.prune is not None:
        from edgekd.prune import stage as prune_stage

        if recipe.prune.order == "prune-distill":
            prune_init = prune_stage.prune_initialised(recipe, prune_plan, data, frontend, out, log)
    student = train_role("student", recipe, data, frontend, out, log, teacher=teacher.model,
                         prepare=prune_init[0] if prune_init else None)
    trained = [teacher, student]
    if recipe.prune is not None:
        log(f"[3b/5] prune: {recipe.prune.order}, target {recipe.prune.target.model_dump(exclude_none=True)}")
        if prune_init:
            reference, pruning = prune_stage.unpruned_reference(recipe, prune_plan, data, frontend, student, prune_init[1])
        else:
            reference, student, pruning = prune_stage.prune_trained(recipe, prune_plan, data, frontend, student,
                                                                    teacher, out, log)
        trained = [teacher, reference, student]
    for t in trained:
        log(f"  {t.role}: {t.params} params, {t.macs / 1e6:.2f} M MACs, torch test MAcc "
            f"{t.torch_metrics.get('macc', t.torch_metrics['balanced_accuracy']):.3f}")
    log(f"[4/5] export: {', '.join(t.name for t in targets)}")
    entries = export_artifacts(recipe, trained, data, frontend, targets, out, log)
    log("[5/5] measure the artifacts on the test split")
    artifacts = measure_artifacts(recipe, entries, data, targets, out, log,
                                  models={t.role: t.model for t in trained})
    apply_budgets(artifacts, {t.name: recipe_budgets(recipe, t) for t in targets})
    report = build_report(recipe, recipe_path, data, frontend, trained, artifacts, targets,
                          seconds=time.perf_counter() - t0)
    if pruning is not None:  # before/after figures: the unpruned student's artifacts beside the pruned one's
        from edgekd.report.pruning import pruning_section

        report["pruning"] = pruning_section(pruning, artifacts)
    write_report(report, out)
    from edgekd.atomic import write_text

    write_text(out / "report.md", render_markdown(report))
    render_html(report, out)
    log(f"report: {out / 'report.json'} and {out / 'report.md'} ({time.perf_counter() - t0:.0f} s)")
    return report
