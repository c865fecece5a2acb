"""Pixels from an image file, and the geometry of the resize and crop: what the image front-end's steps
(``edgekd.runtime.steps``) and its description (``edgekd.runtime.image``) both use (numpy + Pillow)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgekd.errors import InputError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_DIRECT_MODES = ("RGB", "L", "1", "P", "CMYK", "YCbCr", "LAB", "HSV")


def _pil():
    """Import Pillow, or say which package the device needs."""
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise InputError("the image front-end needs Pillow: pip install pillow") from None
    return Image, ImageOps


def resized_size(width: int, height: int, shorter: int) -> tuple[int, int]:
    """(width, height) after scaling the shorter side to ``shorter`` (the other side rounded)."""
    if width <= height:
        return shorter, max(shorter, int(round(height * shorter / width)))
    return max(shorter, int(round(width * shorter / height))), shorter


def resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (height, width, 3), bilinear with antialiasing (Pillow's ``Resampling.BILINEAR``)."""
    Image, _ = _pil()
    return np.asarray(Image.fromarray(rgb, "RGB").resize((width, height), Image.Resampling.BILINEAR))


def crop_box(width: int, height: int, size: int) -> tuple[int, int]:
    """(left, top) of the centred ``size`` x ``size`` crop (torchvision's rounding)."""
    return int(round((width - size) / 2.0)), int(round((height - size) / 2.0))


def decode_rgb(path: str | os.PathLike[str], background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Decode an image file to uint8 RGB (H, W, 3) with its EXIF orientation applied.

    Raises:
        InputError: naming the file, when it cannot be read as a whole 8-bit image.
    """
    Image, ImageOps = _pil()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            im.load()  # decodes now: a truncated file raises here, not later
            fmt = im.format
            im = ImageOps.exif_transpose(im)
            mode = im.mode
            if mode in _ALPHA_MODES or (mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                base = Image.new("RGBA", rgba.size, (*background, 255))
                im = Image.alpha_composite(base, rgba).convert("RGB")
            elif mode in _DIRECT_MODES:
                im = im.convert("RGB")
            else:
                raise InputError(f"{path}: {fmt} image in mode {mode} (16-bit or floating point) is not supported; "
                                 "save it as 8-bit RGB")
            return np.asarray(im, dtype=np.uint8).copy()
    except InputError:
        raise
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: image is too large to decode safely ({exc})") from None
    except Image.UnidentifiedImageError:
        raise InputError(f"{path}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise InputError(f"{path}: corrupt or truncated image ({reason})") from None
