"""One trial of a sweep: the recipe with the trial's values, run as ``edgekd run`` runs it, judged on validation.

The student steps are ``edgekd.flow.compress.train_student`` and the export is ``export_all``, the
same functions ``edgekd compress``/``run`` call with the same seeds, so the recipe ``--export-best``
writes makes the same student again. Every figure comes from the exported file: its validation score
(through the device-side runtime), its size in bytes, and its latency on the space's runner. The test
split is not touched here.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from edgekd.recipe import Recipe, recipe_from_tree, set_key

Log = Callable[[str], None]


class Stopped(Exception):
    """The stopping rule ended the trial (the sweep records it as pruned)."""


def trial_tree(base: dict, params: dict[str, Any], source: str) -> dict:
    """The base recipe tree with the trial's values set."""
    tree = copy.deepcopy(base)
    for key, value in params.items():
        set_key(tree, key, copy.deepcopy(value), source)
    return tree


def measured_precision(recipe: Recipe, target: Any) -> str:
    """The precision a trial is judged at: the last of ``export.precisions`` (or of the target's)."""
    return (recipe.export.precisions or target.precisions)[-1]


def with_twin(recipe: Recipe, target: Any, twin: bool) -> Recipe:
    """The recipe exporting an fp32 twin first when the budgets compare against one (``accuracy_drop_pp``)."""
    precisions = list(recipe.export.precisions or target.precisions)
    if not twin or "fp32" in precisions:
        return recipe
    return recipe.model_copy(update={"export": recipe.export.model_copy(update={"precisions": ["fp32", *precisions]})})


def gate_row(record: Any, target: Any, metrics: dict, latency: Optional[dict], audit: Optional[dict]) -> dict:
    """One exported file as ``edgekd gate`` reads a report artifact (the one artifact record)."""
    from edgekd.report.record import artifact_record

    return artifact_record(name=record.sidecar["name"], role="student", target=target.name, format=record.format,
                           precision=record.precision, path=record.path, metrics=metrics, latency=latency, audit=audit)


def objective_score(metrics: dict, select: str) -> float:
    """The validation metric: MAcc or balanced accuracy, or their mean within groups where the recipe selects so."""
    from edgekd.runtime.scoring import score_of

    groups = metrics.get("per_group") or {}
    if select == "group_mean" and groups:
        return float(sum(score_of(m) for m in groups.values()) / len(groups))
    return score_of(metrics)


@dataclass
class Worker:
    """What one sweep process keeps between its trials: prepared data and teachers, per data configuration."""

    base: dict
    source: str
    target: Any  # the target profile, its formats cut to the judged one
    runner: Optional[str]
    log: Log
    fp32_twin: bool = False  # also export fp32, for the accuracy_drop_pp budget
    data: dict = field(default_factory=dict)
    teachers: dict = field(default_factory=dict)

    def data_for(self, recipe: Recipe) -> Any:
        from edgekd.pipeline import prepare_data

        key = json.dumps([recipe.task, recipe.frontend, recipe.data.model_dump(mode="json")], sort_keys=True, default=str)
        if key not in self.data:
            self.data[key] = prepare_data(recipe, lambda s: self.log(f"  {s}"))
        return self.data[key]

    def teacher_for(self, recipe: Recipe, data: Any) -> tuple[Any, Optional[Path]]:
        from edgekd.sweep.teacher import shared_teacher, teacher_key

        from edgekd.pipeline import check_checkpoints_unseen

        key = teacher_key(recipe, data)
        if key not in self.teachers:
            check_checkpoints_unseen(recipe, data, self.log)  # a shipped teacher must not have seen a test item
            self.teachers[key] = shared_teacher(recipe, data, self.log)
        return self.teachers[key]


def run_trial(worker: Worker, params: dict[str, Any], workdir: Path,
              stop: Optional[Callable[[int, float], bool]] = None, on_model: Optional[Callable[[int, int], None]] = None
              ) -> dict:
    """Train, (prune,) export and measure one trial's student in ``workdir``.

    Args:
        worker: the sweep process's data and teachers.
        params: recipe key → value.
        workdir: checkpoints and artifacts (a re-run resumes from its checkpoints).
        stop: the per-epoch stopping rule; when it fires, ``Stopped`` is raised after training.
        on_model: told ``(parameters, MACs)`` of the student before training (for the stopping rule).

    Returns:
        The trial's figures: ``metric``, ``size_kb``, ``latency_p90_ms`` and how each was measured, and
        ``gate_rows`` (the judged file and its fp32 twin as ``edgekd gate`` reads them).
    """
    t0 = time.perf_counter()
    recipe = with_twin(recipe_from_tree(trial_tree(worker.base, params, worker.source), worker.source),
                       worker.target, worker.fp32_twin)
    data = worker.data_for(recipe)
    teacher, teacher_ckpt = worker.teacher_for(recipe, data)
    trained, model, records, facts = _train_and_export(worker, recipe, data, teacher, workdir, stop, on_model)
    figures = _measure(worker, recipe, data, records)
    figures.update(facts, best_epoch=trained.best_epoch, epochs_run=trained.epochs_run,
                   curve=[h["val_score"] for h in trained.history],
                   teacher_checkpoint=None if teacher_ckpt is None else str(teacher_ckpt), data_hash=data.data_hash,
                   seconds=round(time.perf_counter() - t0, 1))
    return figures


