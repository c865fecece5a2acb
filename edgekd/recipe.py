"""The recipe: one YAML file describes a whole experiment (torchdistill-style), typed with pydantic.

A misspelled key or a wrong value fails before any work starts, with a message
naming the file and the key. Names (models, losses, targets) are registry keys,
never import paths. ``--set a.b=value`` overrides any key from the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field

from edgekd.errors import InputError
from edgekd.yamlconf import read_yaml_mapping, validate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SplitSpec(_Strict):
    train: float = 0.6
    val: float = 0.2
    test: float = 0.2
    # Seed of the record-wise split; None: the recipe's seed. Fix it to vary training seeds on one split.
    seed: Optional[int] = None

    def fractions(self) -> dict[str, float]:
        return {"train": self.train, "val": self.val, "test": self.test}


class DataSpec(_Strict):
    path: str
    classes: list[str] = Field(min_length=2)
    positive: Optional[str] = None
    resample: bool = False
    split: SplitSpec = SplitSpec()
    stratify: list[Literal["label", "group"]] = ["label", "group"]
    cache_dir: Optional[str] = ".cache/edgekd/features"


class TrainSpec(_Strict):
    epochs: int = Field(30, ge=0)  # 0: use the model's `checkpoint` as it is (no training)
    batch_size: int = Field(64, ge=2)
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    patience: int = Field(8, ge=1)
    smooth: int = Field(3, ge=1)  # model selection on the mean val score of the last N epochs
    spec_augment: bool = True
    consistent_teacher: bool = True  # the teacher labels the student's augmented view (else clean windows, once)
    threads: int = Field(2, ge=1)


class LossSpec(_Strict):
    name: str
    params: dict[str, Any] = {}


class ModelSpec(_Strict):
    model: str
    params: dict[str, Any] = {}
    loss: LossSpec = LossSpec(name="ce")
    train: TrainSpec = TrainSpec()
    checkpoint: Optional[str] = None  # a local state_dict to start from (loaded with weights_only=True)


class ExportSpec(_Strict):
    targets: list[str] = Field(["x86_64"], min_length=1)
    calibration_windows: int = Field(256, ge=8)
    teacher: bool = True  # also export the teacher in fp32, for the size/accuracy comparison


class BenchSpec(_Strict):
    runs: int = Field(200, ge=5)
    warmup: int = Field(20, ge=0)
    max_seconds: float = Field(20.0, gt=0)


class Recipe(_Strict):
    """A whole experiment: data, front-end, teacher, student, export targets, benchmark."""

    name: str
    task: Literal["audio-classification"] = "audio-classification"
    seed: int = 0
    data: DataSpec
    frontend: dict[str, Any] = {}
    teacher: ModelSpec
    student: ModelSpec
    export: ExportSpec = ExportSpec()
    bench: BenchSpec = BenchSpec()


def _set_dotted(tree: dict, dotted: str, value: Any, source: str) -> None:
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        nxt = node.setdefault(k, {})
        if not isinstance(nxt, dict):
            raise InputError(f"{source}: --set {dotted}: {k!r} is not a section")
        node = nxt
    node[keys[-1]] = value


def parse_overrides(pairs: list[str]) -> list[tuple[str, Any]]:
    """``["student.train.epochs=5"]`` → ``[("student.train.epochs", 5)]`` (values parsed as YAML)."""
    out = []
    for pair in pairs:
        if "=" not in pair:
            raise InputError(f"--set {pair!r}: expected key=value")
        key, raw = pair.split("=", 1)
        out.append((key.strip(), yaml.safe_load(raw)))
    return out


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read and validate a recipe file.

    Args:
        path: the YAML file.
        overrides: ``key=value`` strings applied before validation.

    Raises:
        InputError: unreadable file, YAML error, unknown key, bad value.
    """
    path = Path(path)
    tree = read_yaml_mapping(path, "recipe")
    for key, value in parse_overrides(overrides or []):
        _set_dotted(tree, key, value, str(path))
    recipe: Recipe = validate(Recipe, tree, str(path))
    if recipe.data.positive is not None and recipe.data.positive not in recipe.data.classes:
        raise InputError(
            f"{path}: data.positive {recipe.data.positive!r} is not one of data.classes ({', '.join(recipe.data.classes)})"
        )
    return recipe
