"""Front-ends as an ordered list of named steps: the spec a device implements, and the code that runs it.

Each step is a pure function ``x -> x`` with keyword parameters. A front-end's
``steps()`` lists them with **every** parameter that changes the output; sidecars
(schema ``edgekd.artifact/2``) carry that list, and ``run_steps`` executes it, on
the training side and on the device, so the spec and the code cannot drift apart.
Parameters that name a choice this runtime makes one way only (``padding:
reflect``, ``window: hann``) are checked, not ignored: a sidecar asking for
another choice is refused by name.

The first step of a list reads a file (``read_wav``, ``decode_image``,
``load_npy``); the last gives the model input ``(windows, *input_shape)`` float32.

Example:
    >>> import numpy as np
    >>> from edgekd.runtime.steps import run_steps
    >>> steps = [{"step": "remove_mean"}, {"step": "frame", "window_samples": 4, "hop_samples": 2,
    ...          "trailing": "drop"}]
    >>> run_steps(steps, np.arange(8.0)).shape
    (3, 4)
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from edgekd.errors import InputError

StepFn = Callable[..., Any]
STEPS: dict[str, StepFn] = {}
#: step -> parameter -> the values this runtime implements (a sidecar asking for another is refused by name)
CHOICES: dict[str, dict[str, tuple]] = {}
#: step -> parameters that are options of this run, not part of the spec (never written to a sidecar)
RUN_OPTIONS: dict[str, frozenset] = {}


def step(name: str, *, choices: Optional[Mapping[str, Sequence[Any]]] = None,
         run_options: Sequence[str] = ()) -> Callable[[StepFn], StepFn]:
    """Register a step function under ``name``.

    Args:
        choices: per parameter, the values implemented (published as the schema's ``enum``).
        run_options: parameters a caller sets for one run (``resample``), not part of the spec.
    """

    def add(fn: StepFn) -> StepFn:
        STEPS[name] = fn
        CHOICES[name] = {k: tuple(v) for k, v in (choices or {}).items()}
        RUN_OPTIONS[name] = frozenset(run_options)
        return fn

    return add


def _check_choices(i: int, name: str, params: Mapping[str, Any]) -> None:
    for key, allowed in CHOICES.get(name, {}).items():
        if key in params and not any(params[key] == a and type(params[key]) is type(a) for a in allowed):
            raise InputError(f"front-end step {i} '{name}': {key} {params[key]!r} is not implemented here (this "
                             f"runtime does {', '.join(map(repr, allowed))})")


def run_file(steps: Sequence[Mapping[str, Any]], path: Any, record: Optional[list] = None) -> Any:
    """``run_steps`` on a file; a refusal that does not name the file is prefixed with it."""
    try:
        return run_steps(steps, path, record)
    except InputError as exc:
        if where_of(path) in str(exc):
            raise
        raise InputError(f"{where_of(path)}: {exc}") from None


def run_steps(steps: Sequence[Mapping[str, Any]], x: Any, record: Optional[list] = None) -> Any:
    """Run ``steps`` on ``x`` (a file path for a list that starts with a reader).

    Args:
        steps: ``[{"step": name, **params}, ...]``.
        x: the first step's input.
        record: when a list, ``(step name, output)`` is appended after every step (golden vectors).

    Raises:
        InputError: an unknown step or parameter (naming it), or input the step refuses.
    """
    for i, spec in enumerate(steps):
        if not isinstance(spec, Mapping) or not isinstance(spec.get("step"), str):
            raise InputError(f"front-end step {i}: expected a mapping with a 'step' name, got {spec!r}")
        name = spec["step"]
        fn = STEPS.get(name)
        if fn is None:
            raise InputError(f"front-end step {i}: unknown step {name!r} (this runtime knows {', '.join(sorted(STEPS))})")
        params = {k: v for k, v in spec.items() if k != "step"}
        _check_choices(i, name, params)
        try:
            x = fn(x, **params)
        except TypeError as exc:
            raise InputError(f"front-end step {i} ({name}): {exc}") from None
        if record is not None:
            record.append((name, x))
    return x


# ---------------------------------------------------------------- audio
@step("read_wav", choices={"channels": (1,), "scale": ("pcm-full-scale",)}, run_options=("resample",))
def read_wav_step(path: Any, *, sample_rate: int, channels: int = 1, min_seconds: float = 0.0,
                  scale: str = "pcm-full-scale", resample: bool = False,
                  refuse: Optional[Mapping[str, float]] = None) -> np.ndarray:
    """A WAV (RIFF) file -> float32 samples. Chunks: after ``RIFF<size>WAVE``, walk the chunks (4-byte id,
    little-endian uint32 size, the body, one pad byte when the size is odd), use the first ``fmt `` and the first
    ``data`` chunk and skip every other chunk (``LIST``, ``fact``, ...); a ``data`` chunk before ``fmt `` is fine.
    Format tag 1 (PCM) or 3 (IEEE float); tag 0xFFFE (WAVE_FORMAT_EXTENSIBLE) takes its tag from the first two
    bytes of the sub-format GUID at byte 24 of the ``fmt `` body; ``block_align`` must equal ``channels *
    bits / 8``; a trailing partial frame is ignored. Samples, little-endian: PCM 16-bit as ``int16 / 32768``,
    24-bit as ``int24 / 2^23``, 32-bit as ``int32 / 2^31`` rounded to the nearest float32, 8-bit (unsigned) as
    ``(u8 - 128) / 128``; IEEE float 32-bit as stored (no scaling: full scale is +-1) and 64-bit rounded to the
    nearest float32. One channel only (more is refused: mix down first), at ``sample_rate`` Hz (another rate is
    refused unless the run resamples), at least ``min_seconds`` long. ``refuse`` (degenerate recordings are
    refused, not scored), on the float32 samples as read: non-finite samples; in a float WAV, samples beyond
    +-``float_limit``; a constant signal (every sample equal); an RMS (after removing the mean, in float64) below
    ``silence_rms``; more than ``clip_fraction`` of the samples with ``|x| >= 0.999`` (before removing the mean)."""
    from edgekd.runtime.audio import check_signal, read_wav

    x = read_wav(path, sample_rate=int(sample_rate), resample=resample, min_seconds=float(min_seconds))
    if refuse is not None:
        check_signal(x, path, is_float=_is_float_wav(path), **{k: float(v) for k, v in refuse.items()})
    return x


def _is_float_wav(path: Any) -> bool:
    from edgekd.runtime.audio import wav_info

    return bool(wav_info(path).get("float"))


@step("remove_mean")
def remove_mean(x: np.ndarray) -> np.ndarray:
    """Subtract the recording's mean, in float64: ``x - mean(x)``."""
    y, owned = _float64(x)
    if y.ndim != 1 or y.size == 0:
        raise InputError(f"front-end: expected a non-empty 1-D signal, got shape {y.shape}")
    mean = y.mean()
    if owned:  # a fresh float64 copy of float32 samples: subtract in place (the caller's array is never touched)
        y -= mean
        return y
    return y - mean


def _float64(x: Any) -> tuple[np.ndarray, bool]:
    """``x`` as a float64 array, and whether that array is a new one this step owns (free to change in place)."""
    y = np.asarray(x, dtype=np.float64)
    return y, y is not x and y.flags.owndata


def next_fast_len(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n: the FFT length of the band-pass."""
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


def butter_bandpass_gain(freqs: np.ndarray, sr: int, low: float, high: float, order: int) -> np.ndarray:
    """|H(f)| of ``scipy.signal.butter(order, [low, high], btype='band', fs=sr)``.

    The digital filter is the bilinear transform of an analog Butterworth band-pass with
    pre-warped edges, so its magnitude has a closed form in the warped frequency tan(pi f / sr).
    """
    w = np.tan(np.pi * np.asarray(freqs, dtype=np.float64) / sr)
    wl, wh = np.tan(np.pi * low / sr), np.tan(np.pi * high / sr)
    safe = np.where(w > 0, w, 1.0)
    with np.errstate(over="ignore"):
        ratio = ((safe**2 - wl * wh) / (safe * (wh - wl))) ** (2 * order)
        gain = 1.0 / np.sqrt(1.0 + ratio)
    return np.where(w > 0, gain, 0.0)


@step("bandpass", choices={"design": ("butterworth-bilinear",), "phase": ("zero",), "padding": ("reflect",),
                        "fft_length": ("next-2^a*3^b*5^c",)})
def bandpass(x: np.ndarray, *, sample_rate: int, low_hz: float, high_hz: float, order: int,
             design: str = "butterworth-bilinear", phase: str = "zero", padding: str = "reflect",
             pad_at_least: int = 1000, fft_length: str = "next-2^a*3^b*5^c") -> np.ndarray:
    """Zero-phase Butterworth band-pass in the frequency domain, in float64. Reflect-pad the signal by
    ``p = min(pad_at_least, n - 1)`` samples each side (numpy ``mode="reflect"``: the edge sample is not repeated);
    take the real FFT of length ``N`` = the smallest 2^a 3^b 5^c >= ``n + 2p``; multiply bin ``k`` (frequency
    ``f = k * sample_rate / N``) once, not squared, by the magnitude of ``scipy.signal.butter(order, [low_hz,
    high_hz], btype="band", fs=sample_rate)``: ``|H(f)| = 1 / sqrt(1 + ((w^2 - wl*wh) / (w*(wh - wl)))^(2*order))``
    with ``w = tan(pi f / sample_rate)``, ``wl``, ``wh`` the same of the two edges, ``|H(0)| = 0`` and
    ``|H| = 0`` at ``f = sample_rate / 2``; inverse
    real FFT of length ``N``; keep samples ``p .. p + n - 1``; cast to float32."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise InputError(f"front-end: expected a non-empty 1-D signal, got shape {x.shape}")
    size = x.size
    pad = min(int(pad_at_least), size - 1)
    n = next_fast_len(size + 2 * pad)
    padded = np.zeros(n)  # the reflect-padded signal, zero-filled to the FFT length (as rfft(a, n) would)
    padded[pad:pad + size] = x
    padded[:pad] = x[1:pad + 1][::-1]  # numpy mode="reflect": the edge sample is not repeated
    padded[pad + size:pad + size + pad] = x[size - 1 - pad:size - 1][::-1]
    spectrum = np.fft.rfft(padded)
    spectrum *= _bandpass_gain(n, float(sample_rate), float(low_hz), float(high_hz), int(order))
    return np.fft.irfft(spectrum, n)[pad:pad + size].astype(np.float32)


@functools.lru_cache(maxsize=16)
def _bandpass_gain(n: int, sample_rate: float, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    """The band-pass gain of every bin of a length-``n`` real FFT, computed once per length (read-only).

    Most of an uncached band-pass is this (a ``pow`` per bin), and recordings of one device share a length."""
    gain = butter_bandpass_gain(np.fft.rfftfreq(n, 1.0 / sample_rate), int(sample_rate), low_hz, high_hz, order)
    gain.flags.writeable = False
    return gain


@step("frame", choices={"trailing": ("drop",)})
def frame(x: np.ndarray, *, window_samples: int, hop_samples: int, trailing: str = "drop") -> np.ndarray:
    """Cut into float32 windows ``x[k*hop_samples : k*hop_samples + window_samples]`` for k = 0, 1, ... while
    the window fits (a trailing partial window is dropped): ``(n, window_samples)``. A signal shorter than one
    window is refused."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise InputError(f"front-end: expected a 1-D signal, got shape {x.shape}")
    if x.size < window_samples:
        raise InputError(f"recording is {x.size} samples long, shorter than one window of {window_samples}")
    view = np.lib.stride_tricks.sliding_window_view(x, int(window_samples))
    return np.ascontiguousarray(view[:: int(hop_samples)])


@step("unit_rms")
def unit_rms(windows: np.ndarray, *, epsilon: float = 1e-8) -> np.ndarray:
    """Scale each window to unit RMS, in float64: ``w / (sqrt(mean(w^2)) + epsilon)``. Not optional: the
    recording level is a label leak between databases, and without this step the model scores at chance."""
    w, owned = _float64(windows)
    if w.ndim != 2:
        raise InputError(f"front-end: expected windows (n, samples), got shape {w.shape}")
    rms = np.sqrt(np.mean(w * w, axis=1, keepdims=True))  # per row: the same sums whatever the number of rows
    rms += float(epsilon)
    return np.divide(w, rms, out=w) if owned else w / rms


@functools.lru_cache(maxsize=8)
def periodic_hann(n_fft: int) -> np.ndarray:
    """``0.5 - 0.5 cos(2 pi k / n_fft)``, k = 0 .. n_fft - 1 (read-only, computed once per length)."""
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    hann.flags.writeable = False
    return hann


@step("power_spectrogram", choices={"window": ("hann",), "window_symmetry": ("periodic",),
                                 "center": (False,)})
def power_spectrogram(windows: np.ndarray, *, n_fft: int, hop_length: int, window: str = "hann",
                      window_symmetry: str = "periodic", center: bool = False) -> np.ndarray:
    """Per window: frames of ``n_fft`` samples starting every ``hop_length`` samples, no centring
    and no padding (``1 + (samples - n_fft) // hop_length`` frames); each frame times a periodic Hann window
    ``0.5 - 0.5 cos(2 pi k / n_fft)``, k = 0 .. n_fft - 1; the power ``|rfft|^2``: ``(n, frames, n_fft // 2 + 1)``
    float64."""
    w = np.asarray(windows, dtype=np.float64)
    n_fft, hop = int(n_fft), int(hop_length)
    if w.ndim != 2 or w.shape[1] < n_fft:
        raise InputError(f"front-end: expected windows (n, samples >= n_fft {n_fft}), got shape {w.shape}")
    hann = periodic_hann(n_fft)
    frames = np.lib.stride_tricks.sliding_window_view(w, n_fft, axis=1)[:, ::hop]  # a view: (n, frames, n_fft)
    out = np.empty((w.shape[0], frames.shape[1], n_fft // 2 + 1))
    tapered = np.empty(frames.shape[1:])  # one window's frames at a time: they stay in cache
    for i in range(w.shape[0]):  # each window alone: its figures do not depend on how many windows there are
        spec = np.fft.rfft(np.multiply(frames[i], hann, out=tapered), axis=-1)
        parts = spec.view(np.float64)  # re, im, re, im, ...
        np.square(parts, out=parts)
        np.add(parts[:, 0::2], parts[:, 1::2], out=out[i])
    return out


_SLANEY_F_SP = 200.0 / 3.0  # Hz per mel below 1 kHz
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP
_SLANEY_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa ``htk=False``): linear below 1 kHz, log above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _SLANEY_F_SP
    log_hz = np.log(np.maximum(hz, _SLANEY_MIN_LOG_HZ) / _SLANEY_MIN_LOG_HZ)
    return np.where(hz >= _SLANEY_MIN_LOG_HZ, _SLANEY_MIN_LOG_MEL + log_hz / _SLANEY_LOGSTEP, mel)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    log_mel = np.maximum(mel, _SLANEY_MIN_LOG_MEL) - _SLANEY_MIN_LOG_MEL
    return np.where(mel >= _SLANEY_MIN_LOG_MEL, _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * log_mel),
                    mel * _SLANEY_F_SP)


_FILTERBANKS: dict[tuple, np.ndarray] = {}


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular mel filters, equal to ``librosa.filters.mel(htk=False, norm='slaney')``: (n_mels, n_fft//2+1)."""
    key = (int(sr), int(n_fft), int(n_mels), float(fmin), float(fmax))
    if key not in _FILTERBANKS:
        fft_freqs = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
        mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
        fdiff = np.diff(mel_f)
        ramps = mel_f[:, None] - fft_freqs[None, :]
        lower = -ramps[:-2] / fdiff[:-1, None]
        upper = ramps[2:] / fdiff[1:, None]
        weights = np.maximum(0.0, np.minimum(lower, upper))
        weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]  # Slaney: constant area per filter
        weights.flags.writeable = False
        _FILTERBANKS[key] = weights
    return _FILTERBANKS[key]


@step("mel", choices={"mel_scale": ("slaney",), "normalization": ("slaney-area",)})
def mel(power: np.ndarray, *, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float,
        mel_scale: str = "slaney", normalization: str = "slaney-area") -> np.ndarray:
    """Power spectra times triangular mel filters: ``(n, frames, n_mels)`` float64. Slaney mel scale
    (librosa ``htk=False``): ``mel = f / (200/3)`` below 1 kHz, ``15 + ln(f / 1000) / (ln(6.4) / 27)`` above.
    ``n_mels + 2`` edges ``f_0 .. f_{n_mels+1}`` equally spaced in mel from ``fmin`` to ``fmax``, back in Hz; bin
    ``k`` of the power spectrum is at ``k * sample_rate / n_fft`` Hz; filter ``m`` (1-based centre ``f_m``) weighs
    bin frequency ``f`` by ``max(0, min((f - f_{m-1}) / (f_m - f_{m-1}), (f_{m+1} - f) / (f_{m+1} - f_m)))``
    times ``2 / (f_{m+1} - f_{m-1})`` (each filter of unit area: librosa ``norm="slaney"``)."""
    first, last, weights = _mel_weights(int(sample_rate), int(n_fft), int(n_mels), float(fmin), float(fmax))
    p = np.asarray(power, dtype=np.float64)
    if p.ndim != 3 or p.shape[2] != int(n_fft) // 2 + 1:
        raise InputError(f"front-end: expected power spectra (n, frames, {int(n_fft) // 2 + 1}), got shape {p.shape}")
    # one (frames x bins) @ (bins x mels) product per window, over the bins with weight only
    return np.matmul(p[:, :, first:last], weights, out=np.empty((p.shape[0], p.shape[1], int(n_mels))))


@functools.lru_cache(maxsize=8)
def _mel_weights(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> tuple[int, int, np.ndarray]:
    """``(first, last, weights)``: bins ``first .. last - 1`` are the ones any mel filter weighs (the others are
    0 in every filter), ``weights`` the filterbank over them, transposed: ``(last - first, n_mels)``, read-only."""
    fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    used = np.flatnonzero(fb.any(axis=0))
    first, last = int(used[0]), int(used[-1]) + 1
    weights = np.ascontiguousarray(fb[:, first:last].T)
    weights.flags.writeable = False
    return first, last, weights


@step("log", choices={"base": ("e",)})
def log(x: np.ndarray, *, floor: float, base: str = "e") -> np.ndarray:
    """Natural logarithm of ``max(x, floor)``, in float64."""
    floored = np.maximum(np.asarray(x, dtype=np.float64), float(floor))
    return np.log(floored, out=floored)


@step("to_model_input", choices={"dtype": ("float32",), "layout": (
    "windows,frames,mels->windows,1,mels,frames", "h,w,c->1,c,h,w", "as-is")})
def to_model_input(x: np.ndarray, *, layout: str, dtype: str = "float32") -> np.ndarray:
    """Arrange as the model input and cast to float32, C-contiguous: ``windows,frames,mels->windows,1,mels,frames``
    (spectrograms: a channel axis, mels before frames), ``h,w,c->1,c,h,w`` (one image), ``as-is`` (arrays). The
    model file may take another layout (a TFLite file takes NHWC): the sidecar's ``input.layout`` says which;
    then move the channel axis last before quantizing."""
    x = np.asarray(x)
    if layout == "windows,frames,mels->windows,1,mels,frames":
        x = x.transpose(0, 2, 1).astype(np.float32)[:, None]
    elif layout == "h,w,c->1,c,h,w":
        x = x.transpose(2, 0, 1)[None]
    elif layout != "as-is":
        raise InputError(f"front-end step 'to_model_input': layout {layout!r} is not implemented here")
    return np.ascontiguousarray(x, dtype=np.float32)


# ---------------------------------------------------------------- images
@step("decode_image", choices={"color": ("rgb8",), "exif_orientation": ("apply",),
                            "alpha": ("composite",)})
def decode_image(path: Any, *, color: str = "rgb8", exif_orientation: str = "apply",
                 alpha: str = "composite", background: Sequence[int] = (255, 255, 255)) -> np.ndarray:
    """An image file (JPEG, PNG, BMP, WebP, ...) -> uint8 ``(H, W, 3)`` RGB. Decoding is Pillow's (JPEG:
    libjpeg-turbo with its defaults: the accurate integer IDCT ``JDCT_ISLOW`` and "fancy" (triangular) chroma
    upsampling, full size, no DCT scaling); a decoder with the fast integer IDCT (TensorFlow's ``decode_jpeg`` default)
    differs by up to 6 levels (mean 1) and changed 1 of 543 leaf predictions; without fancy upsampling by up to 43
    levels, 2 of 543 (``benchmarks/results/conformance_spread.md``). Then the EXIF orientation
    (tag 0x0112 of the EXIF block; absent, 0, 1 or above 8: as stored) turns the pixels as the tag says: 2 mirror left-right;
    3 rotate 180; 4 mirror top-bottom; 5 transpose (swap rows and columns); 6 rotate 90 clockwise; 7 transverse
    (rotate 90 clockwise, then mirror top-bottom); 8 rotate 90 counter-clockwise (numpy: 2 ``x[:, ::-1]``,
    3 ``x[::-1, ::-1]``, 4 ``x[::-1]``, 5 ``x.transpose(1, 0, 2)``, 6 ``np.rot90(x, -1)``,
    7 ``x.transpose(1, 0, 2)[::-1, ::-1]``, 8 ``np.rot90(x, 1)``). Grey, palette and CMYK are converted to RGB as
    Pillow's ``convert("RGB")`` does; an image with alpha (RGBA, LA, a palette with transparency) is composited
    over ``background`` (alpha 255 keeps the pixel, 0 gives the background, other values
    ``round((a * x + (255 - a) * background) / 255)``, exactly Pillow's ``alpha_composite`` integer blend: a
    tie cannot occur); 16-bit and
    float images are refused."""
    from edgekd.runtime.pixels import decode_rgb

    return decode_rgb(path, tuple(int(v) for v in background))


@step("check_size")
def check_size(rgb: np.ndarray, *, min_side: int, max_aspect: float) -> np.ndarray:
    """Refuse an image whose shorter side is below ``min_side`` pixels, or whose long/short side ratio is
    above ``max_aspect``; otherwise unchanged."""
    h, w = np.asarray(rgb).shape[:2]
    short, long = min(w, h), max(w, h)
    if short < min_side:
        raise InputError(f"image is {w}x{h} pixels; the shorter side must be at least {min_side} (front-end min_side)")
    if long / short > max_aspect:
        raise InputError(f"image is {w}x{h} pixels, aspect ratio {long / short:.2f}; more than front-end max_aspect "
                         f"{max_aspect:g} (the centre crop would keep {short / long:.0%} of it): crop it first")
    return rgb


@step("resize_shorter", choices={"filter": ("bilinear",), "antialias": (True,), "rounding": ("round-half-even",),
                              "library": ("pillow",)})
def resize_shorter(rgb: np.ndarray, *, shorter_side: int, filter: str = "bilinear", antialias: bool = True,
                   rounding: str = "round-half-even", library: str = "pillow") -> np.ndarray:
    """Scale so the shorter side is ``shorter_side``: the other side becomes
    ``max(shorter_side, round_half_even(long * shorter_side / short))``; unchanged when the size already matches.
    Antialiased bilinear in 8-bit fixed point, two separable passes: **first the horizontal pass** (along each
    row: it changes the width), **then the vertical pass** (along each column: it changes the height); a pass
    whose size does not change is skipped; each pass rounded to uint8. A pass from ``n`` to ``m`` samples: ``s = n / m``
    (float64), ``f = max(s, 1)``; output ``i`` has centre ``c = (i + 0.5) * s``, taps ``j`` from
    ``lo = max(trunc(c - f + 0.5), 0)`` to ``hi = min(trunc(c + f + 0.5), n)`` (exclusive), weights
    ``w_j = max(0, 1 - |(j - c + 0.5) * (1 / f)|)`` divided by their sum (float64), then
    ``k_j = trunc(0.5 + w_j * 2^22)`` (int32); the output is ``clip((2^21 + sum_j k_j * x_j) >> 22, 0, 255)`` with
    an arithmetic shift, per channel. This is Pillow's ``Image.resize(..., Resampling.BILINEAR)`` bit for bit up
    to Pillow 12; Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many pixels as
    the width, which an aspect-preserving resize does only for images taller than twice their width (up to 1 level
    of difference). ``library: pillow`` names this algorithm; edgekd runs it in numpy, whatever Pillow is
    installed."""
    from edgekd.runtime.pixels import resize_rgb, resized_size

    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"front-end: expected uint8 (H, W, 3) RGB, got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    nw, nh = resized_size(w, h, int(shorter_side))
    if (nw, nh) == (w, h):
        return rgb
    return resize_rgb(rgb, nw, nh)


@step("center_crop", choices={"offset": ("round-half-even((side - size) / 2)",)})
def center_crop(rgb: np.ndarray, *, size: int, offset: str = "round-half-even((side - size) / 2)") -> np.ndarray:
    """The centred ``size`` x ``size`` crop: left ``round_half_even((width - size) / 2)``, top
    ``round_half_even((height - size) / 2)`` (torchvision's ``CenterCrop`` rounding)."""
    from edgekd.runtime.pixels import crop_box

    h, w = np.asarray(rgb).shape[:2]
    left, top = crop_box(w, h, int(size))
    return rgb[top:top + int(size), left:left + int(size)]


@step("scale", choices={"dtype": ("float32",)})
def scale(x: np.ndarray, *, divide_by: float, dtype: str = "float32") -> np.ndarray:
    """Pixels to [0, 1]: ``float32(x) / float32(divide_by)``."""
    return np.asarray(x, dtype=np.float32) / np.float32(divide_by)


@step("normalize", choices={"axis": ("last",)})
def normalize(x: np.ndarray, *, mean: Sequence[float], std: Sequence[float], axis: str = "last") -> np.ndarray:
    """Per channel (the last axis), in float32: ``(x - mean[c]) / std[c]``."""
    return (np.asarray(x, np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


# ---------------------------------------------------------------- arrays
@step("load_npy", choices={"allow_pickle": (False,)})
def load_npy(path: Any, *, allow_pickle: bool = False) -> np.ndarray:
    """A ``.npy`` file (numpy format), read without unpickling anything; an ``.npz`` archive is refused."""
    # (this docstring is the published step reference) an empty or truncated file, a malformed header and a FIFO
    # are refused too, naming the file: edgekd.runtime.npyfile
    from edgekd.runtime.npyfile import read_npy

    return read_npy(path, "array")


@step("check_shape")
def check_shape(x: np.ndarray, *, shape: Sequence[int]) -> np.ndarray:
    """One example of ``shape`` (a batch axis of one is added) or a stack ``(n, *shape)``; it must be
    numeric and finite."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise InputError(f"expected a numeric array, got dtype {a.dtype}")
    want = tuple(int(d) for d in shape)
    if a.shape == want:
        a = a[None]
    elif a.ndim != len(want) + 1 or a.shape[1:] != want or a.shape[0] == 0:
        raise InputError(f"array of shape {list(a.shape)} fits neither the input shape {list(want)} nor a stack "
                         f"(n, {', '.join(map(str, want))})")
    if not np.all(np.isfinite(a)):
        raise InputError("the array contains NaN or infinity")
    return a


def where_of(path: Any) -> str:
    return os.fspath(path) if isinstance(path, (str, os.PathLike)) else "input"
