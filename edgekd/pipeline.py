"""``edgekd run``: a recipe turned into calls of the public API, and nothing more.

recipe → task → the models it names (registry keys or files) → checks before
any work (``check_compress``) → data (``prepare``) → teacher (``distill`` without
a teacher, or its checkpoint as it is) → ``compress`` (student, pruning, export
per target, measurement, report). Every figure in the report is measured by
running the exported file on test items the models never trained on.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

from edgekd.errors import InputError
from edgekd.recipe import ModelSpec, Recipe

Log = Callable[[str], None]


def default_log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def task_of(recipe: Recipe) -> Any:
    """The recipe's task with its front-end and augmentation settings."""
    from edgekd.tasks import build_task

    return build_task(recipe.task, frontend=recipe.frontend, augment=recipe.data.augment)


def build_role(recipe: Recipe, role: str, task: Any, num_classes: int) -> Any:
    """The teacher or student the recipe names: a registered architecture (seeded, checkpoint loaded) or a file."""
    import torch

    spec: ModelSpec = getattr(recipe, role)
    if spec.file is not None:
        from edgekd.models.files import load_model_file

        return load_model_file(spec.file, role=role, input_shape=task.input_shape, num_classes=num_classes)
    from edgekd.models import build_model

    torch.manual_seed(recipe.seed)
    try:
        model = build_model(spec.model, num_classes=num_classes, input_shape=task.input_shape, **spec.params)
    except InputError as exc:
        raise type(exc)(f"{role}: {exc}") from None  # which of the two models the message is about
    if spec.checkpoint:
        try:  # weights_only: a checkpoint from elsewhere must not run code when unpickled
            state = torch.load(spec.checkpoint, map_location="cpu", weights_only=True)
            model.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
        except Exception as exc:  # corrupt file, pickled code, or weights of another architecture
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{role}.checkpoint: {spec.checkpoint}: cannot load into {spec.model}: {first}") from None
    return model


def check_recipe(recipe: Recipe, runner: Any = None) -> Any:
    """What the recipe alone can tell, before any data or training: files, roles, and ``check_compress``
    (``runner``: the latency runner that replaces the targets' own, e.g. a sweep space's ``runner: estimate``).

    Returns:
        The task.
    """
    from edgekd.flow.compress import check_compress
    from edgekd.api.distilling import objective_of
    from edgekd.distillation.objective import check_objective

    task = task_of(recipe)
    for role in ("teacher", "student"):
        spec: ModelSpec = getattr(recipe, role)
        for key, value in (("file", spec.file), ("checkpoint", spec.checkpoint)):
            if value and not Path(value).is_file():
                raise InputError(f"{role}.{key}: {value}: file not found")
        if spec.train.epochs == 0 and spec.model is not None and not spec.checkpoint:
            raise InputError(f"{role}.train.epochs: 0 means 'use {role}.checkpoint as it is', but no checkpoint is set")
    if recipe.teacher.file is not None and recipe.teacher.train.epochs != 0:
        raise InputError("teacher.train.epochs: a teacher given as a file is used as it is; set it to 0")
    if recipe.teacher.distill is not None:
        raise InputError("teacher.distill: the teacher is trained without distillation; remove 'distill'")
    if recipe.teacher.loss.name != "ce":
        raise InputError(f"teacher.loss: {recipe.teacher.loss.name!r} needs a teacher; train the teacher with 'ce'")
    check_objective(recipe.teacher, where="teacher")
    from edgekd.inputfile import existing_folder

    existing_folder(recipe.data.path, "data.path")  # missing, a file or a FIFO: named by its kind
    if recipe.data.split.file and not Path(recipe.data.split.file).is_file():
        raise InputError(f"data.split.file: {recipe.data.split.file}: file not found")
    if _shape_known(task):  # model files are checked against the features before any data is read
        for role in ("teacher", "student"):
            if getattr(recipe, role).file is not None:
                build_role(recipe, role, task, len(recipe.data.classes))
    if recipe.student.model is not None and _shape_known(task):
        student = build_role(recipe, "student", task, len(recipe.data.classes))
        check_compress(student, task=task, targets=recipe.export.targets, prune=recipe.prune, export=recipe.export,
                       objective=objective_of(recipe.student.loss, recipe.student.distill, True, "student"),
                       runner=runner)
    return task


