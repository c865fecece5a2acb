"""The micro-benchmark suite a device is calibrated with: small one-kernel models over the layer shapes real
edge networks are made of (in the spirit of nn-Meter's kernel sampling).

Each ``Case`` is plain data (a kind and its sizes), so the suite has a stable hash that names the built files. A
case becomes a tiny ``torch.nn.Module`` (``build_module``) that edgekd exports with the same exporters the
user's artifacts go through, so the micro-benchmarks hold the same op types, fusions and quantization forms:

* ``conv``: a k x k convolution + ReLU (stride 1 or 2), ``pw``: a 1x1 convolution, ``dw``: a depthwise
  k x k convolution + ReLU6, ``dense``: a fully connected layer,
* ``pool``: max or average pooling, or a global average, ``add``: a residual add after a 1x1 convolution,
* ``act``: hard-swish / sigmoid-gate (squeeze-excite) / SiLU / sigmoid elementwise work, ``concat``: two 1x1 branches joined,
* ``conv``/``pw``/``dw`` again with few channels (3-64, a third cut to odd counts) on 28-112 px maps, as the
  first layers of small and pruned networks have them (``KIND-narrow`` draws),
* ``gconv``: a grouped k x k convolution + ReLU (ResNeXt/RegNet blocks; ``variant`` ``gN``: N channels per group),
* ``net``: a small random network of these layers (``blocks.random_network``), so the fit also sees layers next to
  each other, as a runtime runs them (its layout changes between layers, what stays in the caches).

Half the cases hold their op three times in a row (``repeat``; the later copies keep the shape): a file's
boundary work (quantizing the input, the runtime's layout changes) is the same once or three times, so the fit can
tell the op's own cost from it, as a layer inside a network pays it.

Sizes are drawn once (a fixed seed) across the range MobileNet/EfficientNet-Lite-like networks at 96-224 px and
the heart-sound spectrogram models span, so the fit interpolates instead of extrapolating.

Example:
    >>> from edgekd.calibration.suite import suite, suite_hash
    >>> cases = suite("quick")
    >>> len(cases) < len(suite("standard")), cases[0].kind
    (True, 'conv')
    >>> len(suite_hash(cases))
    12
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from typing import Any

from edgekd.errors import InputError

KINDS = ("conv", "pw", "dw", "dense", "pool", "add", "act", "concat", "net", "gconv")


@dataclass(frozen=True)
class Case:
    """One micro-benchmark: a kind and its sizes (input ``1 x cin x h x w``)."""

    kind: str
    cin: int
    h: int
    w: int
    cout: int = 0
    k: int = 1
    stride: int = 1
    variant: str = ""
    repeat: int = 1

    @property
    def name(self) -> str:
        """A file-safe name that says what the case is."""
        extra = f"-{self.variant}" if self.variant else ""
        depth = f"-r{self.repeat}" if self.repeat > 1 else ""
        return (f"{self.kind}{extra}-c{self.cin}x{self.cout}-{self.h}x{self.w}-k{self.k}s{self.stride}{depth}"
                .replace("x0-", "-"))

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.cin,) if self.kind == "dense" else (self.cin, self.h, self.w)


def _conv_macs(c: Case) -> int:
    ho, wo = -(-c.h // c.stride), -(-c.w // c.stride)
    per = c.k * c.k * (1 if c.kind == "dw" else int(c.variant[1:]) if c.kind == "gconv" else c.cin)
    return ho * wo * (c.cin if c.kind == "dw" else c.cout) * per


def _draw(rng: random.Random, draw: str, n: int) -> list[Case]:
    """``n`` distinct cases of ``draw`` (a kind, or ``KIND-narrow``: few channels on a large map, as the first layers
    of small and pruned networks have) whose work lies in the range real edge layers have."""
    out: dict[str, Case] = {}
    tries = 0
    kind, narrow = draw.split("-")[0], draw.endswith("-narrow")
    while len(out) < n and tries < 20000:
        tries += 1
        h = rng.choice((28, 32, 40, 56, 64, 80, 96, 112) if narrow else (4, 7, 8, 14, 16, 28, 32, 40, 56, 64, 96, 112))
        w = h if rng.random() < 0.8 else rng.choice((16, 32, 64, 100, 128))
        # a third of the channel counts are cut to an odd share, as a pruned network's are (kernels pad them to
        # their tile width, and some runtimes leave their fast layouts for them)
        widths = ((3, 4, 6, 8, 12, 16, 24, 32, 40, 48, 56, 64) if narrow else
                  (3, 8, 16, 24, 32, 40, 48, 64, 96, 120, 144, 192, 240, 256, 320, 384, 480, 576, 672, 960))
        ch = tuple(max(2, int(c * rng.uniform(0.45, 0.95))) if rng.random() < 0.35 else c for c in widths)
        if kind == "conv":  # one or three input channels: a spectrogram's or a photo's first layer
            c = Case("conv", rng.choice((1, 3) + ch[1:12]), h, w, rng.choice(ch[1:14]), rng.choice((3, 3, 3, 5, 7)),
                     rng.choice((1, 1, 2)))
            ok = 2e5 <= _conv_macs(c) <= 1.2e8
        elif kind == "pw":
            c = Case("pw", rng.choice(ch[1:]), h, w, rng.choice(ch[1:] + (1280,)), 1, 1)
            ok = 1e5 <= _conv_macs(c) <= 1e8
        elif kind == "dw":
            c = Case("dw", rng.choice(ch[2:]), h, w, 0, rng.choice((3, 3, 5)), rng.choice((1, 1, 2)))
            ok = 2e4 <= _conv_macs(c) <= 2e7
        elif kind == "dense":
            c = Case("dense", rng.choice((32, 64, 128, 256, 512, 576, 960, 1024, 1280, 2048, 4096)), 1, 1,
                     rng.choice((2, 4, 7, 10, 16, 64, 128, 256, 512, 1000, 1280)))
            ok = c.cin * c.cout <= 6e6
        elif kind == "pool":  # the op under test follows a cin x cin 1x1 convolution (see blocks.build_module)
            variant = rng.choice(("max", "avg", "global"))
            c = Case("pool", rng.choice(ch[2:]), h, w, 0, 1 if variant == "global" else rng.choice((2, 3)),
                     1 if variant == "global" else 2, variant)
            ok = 1e3 <= c.cin * h * w <= 2e6 and c.cin * c.cin * h * w <= 4e7
        elif kind == "add":  # two cin x cin 1x1 convolutions around it
            c = Case("add", rng.choice(ch[2:]), h, w, 0, 1, 1)
            ok = 2e3 <= c.cin * h * w <= 2e6 and c.cin * c.cin * h * w <= 3e7
        elif kind == "act":  # the extra draw: SiLU (EfficientNet) and a plain sigmoid
            c = Case("act", rng.choice(ch[2:]), h, w, 0, 1, 1,
                     rng.choice(("silu", "sigmoid") if draw == "act-extra" else ("hswish", "se")))
            ok = 2e3 <= c.cin * h * w <= 2e6 and c.cin * c.cin * h * w <= 3e7
        elif kind == "net":  # a small random network (blocks.random_network), its seed in `variant`
            size = rng.choice((32, 48, 64, 80, 96, 112))
            c = Case("net", rng.choice((1, 3, 3)), size, size if rng.random() < 0.8 else size // 2, 0, 1, 1,
                     f"n{rng.randrange(10**6)}")
            ok = True
        elif kind == "gconv":  # channels a multiple of the group width, as RegNetX/ResNeXt blocks have them
            width = rng.choice((4, 8, 8, 16, 16, 24, 32, 48))
            c = Case("gconv", width * rng.randint(2, 24), h, w, 0, 3, rng.choice((1, 1, 2)), f"g{width}")
            c = Case("gconv", c.cin, h, w, c.cin, 3, c.stride, c.variant)
            ok = 2e5 <= _conv_macs(c) <= 6e7
        else:  # concat
            c = Case("concat", rng.choice(ch[2:12]), h, w, rng.choice(ch[2:12]), 1, 1)
            ok = 1e4 <= c.cin * h * w <= 1e6
        if ok:
            if kind != "net" and rng.random() < 0.5:  # the op three times in a row: same boundary ops, three times the op's own cost
                c = Case(c.kind, c.cin, c.h, c.w, c.cout, c.k, c.stride, c.variant, repeat=3)
            out.setdefault(c.name, c)
    return list(out.values())


#: the draws of a suite, in order (new draws go last, so the earlier cases, and their built files, stay the same)
DRAWS = (*KINDS, "conv-narrow", "pw-narrow", "dw-narrow", "act-extra")
#: how many cases of each draw each suite makes
SIZES = {
    "smoke": {"conv": 1, "pw": 1, "dw": 1, "dense": 1, "pool": 0, "add": 0, "act": 0, "concat": 0, "net": 0, "gconv": 0},
    "quick": {"conv": 4, "pw": 4, "dw": 3, "dense": 2, "pool": 2, "add": 1, "act": 1, "concat": 1, "net": 1, "gconv": 1, "dw-narrow": 1},
    "standard": {"conv": 36, "pw": 36, "dw": 28, "dense": 12, "pool": 12, "add": 10, "act": 10, "concat": 8,
                 "net": 100, "gconv": 16, "conv-narrow": 12, "pw-narrow": 16, "dw-narrow": 16,
                 "act-extra": 8},
}


def suite(name: str = "standard", seed: int = 0) -> list[Case]:
    """The cases of the named suite (``standard``: what a calibration needs; ``quick`` and ``smoke``: checks of
    the machinery, too few cases for a fit to trust).

    Raises:
        InputError: an unknown suite name.
    """
    if name not in SIZES:
        raise InputError(f"unknown calibration suite {name!r} (known: {', '.join(SIZES)})")
    rng = random.Random(f"edgekd-suite-{seed}")
    cases: list[Case] = []
    for draw in DRAWS:
        cases += _draw(rng, draw, SIZES[name].get(draw, 0))
    unique: dict[str, Case] = {}
    for c in cases:  # a case drawn twice is kept once, where it came first
        unique.setdefault(c.name, c)
    return list(unique.values())


def suite_hash(cases: list[Case]) -> str:
    """12 hex digits naming the cases (and so the built files)."""
    text = json.dumps([asdict(c) for c in cases], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
