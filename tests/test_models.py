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
