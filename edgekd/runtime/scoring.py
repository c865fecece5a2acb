"""From window logits to one prediction per item (recording, photo, array) and its metrics (numpy only).

A task names how the windows of one item are combined (``aggregation``); the
sidecar carries the name, so the device combines them the same way. The
model-selection score is MAcc for two classes, balanced accuracy otherwise.

Example:
    >>> import numpy as np
    >>> from edgekd.runtime.scoring import item_metrics
    >>> logits = np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    >>> m = item_metrics(logits, rec=np.array([0, 0, 1]), y_item=np.array([0, 1]), labels=["a", "b"])
    >>> m["n"], m["accuracy"]
    (2, 1.0)
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from edgekd.errors import InputError
from edgekd.runtime.metrics import aggregate_by_group, classification_metrics, softmax
from edgekd.runtime.threshold import decide


def _vote(probs: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of windows that predict each class, per item (a majority vote with its margin)."""
    onehot = np.eye(probs.shape[1], dtype=np.float32)[probs.argmax(1)]
    return aggregate_by_group(onehot, group)


#: aggregation name -> (window probabilities, item index per window) -> (item ids, item probabilities)
AGGREGATIONS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "mean": aggregate_by_group,
    "vote": _vote,
}
#: descriptions older sidecars used instead of a name
_LEGACY = {"mean window probability per recording": "mean", "one window per image": "mean"}


def aggregation_name(value: Optional[str], where: object = "sidecar") -> str:
    """The aggregation a sidecar asks for (older descriptions read as ``mean``; absent: ``mean``)."""
    if value is None:
        return "mean"
    name = _LEGACY.get(value, value)
    if name not in AGGREGATIONS:
        raise InputError(f"{where}: unknown aggregation {value!r} (known: {', '.join(AGGREGATIONS)})")
    return name


def aggregate(probs: np.ndarray, group: np.ndarray, how: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """(item ids ascending, (n_items, n_classes) probabilities) from window probabilities."""
    return AGGREGATIONS[aggregation_name(how)](probs, group)


def score_of(metrics: dict) -> float:
    """The model-selection score: MAcc for two classes, else balanced accuracy."""
    return float(metrics.get("macc", metrics["balanced_accuracy"]))


def item_metrics(
    logits: np.ndarray,
    rec: np.ndarray,
    y_item: np.ndarray,
    labels: Sequence[str],
    positive: Optional[str] = None,
    *,
    how: str = "mean",
    threshold: Optional[float] = None,
) -> dict:
    """Item-level metrics from window logits (softmax, aggregate per item, decide, score).

    Args:
        logits: (n_windows, n_classes).
        rec: (n_windows,) item index of each window.
        y_item: true class index per item (indexed by ``rec``'s values).
        labels, positive: class names and the positive class (two classes: adds MAcc).
        how: the aggregation name.
        threshold: positive-class threshold (two classes); argmax when None.
    """
    ids, probs = aggregate(softmax(np.asarray(logits)), rec, how)
    pos = list(labels).index(positive) if positive in labels else None
    return classification_metrics(np.asarray(y_item)[ids], decide(probs, pos, threshold), labels, positive)
