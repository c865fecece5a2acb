"""Save and reload a pruned model so that ``torch.load(weights_only=True)`` can read it.

``torch_pruning.state_dict`` pickles whole ``module.__dict__`` objects
(submodules, hooks), which ``weights_only=True`` rightly refuses. A pruned
model differs from its registry-built twin only in channel counts, so edgekd
stores the ordinary ``state_dict`` plus each layer's shape attributes (plain
ints), rebuilds the model from the registry, reshapes those layers and loads
the weights strictly.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from edgekd.errors import InputError

_ATTRS = {
    nn.Conv1d: ("in_channels", "out_channels", "groups"),
    nn.Conv2d: ("in_channels", "out_channels", "groups"),
    nn.BatchNorm1d: ("num_features",),
    nn.BatchNorm2d: ("num_features",),
    nn.Linear: ("in_features", "out_features"),
}


def architecture_of(model: nn.Module) -> dict[str, dict[str, int]]:
    """The channel attributes of every conv, BatchNorm and linear layer, by module name."""
    out = {}
    for name, m in model.named_modules():
        for kind, attrs in _ATTRS.items():
            if type(m) is kind:
                out[name] = {a: int(getattr(m, a)) for a in attrs}
    return out


def reshape_like(model: nn.Module, architecture: dict[str, dict[str, int]], state: dict[str, torch.Tensor]) -> nn.Module:
    """Give ``model``'s layers the recorded channel counts and tensors of the shapes in ``state``; in place."""
    modules = dict(model.named_modules())
    for name, attrs in architecture.items():
        if name not in modules:
            raise KeyError(f"the checkpoint has a layer {name!r} the model does not")
        m = modules[name]
        for attr, value in attrs.items():
            setattr(m, attr, value)
        for pname, p in list(m.named_parameters(recurse=False)):
            key = f"{name}.{pname}" if name else pname
            if key in state and p.shape != state[key].shape:
                setattr(m, pname, nn.Parameter(torch.empty_like(state[key]), requires_grad=p.requires_grad))
        for bname, b in list(m.named_buffers(recurse=False)):
            key = f"{name}.{bname}" if name else bname
            if b is not None and key in state and b.shape != state[key].shape:
                m.register_buffer(bname, torch.empty_like(state[key]))
    return model


def save_pruned(model: nn.Module, path: Path, extra: dict | None = None) -> Path:
    """Write ``{"model": state_dict, "architecture": ..., **extra}`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"model": model.state_dict(), "architecture": architecture_of(model), **(extra or {})}, tmp)
    tmp.replace(path)
    return path


def load_pruned(model: nn.Module, path: Path, where: str = "checkpoint") -> dict:
    """Load a checkpoint written by ``save_pruned`` (or a plain state_dict) into a registry-built ``model``.

    Returns:
        The checkpoint dict (its extra keys, e.g. a fingerprint).

    Raises:
        InputError: unreadable file, or weights of another architecture.
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        state = ckpt.get("model", ckpt)
        if "architecture" in ckpt:
            reshape_like(model, ckpt["architecture"], state)
        model.load_state_dict(state)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{where}: {path}: cannot load into {type(model).__name__}: {first}") from None
    return ckpt
