"""``edgekd.distill``: train a student from a teacher (or alone) on your data, with validation-based selection."""

from __future__ import annotations

import contextlib
import copy
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from edgekd.api.checks import check_class_order, keeps_torch_threads, sorted_order_note
from edgekd.api.datasets import split_of, train_and_val, with_prepared
from edgekd.api.inputs import as_model, as_windows, left_as_it_was, resolve_task
from edgekd.api.results import Distilled
from edgekd.training.config import DistillSpec, LossSpec, Objective, TrainSpec
from edgekd.errors import InputError, warn_deprecated
from edgekd.yamlconf import validate

LossArg = Union[None, str, dict, LossSpec]
MethodArg = Union[None, str, dict, DistillSpec]


def _log_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def objective_of(loss: LossArg, method: MethodArg, has_teacher: bool, where: str = "distill") -> Objective:
    """The typed objective from the API's ``loss=`` and ``method=`` arguments.

    ``loss``: a registered loss name (``"kd"``), ``{"name": ..., "params": {...}}`` or a ``LossSpec``;
    default ``kd`` (T=4, alpha=0.1) with a teacher, ``ce`` without. ``method``: a registered
    distillation method name (``"mixup"``), ``{"method": ..., "params": {...}}``, or None (logit KD).
    """
    if loss is None:
        loss = {"name": "kd", "params": {"temperature": 4.0, "alpha": 0.1}} if has_teacher else {"name": "ce"}
    if isinstance(loss, str):
        loss = {"name": loss}
    if isinstance(method, str):
        method = {"method": method}
    tree = {"loss": loss.model_dump() if isinstance(loss, LossSpec) else loss,
            "distill": method.model_dump() if isinstance(method, DistillSpec) else method}
    return validate(Objective, tree, where)


def train_settings(settings: dict[str, Any], where: str = "distill") -> TrainSpec:
    """``TrainSpec`` from keyword settings (``epochs=``, ``lr=``, ...); an unknown one fails, naming it."""
    return validate(TrainSpec, settings, where)


