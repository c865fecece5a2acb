"""Plain inputs of the public API, turned into what the stages take: a task, window sets, models.

Data may be a labelled folder (read by the task), ``(x, y)`` numpy arrays (or
``(x, y, groups)``, or a mapping with ``x``, ``y`` and optional ``groups``,
``item``), a torch ``Dataset`` yielding ``(x, y)``, or an
``edgekd.data.features.WindowSet``. Models are ``torch.nn.Module``s on the CPU,
or files: an ONNX teacher, a ``torch.export`` ``.pt2`` teacher or student. Every
problem is an ``InputError`` naming the argument.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from edgekd.data.features import FeatureCache, WindowSet
from edgekd.errors import InputError, warn_deprecated
from edgekd.tasks import Task, build_task

DEFAULT_CACHE = ".cache/edgekd/features"


# ---------------------------------------------------------------- API conventions
def renamed(old: str, new: str, old_value: Any, new_value: Any, *, verb: str, stacklevel: int = 4) -> Any:
    """The value of an argument given under its deprecated name ``old`` (a DeprecationWarning naming ``new``),
    else ``new_value``; both at once is an ``InputError``."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise InputError(f"{verb}: {old}= and {new}= name the same argument; pass only {new}=")
    warn_deprecated(f"edgekd.{verb}({old}=...) is deprecated: pass {new}=... (same meaning)")
    return old_value


def resolve_task(task: Any, default: str = "tensor-classification", frontend: Any = None, augment: Any = None) -> Task:
    """A ``Task`` from a task object, a registered name, or None (``default``); a name takes ``frontend`` and
    ``augment`` settings (the recipe's ``frontend:`` and ``data.augment:``)."""
    if isinstance(task, Task):
        if frontend is not None or augment is not None:
            raise InputError("frontend/augment: give them with a task name; this task object already has its own")
        return task
    if task is None:
        task = default
    if not isinstance(task, str):
        raise InputError(f"task: expected a task name or an edgekd.tasks.Task, got {type(task).__name__}")
    return build_task(task, frontend=frontend, augment=augment)


def is_folder(data: Any) -> bool:
    return isinstance(data, (str, os.PathLike))


def folder_classes(task: Task, root: Path) -> list[str]:
    """The class names a labelled folder uses, sorted (when the caller gives none)."""
    from edgekd.runtime.labelled import read_labelled_folder

    labels = sorted({it.label for it in read_labelled_folder(root, extensions=task.frontend.extensions)})
    if len(labels) < 2:
        raise InputError(f"{root}: only the class {labels[0]!r} is present; a classifier needs at least two")
    return labels


def read_folder(task: Task, root: Path, classes: Optional[Sequence[str]], *, cache_dir: Optional[str] = DEFAULT_CACHE,
                resample: bool = False) -> tuple[list[Any], list[str]]:
    """The validated items of a labelled folder and its classes."""
    from edgekd.inputfile import existing_folder

    existing_folder(root, "data folder")  # missing, a file or a FIFO: named by its kind
    names = list(classes) if classes is not None else folder_classes(task, root)
    return task.list_items(root, names), names


