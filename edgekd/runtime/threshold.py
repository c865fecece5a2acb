"""The operating point of a two-class screener: the positive-class probability above which a recording is positive.

argmax (0.5) is rarely the threshold that balances sensitivity and specificity
after distillation and quantization. The threshold is chosen on the validation
split, by running the artifact itself, to maximise balanced accuracy (MAcc), and
stored in the artifact's sidecar so the device applies the same one. The test
split never takes part in the choice.
"""

from __future__ import annotations

from typing import Optional

import numpy as np


def choose_threshold(p_positive: np.ndarray, is_positive: np.ndarray) -> float:
    """Threshold on ``p_positive`` maximising balanced accuracy; ties go to the one nearest 0.5.

    Args:
        p_positive: positive-class probability per recording.
        is_positive: true label per recording (bool).
    """
    p = np.asarray(p_positive, dtype=np.float64)
    y = np.asarray(is_positive, dtype=bool)
    if y.all() or not y.any():
        return 0.5
    u = np.unique(p)
    candidates = np.concatenate([[0.5], (u[:-1] + u[1:]) / 2]) if len(u) > 1 else np.array([0.5])
    pred = p[None, :] >= candidates[:, None]
    sens = (pred & y).sum(1) / y.sum()
    spec = (~pred & ~y).sum(1) / (~y).sum()
    macc = (sens + spec) / 2
    best = np.flatnonzero(np.isclose(macc, macc.max()))
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def decide(mean_probs: np.ndarray, positive_index: Optional[int], threshold: Optional[float]) -> np.ndarray:
    """Predicted class per recording: argmax, or ``p[positive] >= threshold`` for a two-class screener."""
    if threshold is None or positive_index is None or mean_probs.shape[1] != 2:
        return mean_probs.argmax(axis=1)
    other = 1 - positive_index
    return np.where(mean_probs[:, positive_index] >= threshold, positive_index, other)
