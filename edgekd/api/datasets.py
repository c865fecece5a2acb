"""Data for a whole run: read, validate, split item-wise (stratified) and featurise, once.

``prepare`` takes a labelled folder (read by the task), one in-memory data set
(arrays, a ``Dataset``, a ``WindowSet``), or the three splits already made
(``{"train": ..., "val": ..., "test": ...}``). Splits are made on items, never on
windows, stratified by label and group (source database), seeded, and keep
capture bursts together where the task groups them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from edgekd.api.inputs import DEFAULT_CACHE, as_windows, is_folder, read_folder, resolve_task
from edgekd.data.config import SplitSpec
from edgekd.data.features import FeatureCache, WindowSet
from edgekd.data.items import dataset_hash
from edgekd.data.splits import SPLITS, split_from_file, split_items
from edgekd.runtime.sidecar import item_noun
from edgekd.errors import InputError
from edgekd.tasks import Task
from edgekd.yamlconf import validate


@dataclass
class Prepared:
    """The data of a run: windows per split, the items, classes, and what identifies the data.

    Accepted wherever a verb takes data: ``edgekd.distill(student, train=data)`` and ``edgekd.prune(...,
    train=data)`` take its train and val splits, ``edgekd.export(..., calibration=data, val=data)`` its train and
    val splits, ``edgekd.evaluate(path, data)`` its test split; each takes the task, classes and positive class
    from it, so ``task=data.task`` is never repeated.

    Attributes:
        windows: ``{"train", "val", "test"}`` → ``WindowSet``.
        classes: class names, output order. positive: the positive class of a two-class screener.
        task: the task (its input shape fixed). data_hash: SHA-256 over every (item, label, content).
        source: the folder, or ``"in-memory data"``. split_seed: the seed of the item-wise split.
    """

    windows: dict[str, WindowSet]
    classes: list[str]
    positive: Optional[str]
    task: Task
    data_hash: str
    source: str
    split_seed: int

    @property
    def items(self) -> list[Any]:
        return [it for s in SPLITS for it in self.windows[s].recordings]

    @property
    def train(self) -> WindowSet:
        return self.windows["train"]

    @property
    def val(self) -> WindowSet:
        return self.windows["val"]

    @property
    def test(self) -> WindowSet:
        return self.windows["test"]


# ---------------------------------------------------------------- a Prepared wherever data is
def is_prepared(data: Any) -> bool:
    """Whether ``data`` is ``edgekd.prepare``'s result (a ``Prepared``: splits, classes, task)."""
    return isinstance(data, Prepared)


def split_of(data: Any, split: str) -> Any:
    """The ``split`` (``train``, ``val`` or ``test``) of a ``Prepared``; any other data as it is."""
    return data.windows[split] if is_prepared(data) else data


def train_and_val(data: Any, train: Any, val: Any) -> tuple[Any, Any]:
    """``(train, val)`` of a verb that trains: ``data=`` (a ``Prepared``) fills both; a ``Prepared`` given as
    ``train=`` also gives ``val`` (its val split) unless ``val=`` is given.

    Raises:
        InputError: ``data=`` that is not a ``Prepared``.
    """
    if data is not None:
        if not is_prepared(data):
            raise InputError(f"data: expected edgekd.prepare(...)'s result (a Prepared), got {type(data).__name__}; "
                             "give other data as train= and val=")
        train, val = (data if train is None else train), (data if val is None else val)
    if val is None and is_prepared(train):
        val = train
    return train, val


def with_prepared(*data: Any, task: Any, classes: Optional[Sequence[str]], positive: Optional[str]
                  ) -> tuple[Any, Optional[list[str]], Optional[str]]:
    """``(task, classes, positive)``: each one not given taken from the first ``Prepared`` among ``data``.

    A ``Prepared`` knows its task (input shape and front-end fixed), its classes (output order) and its positive
    class, so a verb given one needs none of them again. A task given as well must be the same task.

    Raises:
        InputError: a ``task`` that is not the prepared data's.
    """
    prep = next((d for d in data if is_prepared(d)), None)
    if prep is None:
        return task, (list(classes) if classes is not None else None), positive
    if task is not None and task is not prep.task and task != prep.task.name:
        name = task if isinstance(task, str) else getattr(task, "name", type(task).__name__)
        raise InputError(f"task: {name!r} is not the prepared data's task {prep.task.name!r}; leave task= out "
                         "(a Prepared brings its own)")
    return (prep.task, list(classes) if classes is not None else list(prep.classes),
            positive if positive is not None else prep.positive)


