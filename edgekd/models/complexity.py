"""Parameter and multiply-accumulate counts, measured by a forward pass with hooks."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    """Number of parameter elements (buffers such as BN running stats excluded)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass on a batch of one.

    Counts convolutions (1-D, 2-D, 3-D) and Linear layers, which dominate these
    CNNs; BN is folded into the conv at export and pooling/activations are not MACs.

    Args:
        model: the network (left in the mode it was in).
        input_shape: one example's shape, channel first, without the batch dim.
    """
    total = 0

    def conv_hook(m: nn.modules.conv._ConvNd, _inp, out: torch.Tensor) -> None:
        nonlocal total
        k = math.prod(m.kernel_size) * (m.in_channels // m.groups)
        total += int(out.numel() // out.shape[0]) * k

    def linear_hook(m: nn.Linear, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += int(out.numel() // out.shape[0]) * m.in_features

    hooked_forward(model, input_shape, {nn.modules.conv._ConvNd: conv_hook, nn.Linear: linear_hook})
    return total


def hooked_forward(model: nn.Module, input_shape: tuple[int, ...], hooks: dict[type, Callable]) -> None:
    """One eval-mode, no-grad forward pass on zeros with ``hooks[type]`` on every module of that type.

    The hooks are removed and the model's train/eval mode restored afterwards (BN statistics untouched).
    """
    handles = [m.register_forward_hook(fn) for m in model.modules()
               for t, fn in hooks.items() if isinstance(m, t)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
