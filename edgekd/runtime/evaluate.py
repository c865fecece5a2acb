"""Accuracy of an exported artifact on labelled data, with the device-side code only.

The artifact's sidecar carries everything needed (front-end kind and settings,
class names, positive class, aggregation, decision threshold), so any labelled
folder the front-end can read is scored the way the device will score it:
front-end → windows → artifact → one prediction per item → metrics. Nothing
here knows which task made the artifact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np

from edgekd.errors import InputError
from edgekd.runtime.artifact import Artifact, load_artifact
from edgekd.runtime.frontends import frontend_of_sidecar
from edgekd.runtime.labelled import read_labelled_folder
from edgekd.runtime.metrics import classification_metrics, softmax
from edgekd.runtime.scoring import aggregate, aggregation_name
from edgekd.runtime.sidecar import read_sidecar
from edgekd.runtime.threshold import decide


def predict_windows(artifact: Artifact, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Class probabilities of every window, by running the artifact."""
    out = [artifact.predict(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    logits = np.concatenate(out) if out else np.zeros((0, 0), np.float32)
    return softmax(logits.astype(np.float64)).astype(np.float32)


def recording_probabilities(artifact: Artifact, x: np.ndarray, rec: np.ndarray,
                            how: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """(item ids, class probabilities per item), by running the artifact on every window."""
    return aggregate(predict_windows(artifact, x), rec, how)


def evaluate_windows(
    artifact: Artifact,
    x: np.ndarray,
    rec: np.ndarray,
    y_rec: np.ndarray,
    labels: list[str],
    positive: Optional[str],
    groups: Optional[list[str]] = None,
    threshold: Optional[float] = None,
    how: str = "mean",
    item_names: Optional[list[str]] = None,
) -> dict:
    """Item-level metrics of ``artifact`` on pre-computed feature windows.

    Args:
        artifact: the loaded ``.tflite``/``.onnx``.
        x: (n_windows, *input_shape) model inputs; rec: item index per window.
        y_rec: true class index per item.
        labels, positive: class names and the positive class.
        groups: subset (e.g. source database) of each item; adds ``per_group`` metrics.
        threshold: positive-class probability threshold (two classes); argmax when None.
        how: how the windows of one item are combined (``mean``, ``vote``).
        item_names: when given, ``items`` lists each item's file, true label, prediction and probabilities.

    Returns:
        The ``eval --json`` object, with ``per_item`` (``ids``, ``true``, ``predicted``: item index, true and decided
        class index per item), which ``edgekd gate`` pairs against the fp32 twin's for the accuracy-drop budget.
    """
    outputs = (artifact.output.get("shape") or [None])[-1]
    if isinstance(outputs, int) and outputs != len(labels):
        raise InputError(f"{artifact.path}: the sidecar lists {len(labels)} labels ({', '.join(labels)}) but the model "
                         f"has {outputs} outputs; the sidecar does not belong to this file")
    ids, mean = recording_probabilities(artifact, x, rec, how)
    pos = labels.index(positive) if positive in labels else None
    pred = decide(mean, pos, threshold)
    out = {"artifact": str(artifact.path), **classification_metrics(y_rec[ids], pred, labels, positive)}
    # each item's decision (class indices into labels): the gate pairs two files' decisions on the same items
    out["per_item"] = {k: np.asarray(v, dtype=np.int64).tolist()
                       for k, v in (("ids", ids), ("true", y_rec[ids]), ("predicted", pred))}
    if threshold is not None:
        out["threshold"] = threshold
    if getattr(artifact, "runtime_env", None):  # .pte: run in the main environment (torch present)
        out["runtime_env"] = artifact.runtime_env
    if item_names is not None:
        out["items"] = [{"file": item_names[i], "label": labels[int(y_rec[i])], "predicted": labels[int(p)],
                         "probabilities": [round(float(v), 6) for v in mean[k]]}
                        for k, (i, p) in enumerate(zip(ids.tolist(), pred.tolist()))]
    if groups is not None:
        per = {}
        g = np.asarray(groups)[ids]
        for name in sorted(set(g.tolist())):
            m = g == name
            per[name] = classification_metrics(y_rec[ids][m], pred[m], labels, positive)
        out["per_group"] = per
    return out


def sidecar_labels(meta: dict, where: object) -> list[str]:
    """The class names a sidecar lists (output order), checked."""
    from edgekd.runtime.sidecar import check_sidecar

    check_sidecar(meta, where)
    return list(meta["labels"])


def evaluate_folder(
    artifact_path: str | Path,
    data_dir: str | Path,
    *,
    threads: Optional[int] = None,
    resample: bool = False,
    progress: Optional[Callable[[int, int], None]] = None,
    items: bool = False,
) -> dict:
    """Run an artifact on every item of a labelled folder and score it.

    Args:
        artifact_path: ``.tflite``, ``.onnx`` or ``.pte`` with its ``.edgekd.json`` sidecar.
        data_dir: ``labels.csv`` (file,label), ``REFERENCE.csv`` or class sub-folders holding the
            files the sidecar's front-end reads (``.wav``, images, ``.npy``).
        threads: runtime threads.
        resample: resample recordings at another rate (otherwise they are refused); audio only.
        progress: called as ``progress(done, total)``.
        items: also list every item's prediction (``items``: file, label, predicted, probabilities).

    Returns:
        The ``eval --json`` object.
    """
    meta = read_sidecar(Path(artifact_path))
    where = f"{artifact_path} (sidecar)"
    frontend = frontend_of_sidecar(meta, where)
    labels = sidecar_labels(meta, where)
    how = aggregation_name(meta.get("aggregation"), where)
    items_ = read_labelled_folder(Path(data_dir), extensions=frontend.extensions, classes=labels)
    artifact = load_artifact(artifact_path, threads=threads)
    xs, recs, y = [], [], []
    for i, item in enumerate(items_):
        feats = frontend.load(item.path, resample=resample)
        xs.append(feats)
        recs.append(np.full(len(feats), i))
        y.append(labels.index(item.label))
        if progress:
            progress(i + 1, len(items_))
    result = evaluate_windows(
        artifact, np.concatenate(xs), np.concatenate(recs), np.asarray(y), labels, meta.get("positive"),
        threshold=(meta.get("decision") or {}).get("threshold"), how=how,
        item_names=[it.file for it in items_] if items else None,
    )
    result["artifact"] = str(artifact_path)
    result["data"] = str(data_dir)
    result["runtime"] = artifact.runtime
    return result
