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
from edgekd.training.defaults import KD_DEFAULTS
from edgekd.registry import Registry

LossFn = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]
LOSSES: Registry[Callable[..., LossFn]] = Registry("loss", group="edgekd.losses")


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
    *, temperature: float = KD_DEFAULTS["temperature"], alpha: float = KD_DEFAULTS["alpha"],
    class_weights: list[float] | None = None
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


@LOSSES.register("dkd")
def decoupled_kd(
    *,
    alpha: float = 1.0,
    beta: float = 8.0,
    temperature: float = 4.0,
    ce_weight: float = 1.0,
    class_weights: list[float] | None = None,
) -> LossFn:
    """Decoupled KD (Zhao et al., CVPR 2022): ``ce_weight · CE + alpha · TCKD + beta · NCKD``.

    TCKD is the KL between the binary (target, all others) probabilities of teacher and
    student; NCKD the KL between their distributions over the non-target classes only.
    Both at temperature T, times T². With two classes NCKD is zero (one non-target class),
    so DKD is then KD with its own weights.

    Args:
        alpha, beta: weights of TCKD and NCKD (the paper: 1 and 8 on CIFAR-100).
        temperature: softening temperature T.
        ce_weight: weight of the hard-label cross-entropy.
        class_weights: optional per-class weights of the hard term.
    """
    if temperature <= 0:
        raise InputError(f"loss dkd: temperature must be > 0, got {temperature}")
    if alpha < 0 or beta < 0 or ce_weight < 0:
        raise InputError("loss dkd: alpha, beta and ce_weight must be >= 0")
    hard = cross_entropy(class_weights=class_weights)

    def loss(student: torch.Tensor, targets: torch.Tensor, teacher: torch.Tensor | None = None) -> torch.Tensor:
        if teacher is None:
            raise ValueError("the dkd loss needs teacher logits")
        tckd, nckd = dkd_terms(student, teacher, targets, temperature)
        return ce_weight * hard(student, targets, None) + alpha * tckd + beta * nckd

    return loss


def dkd_terms(
    student: torch.Tensor, teacher: torch.Tensor, targets: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """DKD's two terms (TCKD, NCKD), each T²-scaled and averaged over the batch."""
    t = temperature
    gt = F.one_hot(targets, student.shape[1]).bool()
    p_s, p_t = F.softmax(student / t, dim=1), F.softmax(teacher / t, dim=1)
    b_s = torch.stack([(p_s * gt).sum(1), (p_s * ~gt).sum(1)], dim=1).clamp_min(1e-12)
    b_t = torch.stack([(p_t * gt).sum(1), (p_t * ~gt).sum(1)], dim=1).clamp_min(1e-12)
    tckd = (b_t * (b_t.log() - b_s.log())).sum(1).mean() * (t * t)
    if student.shape[1] < 3:
        return tckd, student.new_zeros(())
    # distributions over the non-target classes: mask the target class out of both softmaxes
    log_q_s = F.log_softmax(student / t - 1000.0 * gt, dim=1)
    q_t = F.softmax(teacher / t - 1000.0 * gt, dim=1)
    nckd = F.kl_div(log_q_s, q_t, reduction="batchmean") * (t * t)
    return tckd, nckd


def needs_teacher(name: str) -> bool:
    """Whether a registered loss uses teacher logits."""
    return name != "ce"


def takes_class_weights(name: str) -> bool:
    """Whether a registered loss has a hard-label term that takes per-class weights."""
    return "class_weights" in inspect.signature(LOSSES.get(name)).parameters


def build_loss(name: str, params: dict[str, Any], *, where: str = "loss") -> LossFn:
    """Build a registered loss, naming any parameter it does not take.

    Args:
        name: registry key (``ce``, ``kd``, ``dkd``).
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
    try:
        return factory(**params)
    except (TypeError, ValueError) as exc:  # a parameter of the wrong kind: temperature: null, alpha: "high"
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
        raise InputError(f"{where}.params: loss {name!r} cannot take {shown}: {exc}") from None
