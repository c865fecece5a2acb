"""Forward hooks that read (or cut the gradient at) named layers, without editing the model."""

from __future__ import annotations

import difflib

import torch
from torch import nn

from edgekd.errors import InputError


def find_layer(model: nn.Module, name: str, *, where: str) -> nn.Module:
    """The sub-module called ``name`` (as in ``model.named_modules()``), or an InputError naming close ones."""
    layers = dict(model.named_modules())
    if name not in layers or name == "":
        close = difflib.get_close_matches(name, [n for n in layers if n], n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        top = ", ".join(n for n in layers if n and n.count(".") <= 1)
        if not top:
            raise InputError(f"{where}: {model!r} has no inner layers to read (a model given as a file is run "
                             "whole); use a logit-level method (logit KD, mixup, multi-teacher) with it")
        raise InputError(f"{where}: {type(model).__name__} has no layer {name!r}{hint}; layers include {top}")
    return layers[name]


class FeatureTap:
    """Records the outputs of named layers on every forward pass.

    Args:
        model: the network (not modified: only hooks are added; ``remove()`` takes them off).
        names: layer names from ``model.named_modules()``.
        where: the recipe key, for messages.
    """

    def __init__(self, model: nn.Module, names: list[str], *, where: str = "layers") -> None:
        self.out: dict[str, torch.Tensor] = {}
        self._handles = []
        for name in dict.fromkeys(names):
            layer = find_layer(model, name, where=where)
            self._handles.append(layer.register_forward_hook(self._recorder(name)))

    def _recorder(self, name: str):
        def hook(_module, _inp, output):
            # a clone: a later in-place op (ReLU(inplace=True)) must not change what was recorded
            self.out[name] = output.clone()

        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


class GradientCut:
    """Detaches the output of one named layer while ``active``: the layers before it get no gradient.

    Used by stage-wise KD to train one block at a time without editing the model.
    """

    def __init__(self, model: nn.Module, name: str, *, where: str = "layers") -> None:
        self.active = False
        self._handle = find_layer(model, name, where=where).register_forward_hook(self._hook)

    def _hook(self, _module, _inp, output):
        return output.detach() if self.active else None

    def remove(self) -> None:
        self._handle.remove()


def tap_once(model: nn.Module, names: list[str], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The outputs of the named layers in one forward pass (eval mode, no grad; the model's mode is restored and
    its BN statistics untouched), in forward order."""
    tap = FeatureTap(model, names)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was)
        tap.remove()
    return tap.out
