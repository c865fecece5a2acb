"""The teacher of every trial: the recipe's file or checkpoint as it is, or trained once and cached by content.

A teacher the recipe trains is keyed by the SHA-256 of what makes it: its settings, the task and
front-end, the data hash, the split and the seed. The first worker to need it trains it (under a
file lock, resumably) into ``CACHE/teachers/KEY/teacher.pt`` with its provenance; every later trial,
worker and sweep on the machine loads that file instead of training again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

Log = Callable[[str], None]


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created), released on exit or when the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def teacher_key(recipe: Any, data: Any) -> str:
    """What the teacher is a function of, hashed."""
    what = {"teacher": recipe.teacher.model_dump(mode="json"), "task": recipe.task, "frontend": recipe.frontend,
            "augment": recipe.data.augment, "data": data.data_hash, "split": recipe.data.split.model_dump(mode="json"),
            "classes": recipe.data.classes, "seed": recipe.seed}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def cache_root(recipe: Any) -> Path:
    """Beside the feature cache (``data.cache_dir``'s parent), or ``.cache/edgekd``."""
    return Path(recipe.data.cache_dir).parent if recipe.data.cache_dir else Path(".cache/edgekd")


def shared_teacher(recipe: Any, data: Any, log: Log, root: Optional[Path] = None) -> tuple[Any, Optional[Path]]:
    """The trained teacher for ``recipe`` on ``data``.

    Returns:
        ``(teacher module or file, checkpoint path)``: the path a re-run recipe names as
        ``teacher.checkpoint`` (None when the recipe's teacher is a file).
    """
    import torch

    import edgekd
    from edgekd.pipeline import build_role

    n = len(data.classes)
    if recipe.teacher.file is not None:
        return build_role(recipe, "teacher", data.task, n), None
    if recipe.teacher.train.epochs == 0:
        log(f"teacher: {recipe.teacher.checkpoint} as it is")
        return build_role(recipe, "teacher", data.task, n).eval(), Path(recipe.teacher.checkpoint)
    folder = (root or cache_root(recipe)) / "teachers" / teacher_key(recipe, data)[:16]
    path = folder / "teacher.pt"
    with file_lock(folder / ".lock"):
        teacher = build_role(recipe, "teacher", data.task, n)
        if path.is_file():
            log(f"teacher: cached {path}")
            teacher.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return teacher.eval(), path
        log(f"teacher: training once for every trial into {path}")
        result = edgekd.distill(
            teacher, train=data.windows["train"], val=data.windows["val"], task=data.task, classes=data.classes,
            positive=data.positive, loss=recipe.teacher.loss, seed=recipe.seed, workdir=folder / "checkpoints",
            log=lambda s: log(f"  [teacher] {s}"), **recipe.teacher.train.model_dump())
        _save(result, recipe, data, path)
        return result.model.eval(), path


def _save(result: Any, recipe: Any, data: Any, path: Path) -> None:
    import tempfile

    import torch

    from edgekd.models.provenance import write_provenance
    from edgekd.versions import versions

    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        torch.save({k: v.detach().clone() for k, v in result.model.state_dict().items()}, tmp.name)
    Path(tmp.name).replace(path)
    write_provenance(
        path, model=recipe.teacher.model, params=recipe.teacher.params, command="edgekd sweep (shared teacher)",
        data={"path": str(data.source), "hash": data.data_hash, "split_seed": data.split_seed,
              "split": recipe.data.split.model_dump(mode="json")},
        seed=recipe.seed, train=recipe.teacher.train.model_dump(mode="json"), frontend=recipe.frontend,
        selection={"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                   "val_score_smoothed": result.best_score},
        versions=versions(), seen={"train": data.windows["train"].recordings, "val": data.windows["val"].recordings})
