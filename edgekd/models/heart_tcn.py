"""A temporal-convolution student for log-mel heart sounds: mel bands as channels, 1-D convolutions over time.

Why this shape (measured in ``benchmarks/results/latency_matrix.md``): the 2-D student's first layer
convolves a single input channel, which int8 kernels run at a fraction of their peak (ONNX Runtime's
int8 first conv of the 8/16/40 student took 193 µs of its 344 µs; its int8 file was slower than fp32).
Folding the 32 mel bands into channels (TC-ResNet, Choi et al. 2019, without the residuals so the int8
graph stays fully integer) makes every layer a GEMM with K = channels x kernel and N = a multiple of 16:
full SIMD lanes on AVX-512 VNNI and NEON. The first layers run at full frame rate, so most MACs are
spent where the int8 kernels are fastest.
"""

from __future__ import annotations

import torch
from torch import nn

from edgekd.models.registry import MODELS


def temporal_conv(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """A same-padded ``(1, kernel)`` convolution over time, batch norm (folded at export) and ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, (1, kernel), padding=(0, kernel // 2), bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class HeartTemporalStudent(nn.Module):
    """Temporal CNN over ``(1, bands, frames)`` log-mel windows, seen as ``(bands, 1, frames)``.

    Args:
        num_classes: outputs.
        input_shape: ``(1, bands, frames)``.
        widths: output channels per layer (multiples of the target's SIMD width).
        pools: max-pool factor over time after each layer (1: none).
        kernel: taps over time.
        dropout: before the classifier.
    """

    def __init__(self, num_classes: int, input_shape: tuple[int, ...], widths: tuple[int, ...] = (48, 64, 80),
                 pools: tuple[int, ...] = (1, 2, 2), kernel: int = 5, dropout: float = 0.1) -> None:
        super().__init__()
        if len(input_shape) != 3 or input_shape[0] != 1:
            raise ValueError(f"heart_tcn takes (1, bands, frames) windows, got input_shape {tuple(input_shape)}")
        if len(pools) != len(widths):
            raise ValueError(f"pools has {len(pools)} entries for {len(widths)} widths")
        _, self.bands, self.frames = (int(d) for d in input_shape)
        layers: list[nn.Module] = []
        c_in = self.bands
        for c_out, pool in zip(widths, pools):
            layers.append(temporal_conv(c_in, c_out, kernel))
            if pool > 1:
                layers.append(nn.MaxPool2d((1, pool)))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        was_training = self.features.training
        self.features.eval()
        with torch.no_grad():
            frames = int(self.features(torch.zeros(1, self.bands, 1, self.frames)).shape[3])
        self.features.train(was_training)
        # a fixed-size AVERAGE_POOL_2D, not MEAN: see edgekd.models.heart_cnn.global_avg_pool
        self.head = nn.Sequential(nn.AvgPool2d((1, frames)), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(c_in, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.reshape(x.shape[0], self.bands, 1, self.frames)))


@MODELS.register("heart_tcn")
def heart_tcn(
    *,
    num_classes: int,
    input_shape: tuple[int, ...],
    widths: tuple[int, ...] = (48, 64, 80),
    pools: tuple[int, ...] = (1, 2, 2),
    kernel: int = 5,
    dropout: float = 0.1,
) -> nn.Module:
    return HeartTemporalStudent(num_classes, tuple(input_shape), widths=tuple(widths), pools=tuple(pools),
                                kernel=kernel, dropout=dropout)
