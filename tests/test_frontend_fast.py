"""The vectorised audio steps: the same numbers as the straightforward formulae, whatever the batch, inputs untouched."""

from __future__ import annotations

import numpy as np
import pytest

from edgekd.runtime import steps as S

pytestmark = pytest.mark.device

HEART = [  # the shipped heart front-end after read_wav (benchmarks/results/artifacts/heart/*.edgekd.json)
    {"step": "remove_mean"},
    {"step": "bandpass", "sample_rate": 2000, "low_hz": 25.0, "high_hz": 800.0, "order": 4},
    {"step": "frame", "window_samples": 6000, "hop_samples": 3000},
    {"step": "unit_rms", "epsilon": 1e-8},
    {"step": "power_spectrogram", "n_fft": 256, "hop_length": 32},
    {"step": "mel", "sample_rate": 2000, "n_fft": 256, "n_mels": 32, "fmin": 25.0, "fmax": 800.0},
    {"step": "log", "floor": 1e-6},
    {"step": "to_model_input", "layout": "windows,frames,mels->windows,1,mels,frames"},
]


def signal(seconds: float = 13.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 2000)) / 2000
    return (np.sin(2 * np.pi * 60 * t) * (t % 0.8 < 0.1) + 0.1 * rng.standard_normal(t.size) + 0.3).astype(np.float32)


def plain(x: np.ndarray) -> list[np.ndarray]:
    """The heart steps written out the plain way (np.pad, a gain per call, a loop-free stack of FFTs, the whole
    filterbank): every step's output."""
    out = []
    x = x.astype(np.float64) - x.astype(np.float64).mean()
    out.append(x)
    pad = min(1000, x.size - 1)
    padded = np.pad(x, pad, mode="reflect")
    n = S.next_fast_len(padded.size)
    gain = S.butter_bandpass_gain(np.fft.rfftfreq(n, 1 / 2000), 2000, 25.0, 800.0, 4)
    x = np.fft.irfft(np.fft.rfft(padded, n) * gain, n)[pad:pad + x.size].astype(np.float32)
    out.append(x)
    w = np.lib.stride_tricks.sliding_window_view(x, 6000)[::3000].copy()
    out.append(w)
    w = w.astype(np.float64)
    w = w / (np.sqrt(np.mean(w * w, axis=1, keepdims=True)) + 1e-8)
    out.append(w)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(256) / 256)
    spec = np.fft.rfft(np.lib.stride_tricks.sliding_window_view(w, 256, axis=1)[:, ::32] * hann, axis=-1)
    p = spec.real ** 2 + spec.imag ** 2
    out.append(p)
    m = p @ S.mel_filterbank(2000, 256, 32, 25.0, 800.0).T
    out.append(m)
    out.append(np.log(np.maximum(m, 1e-6)))
    return out


def test_each_step_gives_the_plain_formula():
    record: list = []
    S.run_steps(HEART, signal(), record)
    for (name, got), want in zip(record, plain(signal())):
        assert got.shape == want.shape and got.dtype == want.dtype, name
        if name in ("remove_mean", "bandpass", "frame", "unit_rms", "power_spectrogram"):
            assert np.array_equal(got, want), name
        else:  # mel over the weighted bins only, one product per window: the same sums, maybe in another order
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * float(np.abs(want).max()), err_msg=name)


def test_a_window_gets_the_same_figures_alone_or_with_others():
    record: list = []
    S.run_steps(HEART, signal(21.0), record)
    windows = dict(record)["unit_rms"]
    assert len(windows) >= 5
    together = S.run_steps(HEART[4:], windows)
    for i in range(len(windows)):
        assert np.array_equal(S.run_steps(HEART[4:], windows[i:i + 1])[0], together[i])
    assert np.array_equal(S.run_steps(HEART[4:], windows[1:4]), together[1:4])


def test_the_steps_leave_their_inputs_untouched():
    x = signal()
    kept = x.copy()
    record: list = []
    S.run_steps(HEART, x, record)
    assert np.array_equal(x, kept)
    for i, (name, value) in enumerate(record[:-1]):  # every step's input is the step before's output
        before = value.copy()
        S.run_steps(HEART[i + 1:i + 2], value)
        assert np.array_equal(value, before), HEART[i + 1]["step"]
    as64 = x.astype(np.float64)
    S.remove_mean(as64)
    S.unit_rms(as64.reshape(1, -1))
    assert np.array_equal(as64, kept.astype(np.float64))


def test_the_band_pass_gain_is_computed_once_per_length_and_read_only():
    S._bandpass_gain.cache_clear()
    S.bandpass(signal(), sample_rate=2000, low_hz=25.0, high_hz=800.0, order=4)
    S.bandpass(signal(seed=1), sample_rate=2000, low_hz=25.0, high_hz=800.0, order=4)
    info = S._bandpass_gain.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    gain = S._bandpass_gain(18000, 2000.0, 25.0, 800.0, 4)
    assert not gain.flags.writeable and not S.periodic_hann(256).flags.writeable


def test_a_short_or_odd_signal_is_refused_by_name():
    with pytest.raises(S.InputError, match="1-D"):
        S.bandpass(np.zeros((2, 3)), sample_rate=2000, low_hz=25.0, high_hz=800.0, order=4)
    with pytest.raises(S.InputError, match="n_fft 256"):
        S.power_spectrogram(np.zeros((1, 100)), n_fft=256, hop_length=32)
    assert S.bandpass(np.array([0.5]), sample_rate=2000, low_hz=25.0, high_hz=800.0, order=4).shape == (1,)
