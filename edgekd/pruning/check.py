"""Pruning settings checked against the student before any data is read or any training starts.

Refused with an ``InputError`` naming the key: an unknown importance or
recovery loss, a layer name in ``ignore`` the student does not have (with a
did-you-mean), an iterative schedule that cannot run, a target the student
cannot reach even with one channel left per layer, and an int8 size smaller
than the classifier alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekd.errors import InputError


@dataclass
class PrunePlan:
    """What the checks resolved: the layers kept whole and (for an int8 target) the size model."""

    ignored: list[str]
    size_model: object | None  # edgekd.pruning.budget.Int8SizeModel


def _classifier_bytes(model, name: str) -> int:
    from edgekd.pruning.budget import BYTES_PER_OUT_CHANNEL, ZERO_POINT_BYTES

    layer = dict(model.named_modules())[name]
    out = layer.out_channels if hasattr(layer, "out_channels") else layer.out_features
    return layer.weight.numel() + out * (BYTES_PER_OUT_CHANNEL + ZERO_POINT_BYTES)


def check_prune(spec, model, input_shape: tuple[int, ...], *, calibrate: bool = False) -> PrunePlan:
    """Check a ``PruneSpec`` against the (untrained or trained) model, which is left untouched.

    Args:
        spec: the pruning settings (``edgekd.pruning.config.PruneSpec``).
        model: the model to prune.
        input_shape: one example's shape.
        calibrate: for an ``int8_kb`` target, export the model once to measure the
            file's fixed part (a few seconds); without it only the weights are bounded.

    Returns:
        The plan: the layers kept whole and (calibrated) the int8 size model.

    Raises:
        InputError: an unknown importance or recovery loss, a schedule that cannot run, an unknown
            ``ignore`` name, a target the model cannot reach with one channel per layer.
    """
    p = spec
    import torch

    from edgekd.distillation.losses import build_loss
    from edgekd.pruning.budget import budget_from_target, calibrate_int8_size, measure_cost
    from edgekd.pruning.importance import IMPORTANCES
    from edgekd.pruning.prune import floor_cost, resolve_ignored

    try:
        IMPORTANCES.get(p.importance)
    except InputError as exc:
        raise InputError(f"prune.importance: {exc}") from None
    build_loss(p.recover.loss.name, p.recover.loss.params, where="prune.recover.loss")
    if p.schedule.kind == "oneshot" and p.schedule.steps != 1:
        raise InputError(f"prune.schedule.steps: a oneshot schedule has 1 step, got {p.schedule.steps} "
                         "(use kind: iterative for several)")
    if p.order == "prune-distill" and p.schedule.steps != 1:
        raise InputError("prune.schedule: order prune-distill prunes the initialised student once before training; "
                         "an iterative schedule needs order distill-prune-distill")
    with torch.random.fork_rng():  # checking never moves the caller's random state
        ignored = resolve_ignored(model, p.ignore, input_shape, where="prune.ignore")
        size_model = calibrate_int8_size(model, input_shape) if (calibrate and p.target.int8_kb is not None) else None
        reference = measure_cost(model, input_shape, size_model)
        budget = budget_from_target(p.target, reference)
        if p.target.int8_kb is not None:
            head = ignored[-1]
            head_bytes = _classifier_bytes(model, head) + (size_model.fixed_bytes if size_model else 0)
            if budget.limit < head_bytes:
                fixed = " plus the file's fixed tables" if size_model else ""
                raise InputError(f"prune.target.int8_kb: {p.target.int8_kb:g} KB is smaller than the classifier "
                                 f"alone ({head!r}: {head_bytes / 1024:.2f} KB int8{fixed})")
            if size_model is None:  # bound the weights only; the fixed part is checked once calibrated
                return PrunePlan(ignored=ignored, size_model=None)
        floor = floor_cost(model, input_shape, ignored, p.min_channels, size_model)
    if not budget.met(floor):
        raise InputError(
            f"{budget.key}: {budget.wanted} cannot be met: with {p.min_channels} channel(s) left in every prunable layer "
            f"{type(model).__name__} still has {budget.describe(floor)} (unpruned: {budget.describe(reference)}); "
            "raise the target, lower prune.min_channels or shorten prune.ignore"
        )
    return PrunePlan(ignored=ignored, size_model=size_model)
