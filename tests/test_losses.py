"""Distillation losses against values computed by hand."""

import math

import pytest

torch = pytest.importorskip("torch")

from edgekd.training.losses import build_loss, kd_soft_term
from edgekd.errors import InputError


def test_kd_soft_term_matches_hand_computation_with_t_squared():
    s = torch.tensor([[1.0, 0.0]])
    t = torch.tensor([[0.0, 2.0]])
    T = 2.0
    ps = [math.exp(0.5) / (math.exp(0.5) + 1), 1 / (math.exp(0.5) + 1)]
    pt = [1 / (1 + math.e), math.e / (1 + math.e)]
    kl = sum(q * math.log(q / p) for p, q in zip(ps, pt))
    assert float(kd_soft_term(s, t, T)) == pytest.approx(kl * T * T, rel=1e-5)


def test_kd_mixes_hard_and_soft_terms_with_alpha():
    s = torch.tensor([[2.0, -1.0], [0.5, 0.3]])
    t = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
    y = torch.tensor([0, 1])
    loss = build_loss("kd", {"temperature": 7.0, "alpha": 0.1})
    ce = torch.nn.functional.cross_entropy(s, y)
    want = 0.1 * ce + 0.9 * kd_soft_term(s, t, 7.0)
    assert float(loss(s, y, t)) == pytest.approx(float(want), rel=1e-6)


def test_kd_equals_teacher_free_ce_when_alpha_is_one():
    s, y = torch.tensor([[0.2, 0.1]]), torch.tensor([1])
    kd = build_loss("kd", {"alpha": 1.0})(s, y, torch.tensor([[5.0, -5.0]]))
    assert float(kd) == pytest.approx(float(torch.nn.functional.cross_entropy(s, y)))


def test_misspelled_loss_parameter_is_named():
    with pytest.raises(InputError, match="'temprature'.*did you mean 'temperature'"):
        build_loss("kd", {"temprature": 7}, where="student.loss")


def test_unknown_loss_is_named():
    with pytest.raises(InputError, match="unknown loss 'kdd'"):
        build_loss("kdd", {})
