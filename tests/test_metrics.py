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


def test_wilson_interval_matches_the_closed_form():
    from edgekd.runtime.intervals import wilson

    lo, hi = wilson(80, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.7112, 0.8666)  # Wilson (1927) for 80/100 at z = 1.96
    assert wilson(0, 0) != wilson(0, 0)  # nan for no data: a missing figure is never a number


def test_metrics_carry_their_95_percent_intervals():
    from edgekd.runtime.metrics import classification_metrics

    m = classification_metrics([0] * 50 + [1] * 50, [0] * 40 + [1] * 10 + [1] * 45 + [0] * 5, ["n", "a"], "a")
    ci = m["ci95"]
    for key in ("accuracy", "macc", "sensitivity", "specificity", "balanced_accuracy"):
        lo, hi = ci[key]
        assert lo < m[key] < hi, key
    assert ci["macc"] == ci["balanced_accuracy"]


def test_interval_narrows_with_more_data():
    from edgekd.runtime.intervals import metric_intervals

    small = metric_intervals([[8, 2], [2, 8]], positive=1)["macc"]
    large = metric_intervals([[80, 20], [20, 80]], positive=1)["macc"]
    assert large[1] - large[0] < small[1] - small[0]


def test_balanced_accuracy_interval_holds_its_estimate_near_one():
    """Issue 25: ``0.992 [95 % CI 0.962-0.990]``: ten classes of 36 items, three errors, balanced accuracy 0.992."""
    from edgekd.runtime.metrics import classification_metrics

    y_true = [c for c in range(10) for _ in range(36)]
    y_pred = list(y_true)
    for i in (0, 36 * 4, 36 * 7):  # one error in each of three classes
        y_pred[i] = (y_pred[i] + 1) % 10
    m = classification_metrics(y_true, y_pred, [str(c) for c in range(10)])
    lo, hi = m["ci95"]["balanced_accuracy"]
    assert round(m["balanced_accuracy"], 3) == 0.992
    assert lo < m["balanced_accuracy"] <= hi


def test_every_stored_interval_holds_its_estimate():
    from edgekd.runtime.metrics import classification_metrics

    rng = np.random.default_rng(0)
    for _ in range(200):
        k = int(rng.integers(2, 6))
        y_true = rng.integers(0, k, int(rng.integers(5, 60)))
        y_pred = np.where(rng.random(len(y_true)) < rng.random(), y_true, rng.integers(0, k, len(y_true)))
        m = classification_metrics(y_true, y_pred, [str(c) for c in range(k)], "1" if k == 2 else None)
        for key, (lo, hi) in m["ci95"].items():
            if lo is not None:
                assert lo <= m[key] <= hi, (key, m[key], lo, hi, m["confusion"])
