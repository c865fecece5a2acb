"""DKD, feature losses, multi-teacher weighting and the mixup target against values computed by hand."""

import math

import pytest

torch = pytest.importorskip("torch")

from edgekd.distillation.feature_losses import Adapter, attention_map, attention_transfer_loss, hint_loss
from edgekd.training.losses import build_loss, dkd_terms, kd_soft_term
from edgekd.distillation.methods.mixup import mix, mixed_loss
from edgekd.distillation.methods.multi_teacher import combine_logits


def _softmax(v):
    e = [math.exp(a) for a in v]
    return [a / sum(e) for a in e]


def _kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q))


def test_dkd_terms_match_hand_computation():
    s, t, y, T = [1.0, 0.0, -1.0], [2.0, 1.0, 0.5], 0, 2.0
    ps, pt = _softmax([a / T for a in s]), _softmax([a / T for a in t])
    tckd = _kl([pt[0], 1 - pt[0]], [ps[0], 1 - ps[0]]) * T * T
    qs, qt = _softmax([a / T for a in s[1:]]), _softmax([a / T for a in t[1:]])  # non-target classes only
    nckd = _kl(qt, qs) * T * T
    f64 = torch.float64  # the KL is small: compare without float32 cancellation
    got_t, got_n = dkd_terms(torch.tensor([s], dtype=f64), torch.tensor([t], dtype=f64), torch.tensor([y]), T)
    assert float(got_t) == pytest.approx(tckd, rel=1e-9)
    assert float(got_n) == pytest.approx(nckd, rel=1e-9)


def test_dkd_weights_its_terms_and_the_hard_label_term():
    s, t, y = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[2.0, 1.0, 0.5]]), torch.tensor([0])
    tckd, nckd = dkd_terms(s, t, y, 2.0)
    ce = torch.nn.functional.cross_entropy(s, y)
    loss = build_loss("dkd", {"alpha": 0.5, "beta": 3.0, "temperature": 2.0, "ce_weight": 0.2})
    assert float(loss(s, y, t)) == pytest.approx(float(0.2 * ce + 0.5 * tckd + 3.0 * nckd), rel=1e-6)


def test_dkd_with_two_classes_is_kd_soft_term():
    """With one non-target class, NCKD vanishes and TCKD is the whole KL (KD's T²-scaled soft term)."""
    s, t, y = torch.tensor([[0.3, -0.2]]), torch.tensor([[1.5, 0.1]]), torch.tensor([1])
    tckd, nckd = dkd_terms(s, t, y, 4.0)
    assert float(nckd) == 0.0
    assert float(tckd) == pytest.approx(float(kd_soft_term(s, t, 4.0)), rel=1e-5)


def test_hint_loss_is_mean_squared_error():
    s = torch.tensor([[[[1.0, 2.0]]]])
    t = torch.tensor([[[[0.0, 4.0]]]])
    assert float(hint_loss(s, t)) == pytest.approx((1.0 + 4.0) / 2)


def test_adapter_maps_student_channels_and_size_onto_the_teacher():
    a = Adapter(2, 5, (4, 6))
    assert a(torch.zeros(3, 2, 2, 3)).shape == (3, 5, 4, 6)


def test_attention_transfer_matches_hand_computation():
    # student: 1 channel, map [1, 2, 2, 0]; teacher: 2 channels with squares averaging to [1, 0, 0, 1]
    s = torch.tensor([[[[1.0, 2.0], [2.0, 0.0]]]])
    t = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]], [[-1.0, 0.0], [0.0, -1.0]]]])
    q_s = [1.0, 4.0, 4.0, 0.0]
    n = math.sqrt(sum(v * v for v in q_s))
    a_s = [v / n for v in q_s]
    a_t = [1 / math.sqrt(2), 0.0, 0.0, 1 / math.sqrt(2)]
    want = sum((x - y) ** 2 for x, y in zip(a_s, a_t)) / 4
    assert attention_map(t).tolist()[0] == pytest.approx(a_t)
    assert float(attention_transfer_loss(s, t)) == pytest.approx(want, rel=1e-6)


def test_attention_transfer_needs_no_equal_channels_or_size():
    s, t = torch.rand(2, 3, 2, 3), torch.rand(2, 7, 4, 6)
    assert attention_transfer_loss(s, t).shape == ()


def test_multi_teacher_mean_and_confidence_weighting():
    t1 = torch.tensor([[2.0, 0.0]])
    t2 = torch.tensor([[0.0, 1.0]])
    y = torch.tensor([0])
    assert combine_logits([t1, t2], y, "mean").tolist() == [[1.0, 0.5]]
    ce1 = -math.log(math.exp(2) / (math.exp(2) + 1))  # teacher 1 is right and confident
    ce2 = -math.log(1 / (1 + math.e))
    w1 = math.exp(-ce1) / (math.exp(-ce1) + math.exp(-ce2))
    want = [2.0 * w1, 1.0 * (1 - w1)]
    assert combine_logits([t1, t2], y, "confidence").tolist()[0] == pytest.approx(want, rel=1e-6)


def test_mixup_mixes_inputs_and_hard_targets():
    x = torch.tensor([[1.0], [3.0]])
    perm = torch.tensor([1, 0])
    assert mix(x, 0.25, perm).tolist() == [[2.5], [1.5]]
    s, t = torch.tensor([[0.5, -0.5], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    y = torch.tensor([0, 1])
    kd = build_loss("kd", {"alpha": 0.5, "temperature": 2.0})
    got = mixed_loss(kd, s, y, y[perm], t, 0.25)
    ce = torch.nn.functional.cross_entropy
    # the soft term is the same for both labels (the teacher saw the mixed input), so it counts once
    want = 0.5 * (0.25 * ce(s, y) + 0.75 * ce(s, y[perm])) + 0.5 * kd_soft_term(s, t, 2.0)
    assert float(got) == pytest.approx(float(want), rel=1e-6)
