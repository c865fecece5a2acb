"""WAV reading for the device side: stdlib + numpy only.

The RIFF/WAVE container is parsed here (the stdlib ``wave`` module cannot read
IEEE float files). Every bad file becomes one ``InputError`` whose message
starts with the file path and says what is wrong, so the CLI prints one line
instead of a traceback.

Degenerate recordings are refused by ``check_signal`` (the audio front-ends' ``read_wav``
step runs it, on training and on the device alike), because a model scores them anyway
and the score means nothing:

- non-finite samples (NaN, infinity);
- a float WAV whose samples exceed ±``FLOAT_LIMIT`` (float WAVs hold samples
  scaled to ±1; 3e38 is a broken file, not a loud one);
- silence: a constant signal, or an RMS below ``SILENCE_RMS`` of full scale (−80 dBFS);
- clipping: more than ``CLIP_FRACTION`` of the samples at full scale (the most in
  the 1,084 PhysioNet dev recordings is 6.6 %, a0314).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np

from edgekd.errors import InputError

PathLike = Union[str, "os.PathLike[str]"]

_PCM = 0x0001
_IEEE_FLOAT = 0x0003
_EXTENSIBLE = 0xFFFE
_SUPPORTED = {(_PCM, 8), (_PCM, 16), (_PCM, 24), (_PCM, 32), (_IEEE_FLOAT, 32), (_IEEE_FLOAT, 64)}

FLOAT_LIMIT = 8.0  # largest |sample| accepted in a float WAV (full scale is 1)
SILENCE_RMS = 1e-4  # RMS below this (-80 dBFS) is silence
CLIP_FRACTION = 0.10  # more samples than this at full scale: clipped beyond use


@dataclass(frozen=True)
class _Header:
    """What the RIFF header says: the sample format and where the samples are."""

    format_tag: int
    channels: int
    sample_rate: int
    bits: int
    block_align: int
    data_offset: int
    n_frames: int


def _fail(path: PathLike, what: str) -> InputError:
    return InputError(f"{path}: {what}")


def _read_exact(f: BinaryIO, n: int, path: PathLike, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _fail(path, f"truncated WAV file: the {what} is cut short")
    return data


def _parse_fmt(body: bytes, path: PathLike) -> tuple[int, int, int, int, int]:
    """Return (format_tag, channels, sample_rate, bits, block_align) from a 'fmt ' chunk."""
    if len(body) < 16:
        raise _fail(path, f"corrupt WAV header: 'fmt ' chunk is {len(body)} bytes, need at least 16")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE:
        if len(body) < 26:
            raise _fail(path, "corrupt WAV header: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is too short")
        tag = struct.unpack("<H", body[24:26])[0]  # first two bytes of the sub-format GUID
    if channels == 0 or rate == 0 or bits == 0:
        raise _fail(path, f"corrupt WAV header: {channels} channels, {rate} Hz, {bits} bits per sample")
    if (tag, bits) not in _SUPPORTED:
        raise _fail(
            path,
            f"unsupported sample format (format tag {tag:#06x}, {bits} bits); "
            "edgekd reads PCM 8/16/24/32-bit integer and IEEE float 32/64-bit WAV",
        )
    if block_align != channels * bits // 8:
        raise _fail(path, f"corrupt WAV header: block align {block_align} does not match "
                          f"{channels} channels of {bits} bits")
    return tag, channels, rate, bits, block_align


def _parse_header(path: PathLike) -> _Header:
    """Walk the RIFF chunks of ``path`` without reading the samples."""
    from edgekd.inputfile import regular_file

    p = regular_file(path, "WAV")  # a FIFO or device is refused before it is opened
    size = p.stat().st_size
    if size == 0:
        raise _fail(path, "empty file (0 bytes)")
    fmt: tuple[int, int, int, int, int] | None = None
    data: tuple[int, int] | None = None
    try:
        with open(p, "rb") as f:
            riff = f.read(12)
            if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
                raise _fail(path, "not a WAV file (no RIFF/WAVE header)")
            while fmt is None or data is None:
                chunk = f.read(8)
                if len(chunk) < 8:  # end of file (a stray pad byte at the end is tolerated)
                    break
                cid, csize = struct.unpack("<4sI", chunk)
                start = f.tell()
                if cid == b"fmt ":
                    fmt = _parse_fmt(_read_exact(f, csize, path, "'fmt ' chunk"), path)
                elif cid == b"data":
                    if start + csize > size:
                        raise _fail(path, f"truncated WAV file: data chunk declares {csize} bytes "
                                          f"but only {size - start} are present")
                    data = (start, csize)
                f.seek(start + csize + (csize & 1))
    except OSError as e:
        raise _fail(path, f"cannot read the file ({e.strerror or e})") from None
    if fmt is None:
        raise _fail(path, "corrupt WAV header: no 'fmt ' chunk")
    if data is None:
        raise _fail(path, "no samples: the WAV file has no 'data' chunk")
    tag, channels, rate, bits, block_align = fmt
    n_frames = data[1] // block_align  # a trailing partial frame is ignored
    if n_frames == 0:
        raise _fail(path, "no samples: the data chunk is empty")
    return _Header(tag, channels, rate, bits, block_align, data[0], n_frames)


def wav_info(path: PathLike) -> dict:
    """Describe a WAV file from its header alone (no samples are read).

    Returns:
        dict with sample_rate, channels, sample_width_bytes, n_samples (per
        channel) and duration_s.

    Raises:
        InputError: missing, empty, corrupt or sample-less file.
    """
    h = _parse_header(path)
    return {
        "sample_rate": h.sample_rate,
        "channels": h.channels,
        "sample_width_bytes": h.bits // 8,
        "n_samples": h.n_frames,
        "duration_s": h.n_frames / h.sample_rate,
        "float": h.format_tag == _IEEE_FLOAT,
    }


def _decode(raw: bytes, tag: int, bits: int) -> np.ndarray:
    """Little-endian sample bytes -> float32 in [-1, 1] (float files as stored)."""
    if tag == _IEEE_FLOAT:
        return np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float32)
    if bits == 8:  # 8-bit WAV is unsigned, centred on 128
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0)
    if bits == 24:  # place the 3 bytes in the top of an int32, keeping the sign
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        wide = np.zeros((b.shape[0], 4), dtype=np.uint8)
        wide[:, 1:] = b
        return (wide.view("<i4").ravel() / 2.0**31).astype(np.float32)
    ints = np.frombuffer(raw, dtype="<i2" if bits == 16 else "<i4")
    return (ints / float(2 ** (bits - 1))).astype(np.float32)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling by zero-padding / truncating the spectrum.

    The same method as ``scipy.signal.resample``: exact for periodic band-limited
    signals, with small edge effects otherwise. The output has
    ``round(len(x) * sr_out / sr_in)`` samples.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise InputError(f"resample: expected a 1-D signal, got shape {x.shape}")
    if sr_in <= 0 or sr_out <= 0:
        raise InputError(f"resample: sample rates must be positive, got {sr_in} and {sr_out}")
    n_in = x.shape[0]
    n_out = int(round(n_in * sr_out / sr_in))
    if n_in == 0 or n_out == 0 or sr_in == sr_out:
        return x[:n_out].astype(np.float32)
    spec = np.fft.rfft(x)
    out = np.zeros(n_out // 2 + 1, dtype=spec.dtype)
    n = min(n_in, n_out)
    out[: n // 2 + 1] = spec[: n // 2 + 1]
    if n % 2 == 0:  # the shared Nyquist bin: fold (down) or split (up) its energy
        out[n // 2] *= 2.0 if n_out < n_in else 0.5
    return (np.fft.irfft(out, n_out) * (n_out / n_in)).astype(np.float32)


_resample = resample  # read_wav's `resample` flag shadows the function


def check_signal(x: np.ndarray, path: PathLike, *, is_float: bool = False, float_limit: float = FLOAT_LIMIT,
                 silence_rms: float = SILENCE_RMS, clip_fraction: float = CLIP_FRACTION) -> None:
    """Refuse a degenerate recording (see the module docstring for the rules), naming the file.

    Raises:
        InputError: non-finite samples, float samples far beyond full scale, silence, or heavy clipping.
    """
    if not np.all(np.isfinite(x)):
        raise _fail(path, "the samples contain NaN or infinity")
    if x.size == 0:
        raise _fail(path, "no samples")
    peak = float(np.max(np.abs(x)))
    if is_float and peak > float_limit:
        raise _fail(path, f"float samples reach {peak:.3g}; a float WAV holds samples scaled to ±1 "
                          f"(more than ±{float_limit:g} is a broken file, not a loud one)")
    if peak == 0.0 or float(np.ptp(x)) == 0.0:
        raise _fail(path, "the signal is constant (silence): nothing to classify")
    rms = float(np.sqrt(np.mean(np.square(x - x.mean(), dtype=np.float64))))
    if rms < silence_rms:
        raise _fail(path, f"the signal is silent (RMS {20 * np.log10(max(rms, 1e-12)):.0f} dBFS, below "
                          f"{20 * np.log10(silence_rms):.0f} dBFS)")
    clipped = float(np.mean(np.abs(x) >= 0.999))
    if clipped > clip_fraction:
        raise _fail(path, f"{clipped:.0%} of the samples are at full scale (clipped; at most "
                          f"{clip_fraction:.0%} is accepted)")


def read_wav(
    path: PathLike,
    *,
    sample_rate: int,
    resample: bool = False,
    min_seconds: float = 0.0,
    check: bool = False,
) -> np.ndarray:
    """Read a mono WAV file as float32 samples scaled to [-1, 1].

    Args:
        path: the WAV file (PCM 8/16/24/32-bit or IEEE float 32/64-bit).
        sample_rate: the rate the recipe expects.
        resample: resample a file at another rate instead of rejecting it.
        min_seconds: reject files shorter than this.
        check: also refuse a degenerate recording (``check_signal``; the audio front-ends' ``read_wav`` step does).

    Raises:
        InputError: unreadable or corrupt file, more than one channel, wrong
            sample rate (unless ``resample``), or shorter than ``min_seconds``.
    """
    h = _parse_header(path)
    if h.channels != 1:
        what = "stereo (2 channels)" if h.channels == 2 else f"{h.channels} channels"
        raise _fail(path, f"{what}; edgekd expects mono: mix down first")
    if h.sample_rate != sample_rate and not resample:
        raise _fail(
            path,
            f"sample rate is {h.sample_rate} Hz but the recipe expects {sample_rate} Hz; "
            "set `resample: true` in the recipe's data section to resample on purpose",
        )
    duration = h.n_frames / h.sample_rate
    if duration < min_seconds:
        raise _fail(path, f"too short: {duration:.3f} s of audio, need at least {min_seconds:g} s")
    try:
        with open(path, "rb") as f:
            f.seek(h.data_offset)
            raw = _read_exact(f, h.n_frames * h.block_align, path, "data chunk")
    except OSError as e:
        raise _fail(path, f"cannot read the file ({e.strerror or e})") from None
    x = _decode(raw, h.format_tag, h.bits)
    if not np.all(np.isfinite(x)):
        raise _fail(path, "the samples contain NaN or infinity")
    if check:
        check_signal(x, path, is_float=h.format_tag == _IEEE_FLOAT)
    if h.sample_rate != sample_rate:
        x = _resample(x, h.sample_rate, sample_rate)
        if x.size == 0:
            raise _fail(path, f"no samples left after resampling {h.n_frames} samples "
                              f"from {h.sample_rate} Hz to {sample_rate} Hz")
    return x


def wav_excerpt(src: PathLike, dst: PathLike, frames: int) -> int:
    """Write the first ``frames`` samples of ``src`` to ``dst`` as a WAV of the same sample format (bytes copied).

    Returns:
        The number of frames written (fewer when the recording is shorter).
    """
    h = _parse_header(src)
    n = min(int(frames), h.n_frames)
    with open(src, "rb") as f:
        f.seek(h.data_offset)
        data = f.read(n * h.block_align)
    tag = _PCM if h.format_tag == _PCM else _IEEE_FLOAT
    fmt = struct.pack("<HHIIHH", tag, h.channels, h.sample_rate, h.sample_rate * h.block_align, h.block_align, h.bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    Path(dst).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return n
