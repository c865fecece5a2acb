"""Training losses, found by name in ``LOSSES``.

Every loss is called as ``loss(student_logits, targets, teacher_logits)``;
``teacher_logits`` is None for losses that need no teacher.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F

from edgekd.errors import InputError
from edgekd.registry import Registry

LossFn = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]
LOSSES: Registry[Callable[..., LossFn]] = Registry("loss")


@LOSSES.register("ce")
def cross_entropy(*, class_weights: list[float] | None = None, label_smoothing: float = 0.0) -> LossFn:
    """Plain cross-entropy on the hard labels (training without a teacher)."""
    weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None

    def loss(student: torch.Tensor, targets: torch.Tensor, teacher: torch.Tensor | None = None) -> torch.Tensor:
        return F.cross_entropy(student, targets, weight=weight, label_smoothing=label_smoothing)

    return loss


def kd_soft_term(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton's soft-target term: T² · KL(softmax(t/T) ‖ softmax(s/T)), batch mean.

    The T² factor keeps the soft term's gradient scale independent of T
    (Hinton, Vinyals & Dean 2015, section 2).
    """
    t = temperature
    log_p_student = F.log_softmax(student / t, dim=1)
    p_teacher = F.softmax(teacher / t, dim=1)
    return F.kl_div(log_p_student, p_teacher, reduction="batchmean") * (t * t)


@LOSSES.register("kd")
def hinton_kd(
    *, temperature: float = 4.0, alpha: float = 0.1, class_weights: list[float] | None = None
) -> LossFn:
    """Hinton knowledge distillation: ``alpha · CE(hard) + (1 − alpha) · T² · KL(soft)``.

    Args:
        temperature: softening temperature T (Song et al., EMBC 2023, used 7 for heart sounds).
        alpha: weight of the hard-label cross-entropy; the soft term gets ``1 − alpha``
            (the same study used 0.1).
        class_weights: optional per-class weights of the hard term.
    """
    if temperature <= 0:
        raise InputError(f"loss kd: temperature must be > 0, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"loss kd: alpha must be in [0, 1], got {alpha}")
    hard = cross_entropy(class_weights=class_weights)

    def loss(student: torch.Tensor, targets: torch.Tensor, teacher: torch.Tensor | None = None) -> torch.Tensor:
        if teacher is None:
            raise ValueError("the kd loss needs teacher logits")
        return alpha * hard(student, targets, None) + (1 - alpha) * kd_soft_term(student, teacher, temperature)

    return loss


def needs_teacher(name: str) -> bool:
    """Whether a registered loss uses teacher logits."""
    return name != "ce"


def build_loss(name: str, params: dict[str, Any], *, where: str = "loss") -> LossFn:
    """Build a registered loss, naming any parameter it does not take.

    Args:
        name: registry key (``ce``, ``kd``).
        params: keyword parameters from the recipe.
        where: the recipe key, for messages (e.g. ``student.loss``).
    """
    factory = LOSSES.get(name)
    accepted = [p for p in inspect.signature(factory).parameters]
    for key in params:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(f"{where}: loss {name!r} has no parameter {key!r}{hint}; it takes {', '.join(accepted)}")
    return factory(**params)
