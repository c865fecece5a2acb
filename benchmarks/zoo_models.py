"""The latency-zoo's networks: real architectures (random weights, eval mode) for validating the latency estimator.

``zoo()`` lists ``ZooModel(name, family, build, input_shape)`` entries; ``build()`` returns a fresh
``nn.Module`` (seeded, so a pruned variant keeps the same channels on every call) and ``input_shape`` is one
example's shape without the batch dimension (NCHW for images). ``benchmarks/zoo_build.py`` exports them.

Families (MACs from about 1 M to about 600 M, several op mixes):

* ``edgekd``: the project's registered models (``edgekd.models.registry.MODELS``) at the recipes' shapes:
  heart students/teacher on (1, 32, 188) log-mel windows, the plant image students/teacher at 224 px,
  ``efficientnet_lite0`` (TensorFlow SAME padding: PAD ops before every stride-2 convolution) at 224 and 128 px.
* ``pruned``: ``edgekd.prune`` (the public API, ``importance="l2"``, which needs no data; ``round_to=None`` so
  channel counts are irregular) of heart_teacher, image_student and a MobileNetV2 at ``macs_ratio`` 0.6 and 0.3.
* ``mobilenetv2``: inverted residuals, ReLU6, channels rounded to multiples of 8, widths 0.35-1.0, 96-224 px.
* ``mobilenetv3``: small and large (hard-swish, squeeze-excite with hard-sigmoid, 5x5 depthwise).
* ``efficientnet_lite``: MBConv without SE, ReLU6, 3x3/5x5 depthwise, symmetric padding, compound width/depth
  scaling (stem 32 and head 1280 fixed, as Lite does).
* ``plain``: VGG-like 3x3 stacks with max-pooling, a ResNet-18-like network with basic blocks.
* ``audio``: spectrogram-shaped inputs: a KWS CNN on (1, 40, 100), DS-CNN (Hello Edge) on (1, 49, 10) MFCCs,
  a 1-D convolution net (Conv1d) on (40, 101) features.
* ``mlp``: dense layers only.

All definitions are written here (torchvision is not installed); none needs a download.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import edgekd.models  # noqa: E402,F401  (registers the built-in architectures)
from edgekd.models.registry import MODELS  # noqa: E402


@dataclass(frozen=True)
class ZooModel:
    """One zoo entry: ``build()`` gives a fresh module; ``input_shape`` excludes the batch dimension."""

    name: str
    family: str
    build: Callable[[], nn.Module]
    input_shape: tuple


HEART = (1, 32, 188)  # recipes/heart.yaml: 32 mel bands, 3 s at 2 kHz with hop 32
PLANT = 224  # recipes/plant.yaml: frontend.size


def _seeded(fn: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        torch.manual_seed(0)
        return fn().eval()
    return build


def make8(c: float, divisor: int = 8) -> int:
    """MobileNet's ``_make_divisible``: nearest multiple of ``divisor``, never down by more than 10 %."""
    out = max(divisor, int(c + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * c else out


def cbn(c_in: int, c_out: int, k: int = 3, stride: int = 1, groups: int = 1, act: type | None = nn.ReLU6) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def classifier(c: int, hw: tuple[int, int], num_classes: int) -> nn.Sequential:
    """Global average pool as one fixed-size AvgPool2d (as the project's models do), flatten, linear."""
    return nn.Sequential(nn.AvgPool2d(hw), nn.Flatten(), nn.Linear(c, num_classes))


def _out(size: int, strides: list[int]) -> int:
    for s in strides:
        size = (size - 1) // s + 1
    return size


# ---------------------------------------------------------------------------------------------- MobileNetV2
class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expand: int, k: int = 3) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = [cbn(c_in, hidden, 1)] if expand != 1 else []
        layers += [cbn(hidden, hidden, k, stride, groups=hidden), cbn(hidden, c_out, 1, act=None)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


MNV2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


class MobileNetV2(nn.Module):
    def __init__(self, width: float = 1.0, res: int = 224, num_classes: int = 1000) -> None:
        super().__init__()
        c = make8(32 * width)
        layers: list[nn.Module] = [cbn(3, c, 3, 2)]
        strides = [2]
        for t, ch, n, s in MNV2:
            c_out = make8(ch * width)
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, s if i == 0 else 1, t))
                strides.append(s if i == 0 else 1)
                c = c_out
        last = make8(1280 * max(1.0, width))
        layers.append(cbn(c, last, 1))
        self.features = nn.Sequential(*layers)
        hw = _out(res, strides)
        self.head = classifier(last, (hw, hw), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# ---------------------------------------------------------------------------------------------- MobileNetV3
class SqueezeExcite(nn.Module):
    def __init__(self, c: int, hw: int) -> None:
        super().__init__()
        squeeze = make8(c / 4)
        self.pool = nn.AvgPool2d(hw)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class MNV3Block(nn.Module):
    def __init__(self, c_in: int, k: int, hidden: int, c_out: int, se: bool, act: type, stride: int, hw_out: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [cbn(c_in, hidden, 1, act=act)] if hidden != c_in else []
        layers.append(cbn(hidden, hidden, k, stride, groups=hidden, act=act))
        if se:
            layers.append(SqueezeExcite(hidden, hw_out))
        layers.append(cbn(hidden, c_out, 1, act=None))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


RE, HS = nn.ReLU, nn.Hardswish
# (kernel, expanded, out, SE, activation, stride) as in Howard et al., ICCV 2019, tables 1 and 2
MNV3_LARGE = ((3, 16, 16, False, RE, 1), (3, 64, 24, False, RE, 2), (3, 72, 24, False, RE, 1),
              (5, 72, 40, True, RE, 2), (5, 120, 40, True, RE, 1), (5, 120, 40, True, RE, 1),
              (3, 240, 80, False, HS, 2), (3, 200, 80, False, HS, 1), (3, 184, 80, False, HS, 1),
              (3, 184, 80, False, HS, 1), (3, 480, 112, True, HS, 1), (3, 672, 112, True, HS, 1),
              (5, 672, 160, True, HS, 2), (5, 960, 160, True, HS, 1), (5, 960, 160, True, HS, 1))
MNV3_SMALL = ((3, 16, 16, True, RE, 2), (3, 72, 24, False, RE, 2), (3, 88, 24, False, RE, 1),
              (5, 96, 40, True, HS, 2), (5, 240, 40, True, HS, 1), (5, 240, 40, True, HS, 1),
              (5, 120, 48, True, HS, 1), (5, 144, 48, True, HS, 1), (5, 288, 96, True, HS, 2),
              (5, 576, 96, True, HS, 1), (5, 576, 96, True, HS, 1))


class MobileNetV3(nn.Module):
    def __init__(self, kind: str = "large", width: float = 1.0, res: int = 224, num_classes: int = 1000) -> None:
        super().__init__()
        spec, last, head = (MNV3_LARGE, 960, 1280) if kind == "large" else (MNV3_SMALL, 576, 1024)
        c = make8(16 * width)
        layers: list[nn.Module] = [cbn(3, c, 3, 2, act=HS)]
        hw = _out(res, [2])
        for k, exp, out, se, act, s in spec:
            hw = _out(hw, [s])
            c_out = make8(out * width)
            layers.append(MNV3Block(c, k, make8(exp * width), c_out, se, act, s, hw))
            c = c_out
        last = make8(last * width)
        layers.append(cbn(c, last, 1, act=HS))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AvgPool2d(hw), nn.Conv2d(last, head, 1), HS(), nn.Flatten(),
                                  nn.Linear(head, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# ---------------------------------------------------------------------------------------------- EfficientNet-Lite
# (repeats, kernel, stride, out channels, expansion) of EfficientNet-B0 / Lite0
LITE_STAGES = ((1, 3, 1, 16, 1), (2, 3, 2, 24, 6), (2, 5, 2, 40, 6), (3, 3, 2, 80, 6), (3, 5, 1, 112, 6),
               (4, 5, 2, 192, 6), (1, 3, 1, 320, 6))


class EfficientNetLiteScaled(nn.Module):
    """EfficientNet-Lite with compound scaling: stem (32) and head (1280) fixed, no SE, ReLU6, same padding."""

    def __init__(self, width: float = 1.0, depth: float = 1.0, res: int = 224, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [cbn(3, 32, 3, 2)]
        strides = [2]
        c = 32
        for i, (n, k, s, out, e) in enumerate(LITE_STAGES):
            c_out = make8(out * width)
            reps = n if i in (0, len(LITE_STAGES) - 1) else int(math.ceil(n * depth))  # Lite: first/last not scaled
            for j in range(reps):
                layers.append(InvertedResidual(c, c_out, s if j == 0 else 1, e, k))
                strides.append(s if j == 0 else 1)
                c = c_out
        layers.append(cbn(c, 1280, 1))
        self.features = nn.Sequential(*layers)
        hw = _out(res, strides)
        self.head = classifier(1280, (hw, hw), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# ---------------------------------------------------------------------------------------------- plain CNNs
class VGGLike(nn.Module):
    """Stacks of 3x3 Conv-BN-ReLU, a 2x2 max-pool after each stage, global average pool, two dense layers."""

    def __init__(self, stages: tuple, in_shape: tuple, num_classes: int = 10, hidden: int = 256) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_shape[0]
        h, w = in_shape[1], in_shape[2]
        for width, convs in stages:
            for _ in range(convs):
                layers.append(cbn(c, width, 3, act=nn.ReLU))
                c = width
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AvgPool2d((h, w)), nn.Flatten(), nn.Linear(c, hidden), nn.ReLU(),
                                  nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(cbn(c_in, c_out, 3, stride, act=nn.ReLU), cbn(c_out, c_out, 3, act=None))
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out
                         else cbn(c_in, c_out, 1, stride, act=None))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class ResNetLike(nn.Module):
    """ResNet-18/10-like: 7x7 stride-2 stem, 3x3 max-pool, basic blocks per stage, global average pool."""

    def __init__(self, widths: tuple, blocks: tuple, in_shape: tuple, num_classes: int = 1000) -> None:
        super().__init__()
        c = widths[0]
        layers: list[nn.Module] = [cbn(in_shape[0], c, 7, 2, act=nn.ReLU), nn.MaxPool2d(3, 2, 1)]
        strides = [2, 2]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                s = 2 if i > 0 and j == 0 else 1
                layers.append(BasicBlock(c, w, s))
                strides.append(s)
                c = w
        self.features = nn.Sequential(*layers)
        h, w_ = _out(in_shape[1], strides), _out(in_shape[2], strides)
        self.head = classifier(c, (h, w_), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# ---------------------------------------------------------------------------------------------- audio / MLP
class DSCNN(nn.Module):
    """DS-CNN (Zhang et al., "Hello Edge", 2017) on (1, 49, 10) MFCCs: a 10x4 conv, then depthwise-separable blocks."""

    def __init__(self, width: int = 64, blocks: int = 4, num_classes: int = 12) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(1, width, (10, 4), (2, 2), (5, 1), bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        for _ in range(blocks):
            layers += [cbn(width, width, 3, groups=width, act=nn.ReLU), cbn(width, width, 1, act=nn.ReLU)]
        self.features = nn.Sequential(*layers)
        self.head = classifier(width, (25, 5), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Conv1dNet(nn.Module):
    """1-D convolutions over time on (features, frames) inputs (nn.Conv1d / BatchNorm1d / MaxPool1d)."""

    def __init__(self, in_shape: tuple = (40, 101), widths: tuple = (64, 96, 128, 160), num_classes: int = 12) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, t = in_shape
        for w in widths:
            layers += [nn.Conv1d(c, w, 5, padding=2, bias=False), nn.BatchNorm1d(w), nn.ReLU(), nn.MaxPool1d(2)]
            c, t = w, t // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AvgPool1d(t), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class MLP(nn.Module):
    def __init__(self, in_shape: tuple, hidden: tuple, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        c = math.prod(in_shape)
        for h in hidden:
            layers += [nn.Linear(c, h), nn.ReLU()]
            c = h
        layers.append(nn.Linear(c, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ---------------------------------------------------------------------------------------------- registry + pruned
def registered(key: str, num_classes: int, input_shape: tuple, **params) -> Callable[[], nn.Module]:
    return lambda: MODELS.get(key)(num_classes=num_classes, input_shape=tuple(input_shape), **params)


def pruned(base: Callable[[], nn.Module], input_shape: tuple, ratio: float) -> Callable[[], nn.Module]:
    """``edgekd.prune`` of ``base()`` to ``macs_ratio`` (L2 importance: no data; no rounding: irregular channels)."""

    def build() -> nn.Module:
        import edgekd

        torch.manual_seed(0)
        out = edgekd.prune(base().eval(), {"macs_ratio": ratio}, torch.zeros(1, *input_shape), importance="l2",
                           log=lambda s: None)
        return out.model
    return build


def zoo() -> list[ZooModel]:
    """Every zoo entry, small to large within each family."""
    img = (3, PLANT, PLANT)
    plant_student = {"stem": 16, "blocks": [[32, 2], [64, 2], [64, 1], [128, 2], [128, 1], [192, 2]]}
    m: list[ZooModel] = []

    def add(name: str, family: str, fn: Callable[[], nn.Module], shape: tuple) -> None:
        m.append(ZooModel(name, family, _seeded(fn), tuple(shape)))

    # 1. the project's own registered models, at the recipes' shapes
    add("heart_student", "edgekd", registered("heart_student", 2, HEART), HEART)
    add("heart_student_res", "edgekd", registered("heart_student_res", 2, HEART), HEART)
    add("heart_tcn", "edgekd", registered("heart_tcn", 2, HEART, widths=[64, 64, 64], pools=[1, 1, 2], kernel=5), HEART)
    add("heart_tcn_default", "edgekd", registered("heart_tcn", 2, HEART), HEART)
    add("heart_teacher", "edgekd", registered("heart_teacher", 2, HEART), HEART)
    add("plant_student", "edgekd", registered("image_student", 7, img, **plant_student), img)
    add("plant_plain_student", "edgekd", registered("image_plain_student", 7, img), img)
    add("plant_teacher_mnv2", "edgekd", registered("image_teacher", 7, img), img)
    add("efficientnet_lite0_128", "edgekd", registered("efficientnet_lite0", 7, (3, 128, 128)), (3, 128, 128))
    add("efficientnet_lite0_224", "edgekd", registered("efficientnet_lite0", 7, img), img)
    add("efficientnet_lite0_b9_96", "edgekd", registered("efficientnet_lite0", 7, (3, 96, 96), blocks=9, head=0),
        (3, 96, 96))

    # 2. pruned (edgekd.prune, L2, channels not rounded)
    for ratio in (0.6, 0.3):
        tag = f"p{int(ratio * 100)}"
        add(f"heart_teacher_{tag}", "pruned", pruned(registered("heart_teacher", 2, HEART), HEART, ratio), HEART)
        add(f"plant_student_{tag}", "pruned",
            pruned(registered("image_student", 7, img, **plant_student), img, ratio), img)
        add(f"mobilenetv2_100_160_{tag}", "pruned",
            pruned(lambda: MobileNetV2(1.0, 160), (3, 160, 160), ratio), (3, 160, 160))

    # 3. MobileNetV2
    for width, res in ((0.35, 96), (0.35, 128), (0.5, 96), (0.5, 160), (0.75, 128), (0.75, 160), (1.0, 96),
                       (1.0, 128), (1.0, 160), (1.0, 224)):
        add(f"mobilenetv2_{int(width * 100):03d}_{res}", "mobilenetv2",
            (lambda w=width, r=res: MobileNetV2(w, r)), (3, res, res))

    # 4. MobileNetV3
    for kind, width, res in (("small", 0.75, 128), ("small", 1.0, 224), ("large", 0.75, 160), ("large", 1.0, 128),
                             ("large", 1.0, 224)):
        add(f"mobilenetv3_{kind}_{int(width * 100):03d}_{res}", "mobilenetv3",
            (lambda k=kind, w=width, r=res: MobileNetV3(k, w, r)), (3, res, res))

    # 5. EfficientNet-Lite-like (own definition: symmetric padding, compound scaling)
    for tag, width, depth, res in (("w050_d080", 0.5, 0.8, 128), ("w075_d100", 0.75, 1.0, 160),
                                   ("w100_d110", 1.0, 1.1, 192), ("w110_d120", 1.1, 1.2, 208)):
        add(f"efficientnet_lite_{tag}_{res}", "efficientnet_lite",
            (lambda w=width, d=depth, r=res: EfficientNetLiteScaled(w, d, r)), (3, res, res))

    # 6. plain CNNs, audio-shaped inputs, MLP
    add("vgg_small_32", "plain", lambda: VGGLike(((32, 2), (64, 2), (128, 2)), (3, 32, 32)), (3, 32, 32))
    add("vgg_medium_96", "plain", lambda: VGGLike(((32, 1), (64, 2), (128, 2), (256, 2)), (3, 96, 96)), (3, 96, 96))
    add("resnet10_half_128", "plain", lambda: ResNetLike((32, 64, 128, 256), (1, 1, 1, 1), (3, 128, 128)),
        (3, 128, 128))
    add("resnet18_128", "plain", lambda: ResNetLike((64, 128, 256, 512), (2, 2, 2, 2), (3, 128, 128)), (3, 128, 128))
    add("kws_cnn_40x100", "audio", lambda: VGGLike(((32, 2), (64, 2), (96, 1)), (1, 40, 100), num_classes=12, hidden=128),
        (1, 40, 100))
    add("ds_cnn_49x10", "audio", lambda: DSCNN(64, 4), (1, 49, 10))
    add("ds_cnn_l_49x10", "audio", lambda: DSCNN(276, 5), (1, 49, 10))
    add("conv1d_40x101", "audio", lambda: Conv1dNet((40, 101)), (40, 101))
    add("mlp_784", "mlp", lambda: MLP((1, 28, 28), (1024, 512)), (1, 28, 28))
    add("mlp_kws_250", "mlp", lambda: MLP((250,), (144, 144, 144), num_classes=12), (250,))
    return m


# ================================================================================================ fresh held-out set
# Twelve architectures the estimator's tuning never saw (``fresh()``; built by ``zoo_build.py --set fresh`` into
# runs/latency-zoo-fresh). None is a width/resolution variant of a ``zoo()`` entry.
class SE(nn.Module):
    """Squeeze-excite with a fixed-size average pool; ``act``/``gate`` chosen per family (ReLU/sigmoid, SiLU/sigmoid)."""

    def __init__(self, c: int, squeeze: int, hw: int, act: type = nn.ReLU, gate: type = nn.Sigmoid) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.AvgPool2d(hw), nn.Conv2d(c, squeeze, 1), act(), nn.Conv2d(squeeze, c, 1), gate())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.body(x)


class MBConv(nn.Module):
    """Expand 1x1, kxk depthwise, optional SE, project 1x1; residual when shapes allow (MnasNet, EfficientNet-B0)."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, expand: int, se: float, act: type, hw_out: int,
                 se_act: type = nn.ReLU) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = [cbn(c_in, hidden, 1, act=act)] if expand != 1 else []
        layers.append(cbn(hidden, hidden, k, stride, groups=hidden, act=act))
        if se:
            layers.append(SE(hidden, max(1, int(c_in * se)), hw_out, se_act))
        layers.append(cbn(hidden, c_out, 1, act=None))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class MBNet(nn.Module):
    """Stem 3x3/2, MBConv stages ``(expand, k, c_out, repeats, stride, se)``, 1x1 head, classifier."""

    def __init__(self, stages: tuple, res: int, act: type, stem: int = 32, head: int = 1280, se_act: type = nn.ReLU,
                 first_sep: int = 0, num_classes: int = 1000) -> None:
        super().__init__()
        hw = _out(res, [2])
        layers: list[nn.Module] = [cbn(3, stem, 3, 2, act=act)]
        c = stem
        if first_sep:  # MnasNet: a separable 3x3 (no expansion, no residual) before the stages
            layers += [cbn(c, c, 3, groups=c, act=act), cbn(c, first_sep, 1, act=None)]
            c = first_sep
        for e, k, out, n, s, se in stages:
            for j in range(n):
                st = s if j == 0 else 1
                hw = _out(hw, [st])
                layers.append(MBConv(c, out, k, st, e, se, act, hw, se_act))
                c = out
        layers.append(cbn(c, head, 1, act=act))
        self.features = nn.Sequential(*layers)
        self.head = classifier(head, (hw, hw), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# MnasNet-A1 (Tan et al., CVPR 2019, fig. 7): SE ratio 0.25 of the block input in three stages
MNAS_A1 = ((6, 3, 24, 2, 2, 0), (3, 5, 40, 3, 2, 0.25), (6, 3, 80, 4, 2, 0), (6, 3, 112, 2, 1, 0.25),
           (6, 5, 160, 3, 2, 0.25), (6, 3, 320, 1, 1, 0))
# EfficientNet-B0 (Tan & Le, 2019, table 1): SE 0.25 everywhere, swish
EFF_B0 = ((1, 3, 16, 1, 1, 0.25), (6, 3, 24, 2, 2, 0.25), (6, 5, 40, 2, 2, 0.25), (6, 3, 80, 3, 2, 0.25),
          (6, 5, 112, 3, 1, 0.25), (6, 5, 192, 4, 2, 0.25), (6, 3, 320, 1, 1, 0.25))


class ShuffleUnit(nn.Module):
    """ShuffleNetV2 unit: stride 1 splits the channels in two (one half through 1x1-dw3x3-1x1), concat, shuffle."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        half = c_out // 2
        c_branch = c_in if stride == 2 else c_in // 2
        self.branch = nn.Sequential(cbn(c_branch, half, 1, act=nn.ReLU), cbn(half, half, 3, stride, groups=half, act=None),
                                    cbn(half, half, 1, act=nn.ReLU))
        self.proj = (nn.Sequential(cbn(c_in, c_in, 3, 2, groups=c_in, act=None), cbn(c_in, half, 1, act=nn.ReLU))
                     if stride == 2 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            y = torch.cat((a, self.branch(b)), 1)
        else:
            y = torch.cat((self.proj(x), self.branch(x)), 1)
        n, c, h, w = y.shape
        return y.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleNetV2(nn.Module):
    def __init__(self, widths: tuple = (48, 96, 192), repeats: tuple = (4, 8, 4), res: int = 128, last: int = 1024,
                 num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [cbn(3, 24, 3, 2, act=nn.ReLU), nn.MaxPool2d(3, 2, 1)]
        c, hw = 24, _out(res, [2, 2])
        for w, n in zip(widths, repeats):
            for j in range(n):
                layers.append(ShuffleUnit(c, w, 2 if j == 0 else 1))
                c = w
            hw = _out(hw, [2])
        layers.append(cbn(c, last, 1, act=nn.ReLU))
        self.features = nn.Sequential(*layers)
        self.head = classifier(last, (hw, hw), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class GhostModule(nn.Module):
    """Half the outputs from a 1x1 conv, the other half a cheap 3x3 depthwise of those; concatenated."""

    def __init__(self, c_in: int, c_out: int, relu: bool = True) -> None:
        super().__init__()
        half = c_out // 2
        act = nn.ReLU if relu else None
        self.primary = cbn(c_in, half, 1, act=act)
        self.cheap = cbn(half, c_out - half, 3, groups=half, act=act) if c_out - half == half else \
            cbn(half, c_out - half, 3, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.primary(x)
        return torch.cat((y, self.cheap(y)), 1)


class GhostBottleneck(nn.Module):
    def __init__(self, c_in: int, hidden: int, c_out: int, k: int, stride: int, se: bool, hw_out: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [GhostModule(c_in, hidden)]
        if stride == 2:
            layers.append(cbn(hidden, hidden, k, 2, groups=hidden, act=None))
        if se:
            layers.append(SE(hidden, make8(hidden / 4, 4), hw_out, nn.ReLU, nn.Hardsigmoid))
        layers.append(GhostModule(hidden, c_out, relu=False))
        self.body = nn.Sequential(*layers)
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else
                         nn.Sequential(cbn(c_in, c_in, k, stride, groups=c_in, act=None), cbn(c_in, c_out, 1, act=None)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


# GhostNet 1.0 (Han et al., CVPR 2020, table 7), trimmed: (kernel, hidden, out, SE, stride)
GHOST = ((3, 16, 16, False, 1), (3, 48, 24, False, 2), (3, 72, 24, False, 1), (5, 72, 40, True, 2),
         (5, 120, 40, True, 1), (3, 240, 80, False, 2), (3, 200, 80, False, 1), (3, 480, 112, True, 1),
         (5, 672, 160, True, 2), (5, 960, 160, True, 1))


class GhostNet(nn.Module):
    def __init__(self, res: int = 160, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [cbn(3, 16, 3, 2, act=nn.ReLU)]
        c, hw = 16, _out(res, [2])
        for k, hidden, out, se, s in GHOST:
            hw = _out(hw, [s])
            layers.append(GhostBottleneck(c, hidden, out, k, s, se, hw))
            c = out
        layers.append(cbn(c, 960, 1, act=nn.ReLU))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AvgPool2d(hw), nn.Conv2d(960, 1280, 1), nn.ReLU(), nn.Flatten(),
                                  nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Fire(nn.Module):
    def __init__(self, c_in: int, squeeze: int, expand: int) -> None:
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(c_in, squeeze, 1), nn.ReLU())
        self.e1 = nn.Sequential(nn.Conv2d(squeeze, expand, 1), nn.ReLU())
        self.e3 = nn.Sequential(nn.Conv2d(squeeze, expand, 3, padding=1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        return torch.cat((self.e1(s), self.e3(s)), 1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1 (fire modules, no batch norm, biased convs), max-pools padded instead of ceil_mode."""

    def __init__(self, res: int = 128, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2, 1), nn.ReLU(), nn.MaxPool2d(3, 2, 1), Fire(64, 16, 64), Fire(128, 16, 64),
            nn.MaxPool2d(3, 2, 1), Fire(128, 32, 128), Fire(256, 32, 128), nn.MaxPool2d(3, 2, 1),
            Fire(256, 48, 192), Fire(384, 48, 192), Fire(384, 64, 256), Fire(512, 64, 256))
        hw = _out(res, [2, 2, 2, 2])
        self.head = nn.Sequential(nn.Conv2d(512, num_classes, 1), nn.ReLU(), nn.AvgPool2d(hw), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class DenseLayer(nn.Module):
    """Pre-activation bottleneck (BN-ReLU-1x1, BN-ReLU-3x3) whose ``growth`` outputs are appended to the input."""

    def __init__(self, c_in: int, growth: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU(), nn.Conv2d(c_in, 4 * growth, 1, bias=False),
                                  nn.BatchNorm2d(4 * growth), nn.ReLU(), nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, self.body(x)), 1)


class DenseNetTiny(nn.Module):
    def __init__(self, growth: int = 16, blocks: tuple = (4, 6, 8), res: int = 96, num_classes: int = 100) -> None:
        super().__init__()
        c = 2 * growth
        layers: list[nn.Module] = [cbn(3, c, 3, 2, act=nn.ReLU)]
        hw = _out(res, [2])
        for i, n in enumerate(blocks):
            for _ in range(n):
                layers.append(DenseLayer(c, growth))
                c += growth
            if i < len(blocks) - 1:  # transition: BN-ReLU-1x1 halving the channels, 2x2 average pool
                layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
                c, hw = c // 2, hw // 2
        layers += [nn.BatchNorm2d(c), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.head = classifier(c, (hw, hw), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class UNetEncoder(nn.Module):
    """A U-Net contracting path: double 3x3 Conv-BN-ReLU per level, 2x2 max-pool between levels; no decoder."""

    def __init__(self, widths: tuple = (16, 32, 64, 128, 256), in_shape: tuple = (3, 96, 96), num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, hw = in_shape[0], in_shape[1]
        for i, w in enumerate(widths):
            if i:
                layers.append(nn.MaxPool2d(2))
                hw //= 2
            layers += [cbn(c, w, 3, act=nn.ReLU), cbn(w, w, 3, act=nn.ReLU)]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = classifier(c, (hw, hw), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class RegNetBlock(nn.Module):
    """RegNetX block: 1x1, 3x3 group conv (groups of ``group_width`` channels, carries the stride), 1x1; residual."""

    def __init__(self, c_in: int, c_out: int, stride: int, group_width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(cbn(c_in, c_out, 1, act=nn.ReLU),
                                  cbn(c_out, c_out, 3, stride, groups=c_out // group_width, act=nn.ReLU),
                                  cbn(c_out, c_out, 1, act=None))
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else cbn(c_in, c_out, 1, stride, act=None)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class RegNetX(nn.Module):
    def __init__(self, widths: tuple = (24, 56, 152, 368), depths: tuple = (1, 1, 4, 7), group_widths: tuple = (8, 8, 8, 8),
                 res: int = 128, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [cbn(3, 32, 3, 2, act=nn.ReLU)]
        c, hw = 32, _out(res, [2])
        for w, d, g in zip(widths, depths, group_widths):
            for j in range(d):
                layers.append(RegNetBlock(c, w, 2 if j == 0 else 1, g))
                c = w
            hw = _out(hw, [2])
        self.features = nn.Sequential(*layers)
        self.head = classifier(c, (hw, hw), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class StridedNet(nn.Module):
    """Conv-BN-ReLU layers given as ``(c_out, kernel, stride)`` (ints or pairs), then a classifier."""

    def __init__(self, spec: tuple, in_shape: tuple, num_classes: int = 10, pools: tuple = ()) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, h, w = in_shape
        for i, (c_out, k, s) in enumerate(spec):
            k2, s2 = (k, k) if isinstance(k, int) else k, (s, s) if isinstance(s, int) else s
            layers += [nn.Conv2d(c, c_out, k2, s2, (k2[0] // 2, k2[1] // 2), bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
            h, w = _out(h, [s2[0]]), _out(w, [s2[1]])
            if i in pools:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = c_out
        self.features = nn.Sequential(*layers)
        self.head = classifier(c, (h, w), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class MobileNetV1(nn.Module):
    SPEC = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)) + ((512, 1),) * 5 + ((1024, 2), (1024, 1))

    def __init__(self, width: float = 0.5, res: int = 128, num_classes: int = 1000) -> None:
        super().__init__()
        c = int(32 * width)
        layers: list[nn.Module] = [cbn(3, c, 3, 2, act=nn.ReLU)]
        hw = _out(res, [2])
        for out, s in self.SPEC:
            out = int(out * width)
            layers += [cbn(c, c, 3, s, groups=c, act=nn.ReLU), cbn(c, out, 1, act=nn.ReLU)]
            c, hw = out, _out(hw, [s])
        self.features = nn.Sequential(*layers)
        self.head = classifier(c, (hw, hw), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def fresh() -> list[ZooModel]:
    """The held-out set: 12 architectures not in ``zoo()`` (for an estimator tuned on the zoo), about 1-300 M MACs."""
    m: list[ZooModel] = []

    def add(name: str, family: str, fn: Callable[[], nn.Module], shape: tuple) -> None:
        m.append(ZooModel(name, family, _seeded(fn), tuple(shape)))

    add("shufflenetv2_050_128", "shufflenetv2", lambda: ShuffleNetV2((48, 96, 192), (4, 8, 4), 128), (3, 128, 128))
    add("mnasnet_a1_100_160", "mnasnet", lambda: MBNet(MNAS_A1, 160, nn.ReLU, 32, 1280, first_sep=16), (3, 160, 160))
    add("ghostnet_100_160", "ghostnet", lambda: GhostNet(160), (3, 160, 160))
    add("squeezenet11_128", "squeezenet", lambda: SqueezeNet(128), (3, 128, 128))
    add("densenet_tiny_k16_96", "densenet", lambda: DenseNetTiny(16, (4, 6, 8), 96), (3, 96, 96))
    add("unet_encoder_96", "unet", lambda: UNetEncoder((16, 32, 64, 128, 256), (3, 96, 96)), (3, 96, 96))
    add("regnetx_200mf_128", "regnet", lambda: RegNetX((24, 56, 152, 368), (1, 1, 4, 7), (8, 8, 8, 8), 128),
        (3, 128, 128))
    add("audio_cnn_logmel_64x64", "audio", lambda: StridedNet(((32, 5, 2), (64, 3, 1), (96, 3, 1), (128, 3, 1)),
                                                              (1, 64, 64), 35, pools=(1, 2)), (1, 64, 64))
    add("wave_cnn_1x4000", "audio", lambda: StridedNet(((32, (1, 9), (1, 4)), (64, (1, 9), (1, 4)), (96, (1, 9), (1, 4)),
                                                        (128, (1, 9), (1, 4)), (128, (1, 3), 1)), (1, 1, 4000), 12),
        (1, 1, 4000))
    add("mobilenetv1_050_128", "mobilenetv1", lambda: MobileNetV1(0.5, 128), (3, 128, 128))
    add("wide_shallow_256_64", "plain", lambda: StridedNet(((64, 3, 2), (256, 3, 2), (256, 3, 1)), (3, 64, 64), 10),
        (3, 64, 64))
    add("efficientnet_b0_112", "efficientnet_b0", lambda: MBNet(EFF_B0, 112, nn.SiLU, 32, 1280, se_act=nn.SiLU),
        (3, 112, 112))
    return m
