"""SpecAugment-style masking of spectrogram batches (torch): the audio task's training augmentation.

One frequency mask (up to ``freq_fraction`` of the bins) and one time mask (up
to ``time_fraction`` of the frames) per example, filled with the example's mean
(Park et al., Interspeech 2019, without time warping). Training batches only.
Importing this module does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import torch


class SpecAugmentSpec(BaseModel):
    """The audio task's ``data.augment`` section."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    freq_fraction: float = Field(1 / 8, ge=0, le=1)  # widest frequency mask, as a share of the mel bins
    time_fraction: float = Field(1 / 10, ge=0, le=1)  # widest time mask, as a share of the frames


class SpecAugment:
    """Callable ``(batch (N, C, F, T), generator) -> masked copy`` for the trainer."""

    def __init__(self, spec: SpecAugmentSpec | None = None) -> None:
        self.spec = spec or SpecAugmentSpec()

    def __call__(self, x: "torch.Tensor", gen: "torch.Generator") -> "torch.Tensor":
        import torch

        n, _, f, t = x.shape
        x = x.clone()
        fw = torch.randint(0, max(int(f * self.spec.freq_fraction), 1) + 1, (n,), generator=gen)
        tw = torch.randint(0, max(int(t * self.spec.time_fraction), 1) + 1, (n,), generator=gen)
        for i in range(n):
            f0 = int(torch.randint(0, f - int(fw[i]) + 1, (1,), generator=gen))
            t0 = int(torch.randint(0, t - int(tw[i]) + 1, (1,), generator=gen))
            fill = x[i].mean()
            x[i, :, f0 : f0 + int(fw[i]), :] = fill
            x[i, :, :, t0 : t0 + int(tw[i])] = fill
        return x
