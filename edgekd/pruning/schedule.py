"""The policy over time: prune in one shot or in N steps, with distillation fine-tuning after each step.

Each step aims at a budget a fraction of the way from the unpruned model to the
final target (step s of N: s/N of the way), re-scores the channels on the
model as the previous recovery left it, prunes, then fine-tunes with any
registered loss (``kd`` from the teacher by default; ``ce`` for "no KD
recovery") through ``edgekd.training.trainer.train_model``, so recovery has the
trainer's checkpoints, resume and model selection on the validation split.

A finished step is saved (``stepK.pt``, architecture + weights, see
``edgekd.pruning.state``) under a fingerprint of its inputs: a re-run resumes
after the last finished step instead of pruning again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from edgekd.data.features import WindowSet
from edgekd.training.checkpoints import read_resumable
from edgekd.training.trainer import TrainConfig, TrainResult, train_model
from edgekd.pruning.budget import Budget, Cost, Int8SizeModel, measure_cost
from edgekd.pruning.importance import IMPORTANCES, accumulate_gradients
from edgekd.pruning.prune import PruneOutcome, Scope, prune_to_budget
from edgekd.pruning.state import load_pruned, save_pruned

LossFn = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


@dataclass
class PruneSettings:
    """How to prune (the recipe's ``prune:`` section, resolved).

    Args:
        budget: the final target.
        importance: a key of ``IMPORTANCES``.
        ignored: layer names never pruned (classifier included).
        steps: 1 for one-shot, N for iterative.
        scope: ``uniform`` or ``global`` ranking.
        min_channels: no layer keeps fewer output channels.
        gradient_batches: batches of training windows for gradient-based importance (``taylor``).
        gradient_loss, gradient_teacher: the loss (and its teacher) whose gradients score the channels;
            None: the recovery's loss and teacher (cross-entropy without recovery).
        round_to: kept channel counts are multiples of it (a target's ``simd_width``); None: any count.
        latency_table: for a ``latency_ms`` budget, the table measured on the target
            (``edgekd.pruning.latency_table``); the greedy policy of ``edgekd.pruning.netadapt`` prunes to it.
        latency_verify: measures a candidate on the target (export + runner); the policy corrects its aim by
            the measured error. None: trust the table's prediction.
    """

    budget: Budget
    importance: str = "l2"
    ignored: list[str] = field(default_factory=list)
    steps: int = 1
    scope: Scope = "uniform"
    min_channels: int = 1
    gradient_batches: int = 8
    gradient_loss: Optional[LossFn] = None
    gradient_teacher: Optional[nn.Module] = None
    round_to: Optional[int] = None
    latency_table: Optional[object] = None  # edgekd.pruning.latency_table.LatencyTable
    latency_verify: Optional[Callable[[nn.Module], float]] = None  # export + measure a candidate (ms p50)


@dataclass
class Recovery:
    """Fine-tuning after each pruning step: the loss, its teacher (None for losses without one), trainer settings."""

    loss: LossFn
    cfg: TrainConfig
    teacher: nn.Module | None = None
    name: str = "kd"
    # the task's training-batch augmentation passed to train_model (None: none)
    augment: Callable | None = None
    aggregation: str = "mean"  # how validation windows are combined per item (the task's)


@dataclass
class ScheduleResult:
    """What the schedule produced: per-step outcomes, the last recovery's training result, costs."""

    steps: list[dict]
    before: Cost
    after: Cost
    train: TrainResult | None

    def to_dict(self) -> dict:
        return {"before": self.before.to_dict(), "after": self.after.to_dict(), "steps": self.steps}


def _weights_hash(model: nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(np.ascontiguousarray(v.detach().cpu().numpy()).tobytes())
    return h.hexdigest()[:16]


def _gradient_batches(train: WindowSet, n: int, batch_size: int, seed: int):
    perm = torch.randperm(len(train.x), generator=torch.Generator().manual_seed(seed))
    for i in range(n):
        idx = perm[i * batch_size : (i + 1) * batch_size]
        if len(idx) < 2:
            break
        yield torch.from_numpy(train.x[idx.numpy()]), torch.from_numpy(train.y[idx.numpy()])


def prune_and_recover(
    model: nn.Module,
    settings: PruneSettings,
    recovery: Recovery | None,
    *,
    train: WindowSet,
    val: WindowSet,
    labels: list[str],
    positive: str | None,
    input_shape: tuple[int, ...],
    seed: int,
    checkpoint_dir: Path,
    size_model: Int8SizeModel | None = None,
    log: Callable[[str], None] = print,
    fingerprint_extra: str = "",
) -> ScheduleResult:
    """Prune ``model`` in place to ``settings.budget`` in ``settings.steps`` steps, recovering after each.

    Args:
        model: the (trained) student; pruned and fine-tuned in place.
        settings: budget, importance, ignored layers, steps.
        recovery: fine-tuning after each step (None or ``cfg.epochs == 0``: none).
        train, val: window sets (recovery trains on ``train``, selects on ``val``).
        labels, positive: class names and the positive class.
        input_shape: one example's shape.
        seed: seeds gradient batches and the trainer.
        checkpoint_dir: ``stepK.pt`` and the trainer's ``stepK/`` folders.
        size_model: needed for an int8-size budget.
        fingerprint_extra: identity of the data and settings, so a changed run does not resume.

    Returns:
        The per-step outcomes and the costs before and after.
    """
    criterion = IMPORTANCES.get(settings.importance)
    table = settings.latency_table
    if settings.budget.measure == "latency_ms" and table is None:
        raise ValueError(f"{settings.budget.key}: a latency budget needs PruneSettings.latency_table")
    start = measure_cost(model, input_shape, size_model, table)
    checkpoint_dir = Path(checkpoint_dir)
    fp_base = json.dumps(
        {"budget": settings.budget.__dict__, "importance": settings.importance, "ignored": settings.ignored,
         "steps": settings.steps, "scope": settings.scope, "min": settings.min_channels,
         "gb": settings.gradient_batches, "round_to": settings.round_to,
         "table": getattr(table, "key", None), "recovery": None if recovery is None else
         {"name": recovery.name, "cfg": recovery.cfg.__dict__}, "seed": seed, "extra": fingerprint_extra},
        sort_keys=True, default=str,
    )
    fingerprint = hashlib.sha256((fp_base + _weights_hash(model)).encode()).hexdigest()[:16]
    steps: list[dict] = []
    result: TrainResult | None = None
    for step in range(1, settings.steps + 1):
        saved = checkpoint_dir / f"step{step}.pt"
        step_fp = f"{fingerprint}-{step}"
        ckpt = read_resumable(saved, step_fp, f"pruning step {step}")
        if ckpt is not None:
            load_pruned(model, saved, where=f"pruning step {step}")
            record = json.loads(ckpt["record"])
            steps.append(record)
            result = _result_from(record.get("recovery"))
            log(f"step {step}/{settings.steps}: resumed from {saved} ({record['outcome']['after']['params']:,} params)")
            continue
        budget = settings.budget.at_fraction(start, step / settings.steps)
        scorer = criterion.build()
        if criterion.needs_gradients:
            loss, teacher = settings.gradient_loss, settings.gradient_teacher
            from edgekd.training.method import DistillMethod

            if loss is None and recovery is not None:  # a method's gradients need its whole set-up: its logit loss
                plain = recovery.loss.loss_fn if isinstance(recovery.loss, DistillMethod) else recovery.loss
                loss, teacher = plain, recovery.teacher
            if loss is None:
                from edgekd.training.losses import build_loss

                loss = build_loss("ce", {})
            batch = recovery.cfg.batch_size if recovery is not None else 32
            accumulate_gradients(model, _gradient_batches(train, settings.gradient_batches, batch, seed + step),
                                 loss, teacher)
        if budget.measure == "latency_ms":
            from edgekd.pruning.netadapt import prune_to_latency

            outcome: PruneOutcome = prune_to_latency(model, input_shape, scorer, budget, table,
                                                     ignored=settings.ignored, min_channels=settings.min_channels,
                                                     size_model=size_model, verify=settings.latency_verify,
                                                     log=lambda s, k=step: log(f"step {k}/{settings.steps}: {s}"))
        else:
            outcome = prune_to_budget(
                model, input_shape, scorer, budget, ignored=settings.ignored, scope=settings.scope,
                min_channels=settings.min_channels, size_model=size_model, round_to=settings.round_to,
            )
        model.zero_grad(set_to_none=True)
        log(f"step {step}/{settings.steps}: {budget.describe(outcome.before)} -> {budget.describe(outcome.after)} "
            f"({outcome.after.params:,} params, {outcome.after.macs / 1e6:.2f} M MACs; "
            f"channels {', '.join(f'{n} {a}->{b}' for n, (a, b) in outcome.channels.items() if a != b)})"
            + (f"; WARNING {outcome.budget['shortfall']}" if "shortfall" in outcome.budget else ""))
        record = {"step": step, "budget_limit": budget.limit, "outcome": outcome.to_dict(), "recovery": None}
        if recovery is not None and recovery.cfg.epochs > 0:
            result = train_model(
                model, train, val, recovery.loss, labels=labels, positive=positive, cfg=recovery.cfg,
                seed=seed + step, checkpoint_dir=checkpoint_dir / f"step{step}", teacher=recovery.teacher,
                log=lambda s, k=step: log(f"recover {k}/{settings.steps}: {s}"),
                fingerprint_extra=f"{step_fp}|{fingerprint_extra}", augment=recovery.augment,
                aggregation=recovery.aggregation,
            )
            record["recovery"] = {"loss": recovery.name, "epochs": recovery.cfg.epochs, "best_epoch": result.best_epoch,
                                  "best_val_score": result.best_score, "epochs_run": result.epochs_run,
                                  "resumed_from": result.resumed_from, "seconds": round(result.seconds, 1)}
        save_pruned(model, saved, {"fingerprint": step_fp, "record": json.dumps(record)})
        steps.append(record)
    return ScheduleResult(steps=steps, before=start, after=measure_cost(model, input_shape, size_model, table),
                          train=result)


def _result_from(rec: dict | None) -> TrainResult | None:
    if not rec:
        return None
    return TrainResult(best_epoch=rec["best_epoch"], best_score=rec["best_val_score"], epochs_run=rec["epochs_run"],
                       resumed_from=rec["epochs_run"], seconds=rec.get("seconds", 0.0))
