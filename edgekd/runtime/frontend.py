"""The audio front end: a WAV file -> per-window log-mel features (numpy only).

``AudioFrontend.steps()`` is the front-end as named steps with every parameter
(``edgekd.runtime.steps``): read_wav, remove_mean, bandpass, frame, unit_rms,
power_spectrogram, mel, log, to_model_input. The same steps run at training time
and on the device, and travel in the artifact's sidecar, so the model sees the
same features everywhere (numpy 1.26 and 2.x give identical output). Every step
that carries a known label leak of the heart-sound data is neutralised here:
DC is removed, a band-pass drops sub-audible drift, and each window is scaled
to unit RMS so recording level never reaches the model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

from edgekd.errors import InputError
from edgekd.runtime.audio import CLIP_FRACTION, FLOAT_LIMIT, SILENCE_RMS
from edgekd.runtime.steps import butter_bandpass_gain, mel_filterbank, run_file, run_steps  # noqa: F401

#: the steps' names, in order (``AudioFrontend.steps`` gives them with their parameters)
READ, PREPROCESS, WINDOWS, LOG_MEL = slice(0, 1), slice(1, 3), slice(3, 4), slice(4, 8)

_INT_FIELDS = ("sample_rate", "band_order", "n_fft", "hop_length", "n_mels")


@dataclass(frozen=True)
class AudioFrontend:
    """Every front-end parameter; recipes and artifact sidecars store ``to_dict()``.

    Invalid values raise ``InputError`` at construction. ``kind`` (``"logmel"``) names this
    front-end in the ``FRONTENDS`` registry and in sidecars; ``load`` reads one WAV file.
    """

    kind: ClassVar[str] = "logmel"
    extensions: ClassVar[tuple[str, ...]] = (".wav",)

    sample_rate: int = 2000
    band_low_hz: float = 25.0
    band_high_hz: float = 400.0
    band_order: int = 4  # Butterworth order of each edge
    n_fft: int = 256
    hop_length: int = 32
    n_mels: int = 32
    fmin: float = 25.0
    fmax: float = 500.0
    window_s: float = 3.0  # classifier window length
    hop_s: float = 1.0  # hop between windows
    log_floor: float = 1e-6

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            is_int = f.name in _INT_FIELDS
            if isinstance(value, bool) or not isinstance(value, numbers.Integral if is_int else numbers.Real):
                kind = "an integer" if is_int else "a number"
                raise InputError(f"front-end setting '{f.name}' must be {kind}, got {value!r}")
            if not math.isfinite(value):
                raise InputError(f"front-end setting '{f.name}' must be finite, got {value!r}")
            # plain int / float, so 25 and 25.0 (or numpy scalars) give the same config_hash
            object.__setattr__(self, f.name, int(value) if is_int else float(value))
        self._validate()

    def _validate(self) -> None:
        nyquist = self.sample_rate / 2.0

        def bad(msg: str) -> InputError:
            return InputError(f"front-end: {msg}")

        for name in ("sample_rate", "band_low_hz", "band_high_hz", "band_order", "n_fft",
                     "hop_length", "n_mels", "fmax", "window_s", "hop_s", "log_floor"):
            if getattr(self, name) <= 0:
                raise bad(f"'{name}' must be positive, got {getattr(self, name)!r}")
        if self.fmin < 0:
            raise bad(f"'fmin' must be >= 0, got {self.fmin!r}")
        if self.band_low_hz >= self.band_high_hz:
            raise bad(f"band_low_hz ({self.band_low_hz:g}) must be below band_high_hz ({self.band_high_hz:g})")
        if self.band_high_hz >= nyquist:
            raise bad(f"band_high_hz ({self.band_high_hz:g}) must be below half the sample rate ({nyquist:g} Hz)")
        if self.fmin >= self.fmax:
            raise bad(f"fmin ({self.fmin:g}) must be below fmax ({self.fmax:g})")
        if self.fmax > nyquist:
            raise bad(f"fmax ({self.fmax:g}) must be at most half the sample rate ({nyquist:g} Hz)")
        if self.hop_samples < 1:
            raise bad(f"hop_s ({self.hop_s:g} s) is shorter than one sample")
        if self.n_fft > self.window_samples:
            raise bad(f"n_fft ({self.n_fft}) is longer than the window "
                      f"({self.window_s:g} s = {self.window_samples} samples)")
        fb = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)
        empty = np.flatnonzero(fb.max(axis=1) <= 0)
        if empty.size:
            raise bad(f"{empty.size} of the {self.n_mels} mel bands cover no FFT bin: "
                      "lower n_mels or raise n_fft")

    def to_dict(self) -> dict[str, Any]:
        """All parameters as a plain JSON-able dict (``kind`` names the front-end)."""
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "AudioFrontend":
        """Build from a recipe / sidecar dict; missing keys take the defaults.

        Raises:
            InputError: an unknown key (with a "did you mean" hint) or a bad value.
        """
        from edgekd.runtime.settings import dataclass_from_settings, pop_kind

        return dataclass_from_settings(cls, pop_kind(d, cls.kind))

    @property
    def window_samples(self) -> int:
        """Samples per classifier window."""
        return int(round(self.window_s * self.sample_rate))

    @property
    def hop_samples(self) -> int:
        """Samples between the starts of consecutive windows."""
        return int(round(self.hop_s * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """STFT frames per window (center=False framing)."""
        return 1 + (self.window_samples - self.n_fft) // self.hop_length

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Model input per window, channel first: (1, n_mels, n_frames)."""
        return (1, self.n_mels, self.n_frames)

    def config_hash(self) -> str:
        """Short stable hash of the parameters (a feature-cache key)."""
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:16]

    def steps(self, *, resample: bool = False) -> list[dict[str, Any]]:
        """The front-end as an ordered list of steps with every parameter (sidecar v2, ``run_steps``)."""
        sr = self.sample_rate
        return [
            {"step": "read_wav", "sample_rate": sr, "channels": 1, "min_seconds": self.window_s,
             "scale": "pcm-full-scale", "refuse": {"float_limit": FLOAT_LIMIT, "silence_rms": SILENCE_RMS,
                                                   "clip_fraction": CLIP_FRACTION},
             **({"resample": True} if resample else {})},
            {"step": "remove_mean"},
            {"step": "bandpass", "sample_rate": sr, "low_hz": self.band_low_hz, "high_hz": self.band_high_hz,
             "order": self.band_order, "design": "butterworth-bilinear", "phase": "zero", "padding": "reflect",
             "pad_at_least": max(self.n_fft, sr // 2), "fft_length": "next-2^a*3^b*5^c"},
            {"step": "frame", "window_samples": self.window_samples, "hop_samples": self.hop_samples,
             "trailing": "drop"},
            {"step": "unit_rms", "epsilon": 1e-8},
            {"step": "power_spectrogram", "n_fft": self.n_fft, "hop_length": self.hop_length, "window": "hann",
             "window_symmetry": "periodic", "center": False},
            {"step": "mel", "sample_rate": sr, "n_fft": self.n_fft, "n_mels": self.n_mels, "fmin": self.fmin,
             "fmax": self.fmax, "mel_scale": "slaney", "normalization": "slaney-area"},
            {"step": "log", "floor": self.log_floor, "base": "e"},
            {"step": "to_model_input", "layout": "windows,frames,mels->windows,1,mels,frames", "dtype": "float32"},
        ]

    def load(self, path: Any, *, resample: bool = False) -> np.ndarray:
        """One WAV file -> model inputs (n_windows, 1, n_mels, n_frames) float32, by running ``steps()``.

        Raises:
            InputError: the file is unreadable, not mono, at another rate (unless ``resample``),
                degenerate, or shorter than one window (naming the file).
        """
        return run_file(self.steps(resample=resample), path)

    def preprocess(self, x: np.ndarray) -> np.ndarray:
        """Remove the mean, then the zero-phase Butterworth band-pass (steps ``remove_mean``, ``bandpass``)."""
        return run_steps(self.steps()[PREPROCESS], x)

    def windows(self, x: np.ndarray) -> np.ndarray:
        """Cut ``x`` into (n_windows, window_samples) float32 windows, hop ``hop_samples`` (step ``frame``).

        Raises:
            InputError: the recording is shorter than one window.
        """
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1 and x.size < self.window_samples:
            raise InputError(f"recording is {x.size / self.sample_rate:.2f} s long, "
                             f"shorter than one {self.window_s:g} s window")
        return run_steps(self.steps()[WINDOWS], x)

    def log_mel(self, windows: np.ndarray) -> np.ndarray:
        """Per-window log-mel spectrogram, (n, n_mels, n_frames) float32: unit RMS, periodic-Hann power
        spectrogram (center=False), Slaney mel, natural log of max(mel, log_floor)."""
        w = np.asarray(windows, dtype=np.float64)
        if w.ndim != 2 or w.shape[1] != self.window_samples:
            raise InputError(f"front-end: expected windows of shape (n, {self.window_samples}), got {w.shape}")
        return run_steps(self.steps()[LOG_MEL], w).transpose(0, 2, 1).astype(np.float32)

    def features(self, x: np.ndarray) -> np.ndarray:
        """Raw samples -> model inputs (n_windows, 1, n_mels, n_frames) float32, C-contiguous.

        Contiguous on purpose: a transposed view here once reached the trainer as a strided
        tensor, and torch's convolutions then rounded differently than on the same values read
        back from the feature cache, so a run's figures depended on whether the cache was warm.
        """
        x = np.asarray(x)
        if x.ndim == 1 and x.size < self.window_samples:
            raise InputError(f"recording is {x.size / self.sample_rate:.2f} s long, "
                             f"shorter than one {self.window_s:g} s window")
        return run_steps(self.steps()[1:], x)
