"""Classification metrics (numpy only), in the shape of the ``eval --json`` contract.

For two classes the heart-sound metrics of the PhysioNet/CinC 2016 challenge are
added: sensitivity (recall of the positive class), specificity (recall of the
other) and MAcc, their mean. ``ci95`` gives each figure's 95 % interval
(``edgekd.runtime.intervals``: Wilson for proportions, MOVER over the classes' Wilson intervals for means of
recalls; every interval holds its estimate).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from edgekd.runtime.intervals import metric_intervals


def aggregate_by_group(probs: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average window probabilities per recording.

    Args:
        probs: (n_windows, n_classes) probabilities.
        group: (n_windows,) recording index of each window.

    Returns:
        (group ids in ascending order, (n_groups, n_classes) mean probabilities).
    """
    ids, inverse = np.unique(group, return_inverse=True)
    sums = np.zeros((len(ids), probs.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, probs)
    counts = np.bincount(inverse, minlength=len(ids))[:, None]
    return ids, (sums / counts).astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str], positive: str | None = None
) -> dict:
    """Accuracy, balanced accuracy, confusion matrix and per-class precision/recall.

    Args:
        y_true: true class indices.
        y_pred: predicted class indices.
        labels: class names, index order.
        positive: for two classes, the positive class (e.g. ``abnormal``); adds
            ``sensitivity``, ``specificity`` and ``macc``.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    tp = np.diag(confusion)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    present = support > 0
    out = {
        "n": int(len(y_true)),
        "accuracy": float(tp.sum() / max(len(y_true), 1)),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "labels": list(labels),
        "confusion": confusion.tolist(),
        "per_class": {
            lab: {"precision": float(precision[i]), "recall": float(recall[i]), "support": int(support[i])}
            for i, lab in enumerate(labels)
        },
    }
    p = None
    if k == 2 and positive is not None:
        p = list(labels).index(positive)
        sens, spec = float(recall[p]), float(recall[1 - p])
        out.update({"positive": positive, "sensitivity": sens, "specificity": spec, "macc": (sens + spec) / 2})
    out["ci95"] = metric_intervals(confusion, p)
    return out
