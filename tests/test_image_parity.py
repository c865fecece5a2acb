"""The image front-end against an independent implementation, and training inputs against the device path.

Reference: the same decoded pixels resized with torch's antialiased bilinear
interpolation (``F.interpolate(antialias=True)``, written to match Pillow's
filter), cropped and normalised in torch. Tolerance: the front-end rounds the
resized image to uint8 (Pillow) while the reference stays in float, so a pixel
may differ by up to 1/255 (measured: 0.99/255 at most, 0.26/255 on average),
before normalisation; the test allows 1.01/255 at most and 0.35/255 on average.
"""

from pathlib import Path

import numpy as np
import pytest

from edgekd.data.features import FeatureCache
from edgekd.data.images import list_images
from edgekd.tasks.image import ImageClassification
from edgekd.runtime.image import ImageFrontend

torch = pytest.importorskip("torch")

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "plant-sample"
CLASSES = sorted(p.name for p in SAMPLE.iterdir() if p.is_dir())


def _reference(rgb: np.ndarray, fe: ImageFrontend) -> np.ndarray:
    """Resize shorter side (torch antialiased bilinear), centre crop, normalise: (3, S, S) float32."""
    import torch.nn.functional as F

    h, w = rgb.shape[:2]
    k = fe.resize / min(h, w)
    nh, nw = max(fe.resize, round(h * k)), max(fe.resize, round(w * k))
    t = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None]
    t = F.interpolate(t, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = round((nh - fe.size) / 2), round((nw - fe.size) / 2)
    t = t[:, top : top + fe.size, left : left + fe.size].clamp(0, 255) / 255.0
    mean, std = torch.tensor(fe.mean).view(3, 1, 1), torch.tensor(fe.std).view(3, 1, 1)
    return ((t - mean) / std).numpy()


@pytest.mark.parametrize("size,resize", [(96, 110), (64, 64)])
def test_front_end_matches_an_independent_torch_resize(size, resize):
    fe = ImageFrontend(size=size, resize=resize)
    std = np.asarray(fe.std, np.float32)[:, None, None]
    worst, mean_err = 0.0, []
    for path in sorted(SAMPLE.glob("*/*.jpg"))[::7]:
        rgb = fe.load_rgb(path)
        diff = np.abs(fe.transform(rgb) - _reference(rgb, fe)) * std * 255  # back in 0-255 pixel units
        worst = max(worst, float(diff.max()))
        mean_err.append(float(diff.mean()))
    assert worst <= 1.01 and np.mean(mean_err) <= 0.35


def test_training_inputs_are_exactly_the_device_front_end_output(tmp_path):
    fe = ImageFrontend()
    recs = list_images(SAMPLE, CLASSES)[:5]
    ws = ImageClassification(frontend=fe).featurize(recs, CLASSES, FeatureCache(tmp_path))
    again = ImageClassification(frontend=fe).featurize(recs, CLASSES, FeatureCache(tmp_path))  # from the cache this time
    for i, rec in enumerate(recs):
        assert np.array_equal(ws.x[i : i + 1], fe.features(rec.path))
    assert np.array_equal(ws.x, again.x)
    assert ws.x.shape == (5, 3, 96, 96) and list(ws.rec) == [0, 1, 2, 3, 4]
