"""edgekd.runtime.frontend: parameters, band-pass, windowing and log-mel (numpy only)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgekd.errors import InputError
from edgekd.runtime.frontend import AudioFrontend, butter_bandpass_gain, mel_filterbank

pytestmark = pytest.mark.device

FE = AudioFrontend()


def pcg_like(seconds: float, sr: int = 2000, seed: int = 0) -> np.ndarray:
    """Synthetic heart sound: 60 Hz bursts at 1.2 beats/s, noise, DC offset and drift."""
    t = np.arange(int(seconds * sr)) / sr
    beats = np.exp(-(((t % (1 / 1.2)) - 0.05) ** 2) / 2e-4) * np.sin(2 * np.pi * 60 * t)
    noise = 0.05 * np.random.default_rng(seed).standard_normal(t.size)
    return beats + noise + 0.3 + 0.2 * np.sin(2 * np.pi * 0.5 * t)


def tone_gain_db(freq: float) -> float:
    """Gain of preprocess() for a pure tone, measured away from the edges."""
    x = np.sin(2 * np.pi * freq * np.arange(20 * FE.sample_rate) / FE.sample_rate)
    y = FE.preprocess(x)
    mid = slice(5 * FE.sample_rate, 15 * FE.sample_rate)
    return 20 * np.log10(np.sqrt(np.mean(y[mid].astype(np.float64) ** 2) / np.mean(x[mid] ** 2)))


def test_runtime_imports_only_numpy():
    code = ("import sys, edgekd.runtime.frontend, edgekd.runtime.audio, edgekd.runtime.labelled; "
            "bad = {'scipy', 'torch', 'tensorflow', 'librosa', 'soundfile', 'onnx'} & set(sys.modules); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_default_shapes():
    assert (FE.window_samples, FE.hop_samples, FE.n_frames) == (6000, 2000, 180)
    assert FE.input_shape == (1, 32, 180)


def test_dict_round_trip():
    fe = AudioFrontend(n_mels=40, hop_s=0.5)
    assert AudioFrontend.from_dict(fe.to_dict()) == fe


def test_config_hash_is_stable_and_sensitive():
    assert AudioFrontend(band_low_hz=25).config_hash() == FE.config_hash()  # int 25 == 25.0
    assert AudioFrontend(n_mels=40).config_hash() != FE.config_hash()


def test_from_dict_unknown_key_suggests():
    with pytest.raises(InputError, match=r"unknown key 'n_mel' \(did you mean 'n_mels'\?\)"):
        AudioFrontend.from_dict({"n_mel": 40})


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ({"sample_rate": 0}, "'sample_rate' must be positive"),
        ({"n_fft": "256"}, "'n_fft' must be an integer"),
        ({"hop_s": True}, "'hop_s' must be a number"),
        ({"log_floor": float("nan")}, "'log_floor' must be finite"),
        ({"band_low_hz": 400.0}, "must be below band_high_hz"),
        ({"band_high_hz": 1000.0}, "below half the sample rate"),
        ({"fmax": 1200.0}, "at most half the sample rate"),
        ({"fmin": 600.0}, "must be below fmax"),
        ({"n_fft": 8000}, "longer than the window"),
        ({"n_mels": 128}, "cover no FFT bin"),
    ],
)
def test_from_dict_rejects_bad_values(bad, fragment):
    with pytest.raises(InputError, match=fragment):
        AudioFrontend.from_dict(bad)


def test_bandpass_gain_is_minus_3db_at_the_edges():
    gain = butter_bandpass_gain(np.array([0.0, 25.0, 400.0, 1000.0]), 2000, 25.0, 400.0, 4)
    np.testing.assert_allclose(gain, [0.0, 2**-0.5, 2**-0.5, 0.0], atol=1e-12)


def test_preprocess_removes_dc_and_keeps_length():
    x = pcg_like(10.0)
    y = FE.preprocess(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert abs(float(y.mean())) < 1e-3


def test_preprocess_stops_5hz_and_passes_100hz():
    """5 Hz is attenuated by more than 40 dB; 100 Hz passes within 0.1 dB."""
    assert tone_gain_db(5.0) < -40.0
    assert abs(tone_gain_db(100.0)) < 0.1


def test_preprocess_handles_a_signal_shorter_than_the_padding():
    assert FE.preprocess(np.arange(10.0)).shape == (10,)


def test_windows_follow_the_hop():
    x = np.arange(FE.window_samples + 2 * FE.hop_samples, dtype=np.float32)
    w = FE.windows(x)
    assert w.shape == (3, FE.window_samples) and w.dtype == np.float32
    np.testing.assert_array_equal(w[2], x[2 * FE.hop_samples:])


@pytest.mark.parametrize("extra, n_windows", [(0, 1), (1999, 1), (2000, 2)])
def test_windows_drop_the_partial_tail(extra, n_windows):
    assert FE.windows(np.zeros(FE.window_samples + extra)).shape[0] == n_windows


def test_windows_reject_a_short_recording():
    with pytest.raises(InputError, match=r"recording is 2\.50 s long, shorter than one 3 s window"):
        FE.windows(np.zeros(5000))


def test_log_mel_ignores_the_level():
    w = FE.windows(FE.preprocess(pcg_like(4.0)))
    np.testing.assert_allclose(FE.log_mel(w * 100.0), FE.log_mel(w), atol=1e-4)


def test_log_mel_of_silence_is_the_floor():
    out = FE.log_mel(np.zeros((2, FE.window_samples)))
    np.testing.assert_allclose(out, np.log(FE.log_floor))


def test_features_shape_and_dtype():
    f = FE.features(pcg_like(12.5))
    assert f.shape == (10, 1, 32, 180) and f.dtype == np.float32
    assert np.all(np.isfinite(f))


def test_mel_filterbank_is_cached_and_read_only():
    fb = mel_filterbank(2000, 256, 32, 25.0, 500.0)
    assert fb.shape == (32, 129) and fb is mel_filterbank(2000, 256, 32, 25.0, 500.0)
    assert not fb.flags.writeable
