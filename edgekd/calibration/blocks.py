"""A suite case as a tiny ``torch.nn.Module`` (host side: torch is imported here, never on the device).

Example:
    >>> from edgekd.calibration.blocks import build_module
    >>> from edgekd.calibration.suite import Case
    >>> net = build_module(Case("dw", 32, 16, 16, k=3, stride=2))
    >>> tuple(net(__import__("torch").zeros(1, 32, 16, 16)).shape)
    (1, 32, 8, 8)
"""

from __future__ import annotations

import torch
from torch import nn

from edgekd.calibration.suite import KINDS, Case
from edgekd.errors import InputError


class Residual(nn.Module):
    """``x + inner(x)``: the residual add of inverted-residual and ResNet blocks."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.inner(x)


class SqueezeExcite(nn.Module):
    """MobileNetV3's squeeze-excite: global mean, two 1x1 convolutions, a hard-sigmoid gate times the input."""

    def __init__(self, c: int) -> None:
        super().__init__()
        mid = max(8, c // 4)
        self.reduce = nn.Conv2d(c, mid, 1)
        self.expand = nn.Conv2d(mid, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)
        return x * nn.functional.hardsigmoid(self.expand(nn.functional.relu(self.reduce(s))))


class Concat(nn.Module):
    """Two 1x1 branches joined on channels (Inception/DenseNet-style)."""

    def __init__(self, a: nn.Module, b: nn.Module) -> None:
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.a(x), self.b(x)], dim=1)


class ChannelsLast(nn.Module):
    """The body's output permuted to NHWC: with an NHWC input, litert-torch then writes no TRANSPOSE at all, so a
    TFLite suite file holds the kernel under test and nothing else (a real classifier ends in a flat output)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return y.permute(0, 2, 3, 1) if y.ndim == 4 else y


def build_module(case: Case, *, channels_last_output: bool = False) -> nn.Module:
    """The case as a module in eval mode with fixed random weights.

    ``pool``, ``add`` and ``act`` cases start with a 1x1 convolution (``add`` and ``act`` end with a narrow one), so
    their op works on quantized tensors in an int8 file, as it does inside a network (at the graph's float input or
    output the converter leaves such an op in float).

    Raises:
        InputError: an unknown kind.
    """
    c = case
    if c.kind == "conv":
        body: nn.Module = nn.Sequential(nn.Conv2d(c.cin, c.cout, c.k, c.stride, c.k // 2), nn.ReLU())
    elif c.kind == "pw":
        body = nn.Conv2d(c.cin, c.cout, 1)
    elif c.kind == "dw":
        body = nn.Sequential(nn.Conv2d(c.cin, c.cin, c.k, c.stride, c.k // 2, groups=c.cin), nn.ReLU6())
    elif c.kind == "dense":
        body = nn.Linear(c.cin, c.cout)
    elif c.kind == "pool":
        body = nn.Sequential(nn.Conv2d(c.cin, c.cin, 1), {"max": nn.MaxPool2d(c.k, c.stride),
                             "avg": nn.AvgPool2d(c.k, c.stride), "global": nn.AdaptiveAvgPool2d(1)}[c.variant])
    elif c.kind == "add":
        body = nn.Sequential(nn.Conv2d(c.cin, c.cin, 1), Residual(nn.Conv2d(c.cin, c.cin, 1)),
                             nn.Conv2d(c.cin, 8, 1))
    elif c.kind == "act":
        body = nn.Sequential(nn.Conv2d(c.cin, c.cin, 1),
                             nn.Hardswish() if c.variant == "hswish" else SqueezeExcite(c.cin), nn.Conv2d(c.cin, 8, 1))
    elif c.kind == "concat":
        body = Concat(nn.Conv2d(c.cin, c.cout, 1), nn.Conv2d(c.cin, c.cout, 1))
    else:
        raise InputError(f"unknown calibration case kind {c.kind!r} (known: {', '.join(KINDS)})")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in body.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return (ChannelsLast(body) if channels_last_output else body).eval()
