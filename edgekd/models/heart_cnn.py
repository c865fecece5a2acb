"""2-D CNNs over log-mel windows of heart sounds: a teacher and a small student.

The student uses only Conv-BN-ReLU, max-pooling, a global average and one
linear layer: every op has an integer kernel in TFLite and ONNX Runtime, so its
int8 graph stays fully integer (no residual ADD left in float).
"""

from __future__ import annotations

import torch
from torch import nn

from edgekd.models.registry import MODELS


def conv_bn_relu(c_in: int, c_out: int, k: int = 3) -> nn.Sequential:
    """A same-padded convolution, batch norm (folded at export) and ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def global_avg_pool(features: nn.Module, input_shape: tuple[int, ...]) -> nn.AvgPool2d:
    """A global average pool written as one fixed-size ``AvgPool2d`` over the final feature map.

    ``AdaptiveAvgPool2d(1)`` lowers to TFLite's MEAN, whose int8 kernel shifted
    the heart student's logit margin by +0.81 on average (window top-1 agreement
    with fp32 96.5 %); AVERAGE_POOL_2D over the same map shifts it by 0.17
    (99.75 %). The two are identical in float, and the map size is fixed by the
    input shape.
    """
    was_training = features.training
    features.eval()  # a dummy pass must not touch BatchNorm running statistics
    with torch.no_grad():
        h, w = features(torch.zeros(1, *input_shape)).shape[2:]
    features.train(was_training)
    return nn.AvgPool2d(kernel_size=(int(h), int(w)))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a (1x1 projected) identity shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_relu(c_in, c_out),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = (
            nn.Identity()
            if c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class HeartTeacher(nn.Module):
    """Residual CNN, about 0.45 M parameters at the default widths.

    Pooling comes early so the wide residual stages run on small maps: the
    teacher stays trainable on two CPU cores.
    """

    def __init__(
        self,
        num_classes: int,
        input_shape: tuple[int, ...],
        widths: tuple[int, int, int, int] = (24, 48, 96, 128),
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths
        self.features = nn.Sequential(
            conv_bn_relu(input_shape[0], w0),
            nn.MaxPool2d(2),
            conv_bn_relu(w0, w1),
            nn.MaxPool2d(2),
            ResidualBlock(w1, w2),
            nn.MaxPool2d(2),
            ResidualBlock(w2, w3),
        )
        self.head = pooled_head(self.features, input_shape, w3, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class HeartStudent(nn.Module):
    """Plain three-block CNN, about 20 k parameters (11.5 M MACs) at the default widths.

    Few, wide 5x5 layers rather than many thin 3x3 ones: an int8 TFLite file
    stores a scale and a 64-bit zero point per output channel (weights and
    bias) plus fixed tables per tensor and op (about 4 KiB here, 2.5 KiB in fp32),
    so for a model this small the int8/fp32 file ratio depends on the parameter
    count: measured 0.31 at 16 k, 0.30 at 20 k, 0.28 at 44 k parameters (see
    ``benchmarks/results/student_size.md``); the weight data alone shrinks 4x.
    """

    def __init__(
        self,
        num_classes: int,
        input_shape: tuple[int, ...],
        widths: tuple[int, ...] = (8, 16, 40),
        kernel: int = 5,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = input_shape[0]
        for c_out in widths:
            layers += [conv_bn_relu(c_in, c_out, kernel), nn.MaxPool2d(2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = pooled_head(self.features, input_shape, c_in, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def pooled_head(features: nn.Module, input_shape: tuple[int, ...], channels: int, num_classes: int,
                dropout: float) -> nn.Sequential:
    """Global average pool (fixed-size, see ``global_avg_pool``), flatten, dropout, linear classifier."""
    return nn.Sequential(
        global_avg_pool(features, input_shape), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, num_classes)
    )


@MODELS.register("heart_teacher")
def heart_teacher(
    *, num_classes: int, input_shape: tuple[int, ...], widths: tuple[int, ...] = (24, 48, 96, 128), dropout: float = 0.3
) -> nn.Module:
    return HeartTeacher(num_classes, input_shape, widths=tuple(widths), dropout=dropout)


@MODELS.register("heart_student")
def heart_student(
    *,
    num_classes: int,
    input_shape: tuple[int, ...],
    widths: tuple[int, ...] = (8, 16, 40),
    kernel: int = 5,
    dropout: float = 0.1,
) -> nn.Module:
    return HeartStudent(num_classes, input_shape, widths=tuple(widths), kernel=kernel, dropout=dropout)
