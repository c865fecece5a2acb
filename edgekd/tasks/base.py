"""What a task is: how labelled data of one kind is read, featurised, augmented, aggregated and scored.

A task ties a device-side front-end (``edgekd.runtime.frontends``) to the
training side. Everything that differs between audio, photos and preprocessed
arrays lives behind this one interface, so the pipeline, the trainer and the
evaluation never ask which task they run:

- ``list_items(root, classes)``: the reader of a labelled folder (validated);
- ``featurize(items, classes, cache)``: model inputs per item, through the front-end;
- ``augmentation()``: the training-batch augmentation ``(batch, generator) -> batch``, or None;
- ``split_groups(items, keep_together_s)``: items that must share a split (capture bursts);
- ``aggregation``: how an item's windows are combined (``edgekd.runtime.scoring``);
- ``metrics(...)``: the task's metrics; ``sidecar()``: what the device needs.

Parameters are typed: the front-end's settings (its dataclass) and the
augmentation's (the task's ``Augment`` pydantic model); a misspelled key fails
naming it. Tasks are found by name in ``TASKS``; installed packages add tasks
through the ``edgekd.tasks`` entry-point group.

Example:
    >>> from edgekd.tasks import build_task
    >>> task = build_task("tensor-classification", frontend={"shape": [1, 8, 8]})
    >>> task.input_shape, task.aggregation
    ((1, 8, 8), 'mean')
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from edgekd.data.features import FeatureCache, WindowSet
from edgekd.data.items import Item, file_sha256
from edgekd.errors import InputError
from edgekd.registry import Registry
from edgekd.runtime.frontends import FRONTENDS, Frontend
from edgekd.runtime.metrics import classification_metrics
from edgekd.yamlconf import validate

Augmentation = Callable[[Any, Any], Any]  # (torch batch, torch.Generator) -> batch


class NoAugment(BaseModel):
    """A task without training augmentation takes no augmentation settings."""

    model_config = ConfigDict(extra="forbid")


class Task:
    """Base class of every task (see the module docstring). Subclasses set the class attributes.

    Args:
        frontend: the front-end's settings (a mapping, as in a recipe's ``frontend:``) or a
            front-end object of this task's kind; None: its defaults.
        augment: the augmentation settings (a mapping or an ``Augment`` instance); None: its defaults.
    """

    name: ClassVar[str] = "task"
    frontend_kind: ClassVar[str] = "tensor"
    Augment: ClassVar[type[BaseModel]] = NoAugment
    aggregation: ClassVar[str] = "mean"
    description: ClassVar[str] = ""

    def __init__(self, frontend: Any = None, augment: Any = None) -> None:
        cls = FRONTENDS.get(self.frontend_kind)
        if frontend is None:
            frontend = cls()
        elif isinstance(frontend, Mapping):
            frontend = cls.from_dict(frontend)
        elif not isinstance(frontend, cls):
            raise InputError(f"task {self.name!r}: front-end must be {cls.__name__} settings, got "
                             f"{type(frontend).__name__}")
        self.frontend: Frontend = frontend
        if isinstance(augment, BaseModel):
            augment = augment.model_dump()
        self.augment: BaseModel = validate(self.Augment, dict(augment or {}), f"task {self.name!r} augment")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(frontend={self.frontend!r})"

    # ------------------------------------------------------------ shapes
    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's model input shape, channel first."""
        return tuple(self.frontend.input_shape)

    def for_input(self, shape: Sequence[int], where: str = "data") -> "Task":
        """This task, checked against examples of ``shape`` (a task whose shape is open adopts it).

        Raises:
            InputError: the examples do not have the front-end's input shape.
        """
        if tuple(shape) != self.input_shape:
            raise InputError(f"{where}: examples of shape {list(shape)} do not fit the {self.name} task's input "
                             f"shape {list(self.input_shape)} (its front-end's output)")
        return self

    # ------------------------------------------------------------ reading and featurising
    def list_items(self, root: str | Path, classes: Sequence[str]) -> list[Item]:
        """The labelled items of a folder (``labels.csv``, ``REFERENCE.csv`` or class sub-folders), validated.

        Groups come from the folder's ``manifest.csv`` (``file,source_subset``) when present.
        """
        from edgekd.data.recordings import groups_from_manifest
        from edgekd.runtime.labelled import read_labelled_folder

        root = Path(root)
        found = read_labelled_folder(root, extensions=self.frontend.extensions, classes=list(classes))
        manifest = groups_from_manifest(root)
        return [Item(it.path, it.file, it.label, manifest.get(it.file, "all"), file_sha256(it.path)) for it in found]

    def item_features(self, item: Item, cache: FeatureCache, *, resample: bool = False) -> np.ndarray:
        """The model inputs of one item, ``(n_windows, *input_shape)``, through the front-end (cached)."""
        key = f"{self.frontend.kind}-{item.sha256[:32]}-{self.frontend.config_hash()}-{int(resample)}"
        cached = cache.get(key)
        if cached is not None:
            return cached
        x = np.ascontiguousarray(self.frontend.load(item.path, resample=resample), dtype=np.float32)
        cache.put(key, x)
        return x

    def featurize(self, items: Sequence[Item], classes: Sequence[str], cache: FeatureCache, *,
                  resample: bool = False, progress: bool = False) -> WindowSet:
        """Model inputs of every item, with the item each window came from."""
        iterator: Any = items
        if progress:
            from tqdm import tqdm

            iterator = tqdm(items, desc="features", unit="item", leave=False)
        xs = [self.item_features(it, cache, resample=resample) for it in iterator]
        return WindowSet.from_items(xs, items, classes, self.input_shape)

    # ------------------------------------------------------------ training
    def augmentation(self) -> Optional[Augmentation]:
        """The training-batch augmentation, or None (the base task has none)."""
        return None

    def split_groups(self, items: Sequence[Item], keep_together_s: Optional[float]) -> Optional[list[str]]:
        """A key per item; items sharing a key stay in one split (None: every item on its own)."""
        if keep_together_s:
            raise InputError(f"data.split.keep_together_s: the {self.name} task has no capture times to group by")
        return None

    def capture_times(self, items: Sequence[Item]) -> list[float]:
        """A capture time per item (POSIX seconds), for ``data.split.by: time``.

        Raises:
            InputError: the task has no capture times (the base task), or an item has none (naming it).
        """
        raise InputError(f"data.split.by: time: the {self.name} task has no capture times; use by: random")

    def fingerprint(self) -> str:
        """What of this task changes training (front-end and augmentation settings)."""
        aug = self.augment  # settings added later are left out at their defaults: older checkpoints still resume
        fields = type(aug).model_fields
        omit = {k for k in getattr(aug, "FINGERPRINT_OMIT_DEFAULTS", ()) if getattr(aug, k) == fields[k].default}
        return f"{self.name}|{self.frontend.config_hash()}|{aug.model_dump_json(exclude=omit)}"

    # ------------------------------------------------------------ scoring and the device
    def metrics(self, y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str],
                positive: Optional[str] = None) -> dict:
        """Accuracy, balanced accuracy, confusion, per class; MAcc for a two-class screener."""
        return classification_metrics(y_true, y_pred, labels, positive)

    def sidecar(self) -> dict[str, Any]:
        """What the device needs to run an artifact of this task (sidecar schema ``edgekd.artifact/2``): the task,
        the front-end's kind, settings and ordered steps with every parameter, and the aggregation over windows."""
        fe = self.frontend
        steps = fe.steps() if hasattr(fe, "steps") else None  # a plugin front-end may come without a step list
        return {"task": self.name, "frontend": {"kind": fe.kind, "settings": fe.to_dict(), "steps": steps},
                "aggregation": self.aggregation,
                "aggregation_rule": f"an item's class probabilities are the {self.aggregation} over its windows of "
                                    "softmax(model output)"}


def _check_task(key: str, obj: Any) -> None:
    if not (isinstance(obj, type) and issubclass(obj, Task)):
        raise TypeError(f"task {key!r} must be a subclass of edgekd.tasks.Task, got {obj!r}")


TASKS: Registry[type[Task]] = Registry("task", group="edgekd.tasks", check=_check_task)


def build_task(name: str, *, frontend: Any = None, augment: Any = None) -> Task:
    """The registered task ``name`` with its front-end and augmentation settings.

    Raises:
        InputError: an unknown task (did-you-mean), or a bad setting (naming it).
    """
    return TASKS.get(name)(frontend=frontend, augment=augment)


def progress_wanted() -> bool:
    """Progress bars only on a terminal (CI logs stay readable)."""
    return sys.stderr.isatty()
