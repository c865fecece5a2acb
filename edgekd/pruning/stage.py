"""The prune stage: a model in, a pruned copy, its unpruned reference and the story of the pruning out.

``prune_copy`` prunes a copy of the model to the ``PruneSpec``'s target (one shot
or in steps), recovering after each step with the given training setup when
there is one; the input model is left as it was and returned as the reference.
It is used by ``edgekd.prune`` for both orders of ``edgekd.compress``:
``distill-prune-distill`` (prune the distilled student, then recover with
distillation) and ``prune-distill`` (prune the initialised student without
recovery, then distil the pruned network).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from edgekd.pruning.check import PrunePlan


@dataclass
class PruneRun:
    """What ``prune_copy`` produced: the pruned model, the untouched reference, the schedule's result, a summary."""

    model: Any
    reference: Any
    result: Any  # edgekd.pruning.schedule.ScheduleResult
    summary: dict


def summary_of(spec, plan: PrunePlan, result, *, recovered: bool, reference_trained: bool) -> dict:
    """The report's pruning section: settings, the size model, before/after costs and the steps."""
    return {
        "order": spec.order,
        "importance": spec.importance,
        "scope": spec.scope,
        "schedule": spec.schedule.model_dump(),
        "target": spec.target.model_dump(exclude_none=True),
        "ignored": plan.ignored,
        "recover": spec.recover.model_dump(mode="json") if recovered else None,
        "int8_size_model": None if plan.size_model is None else {
            "rule": "fixed + weights * 1 B + out_channels * 12 B per conv/linear layer + 8 B per channel of each distinct width",
            "fixed_bytes": plan.size_model.fixed_bytes, "calibrated_on_bytes": plan.size_model.reference_bytes},
        "reference_trained": reference_trained,
        "round_to": plan.round_to,
        "round_to_from": (f"target {plan.target}'s simd_width" if spec.round_to == "auto" else
                          "prune.round_to" if spec.round_to is not None else None),
        **result.to_dict(),
    }


def measured_latency(model: Any, target_ms: float, plan: PrunePlan, predicted_ms: float,
                     log: Callable[[str], None]) -> dict:
    """Export the pruned model as the target deploys it, measure it on the target's runner, and compare with the
    table's prediction and the target."""
    from edgekd.pruning.latency_table import temporary_export

    table = plan.latency_table
    bench = temporary_export(plan.export, model, plan.probe.measure)
    measured = float(bench["p50_ms"])
    out = {
        "target": plan.target, "statistic": "p50_ms", "target_ms": target_ms, "unpruned_measured_ms": table.base_ms,
        "predicted_ms": predicted_ms, "measured_p50_ms": measured, "measured_p90_ms": bench.get("p90_ms"),
        "prediction_error_pct": 100.0 * (predicted_ms - measured) / measured,
        "met": measured <= target_ms, "off_target_pct": 100.0 * (measured - target_ms) / target_ms,
        "runner": bench.get("runner"), "runtime": f"{bench.get('runtime')} {bench.get('runtime_version')}",
        "format": table.meta.get("identity", {}).get("format"), "precision": table.meta.get("identity", {}).get("precision"),
        "table": {"key": table.key, "path": table.meta.get("path"), "cached": table.meta.get("cached"),
                  "entries": sum(len(e) for e in table.entries.values())},
    }
    verdict = "met" if out["met"] else f"missed by {out['off_target_pct']:.1f} %"
    log(f"latency on {plan.target}: target {target_ms:.4f} ms p50, predicted {predicted_ms:.4f}, measured "
        f"{measured:.4f} (prediction {out['prediction_error_pct']:+.1f} %; {verdict})")
    return out


def _verifier(plan: PrunePlan) -> Callable[[Any], float]:
    from edgekd.pruning.latency_table import temporary_export

    return lambda m: float(temporary_export(plan.export, m, plan.probe.measure)["p50_ms"])


def prune_copy(
    model: Any,
    spec: Any,
    plan: PrunePlan,
    *,
    input_shape: tuple[int, ...],
    train: Any,
    val: Any,
    recovery: Any,
    labels: list[str],
    positive: Optional[str],
    seed: int,
    checkpoint_dir: Path,
    log: Callable[[str], None],
    fingerprint_extra: str,
    steps: Optional[int] = None,
    reference_trained: bool = True,
) -> PruneRun:
    """Prune a copy of ``model`` to ``spec.target``.

    Args:
        model: the model (untouched; returned as the reference).
        spec, plan: the settings and what ``check_prune`` resolved.
        input_shape: one example's shape.
        train, val: window sets (gradient-based importance and recovery read ``train``; recovery
            selects on ``val``).
        recovery: ``edgekd.pruning.schedule.Recovery`` or None (no fine-tuning).
        labels, positive: class names and the positive class.
        seed: gradient batches and the trainer.
        checkpoint_dir: ``stepK.pt`` (a re-run resumes after the last finished step).
        log: progress lines.
        fingerprint_extra: identity of the data and settings.
        steps: pruning steps (default ``spec.schedule.steps``).
        reference_trained: whether ``model`` was trained (recorded in the summary).
    """
    from edgekd.pruning.budget import budget_from_target, measure_cost
    from edgekd.pruning.schedule import PruneSettings, prune_and_recover

    pruned = copy.deepcopy(model)
    settings = PruneSettings(
        budget=budget_from_target(spec.target, measure_cost(pruned, input_shape, plan.size_model)),
        importance=spec.importance, ignored=plan.ignored, steps=steps or spec.schedule.steps, scope=spec.scope,
        min_channels=spec.min_channels, gradient_batches=spec.gradient_batches, round_to=plan.round_to,
        latency_table=plan.latency_table,
        latency_verify=None if plan.latency_table is None else _verifier(plan),
    )
    result = prune_and_recover(
        pruned, settings, recovery, train=train, val=val, labels=labels, positive=positive, input_shape=input_shape,
        seed=seed, checkpoint_dir=checkpoint_dir, size_model=plan.size_model, log=log,
        fingerprint_extra=fingerprint_extra,
    )
    summary = summary_of(spec, plan, result, recovered=recovery is not None, reference_trained=reference_trained)
    if plan.latency_table is not None:
        summary["latency"] = measured_latency(pruned, spec.target.latency_p50_ms, plan, result.after.latency_ms, log)
    return PruneRun(model=pruned, reference=model, result=result, summary=summary)
