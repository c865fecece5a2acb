"""Training windows made to sound like another stethoscope (``data.augment``: eq_db, lowpass_p, noise_p)."""

import math

import pytest

from edgekd.data.spec_augment import SpecAugmentSpec
from edgekd.errors import InputError

torch = pytest.importorskip("torch")

from edgekd.data.spec_augment import another_device  # noqa: E402


def _log_mel(n=8, f=32, t=40):
    return torch.log(torch.rand(n, 1, f, t, generator=torch.Generator().manual_seed(1)) + 1e-3)


def test_equalisation_keeps_the_window_power_the_front_end_normalises():
    x = _log_mel()
    y = another_device(x, torch.Generator().manual_seed(0), SpecAugmentSpec(eq_db=10))
    before, after = torch.exp(x.double()).sum(dim=(2, 3)), torch.exp(y.double()).sum(dim=(2, 3))
    assert not torch.allclose(x, y)
    assert torch.allclose(before, after, rtol=1e-3)


def test_a_low_pass_takes_power_from_the_top_bands_only():
    x = _log_mel()
    y = another_device(x, torch.Generator().manual_seed(0), SpecAugmentSpec(lowpass_p=1))
    drop = (x - y).mean(dim=(0, 1, 3))  # per band, natural log
    assert drop[-1] > 20 * math.log(10) / 10  # the top band loses > 20 dB relative to the rest
    assert abs(drop[0] - drop[:8].mean()) < 0.05  # the low bands move together (only the renormalisation)


def test_the_same_generator_gives_the_same_device():
    x, spec = _log_mel(), SpecAugmentSpec(eq_db=6, lowpass_p=0.5, noise_p=0.5)
    a = another_device(x, torch.Generator().manual_seed(3), spec)
    b = another_device(x, torch.Generator().manual_seed(3), spec)
    assert torch.equal(a, b)


def test_a_reversed_snr_range_is_refused_by_name():
    from edgekd.tasks.base import build_task

    with pytest.raises(InputError, match="noise_snr_db"):
        build_task("audio-classification", augment={"noise_snr_db": [30, 10]})


@pytest.mark.parametrize("snr", [[float("nan"), 10.0], [10.0, float("inf")], [-500.0, 1000.0]])
def test_an_snr_range_outside_what_a_recording_can_have_is_refused(snr):
    from edgekd.tasks.base import build_task

    with pytest.raises(InputError, match="noise_snr_db"):
        build_task("audio-classification", augment={"noise_snr_db": snr})
