"""Mixup during KD: inputs are mixed, and the teacher labels the mixed input.

``x̃ = λ·x_i + (1−λ)·x_j`` with ``λ ~ Beta(α, α)`` per batch (Zhang et al.,
ICLR 2018); the teacher sees x̃ (so it always runs per batch, never from a
cache), and the hard labels are mixed in the loss:
``λ·loss(s, y_i, t) + (1−λ)·loss(s, y_j, t)`` (for KD the soft term is the same in
both and so counts once). Beyer et al. (CVPR 2022) found such "function
matching" on mixed inputs to help distillation.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field
from torch import nn

from edgekd.training.method import Batch, BindContext, DistillMethod, FrozenOutputs, MethodParams
from edgekd.training.methods import METHODS


class MixupParams(MethodParams):
    alpha: float = Field(0.4, gt=0)  # Beta(alpha, alpha) mixing weights


def mix(x: torch.Tensor, lam: float, perm: torch.Tensor) -> torch.Tensor:
    """``lam · x + (1 − lam) · x[perm]``."""
    return lam * x + (1.0 - lam) * x[perm]


def mixed_loss(loss_fn, s_logits, y, y_perm, t_logits, lam: float) -> torch.Tensor:
    """``lam · loss(s, y, t) + (1 − lam) · loss(s, y[perm], t)``."""
    return lam * loss_fn(s_logits, y, t_logits) + (1.0 - lam) * loss_fn(s_logits, y_perm, t_logits)


@METHODS.register("mixup")
class MixupKD(DistillMethod):
    name = "mixup"
    Params = MixupParams

    def bind(self, ctx: BindContext) -> None:
        super().bind(ctx)
        # the teacher must label the mixed input: always per batch
        self.teacher = FrozenOutputs(ctx.teacher, [], ctx.train_x, True, where="teacher") if ctx.teacher else None

    def loss(self, student: nn.Module, batch: Batch) -> torch.Tensor:
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=batch.gen))
        lam = float(np.random.default_rng(seed).beta(self.params.alpha, self.params.alpha))
        perm = torch.randperm(len(batch.x), generator=batch.gen)
        x = mix(batch.x, lam, perm)
        t_logits = self.teacher(batch, x)[0] if self.teacher is not None else None
        return mixed_loss(self.loss_fn, student(x), batch.y, batch.y[perm], t_logits, lam)
