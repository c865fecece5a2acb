"""Channel importance criteria, found by name in ``IMPORTANCES``.

Each criterion scores every channel of a torch-pruning dependency group (a
channel of a conv and everything coupled to it: its BatchNorm, the next layer's
input, a residual partner); the lowest-scored channels are removed first.

- ``l1`` / ``l2``: magnitude of the group's weights (sum of |w| or of w²);
- ``bn_scale``: |γ| of the group's BatchNorm (network slimming, Liu et al. 2017);
- ``taylor``: first-order Taylor estimate of the loss change |w · ∂L/∂w|
  (Molchanov et al., CVPR 2019), with gradients summed over a few training batches.

Example:
    >>> crit = IMPORTANCES.get("taylor")
    >>> scorer = crit.build()
    >>> if crit.needs_gradients:
    ...     accumulate_gradients(model, batches, loss_fn)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import torch
from torch import nn

from edgekd.registry import Registry


@dataclass(frozen=True)
class Criterion:
    """A registered importance criterion.

    Args:
        build: returns a torch-pruning ``Importance`` (called as ``scorer(group) -> 1-D tensor``).
        needs_gradients: whether the model's ``.grad`` must hold loss gradients when scoring.
        summary: one line for messages and reports.
    """

    build: Callable[[], object]
    needs_gradients: bool
    summary: str


IMPORTANCES: Registry[Criterion] = Registry("importance", group="edgekd.importances")


def _tp():
    import torch_pruning as tp

    return tp


def _register(name: str, criterion: Criterion) -> None:
    IMPORTANCES.register(name)(criterion)


_register("l1", Criterion(lambda: _tp().importance.GroupMagnitudeImportance(p=1), False, "group L1 norm of the weights"))
_register("l2", Criterion(lambda: _tp().importance.GroupMagnitudeImportance(p=2), False, "group squared L2 norm of the weights"))
_register("bn_scale", Criterion(lambda: _tp().importance.BNScaleImportance(), False, "|gamma| of the BatchNorm layers"))
_register("taylor", Criterion(lambda: _tp().importance.GroupTaylorImportance(), True,
                              "first-order Taylor |w * dL/dw|, gradients from a few training batches"))


def accumulate_gradients(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor],
    teacher: nn.Module | None = None,
) -> int:
    """Sum the loss gradients of a few batches into the model's ``.grad`` (for ``taylor``).

    The model is scored in eval mode (BatchNorm uses its running statistics, as at
    deployment) and its weights are not changed.

    Args:
        model: the network to score.
        batches: ``(x, y)`` pairs of training windows.
        loss_fn: a registered loss (``loss(student_logits, y, teacher_logits)``).
        teacher: feeds teacher logits to a distillation loss.

    Returns:
        The number of batches used.
    """
    was_training = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    n = 0
    for x, y in batches:
        with torch.no_grad():
            t = teacher(x) if teacher is not None else None
        loss_fn(model(x), y, t).backward()
        n += 1
    model.train(was_training)
    return n
