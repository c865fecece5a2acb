"""Training-only augmentation of normalised image batches (torch): crops, flips, rotations, colour jitter.

The trainer applies it to training batches only; validation, test, calibration
and the device see the plain front-end output. It works on the cached
front-end tensors (N, 3, S, S), so the decoded photos are never re-read:

- geometry, one affine warp per image (``grid_sample``, reflection padding):
  a random resized crop (area fraction ``scale``, aspect ``ratio``, anywhere in
  the image), a rotation of up to ``rotate_deg`` degrees plus, with ``rot90``, a
  random multiple of 90 degrees (a leaf has no "up"), and horizontal / vertical flips;
- colour, in [0, 1] pixel space (undoing the front-end's mean/std first):
  brightness, contrast and saturation factors drawn from ``1 ± value``; and the shifts between capture
  sessions (another day's light, another phone's white balance, a missed focus): a per-channel gain of
  ``1 ± white_balance`` (white balance), a gamma of ``exp(± exposure)`` (exposure), and with probability
  ``blur_p`` a Gaussian blur of sigma up to ``blur_sigma`` pixels.

The recipe section is ``data.augment`` (``ImageAugmentSpec``). Importing this
module does not import torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    import torch


class ImageAugmentSpec(BaseModel):
    """The recipe's ``data.augment`` section (image tasks)."""

    model_config = ConfigDict(extra="forbid")

    scale: tuple[float, float] = (0.5, 1.0)  # crop area as a fraction of the image
    ratio: tuple[float, float] = (0.75, 1.3333)  # crop aspect ratio range
    rotate_deg: float = Field(20.0, ge=0, le=180)
    rot90: bool = True
    hflip: bool = True
    vflip: bool = True
    brightness: float = Field(0.25, ge=0, lt=1)
    contrast: float = Field(0.25, ge=0, lt=1)
    saturation: float = Field(0.25, ge=0, lt=1)
    white_balance: float = Field(0.0, ge=0, lt=1)  # per-channel gain 1 +- this
    exposure: float = Field(0.0, ge=0, le=2)  # gamma exp(+- this): darker or brighter mid-tones
    blur_p: float = Field(0.0, ge=0, le=1)  # share of images blurred
    blur_sigma: float = Field(1.5, gt=0, le=8)  # largest blur sigma, pixels

    @model_validator(mode="after")
    def _ranges(self) -> "ImageAugmentSpec":
        lo, hi = self.scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {list(self.scale)}")
        lo, hi = self.ratio
        if not 0 < lo <= hi:
            raise ValueError(f"ratio must satisfy 0 < min <= max, got {list(self.ratio)}")
        return self


class ImageAugment:
    """Callable ``(batch, generator) -> augmented batch`` for the trainer.

    Args:
        spec: the augmentation settings.
        mean, std: the front-end's per-channel normalisation (to jitter colour in pixel space).
    """

    def __init__(self, spec: ImageAugmentSpec, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.spec = spec
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def __call__(self, x: "torch.Tensor", gen: "torch.Generator") -> "torch.Tensor":
        import torch
        import torch.nn.functional as F

        n = x.shape[0]
        s = self.spec

        def uniform(lo: float, hi: float) -> torch.Tensor:
            return lo + (hi - lo) * torch.rand(n, generator=gen)

        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        p = x * std + mean  # [0, 1] pixels
        # colour: brightness, contrast (around the image's mean grey), saturation (around each pixel's grey)
        p = p * uniform(1 - s.brightness, 1 + s.brightness).view(n, 1, 1, 1)
        grey = (0.299 * p[:, 0:1] + 0.587 * p[:, 1:2] + 0.114 * p[:, 2:3])
        m = grey.mean(dim=(2, 3), keepdim=True)
        p = (p - m) * uniform(1 - s.contrast, 1 + s.contrast).view(n, 1, 1, 1) + m
        grey = (0.299 * p[:, 0:1] + 0.587 * p[:, 1:2] + 0.114 * p[:, 2:3])
        p = grey + (p - grey) * uniform(1 - s.saturation, 1 + s.saturation).view(n, 1, 1, 1)
        if s.white_balance:
            gains = 1 + s.white_balance * (2 * torch.rand(n, 3, generator=gen) - 1)
            p = p * gains.view(n, 3, 1, 1)
        p = p.clamp(0.0, 1.0)
        if s.exposure:
            p = p.clamp_min(1e-6) ** torch.exp(uniform(-s.exposure, s.exposure)).view(n, 1, 1, 1)
        if s.blur_p:
            p = _blur(p, torch.rand(n, generator=gen) < s.blur_p, uniform(0.3, s.blur_sigma))
        # geometry: output coords (-1..1) -> input coords = centre + crop * rotation * flip * out
        area = uniform(*s.scale)
        log_r = uniform(math.log(s.ratio[0]), math.log(s.ratio[1]))
        ratio = torch.exp(log_r)
        w = torch.sqrt(area * ratio).clamp(max=1.0)
        h = torch.sqrt(area / ratio).clamp(max=1.0)
        cx = (1 - w) * uniform(-1.0, 1.0)
        cy = (1 - h) * uniform(-1.0, 1.0)
        angle = uniform(-s.rotate_deg, s.rotate_deg) * math.pi / 180.0
        if s.rot90:
            angle = angle + torch.randint(0, 4, (n,), generator=gen).float() * (math.pi / 2)
        fx = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0) if s.hflip else torch.ones(n)
        fy = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0) if s.vflip else torch.ones(n)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = w * cos * fx
        theta[:, 0, 1] = -w * sin * fy
        theta[:, 1, 0] = h * sin * fx
        theta[:, 1, 1] = h * cos * fy
        theta[:, 0, 2] = cx
        theta[:, 1, 2] = cy
        grid = F.affine_grid(theta, list(p.shape), align_corners=False)
        p = F.grid_sample(p, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        return ((p - mean) / std).contiguous()


def _blur(p: "torch.Tensor", which: "torch.Tensor", sigma: "torch.Tensor") -> "torch.Tensor":
    """Gaussian blur (separable, reflection padding) of the images ``which`` selects, each with its sigma."""
    import torch
    import torch.nn.functional as F

    if not bool(which.any()):
        return p
    out = p.clone()
    for i in torch.nonzero(which).flatten().tolist():
        sd = float(sigma[i])
        r = max(1, int(math.ceil(2.5 * sd)))
        k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=p.dtype) / sd) ** 2)
        k = k / k.sum()
        img = F.pad(p[i : i + 1], (r, r, r, r), mode="reflect")
        img = F.conv2d(img, k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
        out[i : i + 1] = F.conv2d(img, k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    return out
