"""Accuracy of an exported artifact on labelled recordings, with the device-side code only.

The artifact's sidecar carries everything needed (front-end parameters, class
names, positive class), so any labelled folder of recordings can be scored the
way the device will score it: front-end → windows → artifact → mean window
probability per recording → metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np

from edgekd.runtime.artifact import Artifact, load_artifact
from edgekd.runtime.audio import read_wav
from edgekd.runtime.frontends import build_frontend
from edgekd.runtime.image import IMAGE_EXTENSIONS, ImageFrontend
from edgekd.runtime.labelled import read_labelled_folder
from edgekd.runtime.metrics import aggregate_by_group, classification_metrics, softmax
from edgekd.runtime.sidecar import read_sidecar
from edgekd.runtime.threshold import decide


def predict_windows(artifact: Artifact, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Class probabilities of every window, by running the artifact."""
    out = [artifact.predict(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    logits = np.concatenate(out) if out else np.zeros((0, 0), np.float32)
    return softmax(logits.astype(np.float64)).astype(np.float32)


def recording_probabilities(artifact: Artifact, x: np.ndarray, rec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(recording ids, mean class probabilities per recording), by running the artifact on every window."""
    return aggregate_by_group(predict_windows(artifact, x), rec)


def evaluate_windows(
    artifact: Artifact,
    x: np.ndarray,
    rec: np.ndarray,
    y_rec: np.ndarray,
    labels: list[str],
    positive: Optional[str],
    groups: Optional[list[str]] = None,
    threshold: Optional[float] = None,
) -> dict:
    """Recording-level metrics of ``artifact`` on pre-computed feature windows.

    Args:
        artifact: the loaded ``.tflite``/``.onnx``.
        x: (n_windows, 1, n_mels, n_frames) features; rec: recording index per window.
        y_rec: true class index per recording.
        labels, positive: class names and the positive class.
        groups: database of each recording; adds ``per_group`` metrics.
        threshold: positive-class probability threshold (two classes); argmax when None.
    """
    ids, mean = recording_probabilities(artifact, x, rec)
    pos = labels.index(positive) if positive in labels else None
    pred = decide(mean, pos, threshold)
    out = {"artifact": str(artifact.path), **classification_metrics(y_rec[ids], pred, labels, positive)}
    if threshold is not None:
        out["threshold"] = threshold
    if groups is not None:
        per = {}
        g = np.asarray(groups)[ids]
        for name in sorted(set(g.tolist())):
            m = g == name
            per[name] = classification_metrics(y_rec[ids][m], pred[m], labels, positive)
        out["per_group"] = per
    return out


def evaluate_folder(
    artifact_path: str | Path,
    data_dir: str | Path,
    *,
    threads: Optional[int] = None,
    resample: bool = False,
    progress: Optional[Callable[[int, int], None]] = None,
) -> dict:
    """Run an artifact on every recording of a labelled folder and score it.

    Args:
        artifact_path: ``.tflite`` or ``.onnx`` with its ``.edgekd.json`` sidecar.
        data_dir: ``labels.csv`` (file,label), ``REFERENCE.csv`` or class sub-folders; recordings
            (``.wav``) or images, as the sidecar's ``task`` says.
        threads: runtime threads.
        resample: resample recordings at another rate (otherwise they are refused); audio only.
        progress: called as ``progress(done, total)``.

    Returns:
        The ``eval --json`` object.
    """
    meta = read_sidecar(Path(artifact_path))
    frontend = build_frontend(meta.get("task"), meta["frontend"])
    labels = list(meta["labels"])
    image = isinstance(frontend, ImageFrontend)  # one window per image; the front-end decodes and validates it
    items = read_labelled_folder(Path(data_dir), extensions=IMAGE_EXTENSIONS if image else (".wav",), classes=labels)
    artifact = load_artifact(artifact_path, threads=threads)
    xs, recs, y = [], [], []
    for i, item in enumerate(items):
        if image:
            feats = frontend.features(item.path)
        else:
            audio = read_wav(item.path, sample_rate=frontend.sample_rate, resample=resample,
                             min_seconds=frontend.window_s)
            feats = frontend.features(audio)
        xs.append(feats)
        recs.append(np.full(len(feats), i))
        y.append(labels.index(item.label))
        if progress:
            progress(i + 1, len(items))
    result = evaluate_windows(
        artifact, np.concatenate(xs), np.concatenate(recs), np.asarray(y), labels, meta.get("positive"),
        threshold=(meta.get("decision") or {}).get("threshold"),
    )
    result["artifact"] = str(artifact_path)
    result["data"] = str(data_dir)
    result["runtime"] = artifact.runtime
    return result
