"""The audio task's training augmentation of log-mel batches (torch): another stethoscope, then SpecAugment masks.

1. **Another device** (off by default): what a different stethoscope or microphone does to a recording, applied
   to the natural-log mel power: a smooth random equalisation (a tilt plus one bump or dip, up to ``eq_db``), a
   random low-pass (with probability ``lowpass_p``: the bands above a cut-off between half and all of the band
   range lose 40 dB), and wide-band noise (with probability ``noise_p``, at an SNR drawn from ``noise_snr_db``).
   The window's total power is then restored, as the front-end's ``unit_rms`` step would have done, and nothing
   falls below the window's own floor. With KD the teacher labels the same altered window (``consistent_teacher``),
   so a student learns what the teacher makes of a new device instead of a hard label.
2. **SpecAugment masks**: one frequency mask (up to ``freq_fraction`` of the bins) and one time mask (up to
   ``time_fraction`` of the frames) per example, filled with the example's mean (Park et al., Interspeech 2019,
   without time warping).

Training batches only. Importing this module does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    import torch


class SpecAugmentSpec(BaseModel):
    """The audio task's ``data.augment`` section."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    freq_fraction: float = Field(1 / 8, ge=0, le=1)  # widest frequency mask, as a share of the mel bins
    time_fraction: float = Field(1 / 10, ge=0, le=1)  # widest time mask, as a share of the frames
    # another device (all off by default): equalisation up to +-eq_db (dB of power), a low-pass with probability
    # lowpass_p, wide-band noise with probability noise_p at an SNR (dB) drawn uniformly from noise_snr_db
    FINGERPRINT_OMIT_DEFAULTS: ClassVar[tuple[str, ...]] = ("eq_db", "lowpass_p", "noise_p", "noise_snr_db")
    eq_db: float = Field(0.0, ge=0, le=40)
    lowpass_p: float = Field(0.0, ge=0, le=1)
    noise_p: float = Field(0.0, ge=0, le=1)
    noise_snr_db: tuple[float, float] = (10.0, 30.0)

    @field_validator("noise_snr_db")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(-20.0 <= x <= 80.0 for x in v) or v[0] > v[1]:  # NaN fails the range test too
            raise ValueError(f"give [low, high] in dB with -20 <= low <= high <= 80, got {list(v)}")
        return v

    @property
    def alters_device(self) -> bool:
        return self.eq_db > 0 or self.lowpass_p > 0 or self.noise_p > 0


def another_device(x: "torch.Tensor", gen: "torch.Generator", spec: SpecAugmentSpec) -> "torch.Tensor":
    """``x`` (N, C, F, T) natural-log mel power as if recorded by another device (see the module docstring).

    Example:
        >>> import torch
        >>> x = torch.randn(4, 1, 32, 50)
        >>> y = another_device(x, torch.Generator().manual_seed(0), SpecAugmentSpec(eq_db=6, noise_p=1))
        >>> y.shape == x.shape and bool((y >= x.amin(dim=(1, 2, 3), keepdim=True) - 1e-6).all())
        True
    """
    import math

    import torch

    n, _, f, _ = x.shape
    db = math.log(10) / 10  # dB of power -> natural log
    u = lambda *shape: torch.rand(*shape, generator=gen)  # noqa: E731
    floor = x.amin(dim=(1, 2, 3), keepdim=True)
    power = torch.exp(x.double())
    total = power.sum(dim=(2, 3), keepdim=True)
    pos = torch.linspace(0, 1, f, dtype=torch.float64).view(1, 1, f, 1)
    offset = torch.zeros(n, 1, f, 1, dtype=torch.float64)
    if spec.eq_db > 0:
        tilt, bump = [(2 * u(n, 1, 1, 1).double() - 1) * spec.eq_db for _ in range(2)]
        centre, width = u(n, 1, 1, 1).double(), 0.1 + 0.3 * u(n, 1, 1, 1).double()
        offset = offset + db * (tilt * (2 * pos - 1) + bump * torch.exp(-(((pos - centre) / width) ** 2)))
    if spec.lowpass_p > 0:
        on = (u(n, 1, 1, 1) < spec.lowpass_p).double()
        cut = 0.5 + 0.5 * u(n, 1, 1, 1).double()
        offset = offset - on * db * 40 * torch.clamp((pos - cut) / 0.1, 0, 1)
    power = power * torch.exp(offset)
    if spec.noise_p > 0:
        on = (u(n, 1, 1, 1) < spec.noise_p).double()
        lo, hi = spec.noise_snr_db
        snr = lo + (hi - lo) * u(n, 1, 1, 1).double()
        level = power.mean(dim=(2, 3), keepdim=True) * 10 ** (-snr / 10)
        jitter = torch.exp(0.5 * torch.randn(power.shape, generator=gen).double())  # noise frames are not flat
        power = power + on * level * jitter
    power = power * total / power.sum(dim=(2, 3), keepdim=True)  # the front-end's unit_rms: same window power
    return torch.maximum(torch.log(power).to(x.dtype), floor)


class SpecAugment:
    """Callable ``(batch (N, C, F, T), generator) -> masked copy`` for the trainer."""

    def __init__(self, spec: SpecAugmentSpec | None = None) -> None:
        self.spec = spec or SpecAugmentSpec()

    def __call__(self, x: "torch.Tensor", gen: "torch.Generator") -> "torch.Tensor":
        import torch

        if self.spec.alters_device:
            x = another_device(x, gen, self.spec)
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
