"""Calibration windows are spread over recordings, not drawn by window count."""

import numpy as np

from edgekd.data.features import WindowSet
from edgekd.quantize.calibration import calibration_windows


def _windows(per_recording):
    rec = np.repeat(np.arange(len(per_recording)), per_recording)
    x = rec.astype(np.float32).reshape(-1, 1, 1, 1)  # each window's value is its recording
    return WindowSet.from_arrays(x, np.zeros(len(rec), np.int64), item=rec)


def test_every_recording_is_represented_when_n_allows():
    w = _windows([60, 4, 4, 4, 30])
    picked = calibration_windows(w, 10, seed=0)[:, 0, 0, 0]
    assert set(picked.tolist()) == {0, 1, 2, 3, 4}


def test_counts_per_recording_differ_by_at_most_one_until_short_ones_run_out():
    w = _windows([50, 50, 50])
    counts = np.bincount(calibration_windows(w, 31, seed=1)[:, 0, 0, 0].astype(int))
    assert counts.max() - counts.min() <= 1 and counts.sum() == 31


def test_asking_for_more_than_exist_returns_all():
    w = _windows([3, 2])
    assert len(calibration_windows(w, 100, seed=0)) == 5
