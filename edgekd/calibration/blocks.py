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


class InvertedResidual(nn.Module):
    """MobileNetV2/V3's block: 1x1 expansion, k x k depthwise, optional squeeze-excite, 1x1 projection (+ input)."""

    def __init__(self, cin: int, cout: int, expand: int, k: int, stride: int, se: bool, hswish: bool) -> None:
        super().__init__()
        mid = max(cin * expand, 4)
        act = nn.Hardswish if hswish else nn.ReLU6
        layers: list[nn.Module] = [] if expand == 1 else [nn.Conv2d(cin, mid, 1), act()]
        layers += [nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid), act()]
        if se:
            layers.append(SqueezeExcite(mid))
        layers.append(nn.Conv2d(mid, cout, 1))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


def random_network(case: Case) -> nn.Module:
    """A small random network of the suite's layer vocabulary (``case.variant`` is its seed): a strided stem, 3-7
    blocks (inverted residuals with or without squeeze-excite, plain 3x3 convolutions, max pooling) with channel
    counts aligned or odd, then a global average and a dense head. Timed whole, these teach the fit what layers
    cost next to each other (the runtime's layout changes between them, their caches), which one-kernel files
    cannot."""
    import random

    rng = random.Random(f"edgekd-net-{case.variant}")
    c = rng.choice((8, 12, 16, 24, 32))
    layers: list[nn.Module] = [nn.Conv2d(case.cin, c, 3, 2, 1), nn.ReLU()]
    size = -(-case.h // 2)
    for _ in range(rng.randint(3, 7)):
        cout = rng.choice((c, c, int(c * rng.uniform(1.2, 2.0)), max(4, int(c * rng.uniform(0.6, 1.0)))))
        if rng.random() < 0.3:
            cout = cout // 8 * 8 or 8
        stride = 2 if size >= 8 and rng.random() < 0.35 else 1
        kind = rng.random()
        if kind < 0.65:
            layers.append(InvertedResidual(c, cout, rng.choice((1, 3, 4, 6)), rng.choice((3, 3, 5)), stride,
                                           rng.random() < 0.3, rng.random() < 0.4))
        elif kind < 0.9:
            layers += [nn.Conv2d(c, cout, 3, stride, 1), nn.ReLU()]
        else:
            layers += [nn.MaxPool2d(2, 2)] if size >= 4 else []
            cout, stride = c, 2 if size >= 4 else 1
        c, size = cout, -(-size // stride)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
    return nn.Sequential(*layers)


def build_module(case: Case, *, channels_last_output: bool = False) -> nn.Module:
    """The case as a module in eval mode with fixed random weights.

    ``pool``, ``add`` and ``act`` cases start with a 1x1 convolution (``add`` and ``act`` end with a narrow one), so
    their op works on quantized tensors in an int8 file, as it does inside a network (at the graph's float input or
    output the converter leaves such an op in float).

    Raises:
        InputError: an unknown kind.
    """
    c = case
    if c.kind == "net":
        body: nn.Module = random_network(c)
    elif c.kind in ("add", "act"):  # stem convolution, the op `repeat` times at cin channels, a narrow tail
        acts = {"hswish": nn.Hardswish, "silu": nn.SiLU, "sigmoid": nn.Sigmoid}
        op = (lambda: Residual(nn.Conv2d(c.cin, c.cin, 1))) if c.kind == "add" else (
            acts[c.variant] if c.variant in acts else (lambda: SqueezeExcite(c.cin)))
        body = nn.Sequential(nn.Conv2d(c.cin, c.cin, 1), *[op() for _ in range(c.repeat)],
                                        nn.Conv2d(c.cin, 8, 1))
    else:
        body = _block(case)
        for _ in range(case.repeat - 1):  # the later copies keep the shape: stride 1, cout -> cout
            body = nn.Sequential(body, _block(_follower(case)))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in body.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return (ChannelsLast(body) if channels_last_output else body).eval()


def _follower(c: Case) -> Case:
    """The shape-keeping copy of a case that follows it in a ``repeat`` chain."""
    from dataclasses import replace

    if c.kind in ("conv", "pw", "dense", "gconv"):
        return replace(c, cin=c.cout, stride=1, h=-(-c.h // c.stride), w=-(-c.w // c.stride), repeat=1)
    if c.kind == "dw":
        return replace(c, stride=1, repeat=1)
    if c.kind == "pool":  # after a pooling the map is smaller; pool again only where it still can
        h, w = (1, 1) if c.variant == "global" else (c.h // c.stride, c.w // c.stride)
        return replace(c, h=h, w=w, variant="global" if min(h, w) < c.k else c.variant, repeat=1)
    return replace(c, cin=2 * c.cout, repeat=1)  # concat: the joined map is the next input


def _block(c: Case) -> nn.Module:
    """One copy of the case's op (with its stem/tail convolutions)."""
    if c.kind == "conv":
        body: nn.Module = nn.Sequential(nn.Conv2d(c.cin, c.cout, c.k, c.stride, c.k // 2), nn.ReLU())
    elif c.kind == "pw":
        body = nn.Conv2d(c.cin, c.cout, 1)
    elif c.kind == "gconv":
        groups = c.cin // int(c.variant[1:])
        body = nn.Sequential(nn.Conv2d(c.cin, c.cout, c.k, c.stride, c.k // 2, groups=groups), nn.ReLU())
    elif c.kind == "dw":
        body = nn.Sequential(nn.Conv2d(c.cin, c.cin, c.k, c.stride, c.k // 2, groups=c.cin), nn.ReLU6())
    elif c.kind == "dense":
        body = nn.Linear(c.cin, c.cout)
    elif c.kind == "pool":
        body = nn.Sequential(nn.Conv2d(c.cin, c.cin, 1), {"max": nn.MaxPool2d(c.k, c.stride),
                             "avg": nn.AvgPool2d(c.k, c.stride), "global": nn.AdaptiveAvgPool2d(1)}[c.variant])
    elif c.kind == "concat":
        body = Concat(nn.Conv2d(c.cin, c.cout, 1), nn.Conv2d(c.cin, c.cout, 1))
    else:
        raise InputError(f"unknown calibration case kind {c.kind!r} (known: {', '.join(KINDS)})")
    return body
