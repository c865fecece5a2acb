"""Parity of an artifact with the fp32 torch model it came from: does conversion change the answers?

Computed on the same windows (the test split) from the torch model's logits and
the artifact's (run by its runtime): how often the top-1 class agrees and how far
the logits moved. A drop in agreement shows a collapse that a few-recording
metric can hide.
"""

from __future__ import annotations

import numpy as np


def parity(reference: np.ndarray, logits: np.ndarray) -> dict[str, float | int]:
    """Compare an artifact's logits with the fp32 torch model's on the same windows.

    Args:
        reference: fp32 torch logits ``(N, classes)``.
        logits: the artifact's logits ``(N, classes)``.

    Returns:
        ``{"windows", "top1_agreement", "max_abs_dlogit", "mean_abs_dlogit"}``.

    Raises:
        ValueError: the shapes differ.
    """
    reference, logits = np.asarray(reference, np.float64), np.asarray(logits, np.float64)
    if reference.shape != logits.shape:
        raise ValueError(f"parity: logits of shape {logits.shape} against a reference of shape {reference.shape}")
    delta = np.abs(logits - reference)
    return {
        "windows": int(len(reference)),
        "top1_agreement": float((reference.argmax(1) == logits.argmax(1)).mean()) if len(reference) else 1.0,
        "max_abs_dlogit": float(delta.max()) if delta.size else 0.0,
        "mean_abs_dlogit": float(delta.mean()) if delta.size else 0.0,
    }
