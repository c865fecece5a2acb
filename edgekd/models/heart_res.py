"""A small residual heart-sound student: the plain student with two residual ADDs.

Its purpose is the quantization audit: residual ADDs are where converters
differ. A residual stem (``x + Conv-BN(x)`` on the input spectrogram, a learned
spectral correction) and an identity block after the second stage. Measured
with litert-torch 0.10: its PT2E int8 path quantizes the identity block's ADD
but leaves the stem's ADD, whose shortcut is the graph input, in float
(DEQUANTIZE → ADD → QUANTIZE); the onnx2tf backend quantizes both.
``edgekd inspect`` tells the two apart and a ``fully_integer`` target rejects
the first.
"""

from __future__ import annotations

import torch
from torch import nn

from edgekd.models.heart_cnn import conv_bn_relu, pooled_head
from edgekd.models.registry import MODELS


class IdentityBlock(nn.Module):
    """Two 3x3 Conv-BN layers around an identity shortcut, summed then ReLU (a ResNet basic block)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_relu(channels, channels, 3),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + x)


class ResidualStem(nn.Module):
    """``x + BN(Conv3x3(x))`` on the input: a learned correction of the spectrogram with an identity path."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn(self.conv(x))


class HeartStudentRes(nn.Module):
    """Residual stem, Conv-BN-ReLU stages with max-pooling, an identity block after the second stage, global average, linear."""

    def __init__(
        self,
        num_classes: int,
        input_shape: tuple[int, ...],
        widths: tuple[int, ...] = (8, 16, 32),
        kernel: int = 5,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [ResidualStem(input_shape[0])]
        c_in = input_shape[0]
        for i, c_out in enumerate(widths):
            layers += [conv_bn_relu(c_in, c_out, kernel), nn.MaxPool2d(2)]
            if i == 1:
                layers.append(IdentityBlock(c_out))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = pooled_head(self.features, input_shape, c_in, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@MODELS.register("heart_student_res")
def heart_student_res(
    *,
    num_classes: int,
    input_shape: tuple[int, ...],
    widths: tuple[int, ...] = (8, 16, 32),
    kernel: int = 5,
    dropout: float = 0.1,
) -> nn.Module:
    return HeartStudentRes(num_classes, input_shape, widths=tuple(widths), kernel=kernel, dropout=dropout)
