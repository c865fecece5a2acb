"""The recipe: one YAML file describes a whole experiment (torchdistill-style), typed with pydantic.

A misspelled key or a wrong value fails before any work starts, with a message
naming the file and the key. Names (models, losses, targets) are registry keys,
never import paths. ``--set a.b=value`` overrides any key from the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgekd.data.image_augment import ImageAugmentSpec
from edgekd.errors import InputError
from edgekd.targets import Precision
from edgekd.yamlconf import read_yaml_mapping, validate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SplitSpec(_Strict):
    train: float = 0.6
    val: float = 0.2
    test: float = 0.2
    # Seed of the record-wise split; None: the recipe's seed. Fix it to vary training seeds on one split.
    seed: Optional[int] = None
    # Images: photos of one class taken less than this many seconds apart (a capture burst, usually the
    # same leaf) stay in one split; capture time from the file name's YYYYMMDD_HHMMSS or EXIF. None: off.
    keep_together_s: Optional[float] = Field(None, gt=0)

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
    augment: Optional[ImageAugmentSpec] = None  # image tasks: training-batch augmentation (None: the defaults)


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


class DistillSpec(_Strict):
    """A distillation method (``edgekd.distill.methods``) and its parameters; ``loss`` stays the logit-level loss."""

    method: str = "logit"
    params: dict[str, Any] = {}


class ModelSpec(_Strict):
    model: str
    params: dict[str, Any] = {}
    loss: LossSpec = LossSpec(name="ce")
    distill: Optional[DistillSpec] = None  # student only: how the teacher's knowledge is used (default: logit KD)
    train: TrainSpec = TrainSpec()
    checkpoint: Optional[str] = None  # a local state_dict to start from (loaded with weights_only=True)


class CalibrationSpec(_Strict):
    """int8 calibration: how many training windows, and the range method (one name, or ``{backend: name}``)."""

    windows: Optional[int] = Field(None, ge=8)  # default: export.calibration_windows
    method: Union[None, str, dict[str, str]] = None  # onnxruntime: minmax|entropy|percentile; litert-torch: histogram|minmax


class QATSpec(_Strict):
    """Quantization-aware fine-tuning of the student (precision ``int8-qat``), distilled from the teacher."""

    epochs: int = Field(4, ge=1)
    lr: float = Field(5e-4, gt=0)
    batch_size: Optional[int] = Field(None, ge=2)  # default: student.train.batch_size
    patience: int = Field(10, ge=1)
    loss: Optional[LossSpec] = None  # default: the student's loss when it is kd, else kd (T=4, alpha=0.5)
    distill: Optional[DistillSpec] = None  # a distillation method around that loss (edgekd.distill.methods)


class MixedSpec(_Strict):
    """Mixed precision (per-layer int4/int8/fp32 weights): the file-size budget to meet."""

    size_kb: Optional[float] = Field(None, gt=0)  # default: the target's budgets.size_kb


class ExportSpec(_Strict):
    targets: list[str] = Field(["x86_64"], min_length=1)
    calibration_windows: int = Field(256, ge=8)
    teacher: bool = True  # also export the teacher in fp32, for the size/accuracy comparison
    precisions: Optional[list[Precision]] = None  # the student's precisions on every target (default: the profile's)
    calibration: CalibrationSpec = CalibrationSpec()
    qat: QATSpec = QATSpec()
    mixed: MixedSpec = MixedSpec()
    # The product's budgets per target, layered over the device profile's (e.g. {x86_64: {size_kb: 256}}):
    # a profile says what the device can take, the recipe what this model's release must meet.
    budgets: dict[str, dict[str, Any]] = {}


class BenchSpec(_Strict):
    runs: int = Field(200, ge=5)
    warmup: int = Field(20, ge=0)
    max_seconds: float = Field(20.0, gt=0)


class PruneTargetSpec(_Strict):
    """Exactly one global target: a parameter ratio, a MAC budget (absolute or ratio), or an int8 file size."""

    params_ratio: Optional[float] = Field(None, gt=0, lt=1)  # keep at most this share of the parameters
    macs: Optional[float] = Field(None, gt=0)  # multiply-accumulates per example, e.g. 5.5e+6
    macs_ratio: Optional[float] = Field(None, gt=0, lt=1)  # keep at most this share of the MACs
    int8_kb: Optional[float] = Field(None, gt=0)  # predicted int8 TFLite size (calibrated on one export)

    @model_validator(mode="after")
    def _exactly_one(self) -> "PruneTargetSpec":
        given = [k for k in ("params_ratio", "macs", "macs_ratio", "int8_kb") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of params_ratio, macs, macs_ratio, int8_kb (got {', '.join(given) or 'none'})")
        return self


class PruneScheduleSpec(_Strict):
    kind: Literal["oneshot", "iterative"] = "oneshot"
    steps: int = Field(1, ge=1)  # iterative: prune in this many steps, recovering after each


class RecoverSpec(_Strict):
    """Fine-tuning after each pruning step; other trainer settings come from ``student.train``."""

    epochs: int = Field(5, ge=0)
    lr: float = Field(1e-3, gt=0)
    loss: LossSpec = LossSpec(name="kd")  # any registered loss: kd (from the teacher), ce (no KD recovery), ...
    distill: Optional[DistillSpec] = None  # any distillation method around that loss (hint, mixup, ...)


class PruneSpec(_Strict):
    """Structured channel pruning of the student (``edgekd.prune``)."""

    target: PruneTargetSpec
    importance: str = "taylor"  # a key of edgekd.prune.importance.IMPORTANCES
    scope: Literal["uniform", "global"] = "uniform"
    schedule: PruneScheduleSpec = PruneScheduleSpec()
    ignore: list[str] = []  # layer names never pruned; the classifier always is
    min_channels: int = Field(1, ge=1)
    gradient_batches: int = Field(8, ge=1)  # training batches for gradient-based importance (taylor)
    recover: RecoverSpec = RecoverSpec()
    order: Literal["distill-prune-distill", "prune-distill"] = "distill-prune-distill"


class Recipe(_Strict):
    """A whole experiment: data, front-end, teacher, student, export targets, benchmark."""

    name: str
    task: Literal["audio-classification", "image-classification"] = "audio-classification"
    seed: int = 0
    data: DataSpec
    frontend: dict[str, Any] = {}
    teacher: ModelSpec
    student: ModelSpec
    export: ExportSpec = ExportSpec()
    bench: BenchSpec = BenchSpec()
    prune: Optional[PruneSpec] = None  # structured pruning after student training (edgekd.prune)


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