def _shape_known(task: Any) -> bool:
    try:
        return bool(task.input_shape)
    except InputError:
        return False


def check_run(recipe: Recipe) -> str:
    """``edgekd run --check``: everything ``run`` checks before any work, plus the data folder's listing.

    Nothing is trained, featurised or written. Returns a one-line summary.
    """
    task = check_recipe(recipe)
    items = task.list_items(recipe.data.path, recipe.data.classes)
    counts = {c: sum(it.label == c for it in items) for c in recipe.data.classes}
    return (f"recipe {recipe.name!r} is valid: task {task.name}, {len(items)} items "
            f"({', '.join(f'{c} {n}' for c, n in counts.items())}), targets {', '.join(recipe.export.targets)}")


def check_checkpoints_unseen(recipe: Recipe, data: Any, log: Log) -> None:
    """A checkpoint with a provenance file must not have seen this run's test items (``edgekd.models.provenance``)."""
    from edgekd.models.provenance import check_unseen

    for role in ("teacher", "student"):
        spec: ModelSpec = getattr(recipe, role)
        if spec.checkpoint:
            record = check_unseen(spec.checkpoint, data.test.recordings, role)
            if record is not None:
                log(f"  {role}.checkpoint: none of the {len(data.test.recordings)} test items is among the "
                    f"{sum(len(v) for v in record['seen'].values())} it was trained and selected on")


def prepare_data(recipe: Recipe, log: Log = default_log, task: Any = None) -> Any:
    """The recipe's data, read, split item-wise and featurised (``edgekd.api.datasets.prepare``)."""
    from edgekd.api.datasets import prepare

    d = recipe.data
    return prepare(d.path, task=task or task_of(recipe), classes=d.classes, positive=d.positive, split=d.split,
                   seed=recipe.seed, stratify=d.stratify, cache_dir=d.cache_dir, resample=d.resample, log=log)


def run(recipe: Recipe, recipe_path: str, out: Path, log: Log = default_log, fresh: bool = False) -> dict:
    """Run the recipe end to end and write ``report.json`` / ``report.md`` / ``report.html`` into ``out``.

    ``fresh`` removes ``out/checkpoints`` first; otherwise matching checkpoints are resumed and any other
    checkpoint there is refused by name.

    Returns:
        The report (schema ``edgekd.report/1``).
    """
    import edgekd

    t0 = time.perf_counter()
    task = check_recipe(recipe)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a folder")
    if fresh and (out / "checkpoints").is_dir():
        import shutil

        shutil.rmtree(out / "checkpoints")
        log(f"--fresh: removed {out / 'checkpoints'}")
    log(f"[1/5] data: {recipe.data.path}")
    data = prepare_data(recipe, log, task)
    check_checkpoints_unseen(recipe, data, log)
    n = len(data.classes)
    log(f"[2/5] teacher: {recipe.teacher.label}")
    teacher = build_role(recipe, "teacher", data.task, n)
    if recipe.teacher.file is None:
        teacher = edgekd.distill(
            teacher, train=data.windows["train"], val=data.windows["val"], task=data.task, classes=data.classes,
            positive=data.positive, loss=recipe.teacher.loss, seed=recipe.seed, workdir=out / "checkpoints" / "teacher",
            log=lambda s: log(f"  [teacher] {s}"), **recipe.teacher.train.model_dump())
        if recipe.teacher.train.epochs == 0:
            log(f"  [teacher] train.epochs is 0: using {recipe.teacher.checkpoint} as it is "
                f"(val score {teacher.best_score:.3f})")
    student = build_role(recipe, "student", data.task, n)
    result = edgekd.compress(
        student, data, teacher=teacher, targets=recipe.export.targets, loss=recipe.student.loss,
        method=recipe.student.distill, training=recipe.student.train.model_dump(), prune=recipe.prune,
        export=recipe.export, bench=recipe.bench, seed=recipe.seed, out=out,
        names={"teacher": recipe.teacher.label, "student": recipe.student.label},
        recipe={"path": str(recipe_path), "name": recipe.name, "config": recipe.model_dump(mode="json")}, log=log,
    )
    log(f"done in {time.perf_counter() - t0:.0f} s")
    return result.report
