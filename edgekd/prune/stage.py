"""The pipeline's prune stage: the trained (or initialised) student in, the pruned student and its story out.

``distill-prune-distill``: the distilled student is kept as the unpruned
reference (role ``student-unpruned``, exported and measured like any
artifact), a copy is pruned to the target and recovered by fine-tuning.
``prune-distill``: the initialised student is pruned before training
(``prune_initialised``, called by the student's training stage), and the
unpruned reference is the same untrained network, for size and latency only.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import numpy as np

from edgekd.prune.check import PrunePlan


def _settings(recipe, plan: PrunePlan, reference_cost, steps: int):
    from edgekd.prune.budget import budget_from_target
    from edgekd.prune.schedule import PruneSettings

    p = recipe.prune
    return PruneSettings(budget=budget_from_target(p.target, reference_cost), importance=p.importance,
                         ignored=plan.ignored, steps=steps, scope=p.scope, min_channels=p.min_channels,
                         gradient_batches=p.gradient_batches)


def _summary(recipe, plan: PrunePlan, result, reference_trained: bool) -> dict:
    p = recipe.prune
    return {
        "order": p.order,
        "importance": p.importance,
        "scope": p.scope,
        "schedule": p.schedule.model_dump(),
        "target": p.target.model_dump(exclude_none=True),
        "ignored": plan.ignored,
        "recover": p.recover.model_dump(mode="json") if p.order == "distill-prune-distill" else None,
        "int8_size_model": None if plan.size_model is None else {
            "rule": "fixed + weights * 1 B + out_channels * 12 B per conv/linear layer + 8 B per channel of each distinct width",
            "fixed_bytes": plan.size_model.fixed_bytes, "calibrated_on_bytes": plan.size_model.reference_bytes},
        "reference_trained": reference_trained,
        **result.to_dict(),
    }


def prune_initialised(recipe, plan: PrunePlan, data, frontend, out: Path, log: Callable[[str], None]):
    """For ``prune-distill``: returns a callback that prunes the initialised student in place and remembers it."""
    from edgekd.prune.budget import measure_cost
    from edgekd.prune.schedule import prune_and_recover

    box: dict = {}

    def prepare(model) -> None:
        box["reference"] = copy.deepcopy(model)
        settings = _settings(recipe, plan, measure_cost(model, frontend.input_shape, plan.size_model), 1)
        box["result"] = prune_and_recover(
            model, settings, None, train=data.windows["train"], val=data.windows["val"], labels=data.classes,
            positive=data.positive, input_shape=frontend.input_shape, seed=recipe.seed,
            checkpoint_dir=out / "checkpoints" / "prune", size_model=plan.size_model,
            log=lambda s: log(f"  [prune] {s}"), fingerprint_extra=data.data_hash,
        )

    return prepare, box


def prune_trained(recipe, plan: PrunePlan, data, frontend, student, teacher, out: Path, log: Callable[[str], None]):
    """For ``distill-prune-distill``: prune a copy of the distilled student and recover it.

    Args:
        student, teacher: the pipeline's ``Trained`` values.

    Returns:
        ``(unpruned reference, pruned student, report section)``; the reference has role ``student-unpruned``.
    """
    from edgekd.distill.losses import needs_teacher
    from edgekd.distill.objective import build_objective
    from edgekd.distill.trainer import TrainConfig
    from edgekd.models.complexity import count_macs, count_params
    from edgekd.pipeline import Trained, torch_test_metrics, training_augment
    from edgekd.prune.budget import measure_cost
    from edgekd.prune.schedule import Recovery, prune_and_recover

    p = recipe.prune
    model = copy.deepcopy(student.model)
    shape = frontend.input_shape
    settings = _settings(recipe, plan, measure_cost(model, shape, plan.size_model), p.schedule.steps)
    cfg = TrainConfig(**{**student.spec.train.model_dump(), "epochs": p.recover.epochs, "lr": p.recover.lr})
    recovery = Recovery(loss=build_objective(p.recover, data.windows["train"].y, len(data.classes), where="prune.recover"),
                        cfg=cfg,
                        teacher=teacher.model if needs_teacher(p.recover.loss.name) else None, name=p.recover.loss.name,
                        augment=training_augment(recipe, frontend))
    result = prune_and_recover(
        model, settings, recovery, train=data.windows["train"], val=data.windows["val"], labels=data.classes,
        positive=data.positive, input_shape=shape, seed=recipe.seed, checkpoint_dir=out / "checkpoints" / "prune",
        size_model=plan.size_model, log=lambda s: log(f"  [prune] {s}"),
        fingerprint_extra=f"{student.spec.model}|{student.spec.params}|{data.data_hash}",
    )
    reference = copy.copy(student)
    reference.role = "student-unpruned"
    pruned = Trained(role="student", spec=student.spec, model=model, params=count_params(model),
                     macs=count_macs(model, shape), train=result.train or student.train,
                     torch_metrics=torch_test_metrics(model, data))
    return reference, pruned, _summary(recipe, plan, result, reference_trained=True)


def unpruned_reference(recipe, plan: PrunePlan, data, frontend, student, box: dict):
    """For ``prune-distill``: the untrained unpruned network as a size/latency reference, and the report section."""
    from edgekd.models.complexity import count_macs, count_params
    from edgekd.pipeline import Trained, torch_test_metrics

    model = box["reference"]
    reference = Trained(role="student-unpruned", spec=student.spec, model=model, params=count_params(model),
                        macs=count_macs(model, frontend.input_shape), train=student.train,
                        torch_metrics=torch_test_metrics(model, data))
    return reference, _summary(recipe, plan, box["result"], reference_trained=False)
