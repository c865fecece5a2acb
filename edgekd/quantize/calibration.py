"""Which training windows calibrate int8 activation ranges.

A random draw of windows over-represents long recordings (one 90 s recording
gives 60 windows, an 8 s one gives 4), so a short-recording database can end up
with its activation ranges clipped and its predictions biased after int8
conversion. Windows are therefore taken round-robin over recordings: first one
window of every recording, then a second, and so on, until ``n``.
"""

from __future__ import annotations

import numpy as np

from edgekd.data.features import WindowSet


def calibration_windows(windows: WindowSet, n: int, seed: int) -> np.ndarray:
    """Pick ``n`` windows spread evenly over recordings (all of them if there are fewer).

    Args:
        windows: the training windows.
        n: how many to return.
        seed: chooses which windows of each recording come first.

    Returns:
        (min(n, len), C, H, W) float32 array.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(windows.x))
    rank = np.zeros(len(order), dtype=np.int64)
    seen: dict[int, int] = {}
    for pos, idx in enumerate(order):
        rec = int(windows.rec[idx])
        rank[pos] = seen.get(rec, 0)
        seen[rec] = rank[pos] + 1
    chosen = order[np.argsort(rank, kind="stable")[:n]]
    return windows.x[np.sort(chosen)]
