"""The image front end: a photo file -> one normalised model input (numpy + Pillow only).

The same code builds the training inputs (``edgekd.data.images``) and runs on the
device (``edgekd eval``), so a model sees identical pixels in both places:

1. decode with Pillow, refusing corrupt, truncated and non-image files by name;
2. apply the EXIF orientation (phone photos are often stored sideways);
3. convert to 8-bit RGB: grayscale, palette, CMYK and YCbCr convert directly;
   an alpha channel is composited over a flat ``background`` (transparent pixels
   carry no colour); 16-bit / float images are refused (their scaling is ambiguous);
4. refuse images whose shorter side is below ``min_side`` (upsampling would
   invent the detail a disease spot needs) or whose long/short side ratio is
   above ``max_aspect`` (the centre crop would keep too little of the picture);
5. resize the shorter side to ``resize`` (Pillow bilinear with antialiasing),
   centre-crop ``size`` x ``size``;
6. scale to [0, 1], subtract ``mean`` and divide by ``std`` per channel, CHW float32.

``Artifact.predict`` turns the CHW batch into the artifact's own layout (NHWC
for TFLite) and dtype; :func:`to_layout` does the same for callers that feed a
runtime directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from edgekd.errors import InputError

from edgekd.runtime.pixels import (  # noqa: F401  (the image front-end's public names)
    IMAGE_EXTENSIONS,
    _pil,
    crop_box,
    decode_rgb,
    resized_size,
)


@dataclass(frozen=True)
class ImageFrontend:
    """Every image front-end parameter; recipes and artifact sidecars store ``to_dict()``.

    Attributes:
        size: side of the square model input, in pixels.
        resize: the shorter side is resized to this before the centre crop (>= size).
        mean, std: per-channel (R, G, B) normalisation of [0, 1] pixels.
        min_side: smallest accepted shorter side of a decoded image.
        max_aspect: largest accepted long/short side ratio.
        background: RGB colour that transparent pixels are composited over.
    """

    kind: ClassVar[str] = "image"
    extensions: ClassVar[tuple[str, ...]] = IMAGE_EXTENSIONS

    size: int = 96
    resize: int = 110
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    min_side: int = 32
    max_aspect: float = 2.5
    background: tuple[int, int, int] = field(default=(255, 255, 255))

    def __post_init__(self) -> None:
        def bad(msg: str) -> InputError:
            return InputError(f"front-end: {msg}")

        for name in ("size", "resize", "min_side"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise bad(f"'{name}' must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if isinstance(self.max_aspect, bool) or not isinstance(self.max_aspect, (int, float)) \
                or not math.isfinite(self.max_aspect) or self.max_aspect < 1:
            raise bad(f"'max_aspect' must be a number >= 1, got {self.max_aspect!r}")
        object.__setattr__(self, "max_aspect", float(self.max_aspect))
        for name in ("mean", "std", "background"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or len(value) != 3 or any(
                isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in value
            ):
                raise bad(f"'{name}' must be three numbers (R, G, B), got {value!r}")
            cast = int if name == "background" else float
            object.__setattr__(self, name, tuple(cast(v) for v in value))
        if any(s <= 0 for s in self.std):
            raise bad(f"'std' must be positive, got {list(self.std)}")
        if any(not 0 <= b <= 255 or float(b) != b for b in self.background):
            raise bad(f"'background' must be three integers 0-255, got {list(self.background)}")
        if self.resize < self.size:
            raise bad(f"'resize' ({self.resize}) must be at least 'size' ({self.size}): the crop is taken from it")

    # ------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """All parameters as a plain JSON-able dict (``kind`` names the front-end)."""
        d = dataclasses.asdict(self)
        return {"kind": "image", **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ImageFrontend":
        """Build from a recipe / sidecar dict; missing keys take the defaults.

        Raises:
            InputError: an unknown key (with a "did you mean" hint) or a bad value.
        """
        from edgekd.runtime.settings import dataclass_from_settings, pop_kind

        return dataclass_from_settings(cls, pop_kind(d, cls.kind))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Model input per image, channel first: (3, size, size)."""
        return (3, self.size, self.size)

    def config_hash(self) -> str:
        """Short stable hash of the parameters (a cache key)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:16]

    # ------------------------------------------------------------ the transform
    def steps(self) -> list[dict[str, Any]]:
        """The front-end as an ordered list of steps with every parameter (sidecar v2, ``run_steps``)."""
        return [
            {"step": "decode_image", "color": "rgb8", "exif_orientation": "apply", "alpha": "composite",
             "background": list(self.background)},
            {"step": "check_size", "min_side": self.min_side, "max_aspect": self.max_aspect},
            {"step": "resize_shorter", "shorter_side": self.resize, "filter": "bilinear", "antialias": True,
             "rounding": "round-half-even", "library": "pillow"},
            {"step": "center_crop", "size": self.size, "offset": "round-half-even((side - size) / 2)"},
            {"step": "scale", "divide_by": 255.0, "dtype": "float32"},
            {"step": "normalize", "mean": list(self.mean), "std": list(self.std), "axis": "last"},
            {"step": "to_model_input", "layout": "h,w,c->1,c,h,w", "dtype": "float32"},
        ]

    def load_rgb(self, path: str | os.PathLike[str]) -> np.ndarray:
        """Decode, orient and validate one image file (steps ``decode_image``, ``check_size``).

        Returns:
            uint8 array (H, W, 3), EXIF orientation applied.

        Raises:
            InputError: the file is missing, not an image, corrupt or truncated, 16-bit/float,
                smaller than ``min_side`` or more elongated than ``max_aspect`` (naming the file).
        """
        from edgekd.runtime.steps import run_file

        return run_file(self.steps()[:2], path)

    def check_shape(self, width: int, height: int, where: Any) -> None:
        """Refuse an image too small or too elongated for this front-end, naming ``where``."""
        from edgekd.runtime.steps import check_size

        try:
            check_size(np.zeros((height, width, 0), np.uint8), min_side=self.min_side, max_aspect=self.max_aspect)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None

    def transform(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) RGB -> float32 (3, size, size): resize shorter side, centre crop, normalise."""
        from edgekd.runtime.steps import run_steps

        return run_steps(self.steps()[2:], rgb)[0]

    def features(self, path: str | os.PathLike[str]) -> np.ndarray:
        """One image file -> model input batch (1, 3, size, size) float32 (one "window"), by running ``steps()``."""
        from edgekd.runtime.steps import run_file

        return run_file(self.steps(), path)

    def load(self, path: str | os.PathLike[str], *, resample: bool = False) -> np.ndarray:
        """The front-end protocol's reader: one image file -> (1, 3, size, size); ``resample`` is audio's."""
        return self.features(path)


def to_layout(batch: np.ndarray, layout: str | None) -> np.ndarray:
    """Put an (N, 3, H, W) batch into an artifact's input layout (``"NHWC"`` or ``"NCHW"``)."""
    if layout == "NHWC":
        return np.ascontiguousarray(np.asarray(batch).transpose(0, 2, 3, 1))
    if layout in ("NCHW", None):
        return np.asarray(batch)
    raise InputError(f"unknown input layout {layout!r} (expected NHWC or NCHW)")
