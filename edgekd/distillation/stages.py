"""Pair up the stages of two CNNs by feature-map resolution (for hints and stage-wise KD).

A stage ends at the last layer that still has a given spatial size. Two CNNs
over the same input that downsample at the same points have stages of equal
resolution; those are natural (student layer, teacher layer) pairs whatever
their channel counts. Only direct children of the models' top-level
containers are candidates (``features.3``, not ``features.3.body.0``).
"""

from __future__ import annotations

import torch
from torch import nn

from edgekd.training.hooks import tap_once


def stage_ends(model: nn.Module, example: torch.Tensor) -> dict[tuple[int, int], str]:
    """(H, W) → name of the last candidate layer with a map of that size, in forward order."""
    names = [n for n, _ in model.named_modules() if n.count(".") == 1]
    ends: dict[tuple[int, int], str] = {}
    for name, out in tap_once(model, names, example).items():  # insertion order = forward order
        if out.dim() == 4 and tuple(out.shape[2:]) != (1, 1):  # a pooled vector is not a map
            ends.pop(tuple(out.shape[2:]), None)
            ends[tuple(out.shape[2:])] = name
    return ends


def match_stages(student: nn.Module, teacher: nn.Module, example: torch.Tensor, deepest: int = 3) -> list[dict]:
    """The ``deepest`` stage pairs of equal resolution, shallow to deep, as ``{"student", "teacher"}`` dicts.

    Args:
        student, teacher: the two networks (not modified; their BN statistics are untouched).
        example: one input batch (e.g. one window).
        deepest: how many pairs to keep, counted from the deepest.
    """
    s, t = stage_ends(student, example), stage_ends(teacher, example)
    common = [size for size in s if size in t]
    return [{"student": s[size], "teacher": t[size]} for size in common][-deepest:]
