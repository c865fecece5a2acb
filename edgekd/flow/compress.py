"""``edgekd.compress``: the whole flow on your teacher, student and data, measured on the exported files.

distil (→ prune → recover) → quantization-aware fine-tuning where asked → export
per target → every artifact run on the test split (accuracy), timed with the
target's runner, audited → budgets → ``report.json``/``.md``/``.html``. Nothing
flows back up: each step takes the previous step's result. ``check_compress``
refuses impossible settings before any work (it is what ``compress`` runs first,
and what ``edgekd run`` runs before it reads the data).

Before any training (in seconds) every target is loaded and its runner checked (an ssh target's key and
known-hosts files); once the data is read, the teacher's outputs are checked against the class order
(``edgekd.api.checks.check_class_order``: a teacher trained with the classes in another order is refused,
naming ``classes=`` and the likely order; string labels are sorted by name unless ``classes=`` gives the
order). A teacher given as a file (``.onnx``/``.pt2``) is already an artifact: it is not re-exported as a
reference (a log line says so). ``threads=`` in ``train`` holds for the call only. As every verb: the model
worked on (the student) first, ``teacher=`` by keyword; ``compress(teacher, student, data)`` (the old order)
still works, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from edgekd.api.checks import (RunnerArg, check_class_order, check_teacher_classes, keeps_torch_threads,
                               resolve_targets)
from edgekd.api.datasets import Prepared, prepare
from edgekd.api.distilling import distill, objective_of, train_settings
from edgekd.api.inputs import as_model, is_folder, resolve_task
from edgekd.api.results import Compressed, Distilled
from edgekd.runners.options import BenchSpec
from edgekd.training.config import DistillSpec, LossSpec, Objective
from edgekd.errors import InputError, warn_deprecated
from edgekd.exporting.config import ExportSpec
from edgekd.pruning.config import PruneSpec
from edgekd.yamlconf import validate

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _typed(model: type, value: Any, where: str) -> Any:
    if value is None or isinstance(value, model):
        return value
    return validate(model, dict(value), where)


def check_compress(student: Any, *, task: Any, targets: Union[Any, Sequence[Any]], objective: Objective,
                   prune: Optional[PruneSpec], export: ExportSpec, calibrate: bool = False,
                   runner: RunnerArg = None) -> tuple[list, Any]:
    """Everything that can be checked before any data is read or any model trained.

    Checks every target (one name or a list) and its runner (with ``runner``'s override applied: the ssh
    key and known-hosts files, estimate coefficients), the student's loss and method, the QAT objective, each
    target's export plan (a backend for every format and precision, calibration methods, a mixed-precision
    budget), the release budgets, and the pruning settings against the student (an unreachable target,
    unknown layers).

    Returns:
        ``(target profiles as measured, runner override applied; pruning plan or None)``.

    Raises:
        InputError: naming the setting.
    """
    from edgekd.distillation.objective import check_objective
    from edgekd.exporting.stage import check_export_plan
    from edgekd.report.budgets import layered_budgets

    profiles = [p.model_copy(update={"backends": {**p.backends, **export.backends}}) if export.backends else p
                for p in resolve_targets(targets, runner)]  # export.backends pins a backend on every target
    check_objective(objective, where="student")
    check_objective(Objective(loss=export.qat_loss(objective.loss), distill=export.qat.distill), where="export.qat")
    names = [p.name for p in profiles]
    for name in export.budgets:
        if name not in names:
            raise InputError(f"export.budgets: {name!r} is not one of export.targets ({', '.join(names)})")
    for p in profiles:
        layered_budgets(p, export.budgets.get(p.name))
    check_export_plan(profiles, export.precisions, export.calibration.method,
                      lambda t: export.mixed.size_kb or t.budgets.size_kb,
                      accuracy_drop=lambda t: layered_budgets(t, export.budgets.get(t.name)).accuracy_drop_pp)
    plan = None
    if prune is not None:
        from edgekd.pruning.check import check_prune

        check_objective(prune.recover.for_student(objective), where="prune.recover")
        latency = prune.target.latency_p50_ms is not None
        probe = None
        if latency and calibrate:
            from edgekd.api.pruning import latency_probe

            probe = latency_probe(profiles[0])
        # the primary target (export.targets[0]) is the one pruning is for: its simd_width and its runner
        from edgekd.api.wiring import pruning_exporters

        plan = check_prune(prune, student, task.input_shape, calibrate=calibrate, target=profiles[0], probe=probe,
                           log=_stderr, exporters=pruning_exporters())
    return profiles, plan


@keeps_torch_threads
def compress(
    student: Any,
    data: Any = None,
    *legacy: Any,
    teacher: Any = None,
    targets: Union[Any, Sequence[Any]] = ("x86_64",),
    task: Any = None,
    classes: Optional[Sequence[str]] = None,
    positive: Optional[str] = None,
    split: Any = None,
    loss: Union[None, str, dict, LossSpec] = None,
    method: Union[None, str, dict, DistillSpec] = None,
    training: Optional[dict] = None,
    prune: Union[None, dict, PruneSpec] = None,
    export: Union[None, dict, ExportSpec] = None,
    bench: Union[None, dict, BenchSpec] = None,
    seed: int = 0,
    out: Union[str, Path] = "runs/compress",
    names: Optional[dict] = None,
    recipe: Optional[dict] = None,
    cache_dir: Optional[str] = ".cache/edgekd/features",
    resample: bool = False,
    log: Optional[Log] = None,
    runner: RunnerArg = None,
    train: Optional[dict] = None,
) -> Compressed:
    """Distil ``student`` from ``teacher`` on ``data``, prune, export for each target, and measure every file.

    Args:
        student: the student ``nn.Module`` (or ``.pt2`` program) to train.
        data: a labelled folder, one data set (arrays, a ``Dataset``) split item-wise here, the three splits
            ``{"train", "val", "test"}``, or a ``Prepared`` (``edgekd.prepare``).
        teacher: the trained teacher: an ``nn.Module``, a ``.onnx``/``.pt2`` file, or ``edgekd.distill``'s result.
        targets: one target or a list of profiles (names, paths or objects; ``edgekd targets`` lists them).
        task, classes, positive: the task, class names in the order of the teacher's outputs, positive class.
        split: ``{"train": .6, "val": .2, "test": .2, "seed": None, "keep_together_s": None}``.
        loss, method, training: the student's objective and trainer settings (``{"epochs": 30, ...}``, as in
            ``edgekd.distill``; ``train=`` is data in every verb, so the settings' old name ``train=`` is deprecated).
        prune: ``PruneSpec`` settings (``{"target": {"macs_ratio": 0.5}, ...}``) or None. export: ``ExportSpec``
            settings (``precisions``, ``calibration``, ``qat``, ``budgets``, ``teacher``, ``backends``, ``nncf``).
        bench: ``{"runs": 200, "warmup": 20, "max_seconds": 20}``. seed, out: the seed and the run folder.
        names, recipe, log: the models' names, the settings the report records, progress lines. runner: one for
            every target (``"estimate"``: an ``rpi4`` without the Pi) or ``{target: runner}``.

    Returns ``Compressed``: the report (every artifact measured, budget verdicts), folder, teacher and student.

    Example:
        >>> import numpy as np, torch, tempfile, edgekd
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(90, 1, 8, 8)).astype("float32"); y = (x[:, 0, :4].mean((1, 2)) > 0).astype(int)
        >>> net = lambda: torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
        ...                                   torch.nn.Linear(144, 2))
        >>> teacher = edgekd.distill(net(), train=(x[:60], y[:60]), val=(x[60:], y[60:]), epochs=2, log=lambda s: None)
        >>> run = edgekd.compress(net(), (x, y), teacher=teacher, export={"precisions": ["fp32"]},
        ...                       training={"epochs": 1}, bench={"runs": 5, "warmup": 1}, out=tempfile.mkdtemp(),
        ...                       log=lambda s: None)
        >>> sorted(a["name"] for a in run.artifacts)[:2]
        ['student-onnx-fp32', 'student-tflite-fp32']
    """
    student, data, teacher = _argument_order(student, data, legacy, teacher)
    training = _training_settings(training, train)
    t0, log, out = time.perf_counter(), log or _stderr, _folder(out)
    specs = _Specs(export=_typed(ExportSpec, export or {}, "export"), prune=_typed(PruneSpec, prune, "prune"),
                   bench=_typed(BenchSpec, bench or {}, "bench"),
                   train=train_settings(dict(training or {}), "training"),
                   objective=objective_of(loss, method, True, "student"))
    teacher_run = teacher if isinstance(teacher, Distilled) else None
    teacher_in = teacher.model if teacher_run is not None else teacher
    d, profiles = _data_and_checks(student, data, specs, targets, runner, task, classes, positive, split, seed,
                                   cache_dir, resample, log)
    teacher_m = _checked_teacher(teacher_in, teacher_run, d, classes is not None, seed)
    if _is_file_teacher(teacher_in, teacher_m) and specs.export.teacher:
        log(f"  teacher: {teacher_in} is a model file already: its fp32 reference artifacts are not exported "
            "(export.teacher off); the students' files are exported and measured")
        specs.export = specs.export.model_copy(update={"teacher": False})
    out.mkdir(parents=True, exist_ok=True)
    report, student_m = _train_export_measure(student, teacher_m, teacher_run, d, profiles, specs, seed, out,
                                              {"teacher": "teacher", "student": "student", **(names or {})},
                                              recipe, t0, log)
    return Compressed(report=report, out=out, teacher=teacher_m, student=student_m)


@dataclass
class _Specs:
    """``compress``'s typed settings."""

    export: ExportSpec
    prune: Optional[PruneSpec]
    bench: BenchSpec
    train: Any
    objective: Objective


