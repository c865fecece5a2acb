"""edgekd.runtime.audio: WAV decoding and one clear InputError per bad file (numpy only)."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from edgekd.errors import InputError
from edgekd.runtime.audio import read_wav, resample, wav_info

pytestmark = pytest.mark.device

SR = 2000


def write_pcm(path: Path, frames: bytes, *, sr: int = SR, width: int = 2, channels: int = 1) -> Path:
    """Write raw little-endian PCM frames with the stdlib wave module."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(sr)
        w.writeframes(frames)
    return path


def write_int16(path: Path, x: np.ndarray, *, sr: int = SR) -> Path:
    """Write float samples in [-1, 1] as 16-bit PCM."""
    return write_pcm(path, (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes(), sr=sr)


def write_riff(path: Path, fmt_body: bytes, data: bytes, extra_chunks: bytes = b"") -> Path:
    """Assemble a RIFF/WAVE file by hand (for formats the wave module cannot write)."""
    chunks = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body + extra_chunks
    chunks += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


def float_fmt(bits: int, *, extensible: bool = False) -> bytes:
    """A 'fmt ' chunk body for mono IEEE float at SR."""
    tag = 0xFFFE if extensible else 3
    body = struct.pack("<HHIIHH", tag, 1, SR, SR * bits // 8, bits // 8, bits)
    if extensible:  # cbSize, valid bits, channel mask, KSDATAFORMAT_SUBTYPE_IEEE_FLOAT
        guid = struct.pack("<H", 3) + bytes.fromhex("000000001000800000aa00389b71")
        body += struct.pack("<HHI", 22, bits, 4) + guid
    return body


def sine(freq: float, seconds: float, sr: int = SR) -> np.ndarray:
    return 0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)


def test_reads_pcm16_scaled_to_unit_range(tmp_path):
    path = write_pcm(tmp_path / "a.wav", np.array([0, 16384, -32768, 32767], "<i2").tobytes())
    x = read_wav(path, sample_rate=SR)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, [0.0, 0.5, -1.0, 32767 / 32768])


@pytest.mark.parametrize(
    "width, raw, expected",
    [
        (1, bytes([128, 192, 0]), [0.0, 0.5, -1.0]),
        (3, b"\x00\x00\x40" + b"\x00\x00\x80", [0.5, -1.0]),
        (4, np.array([2**30, -(2**31)], "<i4").tobytes(), [0.5, -1.0]),
    ],
    ids=["8bit-unsigned", "24bit", "32bit"],
)
def test_reads_other_pcm_widths(tmp_path, width, raw, expected):
    x = read_wav(write_pcm(tmp_path / "a.wav", raw, width=width), sample_rate=SR)
    np.testing.assert_allclose(x, expected)


@pytest.mark.parametrize("bits, extensible", [(32, False), (64, False), (32, True)])
def test_reads_ieee_float(tmp_path, bits, extensible):
    samples = np.array([0.25, -0.5, 1.0], dtype=f"<f{bits // 8}")
    x = read_wav(write_riff(tmp_path / "f.wav", float_fmt(bits, extensible=extensible), samples.tobytes()),
                 sample_rate=SR)
    np.testing.assert_allclose(x, samples)


def test_skips_unknown_chunks_with_odd_size(tmp_path):
    fmt = struct.pack("<HHIIHH", 1, 1, SR, 2 * SR, 2, 16)
    junk = b"LIST" + struct.pack("<I", 3) + b"abc" + b"\x00"  # odd size: one pad byte
    path = write_riff(tmp_path / "a.wav", fmt, np.array([16384], "<i2").tobytes(), extra_chunks=junk)
    np.testing.assert_allclose(read_wav(path, sample_rate=SR), [0.5])


def test_wav_info_reads_the_header(tmp_path):
    path = write_int16(tmp_path / "a.wav", np.zeros(5000))
    assert wav_info(path) == {"sample_rate": SR, "channels": 1, "sample_width_bytes": 2,
                              "n_samples": 5000, "duration_s": 2.5, "float": False}


def assert_input_error(path: Path, *fragments: str, **kwargs) -> None:
    """read_wav raises one InputError that starts with the path and holds every fragment."""
    with pytest.raises(InputError) as info:
        read_wav(path, sample_rate=SR, **kwargs)
    msg = str(info.value)
    assert msg.startswith(str(path)), msg
    for fragment in fragments:
        assert fragment in msg, msg


def test_missing_file(tmp_path):
    assert_input_error(tmp_path / "nope.wav", "not found")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert_input_error(path, "empty file (0 bytes)")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes())
    assert_input_error(path, "not a WAV file")


def test_truncated_header(tmp_path):
    path = write_int16(tmp_path / "a.wav", np.zeros(100))
    path.write_bytes(path.read_bytes()[:30])  # cut inside the 'fmt ' chunk
    assert_input_error(path, "truncated")


def test_truncated_data(tmp_path):
    path = write_int16(tmp_path / "a.wav", np.zeros(100))
    path.write_bytes(path.read_bytes()[:-50])
    assert_input_error(path, "truncated", "data chunk")


def test_no_samples(tmp_path):
    assert_input_error(write_pcm(tmp_path / "a.wav", b""), "no samples")


def test_unsupported_format(tmp_path):
    alaw = struct.pack("<HHIIHH", 6, 1, SR, SR, 1, 8)
    assert_input_error(write_riff(tmp_path / "a.wav", alaw, b"\x00" * 10), "unsupported sample format")


def test_non_finite_float_samples(tmp_path):
    data = np.array([0.0, np.nan], "<f4").tobytes()
    assert_input_error(write_riff(tmp_path / "a.wav", float_fmt(32), data), "NaN")


def test_stereo(tmp_path):
    path = write_pcm(tmp_path / "st.wav", np.zeros(200, "<i2").tobytes(), channels=2)
    assert_input_error(path, "stereo (2 channels); edgekd expects mono: mix down first")


def test_wrong_sample_rate(tmp_path):
    path = write_int16(tmp_path / "a.wav", np.zeros(4000), sr=4000)
    assert_input_error(path, "4000 Hz", "2000 Hz", "resample: true")


def test_too_short(tmp_path):
    path = write_int16(tmp_path / "a.wav", np.zeros(2000))
    assert_input_error(path, "1.000 s", "at least 3 s", min_seconds=3.0)


def test_wav_info_rejects_corrupt_file(tmp_path):
    path = tmp_path / "a.wav"
    path.write_bytes(b"RIFX0000WAVE")
    with pytest.raises(InputError, match="not a WAV file"):
        wav_info(path)


def test_resample_true_resamples(tmp_path):
    path = write_int16(tmp_path / "a.wav", sine(100.0, 2.0, sr=4000), sr=4000)
    x = read_wav(path, sample_rate=SR, resample=True)
    assert x.shape == (2 * SR,)
    peak_hz = np.argmax(np.abs(np.fft.rfft(x))) * SR / x.size
    assert peak_hz == pytest.approx(100.0)
    np.testing.assert_allclose(x, sine(100.0, 2.0), atol=1e-3)


def test_resample_length_rounds(tmp_path):
    assert resample(np.zeros(1001), 4000, 2000).shape == (500,)