@keeps_torch_threads
def distill(student: Any, *positional: Any, teacher: Any = None, train: Any = None, val: Any = None,
            data: Any = None, task: Any = None, classes: Optional[Sequence[str]] = None, positive: Optional[str] = None,
            loss: LossArg = None, method: MethodArg = None, seed: int = 0, workdir: Optional[Union[str, Path]] = None,
            cache_dir: Optional[str] = ".cache/edgekd/features", log: Optional[Callable[[str], None]] = None,
            stop: Optional[Callable[[int, float], bool]] = None, **settings: Any) -> Distilled:
    """Train a copy of ``student`` to match ``teacher`` on ``train``, selecting its weights on ``val``.

    API rules: the model worked on comes first, ``teacher=`` and the data by keyword (``distill(student, teacher,
    train, val)`` still works, with a DeprecationWarning); the caller's ``student`` is never changed: a deep copy
    is trained and returned as ``.model``. A ``Prepared`` (``edgekd.prepare``) as ``train=`` (or ``data=``) gives
    the train and val splits, the task, the classes and the positive class. Knowledge distillation with any
    registered loss (``kd``, ``dkd``, ``ce``) and method (``mixup``, ``feature``, ``multi_teacher``, ...); without a
    teacher it is plain training. The teacher may be a module or a file (ONNX, ``.pt2``). Validation scores items
    after aggregating their windows, as on the device; the best smoothed epoch's weights are kept; checkpoints in
    ``workdir`` make a re-run resume. Output ``i`` of both models is class ``classes[i]`` (string labels sorted
    by name unless given); a teacher that fits another class order far better is refused before training
    (``edgekd.api.checks.check_class_order``), naming ``classes=``. ``threads=`` holds for this call only.

    Args:
        student: the ``nn.Module`` to train (a copy is trained), or a ``.pt2`` program.
        teacher: a frozen ``nn.Module`` in eval mode, a ``.onnx``/``.pt2`` file, or None.
        train, val: a labelled folder, ``(x, y)`` arrays, a torch ``Dataset``, a ``WindowSet`` or a ``Prepared``
            (``train=`` a ``Prepared`` also gives ``val``). data: a ``Prepared``, the same as ``train=data``.
        task: a task name or object (default: the ``Prepared``'s, else ``tensor-classification``).
        classes: class names in output order (the teacher's; default: the ``Prepared``'s, or from the labels).
        positive: for two classes, the positive class (selection then uses MAcc).
        loss, method: see ``objective_of``. seed: shuffling, augmentation and mixing.
        workdir: checkpoints (``last.pt`` to resume, ``best.pt``); default a temporary folder.
        cache_dir: front-end feature cache for folders (None: no cache). log: one line per epoch (default stderr).
        stop: a stopping rule ``(epoch, val score) -> bool`` asked after every epoch (a search's pruner).
        **settings: ``TrainSpec``: ``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``patience``, ``smooth``,
            ``augment``, ``consistent_teacher``, ``threads`` (default 2), ``balance``, ``epoch_windows``,
            ``select``, ``backbone_lr`` and ``freeze_epochs`` (fine-tuning a pretrained model).

    Returns:
        ``Distilled``: the trained copy, the chosen epoch and its validation metrics.

    Raises:
        InputError: data or models that do not fit each other, an unknown setting, loss or method.

    Example:
        >>> import numpy as np, torch, edgekd
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(64, 1, 8, 8)).astype("float32"); y = (x.mean((1, 2, 3)) > 0).astype(int)
        >>> teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)).eval()
        >>> student = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
        >>> out = edgekd.distill(student, teacher=teacher, train=(x[:48], y[:48]), val=(x[48:], y[48:]), epochs=2,
        ...                      log=lambda s: None)
        >>> out.epochs_run, out.classes, out.model is student         # student itself is left as it was
        (2, ['0', '1'], False)
    """
    given = classes is not None
    teacher, train, val = _positional(positional, teacher, train, val)
    train, val, task, classes, positive = _data_args(data, train, val, task, classes, positive)
    log = log or _log_to_stderr
    spec = train_settings(settings)
    run = _checked_inputs(student, teacher, train, val, task=task, classes=classes, positive=positive, loss=loss,
                          method=method, given=given, seed=seed, cache_dir=cache_dir, log=log)
    with left_as_it_was(teacher):  # the trainer freezes the teacher it is given: the caller's gets its flags back
        result = _train(run, spec, seed=seed, workdir=workdir, log=log, stop=stop)
    return _distilled(run, result, epochs=spec.epochs)


def _positional(args: tuple, teacher: Any, train: Any, val: Any) -> tuple[Any, Any, Any]:
    """``(teacher, train, val)``, from the deprecated spelling ``distill(student, teacher, train, val)`` too."""
    if not args:
        return teacher, train, val
    if len(args) > 3:
        raise TypeError(f"distill() takes the student and at most 3 more positional arguments ({1 + len(args)} given)")
    values = {"teacher": teacher, "train": train, "val": val}
    for name, value in zip(values, args):
        if values[name] is not None:
            raise TypeError(f"distill() got multiple values for argument {name!r}")
        values[name] = value
    warn_deprecated("edgekd.distill(student, teacher, train, val) with the teacher and data by position is deprecated: "
                  "pass distill(student, teacher=..., train=..., val=...)")
    return values["teacher"], values["train"], values["val"]


def _data_args(data: Any, train: Any, val: Any, task: Any, classes: Optional[Sequence[str]],
               positive: Optional[str]) -> tuple[Any, Any, Any, Optional[list[str]], Optional[str]]:
    """``(train, val, task, classes, positive)``: a ``Prepared`` given as ``data=`` or ``train=`` fills what is
    not given (its train and val splits, task, classes and positive class)."""
    train, val = train_and_val(data, train, val)
    task, classes, positive = with_prepared(train, val, task=task, classes=classes, positive=positive)
    return split_of(train, "train"), split_of(val, "val"), task, classes, positive


@dataclass
class _Inputs:
    """What ``distill`` trains with, every input checked."""

    train: Any
    val: Any
    task: Any
    names: list[str]
    positive: Optional[str]
    objective: Objective
    student: Any
    teacher: Any


