"""Golden inputs that cover what real files do, made from real items.

A device meets photos and recordings in forms the test split never shows: a phone's 12-megapixel JPEG (the
resize shrinks it, with antialiasing), a thumbnail (the resize enlarges it), odd sizes (the crop offsets
round), an EXIF orientation (the decoder must turn the pixels), a picture taller than twice its width (where
Pillow 13 and Pillow 12 resize differently), a PNG with transparency; a WAV in 24-bit or float samples, with an
extensible header or extra chunks. ``image_variants`` and ``wav_variants`` write those forms of one real item,
so the golden vectors (``edgekd.runtime.golden``) test every path of the front-end, not only the easy one.

numpy + Pillow (images) or the standard library (WAV): it runs on the device too.

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> from edgekd.runtime.golden_inputs import wav_variants
    >>> folder = Path(tempfile.mkdtemp())
    >>> samples = (np.sin(np.arange(4000) / 7.0) * 0.3).astype(np.float32)
    >>> [p.name for p in wav_variants(samples, 2000, folder, "a")]
    ['a-pcm16.wav', 'a-pcm24-extensible.wav', 'a-float32-list-chunk.wav']
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

#: the long side of the "phone photo" variant (a 12-megapixel camera: 4032 x 3024)
PHONE_LONG_SIDE = 4032


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def write_wav(path: Path, samples: np.ndarray, sample_rate: int, encoding: str, *, extensible: bool = False,
              extra_chunk: bool = False) -> Path:
    """Write mono ``samples`` (float, full scale 1) as ``encoding`` (``pcm16``, ``pcm24``, ``float32``).

    PCM values are ``round_half_even(x * 2^(bits-1))`` clipped to the integer range, so reading them back gives
    the quantized signal the golden vectors record.
    """
    x = np.asarray(samples, dtype=np.float64)
    if encoding == "float32":
        data, tag, bits = x.astype("<f4").tobytes(), 3, 32
    elif encoding in ("pcm16", "pcm24"):
        bits = 16 if encoding == "pcm16" else 24
        top = 2 ** (bits - 1)
        ints = np.clip(np.round(x * top), -top, top - 1).astype("<i4")
        data = ints.astype("<i2").tobytes() if bits == 16 else ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        tag = 1
    else:
        raise ValueError(f"unknown WAV encoding {encoding!r}")
    block = bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, 1, sample_rate, sample_rate * block, block, bits)
    if extensible:  # cbSize, valid bits, channel mask, sub-format GUID (its first two bytes are the format tag)
        fmt += struct.pack("<HHI", 22, bits, 4) + struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
    body = b"WAVE" + _chunk(b"fmt ", fmt)
    if extra_chunk:
        body += _chunk(b"LIST", b"INFOISFT" + struct.pack("<I", 7) + b"edgekd\0\0")
    body += _chunk(b"data", data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def wav_variants(samples: np.ndarray, sample_rate: int, folder: Path, stem: str) -> list[Path]:
    """One real excerpt as three WAV files a reader must all accept: PCM 16-bit; PCM 24-bit with a
    WAVE_FORMAT_EXTENSIBLE header; IEEE float 32-bit with a LIST chunk before the samples."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_wav(folder / f"{stem}-pcm16.wav", samples, sample_rate, "pcm16"),
        write_wav(folder / f"{stem}-pcm24-extensible.wav", samples, sample_rate, "pcm24", extensible=True),
        write_wav(folder / f"{stem}-float32-list-chunk.wav", samples, sample_rate, "float32", extra_chunk=True),
    ]


def image_variants(photo: Path, folder: Path, stem: str, *, phone: bool = True) -> list[Path]:
    """One real photo in the forms a phone app meets (see the module docstring), as files.

    ``phone=False`` leaves out the 12-megapixel JPEG (a few MB of pixels to decode) where speed matters.
    """
    from edgekd.runtime.pixels import _pil, decode_rgb, resize_rgb

    Image, _ = _pil()
    folder.mkdir(parents=True, exist_ok=True)
    rgb = decode_rgb(photo)
    h, w = rgb.shape[:2]
    out = [folder / f"{stem}-original{photo.suffix.lower()}"]
    out[0].write_bytes(Path(photo).read_bytes())
    if phone:
        scale = PHONE_LONG_SIDE / max(h, w)
        big = resize_rgb(rgb, round(w * scale), round(h * scale))
        out.append(_save(Image.fromarray(big), folder / f"{stem}-phone-{big.shape[1]}x{big.shape[0]}.jpg"))
    small = resize_rgb(rgb, max(w // 3, 33), max(h // 3, 33))
    out.append(_save(Image.fromarray(small), folder / f"{stem}-thumbnail-{small.shape[1]}x{small.shape[0]}.png"))
    odd = rgb[: h - (1 - h % 2) - 2, 1: w - (1 - w % 2) - 2]  # odd width and height, off-centre
    out.append(_save(Image.fromarray(odd), folder / f"{stem}-odd-{odd.shape[1]}x{odd.shape[0]}.png"))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned a quarter counter-clockwise; the tag says to show it turned clockwise
    stored = np.ascontiguousarray(np.rot90(rgb, k=1))
    out.append(_save(Image.fromarray(stored), folder / f"{stem}-exif6.jpg", exif=exif))
    side = max(w, h, 300)  # taller than twice its width, and shrunk by the resize (Pillow 13 turns the pass order)
    tall = resize_rgb(rgb, side, round(side * 2.3))
    out.append(_save(Image.fromarray(tall), folder / f"{stem}-tall-{tall.shape[1]}x{tall.shape[0]}.png"))
    clear = np.arange(w)[None, :].repeat(h, 0) < w // 4  # a transparent band: composited over the background
    alpha = np.dstack([rgb, np.where(clear, 0, 255).astype(np.uint8)])
    out.append(_save(Image.fromarray(alpha, "RGBA"), folder / f"{stem}-alpha.png"))
    return out


def _save(image, path: Path, **options) -> Path:
    kwargs = {"quality": 90} if path.suffix == ".jpg" else {}
    image.save(path, **kwargs, **options)
    return path