def _folder(out: Union[str, Path]) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"out: {out} exists and is not a folder")
    return out


def _training_settings(training: Optional[dict], train: Optional[dict]) -> Optional[dict]:
    """``training=``; the trainer settings' old name ``train=`` (data, in every verb) still works, with a warning."""
    if train is None:
        return training
    if training is not None:
        raise InputError("compress: give the trainer settings once, as training={...} (train= is the old name)")
    import warnings

    warn_deprecated("compress(train={...}) is deprecated: the trainer settings are training={...} (train= is data in "
                  "every verb)")
    return train


def _argument_order(student: Any, data: Any, legacy: tuple, teacher: Any) -> tuple[Any, Any, Any]:
    """``(student, data, teacher)``; the old ``compress(teacher, student, data)`` still works, with a warning."""
    if not legacy:
        return student, data, teacher
    if len(legacy) > 1 or teacher is not None:
        raise InputError("compress: pass compress(student, data, teacher=...) (the model worked on first, the teacher "
                         "by keyword)")
    import warnings

    warn_deprecated("compress(teacher, student, data) is deprecated: use compress(student, data, teacher=teacher)")
    return data, legacy[0], student


def _data_and_checks(student: Any, data: Any, specs: _Specs, targets: Any, runner: RunnerArg, task: Any,
                     classes: Any, positive: Any, split: Any, seed: int, cache_dir: Any, resample: bool,
                     log: Log) -> tuple[Prepared, list]:
    """Every check that needs no data (before any data is read, when the task's input shape is known), then the
    prepared data."""
    prepared = data if isinstance(data, Prepared) else None
    task_obj = prepared.task if prepared is not None else resolve_task(task)
    try:
        shape_known = bool(task_obj.input_shape)
    except InputError:
        shape_known = False

    def read() -> Prepared:
        return prepare(data, task=task_obj, classes=classes, positive=positive, split=split, seed=seed,
                       cache_dir=cache_dir, resample=resample, log=log)

    if not shape_known:
        prepared = prepared or read()
        task_obj = prepared.task
    p = specs.prune
    profiles, _ = check_compress(student, task=task_obj, targets=targets, objective=specs.objective, prune=p,
                                 export=specs.export, runner=runner,
                                 calibrate=p is not None and (p.target.int8_kb is not None
                                                              or p.target.latency_p50_ms is not None))
    _log_runners(profiles, runner, specs.export.budgets, log)
    if prepared is None:
        log(f"[1/5] data: {data}")
        prepared = read()
    return prepared, profiles


