"""Training-only image augmentation (edgekd.data.image_augment) on real front-end tensors."""

from pathlib import Path

import numpy as np
import pytest

from edgekd.data.image_augment import ImageAugment, ImageAugmentSpec
from edgekd.runtime.image import ImageFrontend

torch = pytest.importorskip("torch")

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "plant-sample"
FE = ImageFrontend(size=64, resize=72)
OFF = dict(scale=(1.0, 1.0), ratio=(1.0, 1.0), rotate_deg=0, rot90=False, hflip=False, vflip=False,
           brightness=0, contrast=0, saturation=0)


@pytest.fixture(scope="module")
def batch():
    paths = sorted(SAMPLE.glob("*/*.jpg"))[:4]
    return torch.from_numpy(np.concatenate([FE.features(p) for p in paths]))


def test_everything_off_returns_the_batch(batch):
    out = ImageAugment(ImageAugmentSpec(**OFF), FE.mean, FE.std)(batch, torch.Generator().manual_seed(0))
    assert torch.allclose(out, batch, atol=1e-4)


def test_a_forced_horizontal_flip_mirrors_the_image(batch):
    aug = ImageAugment(ImageAugmentSpec(**{**OFF, "hflip": True}), FE.mean, FE.std)
    gen = torch.Generator().manual_seed(0)
    out = aug(batch, gen)
    flipped = torch.flip(batch, dims=[3])
    for i in range(len(batch)):  # each image is either unchanged or mirrored
        assert torch.allclose(out[i], batch[i], atol=1e-4) or torch.allclose(out[i], flipped[i], atol=1e-4)


def test_default_augmentation_is_seeded_and_changes_the_images(batch):
    aug = ImageAugment(ImageAugmentSpec(), FE.mean, FE.std)
    a = aug(batch, torch.Generator().manual_seed(3))
    b = aug(batch, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == batch.shape
    assert (a - batch).abs().mean() > 0.1
    pixels = a * torch.tensor(FE.std).view(1, 3, 1, 1) + torch.tensor(FE.mean).view(1, 3, 1, 1)
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5  # still valid [0, 1] pixels


def test_bad_ranges_are_refused():
    with pytest.raises(ValueError, match="scale must satisfy"):
        ImageAugmentSpec(scale=(0.0, 1.0))


def test_white_balance_shifts_the_channels_apart():
    import torch

    from edgekd.data.image_augment import ImageAugment, ImageAugmentSpec

    plain = dict(scale=(1.0, 1.0), ratio=(1.0, 1.0), rotate_deg=0, rot90=False, hflip=False, vflip=False,
                 brightness=0.0, contrast=0.0, saturation=0.0)
    x = torch.zeros(16, 3, 8, 8)  # normalised zeros = the mean colour, equal in every image
    out = ImageAugment(ImageAugmentSpec(**plain, white_balance=0.3), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))(
        x, torch.Generator().manual_seed(0))
    ratios = out.mean(dim=(2, 3))
    assert float((ratios[:, 0] - ratios[:, 1]).abs().max()) > 0.1


def test_blur_removes_fine_detail():
    import torch

    from edgekd.data.image_augment import ImageAugment, ImageAugmentSpec

    plain = dict(scale=(1.0, 1.0), ratio=(1.0, 1.0), rotate_deg=0, rot90=False, hflip=False, vflip=False,
                 brightness=0.0, contrast=0.0, saturation=0.0)
    x = torch.zeros(2, 3, 16, 16)
    x[:, :, ::2, :] = 1.0  # stripes one pixel wide
    out = ImageAugment(ImageAugmentSpec(**plain, blur_p=1.0, blur_sigma=2.0), (0.5,) * 3, (0.25,) * 3)(
        x, torch.Generator().manual_seed(0))
    assert float(out[:, :, 1:, :].sub(out[:, :, :-1, :]).abs().mean()) < 0.5 * float(
        x[:, :, 1:, :].sub(x[:, :, :-1, :]).abs().mean())