def _from_dataset(data: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Stack a torch-style ``Dataset`` of ``(x, y)`` pairs, checking every example's shape."""
    xs, ys = [], []
    shape = None
    for i in range(len(data)):
        sample = data[i]
        if not isinstance(sample, (tuple, list)) or len(sample) < 2:
            raise InputError(f"{where}: item {i} is {type(sample).__name__}; a Dataset must yield (x, y) pairs")
        x, y = sample[0], sample[1]
        x = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
        if shape is None:
            shape = x.shape
        elif x.shape != shape:
            raise InputError(f"{where}: item {i} has shape {list(x.shape)}, item 0 has {list(shape)}; every "
                             "example must have the model's input shape")
        xs.append(x)
        ys.append(int(y.item()) if hasattr(y, "item") else y)
    if not xs:
        raise InputError(f"{where}: the Dataset is empty")
    return np.stack(xs), np.asarray(ys)


def as_windows(data: Any, task: Task, classes: Optional[Sequence[str]], *, where: str = "data",
               cache_dir: Optional[str] = DEFAULT_CACHE, resample: bool = False) -> tuple[WindowSet, Task, list[str]]:
    """Model inputs from any accepted data form, with the task (shape-checked) and the class names.

    Raises:
        InputError: an unreadable folder, arrays of the wrong shape or labels, an empty Dataset,
            examples whose shape does not fit the task.
    """
    if isinstance(data, WindowSet):
        names = list(classes) if classes is not None else data.classes
        if names is None:
            raise InputError(f"{where}: this WindowSet carries class indices only; pass classes= with their names")
        if data.classes is not None and classes is not None and list(classes) != list(data.classes):
            raise InputError(f"{where}: classes {list(classes)} differ from the data's {list(data.classes)}")
        return data, task.for_input(data.x.shape[1:], where), list(names)
    if is_folder(data):
        items, names = read_folder(task, Path(data), classes, cache_dir=cache_dir, resample=resample)
        ws = task.featurize(items, names, FeatureCache(cache_dir), resample=resample)
        return ws, task.for_input(ws.x.shape[1:], where), names
    groups = item = None
    if isinstance(data, dict):
        missing = [k for k in ("x", "y") if k not in data]
        if missing:
            raise InputError(f"{where}: a mapping of arrays needs keys 'x' and 'y' (missing {', '.join(missing)})")
        x, y, groups, item = data["x"], data["y"], data.get("groups"), data.get("item")
    elif isinstance(data, (tuple, list)) and len(data) in (2, 3):
        x, y = data[0], data[1]
        groups = data[2] if len(data) == 3 else None
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, np.ndarray):
        x, y = _from_dataset(data, where)
    elif data is None:
        raise InputError(f"{where}: no data given")
    else:
        raise InputError(f"{where}: expected a labelled folder, (x, y) arrays, a mapping with 'x' and 'y', "
                         f"a torch Dataset of (x, y) or a WindowSet; got {type(data).__name__}")
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    ws = WindowSet.from_arrays(np.asarray(x), y, classes=classes, groups=groups, item=item, where=where)
    names = list(classes) if classes is not None else _names_from(y, ws)
    return ws, task.for_input(ws.x.shape[1:], where), names


def _names_from(y: Any, ws: WindowSet) -> list[str]:
    arr = np.asarray(y)
    if arr.dtype.kind in "US" or arr.dtype == object:
        return sorted({str(v) for v in arr.tolist()})
    return [str(i) for i in range(max(int(ws.y.max()) + 1 if len(ws.y) else 0, 2))]


# ---------------------------------------------------------------- models
def check_module(model: Any, role: str, *, eval_mode: bool) -> Any:
    """A torch module on the CPU (and in eval mode when ``eval_mode``), else an ``InputError`` saying what to do."""
    from torch import nn

    if not isinstance(model, nn.Module):
        raise InputError(f"{role}: expected a torch.nn.Module (or a .onnx/.pt2 file), got {type(model).__name__}")
    devices = {t.device.type for t in [*model.parameters(), *model.buffers()]}
    if devices - {"cpu"}:
        raise InputError(f"{role}: the model is on {', '.join(sorted(devices - {'cpu'}))}; edgekd trains, exports and "
                         f"measures on the CPU: pass {role}.cpu()")
    if eval_mode and model.training:
        raise InputError(f"{role}: the model is in training mode (dropout and batch-norm statistics would change "
                         f"the result); call {role}.eval() first")
    return model


@contextlib.contextmanager
def left_as_it_was(model: Any) -> Iterator[None]:
    """Restore what training may flip on a module the caller still holds (a teacher is frozen while it teaches:
    ``requires_grad`` off, eval mode): each parameter's ``requires_grad`` and each submodule's mode."""
    params = [(p, p.requires_grad) for p in model.parameters()] if hasattr(model, "parameters") else []
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    try:
        yield
    finally:
        for p, flag in params:
            p.requires_grad_(flag)
        for m, training in modes:
            m.training = training