def _train_export_measure(student: Any, teacher_m: Any, teacher_run: Any, d: Prepared, profiles: list,
                          specs: _Specs, seed: int, out: Path, names: dict, recipe: Optional[dict], t0: float,
                          log: Log) -> tuple[dict, Any]:
    """The student trained (and pruned), every artifact exported per target, measured, and the report written."""
    from edgekd.flow.steps import build_models_info, export_all, finish_report, run_qat

    objective = specs.objective
    log(f"[3/5] student: {names['student']} ({objective.loss.name} from the teacher"
        + (f", method {objective.distill.method})" if objective.distill else ")"))
    trained, student_m, reference, pruning = train_student(student, teacher_m, d, objective, specs.train, specs.prune,
                                                           seed, out, log, target=profiles[0])
    roles = [("teacher", teacher_m, teacher_run)]
    if reference is not None:  # the unpruned student: exported and measured beside the pruned one, never gated
        roles.append(("student-unpruned", reference, trained))
    roles.append(("student", student_m, trained))
    models = build_models_info(roles, d, names, objective, log=log)
    log(f"[4/5] export: {', '.join(p.name for p in profiles)}")
    qat = run_qat(roles, teacher_m, d, profiles, specs.export, objective, specs.train, seed, out, log)
    records = export_all(roles, d, profiles, specs.export, qat, seed, out, log)
    log("[5/5] measure the artifacts on the test split")
    report = finish_report(records, roles, d, profiles, specs.export, specs.bench, models, pruning, seed, out,
                           recipe, time.perf_counter() - t0, log)
    return report, student_m


