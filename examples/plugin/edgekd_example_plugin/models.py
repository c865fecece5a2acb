"""``envelope_cnn``: a small 1-D CNN over envelope windows (Conv1d-BN-ReLU-MaxPool blocks, average, linear)."""

from __future__ import annotations

from typing import Sequence

from torch import nn


def envelope_cnn(*, num_classes: int, input_shape: Sequence[int], widths: Sequence[int] = (8, 16, 32),
                 kernel: int = 7, dropout: float = 0.1) -> nn.Module:
    """Build the network for inputs ``(channels, length)``; every op has an int8 kernel in TFLite and ONNX Runtime."""
    channels, length = int(input_shape[0]), int(input_shape[1])
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Conv1d(channels, width, kernel, padding=kernel // 2, bias=False), nn.BatchNorm1d(width),
                   nn.ReLU(), nn.MaxPool1d(2)]
        channels, length = width, length // 2
    return nn.Sequential(*layers, nn.AvgPool1d(length), nn.Flatten(), nn.Dropout(dropout),
                         nn.Linear(channels, num_classes))