def as_model(model: Any, role: str, task: Task, num_classes: int, *, eval_mode: bool) -> Any:
    """A module from an ``nn.Module`` or a model file, checked against the task's input and the classes.

    Raises:
        InputError: another device, training mode where eval is needed, a file that does not fit, an
            output size other than ``num_classes``.
    """
    if is_folder(model):
        from edgekd.models.files import load_model_file

        return load_model_file(model, role=role, input_shape=task.input_shape, num_classes=num_classes)
    check_module(model, role, eval_mode=eval_mode)
    check_output(model, role, task.input_shape, num_classes)
    return model


def check_output(model: Any, role: str, input_shape: Sequence[int], num_classes: int) -> None:
    """Run one zero example: the model must take the task's input and give ``num_classes`` logits."""
    import torch

    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, *input_shape))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{role}: cannot run on one example of shape (1, {', '.join(map(str, input_shape))}): "
                         f"{first}") from None
    finally:
        model.train(was)
    if not hasattr(out, "shape") or out.ndim != 2 or out.shape[1] != num_classes:
        shape = list(out.shape) if hasattr(out, "shape") else type(out).__name__
        raise InputError(f"{role}: its output is {shape} for one example; the data has {num_classes} classes, so "
                         f"it must give (1, {num_classes}) logits")


# ---------------------------------------------------------------- export inputs
def target_of(target: Any) -> Any:
    """A ``TargetProfile`` from a profile, a name or a path (None stays None)."""
    if target is None:
        return None
    from edgekd.targets import TargetProfile, load_target

    return target if isinstance(target, TargetProfile) else load_target(target)


def example_of(example: Any, task: Task, *sources: Any) -> tuple[tuple[int, ...], Any]:
    """(one example's shape, a torch batch of one) from ``example``, else the task's shape, else the first
    example of the other data given (``sources``).

    Raises:
        InputError: nothing tells the input shape, or ``example`` is not a batch of one.
    """
    import torch

    if example is not None:
        t = example if isinstance(example, torch.Tensor) else torch.from_numpy(np.asarray(example, dtype=np.float32))
        if t.ndim < 2 or t.shape[0] != 1:
            raise InputError(f"example: expected a batch of one input (1, *input_shape), got {list(t.shape)}")
        return tuple(int(d) for d in t.shape[1:]), t.float()
    try:
        shape = task.input_shape
    except InputError:
        shape = None
    for data in sources:
        if shape is not None:
            break
        if isinstance(data, np.ndarray):
            shape = tuple(data.shape[1:])
        elif isinstance(data, WindowSet):
            shape = tuple(data.x.shape[1:])
        elif isinstance(data, (tuple, list)) and data:
            shape = tuple(np.asarray(data[0]).shape[1:])
        elif isinstance(data, dict) and "x" in data:
            shape = tuple(np.asarray(data["x"]).shape[1:])
    if shape is None:
        raise InputError("example: give a batch of one input (1, *input_shape); nothing else tells the input shape")
    return tuple(shape), torch.zeros(1, *shape)


def calibration_of(calibration: Any, task: Task, classes: Optional[Sequence[str]], precision: str,
                   n: int = 256, seed: int = 0) -> Optional[np.ndarray]:
    """Calibration inputs: an array as it is, any other data form → ``n`` windows round-robin over items."""
    if calibration is None:
        return None
    if isinstance(calibration, np.ndarray):
        return np.ascontiguousarray(calibration, dtype=np.float32)
    if hasattr(calibration, "detach"):
        return calibration.detach().cpu().numpy().astype(np.float32)
    from edgekd.quantize.calibration import calibration_windows

    ws, _, _ = as_windows(calibration, task, classes, where="calibration")
    return calibration_windows(ws, n, seed)
