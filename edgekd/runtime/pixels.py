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


_PRECISION_BITS = 22  # fixed-point fraction bits of the filter coefficients (32 - 8 - 2)


def bilinear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The antialiased bilinear filter from ``in_size`` to ``out_size`` samples, as fixed-point taps.

    Returns:
        ``(first, weights)``: output ``i`` is ``sum_j weights[i, j] * x[first[i] + j]`` (integer weights
        in units of 2^-22; zero beyond each output's support).
    """
    scale = in_size / out_size
    filterscale = max(scale, 1.0)  # shrinking widens the triangle (antialiasing); enlarging does not narrow it
    support = 1.0 * filterscale
    ksize = int(np.ceil(support)) * 2 + 1
    first = np.empty(out_size, np.int64)
    weights = np.zeros((out_size, ksize), np.int64)
    for i in range(out_size):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)  # C truncation; negative values clamp to 0 either way
        hi = min(int(center + support + 0.5), in_size)
        t = np.abs((np.arange(lo, hi) - center + 0.5) * (1.0 / filterscale))  # times 1/scale, as Pillow
        w = np.where(t < 1.0, 1.0 - t, 0.0)
        total = w.sum()
        if total != 0.0:
            w = w / total
        first[i] = lo
        weights[i, :hi - lo] = np.trunc(0.5 + w * (1 << _PRECISION_BITS)).astype(np.int64)
    return first, weights


def _resample_axis(x: np.ndarray, axis: int, out_size: int) -> np.ndarray:
    """One pass of the resize along ``axis`` (0 rows, 1 columns) of a uint8 (H, W, 3) array -> uint8.

    int32 accumulation is exact: the taps are non-negative and sum to about 2^22, so a sum stays below 2^31.
    """
    first, weights = bilinear_taps(x.shape[axis], out_size)
    last = x.shape[axis] - 1
    shape = (out_size, x.shape[1], 3) if axis == 0 else (x.shape[0], out_size, 3)
    acc = np.full(shape, 1 << (_PRECISION_BITS - 1), np.int32)
    for j in range(weights.shape[1]):
        w = weights[:, j].astype(np.int32)
        if not w.any():
            continue
        idx = np.minimum(first + j, last)  # taps beyond an output's support weigh 0
        if axis == 0:
            acc += x[idx].astype(np.int32) * w[:, None, None]
        else:
            acc += x[:, idx].astype(np.int32) * w[None, :, None]
    return np.clip(acc >> _PRECISION_BITS, 0, 255).astype(np.uint8)


def resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (height, width, 3): antialiased bilinear, bit for bit Pillow's ``Resampling.BILINEAR``.

    Two separable passes, the horizontal one (changing the width) first, each rounded to uint8 (``bilinear_taps``: fixed-point taps, sum
    + 2^21, shift right 22, clip 0..255); a pass whose size is unchanged is skipped. The algorithm is
    written out in ``docs/sidecar-v2.md`` (step ``resize_shorter``) so a device can implement it exactly.
    """
    out = np.asarray(rgb)
    if width != out.shape[1]:
        out = _resample_axis(out, 1, int(width))
    if height != out.shape[0]:
        out = _resample_axis(out, 0, int(height))
    return out


def crop_box(width: int, height: int, size: int) -> tuple[int, int]:
    """(left, top) of the centred ``size`` x ``size`` crop (torchvision's rounding)."""
    return int(round((width - size) / 2.0)), int(round((height - size) / 2.0))


def decode_rgb(path: str | os.PathLike[str], background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Decode an image file to uint8 RGB (H, W, 3) with its EXIF orientation applied.

    Raises:
        InputError: naming the file, when it cannot be read as a whole 8-bit image.
    """
    Image, ImageOps = _pil()
    from edgekd.inputfile import regular_file

    path = regular_file(path, "image")  # a FIFO or device is refused before it is opened
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
