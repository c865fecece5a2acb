"""Metrics of the eval contract, checked against hand-computed values."""

import numpy as np
import pytest

from edgekd.runtime.metrics import aggregate_by_group, classification_metrics

pytestmark = pytest.mark.device


def test_sensitivity_specificity_macc_by_hand():
    # 4 abnormal (1): 3 caught; 6 normal (0): 4 right.
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    p = [1, 1, 1, 0, 0, 0, 0, 0, 1, 1]
    m = classification_metrics(y, p, ["normal", "abnormal"], positive="abnormal")
    assert m["sensitivity"] == pytest.approx(0.75)
    assert m["specificity"] == pytest.approx(4 / 6)
    assert m["macc"] == pytest.approx((0.75 + 4 / 6) / 2)
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["confusion"] == [[4, 2], [1, 3]]
    assert m["per_class"]["abnormal"]["precision"] == pytest.approx(3 / 5)


def test_no_macc_without_positive_class():
    m = classification_metrics([0, 1, 2], [0, 1, 1], ["a", "b", "c"])
    assert "macc" not in m and m["balanced_accuracy"] == pytest.approx(2 / 3)


def test_window_probabilities_average_per_recording():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.1, 0.9]], dtype=np.float32)
    ids, mean = aggregate_by_group(probs, np.array([5, 5, 7, 7]))
    assert ids.tolist() == [5, 7]
    np.testing.assert_allclose(mean, [[0.55, 0.45], [0.25, 0.75]], rtol=1e-6)
