"""Image classifiers for leaf photos: a MobileNetV2-like teacher and a depthwise-separable student.

Both take (N, 3, S, S) front-end tensors. The teacher follows MobileNetV2
(Sandler et al., CVPR 2018: inverted residual blocks with linear bottlenecks),
trained from scratch here (no pretrained weights can be downloaded; a local
``state_dict`` can be given as ``teacher.checkpoint``). The student is a
MobileNetV1-style stack of depthwise-separable Conv-BN-ReLU blocks with no
residual ADD, so its int8 TFLite graph stays fully integer, and global average
pooling as one fixed-size ``AvgPool2d`` (see ``heart_cnn.global_avg_pool``).
"""

from __future__ import annotations

import torch
from torch import nn

from edgekd.models.heart_cnn import pooled_head
from edgekd.models.registry import MODELS


def _round8(c: float) -> int:
    """Channel count rounded to a multiple of 8 (never down by more than 10 %), as in MobileNetV2."""
    out = max(8, int(c + 4) // 8 * 8)
    return out + 8 if out < 0.9 * c else out


def conv_bn_act(c_in: int, c_out: int, k: int = 3, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    """Convolution (same padding), batch norm (folded at export) and optional ReLU6."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 linear projection; identity shortcut when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(conv_bn_act(c_in, hidden, 1))
        layers += [conv_bn_act(hidden, hidden, 3, stride, groups=hidden), conv_bn_act(hidden, c_out, 1, act=False)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


# (expansion t, channels c, repeats n, first stride s) of MobileNetV2 at width 1.0
MOBILENETV2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


class ImageTeacher(nn.Module):
    """MobileNetV2 at ``width`` (0.5: about 0.7 M parameters with a 1280-wide last layer).

    Args:
        num_classes: output classes.
        input_shape: (3, S, S).
        width: channel multiplier of every stage.
        last_channels: width of the final 1x1 convolution before pooling.
        dropout: before the classifier.
    """

    def __init__(
        self, num_classes: int, input_shape: tuple[int, ...], width: float = 0.5, last_channels: int = 1280,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        c = _round8(32 * width)
        layers: list[nn.Module] = [conv_bn_act(input_shape[0], c, 3, 2)]
        for t, ch, n, s in MOBILENETV2_STAGES:
            c_out = _round8(ch * width)
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, s if i == 0 else 1, t))
                c = c_out
        layers.append(conv_bn_act(c, last_channels, 1))
        self.features = nn.Sequential(*layers)
        self.head = pooled_head(self.features, input_shape, last_channels, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ImageStudent(nn.Module):
    """Depthwise-separable CNN (MobileNetV1-style, no residual ADD): about 60 k parameters by default.

    Args:
        num_classes: output classes.
        input_shape: (3, S, S).
        stem: channels of the first (full, stride-2) 3x3 convolution.
        blocks: (channels, stride) of each depthwise 3x3 + pointwise 1x1 block.
        dropout: before the classifier.
    """

    def __init__(
        self,
        num_classes: int,
        input_shape: tuple[int, ...],
        stem: int = 16,
        blocks: tuple[tuple[int, int], ...] = ((32, 2), (64, 2), (64, 1), (128, 2), (128, 1), (192, 2)),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_act(input_shape[0], stem, 3, 2)]
        c = stem
        for c_out, stride in blocks:
            layers += [conv_bn_act(c, c, 3, int(stride), groups=c), conv_bn_act(c, int(c_out), 1)]
            c = int(c_out)
        self.features = nn.Sequential(*layers)
        self.head = pooled_head(self.features, input_shape, c, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@MODELS.register("image_teacher")
def image_teacher(
    *, num_classes: int, input_shape: tuple[int, ...], width: float = 0.5, last_channels: int = 1280,
    dropout: float = 0.2,
) -> nn.Module:
    return ImageTeacher(num_classes, input_shape, width=width, last_channels=last_channels, dropout=dropout)


@MODELS.register("image_student")
def image_student(
    *,
    num_classes: int,
    input_shape: tuple[int, ...],
    stem: int = 16,
    blocks: tuple[tuple[int, int], ...] = ((32, 2), (64, 2), (64, 1), (128, 2), (128, 1), (192, 2)),
    dropout: float = 0.1,
) -> nn.Module:
    return ImageStudent(num_classes, input_shape, stem=stem, blocks=tuple(tuple(b) for b in blocks), dropout=dropout)


class ImagePlainStudent(nn.Module):
    """Plain 3x3 convolutions (no depthwise), widths multiples of 16: a leaf student shaped for int8 GEMM kernels.

    Depthwise convolutions gain little from int8 on x86 (the depthwise-separable student's int8 TFLite file is
    1.5x faster than fp32; plain 3x3 convolutions of similar int8 latency are 3.2x faster:
    ``benchmarks/results/plant_int8_shapes.md``).

    Args:
        num_classes: output classes.
        input_shape: (3, S, S).
        blocks: (channels, stride) of each 3x3 convolution, the first one reading the image.
        dropout: before the classifier.
    """

    def __init__(self, num_classes: int, input_shape: tuple[int, ...],
                 blocks: tuple[tuple[int, int], ...] = ((16, 2), (32, 2), (48, 2), (64, 2), (96, 2)),
                 dropout: float = 0.1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = input_shape[0]
        for c_out, stride in blocks:
            layers.append(conv_bn_act(c, int(c_out), 3, int(stride)))
            c = int(c_out)
        self.features = nn.Sequential(*layers)
        self.head = pooled_head(self.features, input_shape, c, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@MODELS.register("image_plain_student")
def image_plain_student(
    *,
    num_classes: int,
    input_shape: tuple[int, ...],
    blocks: tuple[tuple[int, int], ...] = ((16, 2), (32, 2), (48, 2), (64, 2), (96, 2)),
    dropout: float = 0.1,
) -> nn.Module:
    return ImagePlainStudent(num_classes, input_shape, blocks=tuple(tuple(b) for b in blocks), dropout=dropout)
