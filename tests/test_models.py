"""The heart-sound models: sizes, and the global pool that keeps int8 TFLite unbiased."""

import pytest

torch = pytest.importorskip("torch")

from edgekd.models import build_model  # noqa: E402
from edgekd.models.complexity import count_macs, count_params  # noqa: E402

SHAPE = (1, 32, 180)


def test_student_stays_within_the_wearable_budget():
    m = build_model("heart_student", num_classes=2, input_shape=SHAPE)
    assert count_params(m) <= 20_000 and count_macs(m, SHAPE) < 15e6


def test_teacher_is_a_few_hundred_thousand_parameters():
    assert 200_000 <= count_params(build_model("heart_teacher", num_classes=2, input_shape=SHAPE)) <= 600_000


def test_global_pool_equals_adaptive_average_and_leaves_bn_stats_alone():
    m = build_model("heart_student", num_classes=2, input_shape=SHAPE).eval()
    bn = m.features[0][1]
    assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
    x = torch.randn(3, *SHAPE)
    feats = m.features(x)
    assert torch.allclose(m.head[0](feats).flatten(1), feats.mean(dim=(2, 3)), atol=1e-6)


def test_unknown_architecture_option_is_named():
    from edgekd.errors import InputError

    with pytest.raises(InputError, match="heart_student"):
        build_model("heart_student", num_classes=2, input_shape=SHAPE, widht=3)


def test_temporal_student_convolves_time_with_the_mel_bands_as_channels():
    m = build_model("heart_tcn", num_classes=2, input_shape=SHAPE, widths=(16, 32), pools=(1, 2), kernel=3).eval()
    first = m.features[0][0]
    assert first.in_channels == 32 and first.kernel_size == (1, 3)
    assert m(torch.randn(5, *SHAPE)).shape == (5, 2)
    # MACs: 32*16*3*180 + 16*32*3*180 (the second layer runs before its pool), plus the head
    assert count_macs(m, SHAPE) == pytest.approx(32 * 16 * 3 * 180 + 16 * 32 * 3 * 180, rel=0.02)


def test_temporal_student_sees_each_band_as_a_channel():
    """Swapping two mel bands changes the output: the bands are not pooled away before the first layer."""
    torch.manual_seed(0)
    m = build_model("heart_tcn", num_classes=2, input_shape=SHAPE, widths=(16,), pools=(1,)).eval()
    x = torch.randn(1, *SHAPE)
    swapped = x.clone()
    swapped[:, :, [0, 1]] = x[:, :, [1, 0]]
    assert not torch.allclose(m(x), m(swapped))


def test_temporal_student_refuses_a_multichannel_input():
    from edgekd.errors import InputError

    with pytest.raises(InputError, match=r"heart_tcn takes \(1, bands, frames\)"):  # a recipe's fault: exit 2
        build_model("heart_tcn", num_classes=2, input_shape=(3, 32, 32))


def test_recipe_student_fits_the_wearable_slot_with_simd_wide_layers():
    """The shipped recipe's student: every layer a multiple of 16 channels, within the 64 KB int8 slot's weights."""
    m = build_model("heart_tcn", num_classes=2, input_shape=SHAPE, widths=(64, 64, 64), pools=(1, 1, 2), kernel=5)
    convs = [layer for layer in m.modules() if isinstance(layer, torch.nn.Conv2d)]
    assert all(c.out_channels % 16 == 0 for c in convs) and count_params(m) < 56_000


def test_plain_image_student_has_no_depthwise_convolution():
    m = build_model("image_plain_student", num_classes=7, input_shape=(3, 64, 64)).eval()
    convs = [c for c in m.modules() if isinstance(c, torch.nn.Conv2d)]
    assert all(c.groups == 1 and c.out_channels % 16 == 0 for c in convs)
    assert m(torch.randn(2, 3, 64, 64)).shape == (2, 7)
