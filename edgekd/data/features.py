"""Front-end features for every recording, cached by content hash.

The cache key is the WAV's SHA-256 plus the front-end's parameter hash, so a
changed file or a changed parameter never reuses stale features, and a renamed
file still hits the cache. Decoding validates each file (mono, rate, length)
and stops with a message naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekd.atomic import atomic_path
from edgekd.data.recordings import Recording
from edgekd.runtime.audio import read_wav
from edgekd.runtime.frontend import AudioFrontend


class FeatureCache:
    """A folder of ``.npy`` feature arrays keyed by content and front-end hash."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root else None

    def _path(self, key: str) -> Path | None:
        return self.root / f"{key}.npy" if self.root else None

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None  # a damaged cache entry is recomputed

    def put(self, key: str, value: np.ndarray) -> None:
        path = self._path(key)
        if path is None:
            return
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, value, allow_pickle=False)


def recording_features(
    rec: Recording, frontend: AudioFrontend, cache: FeatureCache, *, resample: bool = False
) -> np.ndarray:
    """Windows of log-mel features of one recording: (n_windows, 1, n_mels, n_frames)."""
    key = f"{rec.sha256[:32]}-{frontend.config_hash()}-{int(resample)}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    audio = read_wav(rec.path, sample_rate=frontend.sample_rate, resample=resample, min_seconds=frontend.window_s)
    feats = frontend.features(audio).astype(np.float32)
    cache.put(key, feats)
    return feats


@dataclass
class WindowSet:
    """Windows of a set of recordings, with the recording each window came from.

    Attributes:
        x: (n_windows, 1, n_mels, n_frames) float32 features.
        y: (n_windows,) class index of each window's recording.
        rec: (n_windows,) index into ``recordings``.
        recordings: the recordings, in order.
    """

    x: np.ndarray
    y: np.ndarray
    rec: np.ndarray
    recordings: list[Recording]

    @property
    def y_rec(self) -> np.ndarray:
        """Class index per recording, in ``recordings`` order."""
        out = np.zeros(len(self.recordings), dtype=np.int64)
        out[self.rec] = self.y
        return out


def build_windows(
    recordings: list[Recording],
    classes: list[str],
    frontend: AudioFrontend,
    cache: FeatureCache,
    *,
    resample: bool = False,
    progress: bool = False,
) -> WindowSet:
    """Feature windows for ``recordings`` (computed or read from the cache)."""
    xs, ys, rs = [], [], []
    iterator = recordings
    if progress:
        from tqdm import tqdm

        iterator = tqdm(recordings, desc="features", unit="rec", leave=False)
    for i, rec in enumerate(iterator):
        f = recording_features(rec, frontend, cache, resample=resample)
        xs.append(f)
        ys.append(np.full(len(f), classes.index(rec.label), dtype=np.int64))
        rs.append(np.full(len(f), i, dtype=np.int64))
    shape = (0, *frontend.input_shape)
    return WindowSet(
        x=np.concatenate(xs) if xs else np.zeros(shape, np.float32),
        y=np.concatenate(ys) if ys else np.zeros(0, np.int64),
        rec=np.concatenate(rs) if rs else np.zeros(0, np.int64),
        recordings=list(recordings),
    )
