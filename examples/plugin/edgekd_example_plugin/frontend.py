"""The device side of the ``pcg-envelope`` task: a WAV file -> amplitude-envelope windows (numpy only).

1. read the WAV (edgekd's validated reader: mono, the expected rate, at least one window);
2. remove the mean, zero-phase Butterworth band-pass ``band_low_hz``..``band_high_hz`` (applied as the
   filter's magnitude in the frequency domain, the same closed form edgekd's log-mel front-end uses);
3. absolute value, then the mean of each block of ``sample_rate / envelope_hz`` samples: the envelope;
4. windows of ``window_s`` seconds every ``hop_s`` seconds (a trailing partial window is dropped);
5. each window scaled to zero mean and unit standard deviation (the recording level is a label leak);
6. float32 ``(n_windows, 1, window_s * envelope_hz)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

from edgekd.errors import InputError
from edgekd.runtime.audio import read_wav
from edgekd.runtime.frontend import butter_bandpass_gain
from edgekd.runtime.settings import dataclass_from_settings, pop_kind


@dataclass(frozen=True)
class EnvelopeFrontend:
    """Every parameter of the envelope front-end; sidecars store ``to_dict()``."""

    kind: ClassVar[str] = "pcg-envelope"
    extensions: ClassVar[tuple[str, ...]] = (".wav",)

    sample_rate: int = 2000
    band_low_hz: float = 25.0
    band_high_hz: float = 400.0
    band_order: int = 4
    envelope_hz: int = 50
    window_s: float = 3.0
    hop_s: float = 1.5

    def __post_init__(self) -> None:
        if self.sample_rate % self.envelope_hz:
            raise InputError(f"front-end: envelope_hz ({self.envelope_hz}) must divide sample_rate ({self.sample_rate})")
        if not 0 < self.band_low_hz < self.band_high_hz < self.sample_rate / 2:
            raise InputError("front-end: need 0 < band_low_hz < band_high_hz < sample_rate / 2")
        if self.hop_s <= 0 or self.window_s * self.envelope_hz < 8:
            raise InputError("front-end: hop_s must be positive and a window at least 8 envelope samples")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EnvelopeFrontend":
        return dataclass_from_settings(cls, pop_kind(d, cls.kind))

    @property
    def window_len(self) -> int:
        return int(round(self.window_s * self.envelope_hz))

    @property
    def input_shape(self) -> tuple[int, int]:
        return (1, self.window_len)

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def envelope(self, x: np.ndarray) -> np.ndarray:
        """Samples -> the band-passed amplitude envelope at ``envelope_hz``."""
        x = np.asarray(x, dtype=np.float64)
        x = x - x.mean()
        n = x.size
        gain = butter_bandpass_gain(np.fft.rfftfreq(n, 1.0 / self.sample_rate), self.sample_rate,
                                    self.band_low_hz, self.band_high_hz, self.band_order)
        y = np.abs(np.fft.irfft(np.fft.rfft(x) * gain, n))
        step = self.sample_rate // self.envelope_hz
        usable = (n // step) * step
        return y[:usable].reshape(-1, step).mean(axis=1)

    def features(self, x: np.ndarray) -> np.ndarray:
        """Samples -> (n_windows, 1, window_len) float32, each window standardised."""
        env = self.envelope(x)
        hop = max(int(round(self.hop_s * self.envelope_hz)), 1)
        if env.size < self.window_len:
            raise InputError(f"recording shorter than one {self.window_s:g} s window")
        w = np.lib.stride_tricks.sliding_window_view(env, self.window_len)[::hop]
        w = (w - w.mean(axis=1, keepdims=True)) / (w.std(axis=1, keepdims=True) + 1e-8)
        return np.ascontiguousarray(w[:, None, :], dtype=np.float32)

    def load(self, path: Any, *, resample: bool = False) -> np.ndarray:
        audio = read_wav(path, sample_rate=self.sample_rate, resample=resample, min_seconds=self.window_s)
        return self.features(audio)
