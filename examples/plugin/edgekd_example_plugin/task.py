"""The training side of the ``pcg-envelope`` task: reader, augmentation, aggregation (edgekd's Task interface)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field

from edgekd.tasks import Task


class EnvelopeAugment(BaseModel):
    """Training-batch augmentation: a random circular time shift and a little Gaussian noise."""

    model_config = ConfigDict(extra="forbid")
    max_shift: int = Field(10, ge=0)  # envelope samples (0.2 s at 50 Hz)
    noise_std: float = Field(0.05, ge=0)


class ShiftAndNoise:
    """``(batch (N, 1, L), generator) -> batch``: each window rolled by up to ``max_shift``, plus noise."""

    def __init__(self, spec: EnvelopeAugment) -> None:
        self.spec = spec

    def __call__(self, x: Any, gen: Any) -> Any:
        import torch

        shifts = torch.randint(-self.spec.max_shift, self.spec.max_shift + 1, (x.shape[0],), generator=gen)
        out = torch.stack([torch.roll(row, int(s), dims=-1) for row, s in zip(x, shifts)])
        return out + self.spec.noise_std * torch.randn(out.shape, generator=gen)


class EnvelopeTask(Task):
    """Heart-sound recordings classified from their 1-D amplitude envelope."""

    name = "pcg-envelope"
    frontend_kind = "pcg-envelope"
    Augment = EnvelopeAugment
    aggregation = "mean"
    description = "WAV -> 50 Hz amplitude envelope windows (plugin front-end), 1-D models"

    def list_items(self, root: str | Path, classes: Sequence[str]) -> list:
        from edgekd.data.recordings import list_recordings  # PhysioNet folders: the database is each item's group

        return list_recordings(root, list(classes), self.frontend.extensions)

    def augmentation(self) -> Optional[ShiftAndNoise]:
        return ShiftAndNoise(self.augment)
