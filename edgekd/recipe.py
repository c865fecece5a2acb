"""The recipe: one YAML file describes a whole experiment (torchdistill-style), typed with pydantic.

A misspelled key or a wrong value fails before any work starts, with a message
naming the file and the key. Names (tasks, models, losses, methods, targets)
are registry keys, built in or from installed plugins, never import paths; a
model may also be a file (``.onnx`` teacher, ``.pt2``), never unpickled.
``--set a.b=value`` overrides any key from the command line. The sections reuse
the stages' own typed settings (``edgekd.training.config``, ``edgekd.pruning.config``,
``edgekd.exporting.config``), which the Python API validates too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgekd.runners.options import BenchSpec
from edgekd.data.config import SplitSpec
from edgekd.training.config import DistillSpec, LossSpec, TrainSpec
from edgekd.errors import InputError
from edgekd.exporting.config import CalibrationSpec, ExportSpec, MixedSpec, QATSpec  # noqa: F401
from edgekd.pruning.config import PruneScheduleSpec, PruneSpec, PruneTargetSpec, RecoverSpec  # noqa: F401
from edgekd.yamlconf import parse_overrides, read_yaml_mapping, set_key, validate  # noqa: F401 (set_key: API)

__all__ = ["DataSpec", "DistillSpec", "LossSpec", "ModelSpec", "Recipe", "TrainSpec", "load_recipe", "parse_overrides",
           "read_recipe_tree", "recipe_from_tree", "set_key"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSpec(_Strict):
    path: str
    classes: list[str] = Field(min_length=2)
    positive: Optional[str] = None
    resample: bool = False
    split: SplitSpec = SplitSpec()
    stratify: list[Literal["label", "group"]] = ["label", "group"]
    cache_dir: Optional[str] = ".cache/edgekd/features"
    # the task's training augmentation settings (audio: SpecAugment masks; photos: crops, flips, colour;
    # tensors: noise); None: the task's defaults
    augment: Optional[dict[str, Any]] = None


class ModelSpec(_Strict):
    """A teacher or student: a registered architecture (``model``) or a file (``file``: .onnx teacher, .pt2)."""

    model: Optional[str] = None  # a key of the model registry (built in or from an installed plugin)
    file: Optional[str] = None  # a model file: ONNX (teacher, run by ONNX Runtime) or torch.export .pt2
    params: dict[str, Any] = {}
    loss: LossSpec = LossSpec(name="ce")
    distill: Optional[DistillSpec] = None  # student only: how the teacher's knowledge is used (default: logit KD)
    train: TrainSpec = TrainSpec()
    checkpoint: Optional[str] = None  # a local state_dict to start from (loaded with weights_only=True)

    @model_validator(mode="after")
    def _one_source(self) -> "ModelSpec":
        if (self.model is None) == (self.file is None):
            raise ValueError("give exactly one of 'model' (a registered architecture) and 'file' (.onnx or .pt2)")
        if self.file is not None and (self.params or self.checkpoint):
            raise ValueError("'params' and 'checkpoint' describe a registered model; a 'file' carries its own")
        return self

    @property
    def label(self) -> str:
        """How reports name it: the registry key, or the file name."""
        return self.model if self.model is not None else Path(self.file).name


class Recipe(_Strict):
    """A whole experiment: data, task and front-end, teacher, student, pruning, export targets, benchmark."""

    name: str
    task: str = "audio-classification"  # a registered task (edgekd plugins lists them)
    seed: int = Field(0, ge=0, lt=2**32)  # what numpy, torch and random all take (a huge one overflowed in torch)
    data: DataSpec
    frontend: dict[str, Any] = {}
    teacher: ModelSpec
    student: ModelSpec
    export: ExportSpec = ExportSpec()
    bench: BenchSpec = BenchSpec()
    prune: Optional[PruneSpec] = None  # structured pruning after student training (edgekd.prune)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read and validate a recipe file.

    Args:
        path: the YAML file.
        overrides: ``key=value`` strings applied before validation.

    Raises:
        InputError: unreadable file, YAML error, unknown key, bad value.
    """
    return recipe_from_tree(read_recipe_tree(path, overrides), str(Path(path)))


def read_recipe_tree(path: str | Path, overrides: list[str] | None = None) -> dict:
    """The recipe file as a plain tree with ``--set`` overrides applied (not validated)."""
    path = Path(path)
    tree = read_yaml_mapping(path, "recipe")
    for key, value in parse_overrides(overrides or []):
        set_key(tree, key, value, str(path))
    return tree


def check_finite(tree: Any, source: str) -> None:
    """Refuse a NaN or infinite number anywhere in a recipe tree (``lr: .inf`` trains NaN weights; a
    ``temperature: .nan`` inside ``loss.params`` escapes the typed fields), naming the key.

    Raises:
        InputError: ``FILE: student.train.lr: .inf is not a finite number``.
    """
    import math

    stack: list[tuple[str, Any]] = [("", tree)]
    while stack:  # not recursive: a deeply nested hostile file must not overflow the stack
        where, node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            raise InputError(f"{source}: {where}: {node!r} is not a finite number")
        if isinstance(node, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(node))


def recipe_from_tree(tree: dict, source: str) -> Recipe:
    """Validate a recipe tree; messages name ``source`` and the key. ``edgekd run``, ``run --check``, the API's
    recipe readers and every sweep trial come through here, so all refuse the same recipes."""
    check_finite(tree, source)
    recipe: Recipe = validate(Recipe, tree, source)
    if recipe.data.positive is not None and recipe.data.positive not in recipe.data.classes:
        raise InputError(
            f"{source}: data.positive {recipe.data.positive!r} is not one of data.classes ({', '.join(recipe.data.classes)})"
        )
    return recipe
