"""The image resize is edgekd's own algorithm (numpy, fixed point), equal to Pillow's bilinear bit for bit."""

import numpy as np
import pytest

from edgekd.runtime.pixels import resize_rgb

Image = pytest.importorskip("PIL.Image")
pytestmark = pytest.mark.device


def _pillow(rgb, width, height):
    return np.asarray(Image.fromarray(rgb, "RGB").resize((width, height), Image.Resampling.BILINEAR))


def _pillow_columns_first(rgb, width, height):
    """Pillow one axis at a time, columns first (what Pillow up to 12 does in one call)."""
    wide = _pillow(rgb, width, rgb.shape[0]) if width != rgb.shape[1] else rgb
    return _pillow(wide, width, height) if height != rgb.shape[0] else wide


def _sizes(seed, n):
    rng = np.random.default_rng(seed)
    return [tuple(int(v) for v in rng.integers(3, 90, 4)) for _ in range(n)]


@pytest.mark.parametrize("h, w, nh, nw", _sizes(0, 40))
def test_resize_equals_pillow_bilinear_one_axis_at_a_time(h, w, nh, nw):
    rgb = np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    assert np.array_equal(resize_rgb(rgb, nw, nh), _pillow_columns_first(rgb, nw, nh))


def test_resize_of_a_real_photo_equals_pillow_in_one_call(plant_photo):
    rgb = np.asarray(Image.open(plant_photo).convert("RGB"))
    for width, height in [(256, 341), (96, 128), (301, 402), (64, 64)]:
        # Pillow 13 runs the rows first only when the height shrinks by over twice the width's pixels; not here
        assert np.array_equal(resize_rgb(rgb, width, height), _pillow(rgb, width, height)), (width, height)


@pytest.fixture
def plant_photo():
    from pathlib import Path

    return sorted((Path(__file__).parent.parent / "data" / "plant-sample").rglob("*.jpg"))[0]
