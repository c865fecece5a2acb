"""The audio front end: raw samples -> per-window log-mel features (numpy only).

The same code runs at training time and on the device, so the model sees the
same features in both places (numpy 1.26 and 2.x give identical output). Every step
that carries a known label leak of the heart-sound data is neutralised here:
DC is removed, a band-pass drops sub-audible drift, and each window is scaled
to unit RMS so recording level never reaches the model.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

from edgekd.errors import InputError

_SLANEY_F_SP = 200.0 / 3.0  # Hz per mel below 1 kHz
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP
_SLANEY_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa ``htk=False``): linear below 1 kHz, log above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _SLANEY_F_SP
    log_hz = np.log(np.maximum(hz, _SLANEY_MIN_LOG_HZ) / _SLANEY_MIN_LOG_HZ)
    log_part = _SLANEY_MIN_LOG_MEL + log_hz / _SLANEY_LOGSTEP
    return np.where(hz >= _SLANEY_MIN_LOG_HZ, log_part, mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    log_mel = np.maximum(mel, _SLANEY_MIN_LOG_MEL) - _SLANEY_MIN_LOG_MEL
    log_part = _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * log_mel)
    return np.where(mel >= _SLANEY_MIN_LOG_MEL, log_part, mel * _SLANEY_F_SP)


@functools.lru_cache(maxsize=16)
def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular mel filters, equal to ``librosa.filters.mel(htk=False, norm='slaney')``.

    Returns:
        float64 array (n_mels, n_fft // 2 + 1), read-only because it is cached.
    """
    fft_freqs = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]  # Slaney: constant area per filter
    weights.flags.writeable = False
    return weights


@functools.lru_cache(maxsize=16)
def _trimmed_filterbank_t(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """The filterbank transposed, (n_bins_used, n_mels), without the all-zero top bins.

    Bins above fmax carry no weight, so log_mel skips their power and matmul.
    """
    fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    n_used = int(np.flatnonzero(fb.any(axis=0))[-1]) + 1
    fb_t = np.ascontiguousarray(fb[:, :n_used].T)
    fb_t.flags.writeable = False
    return fb_t


def butter_bandpass_gain(freqs: np.ndarray, sr: int, low: float, high: float, order: int) -> np.ndarray:
    """|H(f)| of ``scipy.signal.butter(order, [low, high], btype='band', fs=sr)``.

    The digital filter is the bilinear transform of an analog Butterworth
    band-pass with pre-warped edges, so its magnitude has a closed form in the
    warped frequency Omega = tan(pi f / sr).
    """
    w = np.tan(np.pi * np.asarray(freqs, dtype=np.float64) / sr)
    wl, wh = np.tan(np.pi * low / sr), np.tan(np.pi * high / sr)
    safe = np.where(w > 0, w, 1.0)
    with np.errstate(over="ignore"):
        ratio = ((safe**2 - wl * wh) / (safe * (wh - wl))) ** (2 * order)
        gain = 1.0 / np.sqrt(1.0 + ratio)
    return np.where(w > 0, gain, 0.0)


def _next_fast_len(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n: FFT sizes that pocketfft handles fastest."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


_WINDOWS_PER_BLOCK = 4  # log_mel works on this many windows at a time
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

    def load(self, path: Any, *, resample: bool = False) -> np.ndarray:
        """One WAV file -> model inputs (n_windows, 1, n_mels, n_frames) float32.

        Raises:
            InputError: the file is unreadable, not mono, at another rate (unless ``resample``)
                or shorter than one window (naming the file).
        """
        from edgekd.runtime.audio import read_wav

        audio = read_wav(path, sample_rate=self.sample_rate, resample=resample, min_seconds=self.window_s)
        return self.features(audio)

    def preprocess(self, x: np.ndarray) -> np.ndarray:
        """Remove DC, then zero-phase Butterworth band-pass in the frequency domain.

        Applying the filter's magnitude to the spectrum gives zero phase (no
        delay). The signal is reflect-padded by half a second (at least n_fft)
        each side so the circular FFT filter does not wrap one end onto the other.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1 or x.size == 0:
            raise InputError(f"front-end: expected a non-empty 1-D signal, got shape {x.shape}")
        x = x - x.mean()
        pad = min(max(self.n_fft, self.sample_rate // 2), x.size - 1)
        padded = np.pad(x, pad, mode="reflect")
        n = _next_fast_len(padded.size)
        gain = butter_bandpass_gain(np.fft.rfftfreq(n, 1.0 / self.sample_rate), self.sample_rate,
                                    self.band_low_hz, self.band_high_hz, self.band_order)
        y = np.fft.irfft(np.fft.rfft(padded, n) * gain, n)
        return y[pad:pad + x.size].astype(np.float32)

    def windows(self, x: np.ndarray) -> np.ndarray:
        """Cut ``x`` into (n_windows, window_samples) float32 windows, hop ``hop_samples``.

        A trailing partial window is dropped; any recording at least one window
        long yields at least one window.

        Raises:
            InputError: the recording is shorter than one window.
        """
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise InputError(f"front-end: expected a 1-D signal, got shape {x.shape}")
        if x.size < self.window_samples:
            raise InputError(f"recording is {x.size / self.sample_rate:.2f} s long, "
                             f"shorter than one {self.window_s:g} s window")
        view = np.lib.stride_tricks.sliding_window_view(x, self.window_samples)
        return np.ascontiguousarray(view[:: self.hop_samples])

    def log_mel(self, windows: np.ndarray) -> np.ndarray:
        """Per-window log-mel spectrogram, (n, n_mels, n_frames) float32.

        Each window is scaled to unit RMS first (the recording level is a label
        leak), then framed (center=False), Hann-windowed, |rfft|^2, mel-filtered
        and log(max(mel, log_floor)).
        """
        w = np.asarray(windows, dtype=np.float64)
        if w.ndim != 2 or w.shape[1] != self.window_samples:
            raise InputError(f"front-end: expected windows of shape (n, {self.window_samples}), got {w.shape}")
        w = w / (np.sqrt(np.mean(w * w, axis=1, keepdims=True)) + 1e-8)
        hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(self.n_fft) / self.n_fft)  # periodic
        fb_t = _trimmed_filterbank_t(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)
        mel = np.empty((w.shape[0], self.n_frames, self.n_mels))
        for start in range(0, w.shape[0], _WINDOWS_PER_BLOCK):  # blocks keep the frames in cache
            block = w[start:start + _WINDOWS_PER_BLOCK]
            frames = np.lib.stride_tricks.sliding_window_view(block, self.n_fft, axis=1)[:, :: self.hop_length]
            spec = np.fft.rfft(frames * hann, axis=-1)[..., : fb_t.shape[0]]
            mel[start:start + _WINDOWS_PER_BLOCK] = (spec.real**2 + spec.imag**2) @ fb_t
        return np.log(np.maximum(mel, self.log_floor)).transpose(0, 2, 1).astype(np.float32)

    def features(self, x: np.ndarray) -> np.ndarray:
        """Raw samples -> model inputs (n_windows, 1, n_mels, n_frames) float32, C-contiguous.

        Contiguous on purpose: a transposed view here once reached the trainer as a strided
        tensor, and torch's convolutions then rounded differently than on the same values read
        back from the feature cache, so a run's figures depended on whether the cache was warm.
        """
        return np.ascontiguousarray(self.log_mel(self.windows(self.preprocess(x)))[:, None])
