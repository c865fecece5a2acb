"""The operating point chosen on validation data."""

import numpy as np
import pytest

from edgekd.runtime.threshold import choose_threshold, decide

pytestmark = pytest.mark.device


def test_threshold_separates_a_shifted_but_separable_set():
    p = np.array([0.05, 0.10, 0.20, 0.30, 0.35, 0.40])
    y = np.array([False, False, False, True, True, True])
    t = choose_threshold(p, y)
    assert 0.20 < t <= 0.30
    assert ((p >= t) == y).all()


def test_ties_prefer_the_threshold_nearest_one_half():
    p = np.array([0.1, 0.9])
    assert choose_threshold(p, np.array([False, True])) == 0.5


def test_one_class_only_keeps_argmax():
    assert choose_threshold(np.array([0.2, 0.7]), np.array([True, True])) == 0.5


def test_decide_applies_the_threshold_to_the_positive_class():
    probs = np.array([[0.7, 0.3], [0.4, 0.6], [0.8, 0.2]])
    assert decide(probs, 1, 0.25).tolist() == [1, 1, 0]
    assert decide(probs, 1, None).tolist() == [0, 1, 0]
