"""``edgekd.distill``: train a student from a teacher (or alone) on your data, with validation-based selection."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from edgekd.api.checks import check_class_order, keeps_torch_threads, sorted_order_note
from edgekd.api.inputs import as_model, as_windows, resolve_task
from edgekd.api.results import Distilled
from edgekd.distillation.config import DistillSpec, LossSpec, Objective, TrainSpec
from edgekd.errors import InputError
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
def distill(
    student: Any,
    teacher: Any = None,
    train: Any = None,
    val: Any = None,
    *,
    task: Any = None,
    classes: Optional[Sequence[str]] = None,
    positive: Optional[str] = None,
    loss: LossArg = None,
    method: MethodArg = None,
    seed: int = 0,
    workdir: Optional[Union[str, Path]] = None,
    cache_dir: Optional[str] = ".cache/edgekd/features",
    log: Optional[Callable[[str], None]] = None,
    stop: Optional[Callable[[int, float], bool]] = None,
    **settings: Any,
) -> Distilled:
    """Train ``student`` to match ``teacher`` on ``train``, selecting its weights on ``val``.

    Knowledge distillation with any registered loss (``kd``, ``dkd``, ``ce``) and method
    (``mixup``, ``feature``, ``multi_teacher``, ...); without a teacher it is plain training.
    The teacher may be a module or a file (an ONNX model run by ONNX Runtime, a ``.pt2``
    program), so a teacher trained in another framework works. Validation scores items
    (recordings, photos) after aggregating their windows, as on the device; the best smoothed
    epoch's weights are kept. Checkpoints in ``workdir`` make a re-run resume.

    Class order: output ``i`` of both models is class ``classes[i]``. String labels are sorted by name
    unless ``classes=`` gives the order (a log line shows it). Before training, a teacher must give one
    output per class and agree with the labels in this order: a teacher that fits another order far better
    (``edgekd.api.checks.check_class_order``: at least 30 points more agreement on up to 256 training
    examples, and at most half as much in this order) is refused with an ``InputError`` naming ``classes=``
    and the likely order. ``threads=`` holds for this call only: torch's thread count is restored afterwards.

    Args:
        student: the ``nn.Module`` to train (in place), or a ``.pt2`` program.
        teacher: a frozen ``nn.Module`` in eval mode, a ``.onnx``/``.pt2`` file, or None.
        train, val: data: a labelled folder, ``(x, y)`` arrays, a torch ``Dataset`` or a ``WindowSet``.
        task: a task name or object (default: ``tensor-classification``, inputs used as they are).
        classes: class names in output order, i.e. the order of the teacher's outputs (default: from the data:
            sorted names, or ``"0"``, ``"1"``, ... for index labels).
        positive: for two classes, the positive class (selection then uses MAcc).
        loss, method: see ``objective_of``.
        seed: shuffling, augmentation and mixing.
        workdir: checkpoints (``last.pt`` to resume, ``best.pt``); default a temporary folder.
        cache_dir: front-end feature cache for folders (None: no cache).
        log: one line per epoch (default: stderr).
        stop: a stopping rule ``(epoch, val score) -> bool`` asked after every epoch (a search's pruner).
        **settings: trainer settings of ``TrainSpec``: ``epochs``, ``batch_size``, ``lr``,
            ``weight_decay``, ``patience``, ``smooth``, ``augment``, ``consistent_teacher``, ``threads`` (default 2),
            ``balance``, ``epoch_windows``, ``select``, and for a pretrained model ``backbone_lr`` (the pretrained
            tensors' share of ``lr``) and ``freeze_epochs`` (epochs that train only the new classifier first).

    Returns:
        ``Distilled``: the trained model, the chosen epoch and its validation metrics.

    Raises:
        InputError: data or models that do not fit each other, an unknown setting, loss or method.

    Example:
        >>> import numpy as np, torch, edgekd
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(64, 1, 8, 8)).astype("float32"); y = (x.mean((1, 2, 3)) > 0).astype(int)
        >>> teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)).eval()
        >>> student = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
        >>> out = edgekd.distill(student, teacher, (x[:48], y[:48]), (x[48:], y[48:]), epochs=2, log=lambda s: None)
        >>> out.epochs_run, out.classes
        (2, ['0', '1'])
    """
    from edgekd.distillation.objective import build_objective
    from edgekd.distillation.trainer import TrainResult, recording_metrics, train_model
    from edgekd.models.inference import predict_logits

    log = log or _log_to_stderr
    spec = train_settings(settings)
    task_obj = resolve_task(task)
    train_ws, task_obj, names = as_windows(train, task_obj, classes, where="train", cache_dir=cache_dir)
    if val is None:
        raise InputError("val: validation data is needed (it selects the epoch and stops training early)")
    val_ws, task_obj, names = as_windows(val, task_obj, names, where="val", cache_dir=cache_dir)
    if positive is not None and positive not in names:
        raise InputError(f"positive: {positive!r} is not one of the classes ({', '.join(names)})")
    objective = objective_of(loss, method, teacher is not None)
    from edgekd.distillation.losses import needs_teacher

    if teacher is None and objective.distill is None and needs_teacher(objective.loss.name):
        raise InputError(f"loss {objective.loss.name!r} needs a teacher; pass teacher=, or loss='ce' to train "
                         "without one")
    student_m = as_model(student, "student", task_obj, len(names), eval_mode=False)
    teacher_m = as_model(teacher, "teacher", task_obj, len(names), eval_mode=True) if teacher is not None else None
    if teacher_m is not None:
        note = sorted_order_note(names, classes is not None or getattr(train, "classes", None) is not None)
        if note:
            log(note)
        check_class_order(teacher_m, train_ws, names, given=classes is not None, seed=seed)
    fn = build_objective(objective, train_ws.y, len(names), where="distill")
    if spec.epochs == 0:  # the model as it is, scored on validation
        result = TrainResult(best_epoch=0, best_score=-1.0, epochs_run=0, resumed_from=0)
    else:
        tmp = None if workdir is not None else tempfile.TemporaryDirectory(prefix="edgekd-distill-")
        try:
            result = train_model(
                student_m, train_ws, val_ws, fn, labels=names, positive=positive, cfg=spec.trainer_config(),
                seed=seed, checkpoint_dir=Path(workdir if workdir is not None else tmp.name), teacher=teacher_m,
                log=log, fingerprint_extra=f"{type(student_m).__name__}|{objective.model_dump_json()}|"
                                           f"{task_obj.fingerprint()}|{names}",
                augment=task_obj.augmentation() if spec.augment else None, aggregation=task_obj.aggregation,
                stop=stop,
            )
        finally:
            if tmp is not None:
                tmp.cleanup()
    student_m.eval()
    val_metrics = recording_metrics(predict_logits(student_m, val_ws.x), val_ws, names, positive, task_obj.aggregation)
    if spec.epochs == 0:
        from edgekd.runtime.scoring import score_of

        result.best_score = score_of(val_metrics)
    return Distilled(model=student_m, classes=names, task=task_obj.name, best_epoch=result.best_epoch,
                     best_score=result.best_score, epochs_run=result.epochs_run, resumed_from=result.resumed_from,
                     val_metrics=val_metrics, history=result.history, seconds=result.seconds,
                     loss={"name": objective.loss.name, **objective.loss.params})