def _checked_inputs(student: Any, teacher: Any, train: Any, val: Any, *, task: Any, classes: Optional[list[str]],
                    positive: Optional[str], loss: LossArg, method: MethodArg, given: bool, seed: int,
                    cache_dir: Optional[str], log: Callable[[str], None]) -> _Inputs:
    """Data, objective and models checked against each other before any training; the student as a copy."""
    from edgekd.training.losses import needs_teacher

    task_obj = resolve_task(task)
    train_ws, task_obj, names = as_windows(train, task_obj, classes, where="train", cache_dir=cache_dir)
    if val is None:
        raise InputError("val: validation data is needed (it selects the epoch and stops training early)")
    val_ws, task_obj, names = as_windows(val, task_obj, names, where="val", cache_dir=cache_dir)
    if positive is not None and positive not in names:
        raise InputError(f"positive: {positive!r} is not one of the classes ({', '.join(names)})")
    objective = objective_of(loss, method, teacher is not None)
    if teacher is None and objective.distill is None and needs_teacher(objective.loss.name):
        raise InputError(f"loss {objective.loss.name!r} needs a teacher; pass teacher=, or loss='ce' to train "
                         "without one")
    student_m = as_model(student, "student", task_obj, len(names), eval_mode=False)
    teacher_m = as_model(teacher, "teacher", task_obj, len(names), eval_mode=True) if teacher is not None else None
    if teacher_m is not None:
        note = sorted_order_note(names, given or getattr(train, "classes", None) is not None)
        if note:
            log(note)
        check_class_order(teacher_m, train_ws, names, given=given, seed=seed)
    return _Inputs(train_ws, val_ws, task_obj, names, positive, objective, _copy_of(student_m, student), teacher_m)


def _copy_of(module: Any, given: Any) -> Any:
    """The module to train: a deep copy of the caller's (a module loaded from a file is already new)."""
    if module is not given:
        return module
    try:
        return copy.deepcopy(module)
    except Exception as exc:  # the user's module: anything that cannot be copied
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"student: edgekd trains a copy and leaves your module as it is, but copy.deepcopy failed "
                         f"on it ({first}); make the module deep-copyable (no open files, locks or generators "
                         "as attributes)") from None


def _train(run: _Inputs, spec: TrainSpec, *, seed: int, workdir: Optional[Union[str, Path]],
           log: Callable[[str], None], stop: Optional[Callable[[int, float], bool]]) -> Any:
    """Train ``run.student`` (the copy) in ``workdir`` (default: a temporary folder)."""
    from edgekd.distillation.objective import build_objective
    from edgekd.training.trainer import TrainResult, train_model

    fn = build_objective(run.objective, run.train.y, len(run.names), where="distill")
    if spec.epochs == 0:  # the model as it is, scored on validation
        return TrainResult(best_epoch=0, best_score=-1.0, epochs_run=0, resumed_from=0)
    from edgekd.atomic import temp_dir

    with contextlib.ExitStack() as stack:  # checkpoints in a scratch folder a killed run's successor clears
        ckpt = Path(workdir) if workdir is not None else stack.enter_context(temp_dir("distill"))
        return train_model(
            run.student, run.train, run.val, fn, labels=run.names, positive=run.positive, cfg=spec.trainer_config(),
            seed=seed, checkpoint_dir=ckpt, teacher=run.teacher,
            log=log, fingerprint_extra=f"{type(run.student).__name__}|{run.objective.model_dump_json()}|"
                                       f"{run.task.fingerprint()}|{run.names}",
            augment=run.task.augmentation() if spec.augment else None, aggregation=run.task.aggregation, stop=stop,
        )


def _distilled(run: _Inputs, result: Any, *, epochs: int) -> Distilled:
    """The result: the trained copy in eval mode, scored on validation."""
    from edgekd.models.inference import predict_logits
    from edgekd.training.trainer import recording_metrics

    run.student.eval()
    val_metrics = recording_metrics(predict_logits(run.student, run.val.x), run.val, run.names, run.positive,
                                    run.task.aggregation)
    if epochs == 0:
        from edgekd.runtime.scoring import score_of

        result.best_score = score_of(val_metrics)
    return Distilled(model=run.student, classes=run.names, task=run.task.name, best_epoch=result.best_epoch,
                     best_score=result.best_score, epochs_run=result.epochs_run, resumed_from=result.resumed_from,
                     val_metrics=val_metrics, history=result.history, seconds=result.seconds,
                     loss={"name": run.objective.loss.name, **run.objective.loss.params})