def _train_and_export(worker: Worker, recipe: Recipe, data: Any, teacher: Any, workdir: Path,
                      stop: Optional[Callable[[int, float], bool]], on_model: Optional[Callable[[int, int], None]]):
    """The student steps ``edgekd run`` takes (distil, prune, QAT, export), with the sweep's stopping rule."""
    from edgekd.api.distilling import objective_of, train_settings
    from edgekd.flow.compress import train_student
    from edgekd.flow.steps import export_all, run_qat
    from edgekd.models.complexity import count_macs, count_params
    from edgekd.pipeline import build_role

    student = build_role(recipe, "student", data.task, len(data.classes))
    params_n, macs_n = count_params(student), count_macs(student, data.task.input_shape)
    if on_model is not None:
        on_model(params_n, macs_n)
    objective = objective_of(recipe.student.loss, recipe.student.distill, True, "student")
    train_spec = train_settings(recipe.student.train.model_dump(), "student.train")
    fired: list[int] = []

    def rule(epoch: int, score: float) -> bool:
        if epoch >= train_spec.epochs:  # trained to the end: stopping now would save nothing and lose the trial
            return False
        if stop is not None and stop(epoch, score):
            fired.append(epoch)
            return True
        return False

    log = worker.log
    trained, model, _, pruning = train_student(student, teacher, data, objective, train_spec, recipe.prune,
                                               recipe.seed, workdir, log, stop=rule, target=worker.target)
    if fired:
        raise Stopped(f"stopped at epoch {fired[0]}")
    roles = [("student", model, trained)]
    qat = run_qat(roles, teacher, data, [worker.target], recipe.export, objective, train_spec, recipe.seed, workdir, log)
    records = export_all(roles, data, [worker.target], recipe.export, qat, recipe.seed, workdir, log)
    facts = {"params": count_params(model), "macs": count_macs(model, data.task.input_shape),
             "params_trained": params_n, "macs_trained": macs_n, "pruned": pruning is not None}
    return trained, model, records, facts


def _measure(worker: Worker, recipe: Recipe, data: Any, records: list) -> dict:
    """Every figure of the judged file, from running it: validation score, size, latency, and the gate rows."""
    import edgekd
    from edgekd.audit import inspect_artifact
    from edgekd.sweep.remeasure import latency_basis

    precision = measured_precision(recipe, worker.target)
    scores, measured = {}, {}
    for _, _, record, _ in records:
        metrics = edgekd.evaluate(record.path, data.val).to_dict()
        scores[record.precision] = objective_score(metrics, recipe.student.train.select)
        measured[record.precision] = (record, metrics)
    if precision not in measured:
        raise RuntimeError(f"no {precision} artifact was exported (made: {', '.join(scores)})")
    record, metrics = measured[precision]
    b = recipe.bench
    bench = edgekd.bench(record.path, worker.target, runs=b.runs, warmup=b.warmup, max_seconds=b.max_seconds,
                         runner=worker.runner).to_dict()
    # the judged file and its fp32 twin as the gate reads them (report rows, figures from validation)
    rows = [gate_row(r, worker.target, m, bench if r is record else None,
                     inspect_artifact(r.path) if r is record else None)
            for prec, (r, m) in measured.items() if r is record or prec == "fp32"]
    figures = {
        "metric": scores[precision],
        "gate_rows": rows,
        "metric_name": ("group-mean " if recipe.student.train.select == "group_mean" else "")
                       + ("MAcc" if "macc" in metrics else "balanced accuracy"),
        "val": {k: metrics.get(k) for k in ("n", "macc", "balanced_accuracy", "accuracy", "ci95", "per_group")
                if metrics.get(k) is not None},
        "size_kb": record.size_bytes / 1024,
        "latency_p50_ms": bench["p50_ms"],
        "latency_p90_ms": bench["p90_ms"],
        "latency_runner": bench.get("runner"),
        "latency_estimated": bool(bench.get("estimated", False)),
        "latency_basis": latency_basis(bench),
        "precision": precision,
        "scores_by_precision": scores,
        "artifact": str(record.path),
    }
    if "fp32" in scores and precision != "fp32":
        figures["accuracy_drop_pp"] = 100.0 * (scores["fp32"] - scores[precision])
    return figures
