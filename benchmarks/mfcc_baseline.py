"""The classical baseline a user might pick instead: MFCC statistics + logistic regression.

Same recordings, same record-wise split and the same band-passed, level-normalised
front-end as the networks, so the comparison is about the model, not the data.
Per recording: 13 MFCCs (c1..c13, c0 dropped: it carries the level, a label leak)
from every frame of every window, summarised by mean and standard deviation
(26 features), then standardised and fed to an L2 logistic regression whose C is
chosen on the validation split by MAcc; the decision threshold is chosen on the
validation split too, exactly as for the networks (``edgekd.runtime.threshold``).
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from edgekd.runtime.metrics import classification_metrics
from edgekd.runtime.threshold import choose_threshold, decide


def mfcc_stats(windows) -> np.ndarray:
    """(n_recordings, 26) MFCC mean/std per recording from a ``WindowSet`` of log-mel windows."""
    mfcc = dct(windows.x[:, 0], type=2, norm="ortho", axis=1)[:, 1:14, :]  # (n_win, 13, frames)
    feats = np.zeros((len(windows.recordings), 26), dtype=np.float64)
    for i in range(len(windows.recordings)):
        m = mfcc[windows.rec == i]  # (k, 13, frames)
        frames = m.transpose(1, 0, 2).reshape(13, -1)
        feats[i, :13] = frames.mean(axis=1)
        feats[i, 13:] = frames.std(axis=1)
    return feats


def run_baseline(data, seed: int = 0) -> dict:
    """Fit on train, pick C on val, score on test. ``data`` is the pipeline's ``Prepared``."""
    w = data.windows
    x = {s: mfcc_stats(w[s]) for s in ("train", "val", "test")}
    y = {s: w[s].y_rec for s in ("train", "val", "test")}
    best = None
    for c in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, class_weight="balanced",
                                                                 random_state=seed))
        clf.fit(x["train"], y["train"])
        val = classification_metrics(y["val"], clf.predict(x["val"]), data.classes, data.positive)
        score = val.get("macc", val["balanced_accuracy"])
        if best is None or score > best[0]:
            best = (score, c, clf)
    _, c, clf = best
    pos = data.classes.index(data.positive)
    threshold = choose_threshold(clf.predict_proba(x["val"])[:, pos], y["val"] == pos)
    pred = decide(clf.predict_proba(x["test"]), pos, threshold)
    test = classification_metrics(y["test"], pred, data.classes, data.positive)
    groups = np.array([r.group for r in w["test"].recordings])
    test["per_group"] = {
        g: classification_metrics(y["test"][groups == g], pred[groups == g], data.classes, data.positive)
        for g in sorted(set(groups))
    }
    return {"name": "MFCC(13) mean+std + logistic regression", "C": c, "threshold": threshold,
            "val_score": best[0], "metrics": test}
