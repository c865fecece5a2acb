"""Losses between intermediate feature maps: FitNets hints and attention transfer, found by name.

Both compare a student feature map with the teacher's at a chosen layer pair.
A hint (Romero et al., ICLR 2015) regresses the teacher's map from the
student's through a learnable adapter when the shapes differ; attention transfer
(Zagoruyko & Komodakis, ICLR 2017) compares channel-pooled spatial attention
maps, so it needs no adapter for different channel counts.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from edgekd.registry import Registry

FeatureLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
FEATURE_LOSSES: Registry[FeatureLoss] = Registry("feature loss")


class Adapter(nn.Module):
    """Maps a student feature map onto the teacher's shape: spatial resize, then a 1×1 convolution.

    Trained with the student and discarded at export (it is not part of the student).

    Args:
        c_student, c_teacher: channel counts.
        size: the teacher map's (height, width).
    """

    def __init__(self, c_student: int, c_teacher: int, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = tuple(int(s) for s in size)
        self.proj = nn.Conv2d(c_student, c_teacher, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        return self.proj(x)


def needs_adapter(student_shape: tuple[int, ...], teacher_shape: tuple[int, ...]) -> bool:
    """A hint needs an adapter unless the maps already have the same (C, H, W)."""
    return tuple(student_shape[1:]) != tuple(teacher_shape[1:])


@FEATURE_LOSSES.register("hint")
def hint_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """FitNets hint: mean squared error between the (adapted) student map and the teacher map."""
    return F.mse_loss(student, teacher)


def attention_map(features: torch.Tensor, p: int = 2) -> torch.Tensor:
    """Spatial attention of a (N, C, H, W) map: mean over channels of |f|^p, flattened, L2-normalised."""
    return F.normalize(features.abs().pow(p).mean(1).flatten(1), dim=1)


@FEATURE_LOSSES.register("at")
def attention_transfer_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Attention transfer: mean squared difference of the normalised attention maps.

    The student's channel-pooled map is resized to the teacher's spatial size
    when they differ; channel counts never need to match.
    """
    if student.shape[2:] != teacher.shape[2:]:
        pooled = student.abs().pow(2).mean(1, keepdim=True)
        pooled = F.interpolate(pooled, size=teacher.shape[2:], mode="bilinear", align_corners=False)
        a_s = F.normalize(pooled.flatten(1), dim=1)
    else:
        a_s = attention_map(student)
    return (a_s - attention_map(teacher)).pow(2).mean()