def _log_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def prepare(
    data: Any,
    *,
    task: Any = None,
    classes: Optional[Sequence[str]] = None,
    positive: Optional[str] = None,
    split: Union[None, dict, SplitSpec] = None,
    frontend: Optional[dict] = None,
    augment: Optional[dict] = None,
    seed: int = 0,
    stratify: Sequence[str] = ("label", "group"),
    cache_dir: Optional[str] = DEFAULT_CACHE,
    resample: bool = False,
    log: Optional[Callable[[str], None]] = None,
) -> Prepared:
    """Read, split and featurise the data of a run (see the module docstring).

    Args:
        data: a labelled folder, one data set in any form ``edgekd.distill`` takes, or a mapping of the
            three splits.
        task: the task name or object (default: ``tensor-classification``).
        classes: class names in output order, i.e. the order of your teacher's outputs (default: from the data,
            sorted by name, which a log line shows; ``edgekd.distill``/``compress`` refuse a teacher that
            clearly follows another order).
        positive: the positive class of a two-class screener (MAcc, threshold).
        split: fractions, seed (default ``seed``) and ``keep_together_s`` (``SplitSpec``); ignored when
            the splits are given.
        frontend, augment: the task's front-end and training-augmentation settings, as a recipe's ``frontend:``
            and ``data.augment:`` (e.g. ``frontend={"size": 224, "resize": 256}`` for photos; the default image
            input is 96 px). A model's ``input_shape`` is then ``data.task.input_shape``.
        seed: the run's seed. stratify: ``label`` and/or ``group``.
        cache_dir: front-end feature cache. resample: audio at another rate is resampled.
        log: progress lines.

    Raises:
        InputError: unreadable data, an empty split, a positive class that is not a class.

    Example:
        >>> import numpy as np, edgekd
        >>> x = np.random.default_rng(0).normal(size=(50, 1, 4, 4)).astype("float32")
        >>> data = edgekd.prepare((x, np.arange(50) % 2), log=lambda s: None)
        >>> len(data.train.x), len(data.val.x), len(data.test.x), data.classes
        (30, 10, 10, ['0', '1'])
    """
    log = log or _log_stderr
    task_obj = resolve_task(task, frontend=frontend, augment=augment)
    spec: SplitSpec = split if isinstance(split, SplitSpec) else validate(SplitSpec, dict(split or {}), "split")
    split_seed = seed if spec.seed is None else spec.seed
    read = {"cache_dir": cache_dir, "resample": resample}
    if isinstance(data, Mapping) and set(data) == set(SPLITS):
        windows, task_obj, names, source = _given_splits(data, task_obj, classes, read)
    elif is_folder(data):
        windows, task_obj, names, source = _split_folder(Path(data), task_obj, classes, spec, split_seed, stratify,
                                                         read, log)
    else:
        windows, task_obj, names, source = _split_memory(data, task_obj, classes, spec, split_seed, stratify,
                                                         cache_dir)
    if positive is not None and positive not in names:
        raise InputError(f"positive: {positive!r} is not one of the classes ({', '.join(names)})")
    from edgekd.api.checks import sorted_order_note

    note = sorted_order_note(names, classes is not None)
    if note:
        log(note)
    for s, ws in windows.items():
        log(f"  {s:5s}: {len(ws.recordings):4d} {item_noun(task_obj.name)}, {len(ws.x):5d} windows")
    items = [it for s in SPLITS for it in windows[s].recordings]
    return Prepared(windows=windows, classes=list(names), positive=positive, task=task_obj,
                    data_hash=dataset_hash(items), source=source, split_seed=split_seed)


Split = tuple[dict[str, WindowSet], Task, list[str], str]


def _given_splits(data: Mapping[str, Any], task: Task, classes: Optional[Sequence[str]], read: dict) -> Split:
    """The three splits as given, each in any data form."""
    windows, names = {}, list(classes) if classes is not None else None
    for s in SPLITS:
        windows[s], task, names = as_windows(data[s], task, names, where=f"data[{s!r}]", **read)
    return windows, task, names, "given splits"


def _split_folder(root: Path, task: Task, classes: Optional[Sequence[str]], spec: SplitSpec, split_seed: int,
                  stratify: Sequence[str], read: dict, log: Callable[[str], None]) -> Split:
    """A labelled folder's items, split item-wise (bursts kept together, by time or by file where asked), featurised."""
    items, names = read_folder(task, root, classes, **read)
    keep = task.split_groups(items, spec.keep_together_s) if spec.by == "random" and not spec.file else None
    if keep is not None:
        log(f"  {len(set(keep))} capture bursts (shots < {spec.keep_together_s:g} s apart) kept in one split each")
    times = task.capture_times(items) if spec.by == "time" and not spec.file else None
    if spec.file:
        idx = split_from_file(items, spec.file)
        log(f"  split as {spec.file} assigns it")
    else:
        idx = split_items(items, spec.fractions(), split_seed, stratify, keep, times)
    if times is not None:
        log(f"  split by capture time: the latest {spec.test:.0%} of each stratum is test, the next "
            f"{spec.val:.0%} validation")
    _check_splits(idx, len(items))
    cache = FeatureCache(read["cache_dir"])
    windows = {s: task.featurize([items[i] for i in idx[s]], names, cache, resample=read["resample"],
                                 progress=sys.stderr.isatty()) for s in SPLITS}
    return windows, task.for_input(windows["train"].x.shape[1:], str(root)), names, str(root)


def _split_memory(data: Any, task: Task, classes: Optional[Sequence[str]], spec: SplitSpec, split_seed: int,
                  stratify: Sequence[str], cache_dir: Optional[str]) -> Split:
    """One in-memory data set, split item-wise."""
    whole, task, names = as_windows(data, task, classes, where="data", cache_dir=cache_dir)
    if spec.file:
        raise InputError("split.file assigns items of a folder by name, not in-memory data")
    if spec.by == "time":
        raise InputError("split.by: time needs a folder of items with capture times, not in-memory data")
    idx = split_items(whole.recordings, spec.fractions(), split_seed, stratify)
    _check_splits(idx, len(whole.recordings))
    return {s: whole.subset(idx[s]) for s in SPLITS}, task, names, "in-memory data"


def _check_splits(idx: dict[str, list[int]], n: int) -> None:
    for s in SPLITS:
        if not idx[s]:
            raise InputError(f"data.split: the {s} split is empty; {n} items are too few")
