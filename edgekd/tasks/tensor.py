"""Tensor classification: examples a user already preprocessed (``.npy`` files or arrays), no front-end.

The escape hatch for any modality: ECG beats, IMU windows, spectrograms made by
another tool. A labelled folder holds ``.npy`` files (class sub-folders or
``labels.csv``), each one example of the model's input shape or a stack of
windows ``(n, *shape)`` of one recording; in memory, ``WindowSet.from_arrays``
takes ``(x, y)``. The input shape is the front-end's ``shape`` setting, or the
shape of the first example. Training may add Gaussian noise
(``data.augment: {noise_std: 0.05}``); by default nothing is changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field

from edgekd.data.features import FeatureCache, WindowSet
from edgekd.data.items import Item
from edgekd.errors import InputError
from edgekd.runtime.tensor import TensorFrontend
from edgekd.tasks.base import TASKS, Augmentation, Task


class TensorAugmentSpec(BaseModel):
    """The tensor task's ``data.augment`` section."""

    model_config = ConfigDict(extra="forbid")

    noise_std: float = Field(0.0, ge=0)  # Gaussian noise added to training batches (0: none)


class GaussianNoise:
    """Callable ``(batch, generator) -> batch + N(0, std²)`` for the trainer."""

    def __init__(self, std: float) -> None:
        self.std = float(std)

    def __call__(self, x: Any, gen: Any) -> Any:
        import torch

        return x + self.std * torch.randn(x.shape, generator=gen)


@TASKS.register("tensor-classification")
class TensorClassification(Task):
    """Preprocessed arrays classified as they are."""

    name = "tensor-classification"
    frontend_kind = "tensor"
    Augment = TensorAugmentSpec
    aggregation = "mean"
    description = ".npy arrays or in-memory examples, used as they are (no front-end)"

    def for_input(self, shape: Sequence[int], where: str = "data") -> "TensorClassification":
        if self.frontend.shape is None:
            return TensorClassification(frontend=TensorFrontend(shape=tuple(int(d) for d in shape)),
                                        augment=self.augment)
        return super().for_input(shape, where)  # type: ignore[return-value]

    def featurize(self, items: Sequence[Item], classes: Sequence[str], cache: FeatureCache, *,
                  resample: bool = False, progress: bool = False) -> WindowSet:
        if self.frontend.shape is None and items:  # the shape of the first example fixes the input shape
            from edgekd.runtime.npyfile import read_npy

            first = read_npy(items[0].path, "example") if items[0].path else None
            if first is None:
                raise InputError("tensor-classification: no input shape: set frontend.shape")
            task = self.for_input(first.shape)
            return task.featurize(items, classes, cache, resample=resample, progress=progress)
        return super().featurize(items, classes, cache, resample=resample, progress=progress)

    def list_items(self, root: str | Path, classes: Sequence[str]) -> list[Item]:
        return super().list_items(root, classes)

    def augmentation(self) -> Optional[Augmentation]:
        return GaussianNoise(self.augment.noise_std) if self.augment.noise_std > 0 else None
