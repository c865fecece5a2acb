"""The numpy front end against the libraries it replaces (librosa, scipy).

Not a device test: it needs librosa and scipy, which the device never has.
Tolerances are stated per test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekd.runtime.audio import read_wav, resample
from edgekd.runtime.frontend import AudioFrontend, butter_bandpass_gain, mel_filterbank

librosa = pytest.importorskip("librosa")
signal = pytest.importorskip("scipy.signal")
wavfile = pytest.importorskip("scipy.io.wavfile")

FE = AudioFrontend()
REAL_WAV = Path(__file__).parent / "data" / "a0011.wav"  # PhysioNet 2016 training-a, 2000 Hz PCM16


def test_mel_filterbank_matches_librosa():
    """Max abs difference < 1e-6 (librosa's own output is float32)."""
    ref = librosa.filters.mel(sr=FE.sample_rate, n_fft=FE.n_fft, n_mels=FE.n_mels, fmin=FE.fmin,
                              fmax=FE.fmax, htk=False, norm="slaney")
    ours = mel_filterbank(FE.sample_rate, FE.n_fft, FE.n_mels, FE.fmin, FE.fmax)
    assert np.abs(ours - ref).max() < 1e-6


def test_log_mel_matches_librosa_on_a_real_window():
    """Max abs difference < 1e-4 in log units wherever the mel energy is above 1e-4."""
    windows = FE.windows(FE.preprocess(read_wav(REAL_WAV, sample_rate=FE.sample_rate)))[:2]
    ours = FE.log_mel(windows)
    for w, got in zip(windows.astype(np.float64), ours):
        w = w / (np.sqrt(np.mean(w**2)) + 1e-8)
        mel = librosa.feature.melspectrogram(
            y=w, sr=FE.sample_rate, n_fft=FE.n_fft, hop_length=FE.hop_length, window="hann",
            center=False, power=2.0, n_mels=FE.n_mels, fmin=FE.fmin, fmax=FE.fmax, htk=False, norm="slaney")
        ref = np.log(np.maximum(mel, FE.log_floor))
        assert got.shape == ref.shape
        loud = mel > 1e-4
        assert np.abs(got - ref)[loud].max() < 1e-4


def test_bandpass_gain_matches_scipy_butter():
    """|H| at the rfft bin frequencies, max abs difference < 1e-6."""
    sos = signal.butter(FE.band_order, [FE.band_low_hz, FE.band_high_hz], btype="band",
                        fs=FE.sample_rate, output="sos")
    freqs = np.fft.rfftfreq(8192, 1.0 / FE.sample_rate)
    _, h = signal.sosfreqz(sos, worN=freqs, fs=FE.sample_rate)
    ours = butter_bandpass_gain(freqs, FE.sample_rate, FE.band_low_hz, FE.band_high_hz, FE.band_order)
    assert np.abs(ours - np.abs(h)).max() < 1e-6


def test_read_wav_matches_scipy_wavfile():
    """PCM16 decoding is exact: samples / 32768."""
    _, ref = wavfile.read(REAL_WAV)
    np.testing.assert_array_equal(read_wav(REAL_WAV, sample_rate=FE.sample_rate), ref / 32768.0)


@pytest.mark.parametrize("n, sr_in, sr_out", [(1000, 4000, 2000), (999, 2000, 4000), (1234, 3000, 2000)])
def test_resample_matches_scipy(n, sr_in, sr_out):
    """Same FFT method as scipy.signal.resample: max abs difference < 1e-5 (float32 output)."""
    x = np.random.default_rng(0).standard_normal(n)
    ref = signal.resample(x, int(round(n * sr_out / sr_in)))
    assert np.abs(resample(x, sr_in, sr_out) - ref).max() < 1e-5