def _checked_teacher(teacher: Any, run: Optional[Distilled], d: Prepared, given: bool, seed: int) -> Any:
    """The teacher as a module, checked against the data: output count, the classes it was trained with, and
    its agreement with the labels in this class order (``check_class_order``; ``prepare`` logged the order)."""
    teacher_m = as_model(teacher, "teacher", d.task, len(d.classes), eval_mode=True)
    check_teacher_classes(run.classes if run is not None else None, d.classes)
    check_class_order(teacher_m, d.windows["train"], d.classes, given=given, seed=seed)
    return teacher_m


def _is_file_teacher(given: Any, module: Any) -> bool:
    from edgekd.models.files import ExportedModule, OnnxTeacher

    return is_folder(given) or isinstance(module, (OnnxTeacher, ExportedModule))


def _log_runners(profiles: Sequence[Any], runner: RunnerArg, budgets: dict, log: Log) -> None:
    """One line per target whose runner ``runner=`` replaced, saying how the gate will take its latency."""
    if runner is None:
        return
    for p in profiles:
        allowed = (budgets.get(p.name) or {}).get("allow_estimated_latency", p.budgets.allow_estimated_latency)
        if p.runner.kind == "estimate" and not allowed:
            log(f"  {p.name}: latency estimated by the estimate runner (labelled estimated in the report); the gate "
                f"fails {p.name}'s latency budget on an estimate unless export={{'budgets': {{{p.name!r}: "
                "{'allow_estimated_latency': True}}}")
        elif p.runner.kind == "estimate":
            log(f"  {p.name}: latency estimated by the estimate runner (labelled estimated; the budgets accept it)")
        else:
            log(f"  {p.name}: measured with the {p.runner.kind} runner")


def train_student(student: Any, teacher: Any, d: Prepared, objective: Objective, train: Any,
                  prune: Optional[PruneSpec], seed: int, out: Path, log: Log,
                  stop: Optional[Callable[[int, float], bool]] = None,
                  target: Any = None) -> tuple[Distilled, Any, Any, Optional[dict]]:
    """The student steps of ``compress``: (prune →) distil (→ prune → recover), checkpoints under ``out``.

    ``edgekd sweep`` runs the same steps per trial, so a trial's recipe re-run by ``edgekd run`` makes the same
    student. ``stop`` is the distillation's per-epoch stopping rule (a sweep's pruner). ``target`` is the
    primary target profile (``export.targets[0]``): ``prune.round_to: auto`` and latency targets use it.

    Returns:
        ``(distillation result, student, unpruned student or None, pruning summary or None)``.
    """
    train_ws, val_ws = d.windows["train"], d.windows["val"]
    student_in, reference, pruning = student, None, None
    if prune is not None and prune.order == "prune-distill":
        from edgekd.api.pruning import prune as prune_verb

        first = prune_verb(as_model(student, "student", d.task, len(d.classes), eval_mode=False),
                           prune.target.model_dump(exclude_none=True), d.task.input_shape,
                           **_prune_args(prune), train=train_ws, task=d.task, classes=d.classes,
                           positive=d.positive, order="prune-distill", seed=seed,
                           workdir=out / "checkpoints" / "prune", log=lambda s: log(f"  [prune] {s}"),
                           target=target)
        student_in, reference, pruning = first.model, first.reference, first.summary
    trained = distill(
        student_in, teacher=teacher, train=train_ws, val=val_ws, task=d.task, classes=d.classes, positive=d.positive,
        loss=objective.loss, method=objective.distill, seed=seed, workdir=out / "checkpoints" / "student",
        log=lambda s: log(f"  [student] {s}"), stop=stop, **train.model_dump(),
    )
    student_m = trained.model
    if prune is not None and prune.order == "distill-prune-distill":
        from edgekd.api.pruning import prune as prune_verb

        log(f"[3b/5] prune: {prune.order}, target {prune.target.model_dump(exclude_none=True)}")
        done = prune_verb(student_m, prune.target.model_dump(exclude_none=True), d.task.input_shape,
                          **_prune_args(prune), train=train_ws, val=val_ws, teacher=teacher,
                          recover=prune.recover.for_student(objective).model_dump(), task=d.task, classes=d.classes,
                          positive=d.positive, seed=seed, workdir=out / "checkpoints" / "prune",
                          log=lambda s: log(f"  [prune] {s}"), target=target,
                          **train.model_dump(exclude={"epochs", "lr"}))
        reference, student_m, pruning = done.reference, done.model, done.summary
    elif prune is not None:
        log(f"[3b/5] prune: {prune.order}, target {prune.target.model_dump(exclude_none=True)}")
    return trained, student_m, reference, pruning


def _prune_args(spec: PruneSpec) -> dict:
    return {"importance": spec.importance, "scope": spec.scope, "steps": spec.schedule.steps,
            "ignore": spec.ignore, "min_channels": spec.min_channels, "gradient_batches": spec.gradient_batches,
            "round_to": spec.round_to}
