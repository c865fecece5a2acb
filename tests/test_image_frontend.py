"""The image front-end (edgekd.runtime.image): decoding, conversions, refusals, the transform, settings.

Every bad image kind is generated in tmp_path from a real sample photo. These tests
need numpy and Pillow only, so they also run in the device environment.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgekd.errors import InputError
from edgekd.runtime.image import ImageFrontend, crop_box, resized_size, to_layout

pytestmark = pytest.mark.device

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "plant-sample"
PHOTO = SAMPLE / "anthracnose" / "IMG_20211011_140309 (Custom).jpg"  # no EXIF orientation
SIDEWAYS = SAMPLE / "anthracnose" / "20211008_124250 (Custom).jpg"  # EXIF orientation 6, stored 171x128
FE = ImageFrontend()


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    """The sample photo's pixels as stored (no EXIF rotation: this file has none)."""
    with Image.open(PHOTO) as im:
        assert im.getexif().get(0x0112) in (None, 1)
        return np.asarray(im.convert("RGB"))


def test_sample_photo_becomes_one_normalised_chw_input():
    x = FE.features(PHOTO)
    assert x.shape == (1, 3, 96, 96) and x.dtype == np.float32
    assert np.isfinite(x).all() and -2.2 < x.min() < x.max() < 2.7


def test_a_real_sideways_phone_photo_is_turned_upright():
    assert FE.load_rgb(SIDEWAYS).shape == (171, 128, 3)  # height, width: portrait once turned


def test_exif_orientation_is_applied(tmp_path, rgb):
    # orientation 6: the stored pixels must be turned 90 degrees clockwise to display upright
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.png"  # PNG: lossless, so the comparison is exact
    Image.fromarray(rgb).save(path, exif=exif)
    assert np.array_equal(FE.load_rgb(path), np.rot90(rgb, k=-1))


def test_grayscale_is_converted_to_rgb(tmp_path, rgb):
    path = tmp_path / "grey.png"
    Image.fromarray(rgb).convert("L").save(path)
    out = FE.load_rgb(path)
    assert out.shape == rgb.shape and np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path, rgb):
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(path, quality=95)
    out = FE.load_rgb(path)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb.astype(int)).mean() < 8  # CMYK round trip through JPEG


def test_png_alpha_is_composited_over_the_background(tmp_path, rgb):
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:10, :10, 3] = 0  # a fully transparent corner
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    out = ImageFrontend(background=(0, 128, 0)).load_rgb(path)
    assert (out[:10, :10] == [0, 128, 0]).all()
    assert np.array_equal(out[20:, 20:], rgb[20:, 20:])


def test_truncated_jpeg_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "truncated.jpg"
    data = PHOTO.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated.jpg: corrupt or truncated"):
        FE.load_rgb(path)


def test_corrupt_jpeg_body_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "corrupt.jpg"
    data = bytearray(PHOTO.read_bytes())
    data[200:] = bytes(len(data) - 200)  # header kept, scan data zeroed
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt.jpg"):
        FE.load_rgb(path)


def test_a_non_image_with_an_image_name_is_refused(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is a text file\n")
    with pytest.raises(InputError, match="notes.jpg: not an image file"):
        FE.load_rgb(path)


def test_tiny_image_is_refused(tmp_path, rgb):
    path = tmp_path / "tiny.png"
    Image.fromarray(rgb).resize((40, 20)).save(path)
    with pytest.raises(InputError, match=r"tiny.png: image is 40x20 pixels; the shorter side must be at least 32"):
        FE.load_rgb(path)


def test_wildly_elongated_image_is_refused(tmp_path, rgb):
    path = tmp_path / "strip.png"
    Image.fromarray(rgb).resize((400, 60)).save(path)
    with pytest.raises(InputError, match=r"strip.png: .*aspect ratio 6.67; more than front-end max_aspect 2.5"):
        FE.load_rgb(path)


def test_sixteen_bit_image_is_refused(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((64, 64), 40000, np.uint16)).save(path)
    with pytest.raises(InputError, match="deep.png: .*16-bit or floating point"):
        FE.load_rgb(path)


def test_transform_resizes_the_shorter_side_then_centre_crops():
    assert resized_size(320, 240, 110) == (147, 110)
    assert resized_size(240, 320, 110) == (110, 147)
    assert crop_box(147, 110, 96) == (26, 7)


def test_transform_of_a_flat_colour_is_its_normalised_value():
    flat = np.full((240, 320, 3), (200, 100, 50), np.uint8)
    x = FE.transform(flat)
    want = (np.array([200, 100, 50]) / 255.0 - np.array(FE.mean)) / np.array(FE.std)
    assert np.allclose(x, want[:, None, None].astype(np.float32), atol=1e-6)


def test_layout_for_tflite_is_nhwc():
    x = FE.features(PHOTO)
    assert to_layout(x, "NHWC").shape == (1, 96, 96, 3)
    assert np.array_equal(to_layout(x, "NHWC")[0, 5, 7], x[0, :, 5, 7])
    assert to_layout(x, "NCHW") is x


def test_settings_round_trip_through_a_sidecar_dict():
    fe = ImageFrontend(size=64, resize=72, mean=[0.5, 0.5, 0.5])
    assert ImageFrontend.from_dict(fe.to_dict()) == fe
    assert fe.to_dict()["kind"] == "image" and fe.input_shape == (3, 64, 64)


def test_unknown_setting_names_the_key_with_a_hint():
    with pytest.raises(InputError, match="unknown key 'szie' \\(did you mean 'size'\\?\\)"):
        ImageFrontend.from_dict({"szie": 96})


def test_resize_below_the_crop_size_is_refused():
    with pytest.raises(InputError, match="'resize' \\(80\\) must be at least 'size' \\(96\\)"):
        ImageFrontend(size=96, resize=80)
