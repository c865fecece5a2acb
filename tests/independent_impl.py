"""An independent implementation of edgekd's device contract, for tests: written from the sidecar schema and
docs/sidecar-v2.md alone, the way an app developer in another language would.

It imports nothing from ``edgekd``: WAV files are read with scipy, the band-pass magnitude comes from
``scipy.signal.butter``/``sosfreqz``, framing and the spectrogram from librosa (``center=False``), the mel
filters from ``librosa.filters.mel``, photos are decoded, rotated, resized and cropped with Pillow; the model
runs in LiteRT or ONNX Runtime directly. Each step follows its description in docs/sidecar-v2.md.

``skip`` leaves steps out, to show what ``edgekd conformance`` says about an implementation missing one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np


def read_sidecar(artifact: Path) -> dict[str, Any]:
    return json.loads(Path(artifact).with_suffix(".edgekd.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------ audio, step by step
def _read_wav(path: Path, p: dict) -> np.ndarray:
    from scipy.io import wavfile

    rate, data = wavfile.read(path)
    assert rate == p["sample_rate"] and data.ndim == 1, f"{path}: {rate} Hz, shape {data.shape}"
    if data.dtype == np.uint8:
        return ((data.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if data.dtype.kind == "i":
        return (data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))).astype(np.float32)
    return data.astype(np.float32)


def _bandpass(x: np.ndarray, p: dict) -> np.ndarray:
    from scipy import fft, signal

    x = np.asarray(x, dtype=np.float64)
    pad = min(int(p["pad_at_least"]), x.size - 1)
    padded = np.pad(x, pad, mode="reflect")
    n = fft.next_fast_len(padded.size, real=True)  # the smallest 2^a 3^b 5^c >= the padded length
    sos = signal.butter(p["order"], [p["low_hz"], p["high_hz"]], btype="band", fs=p["sample_rate"], output="sos")
    freqs = np.fft.rfftfreq(n, 1.0 / p["sample_rate"])
    _, h = signal.sosfreqz(sos, worN=freqs, fs=p["sample_rate"])
    y = np.fft.irfft(np.fft.rfft(padded, n) * np.abs(h), n)
    return y[pad:pad + x.size].astype(np.float32)


def _frame(x: np.ndarray, p: dict) -> np.ndarray:
    import librosa

    frames = librosa.util.frame(np.ascontiguousarray(x, dtype=np.float32), frame_length=p["window_samples"],
                                hop_length=p["hop_samples"], axis=0)
    return np.ascontiguousarray(frames, dtype=np.float32)


def _power(w: np.ndarray, p: dict) -> np.ndarray:
    import librosa

    out = []
    for one in np.asarray(w, dtype=np.float64):
        spec = librosa.stft(one, n_fft=p["n_fft"], hop_length=p["hop_length"], window="hann", center=False)
        out.append((np.abs(spec) ** 2).T)  # (frames, bins)
    return np.stack(out)


def _mel(power: np.ndarray, p: dict) -> np.ndarray:
    import librosa

    fb = librosa.filters.mel(sr=p["sample_rate"], n_fft=p["n_fft"], n_mels=p["n_mels"], fmin=p["fmin"],
                             fmax=p["fmax"], htk=False, norm="slaney", dtype=np.float64)
    return power @ fb.T


AUDIO = {
    "read_wav": _read_wav,
    "remove_mean": lambda x, p: np.asarray(x, np.float64) - np.mean(np.asarray(x, np.float64)),
    "bandpass": _bandpass,
    "frame": _frame,
    "unit_rms": lambda w, p: (np.asarray(w, np.float64)
                              / (np.sqrt(np.mean(np.asarray(w, np.float64) ** 2, axis=1, keepdims=True))
                                 + p["epsilon"])),
    "power_spectrogram": _power,
    "mel": _mel,
    "log": lambda x, p: np.log(np.maximum(x, p["floor"])),
}


# ------------------------------------------------------------------ images
def _decode(path: Path, p: dict) -> Any:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            base = Image.new("RGBA", rgba.size, (*p.get("background", (255, 255, 255)), 255))
            return Image.alpha_composite(base, rgba).convert("RGB")
        return im.convert("RGB")


def _resize(im: Any, p: dict) -> Any:
    from PIL import Image

    w, h = im.size
    s = p["shorter_side"]
    if w <= h:
        size = (s, max(s, int(np.round(h * s / w))))
    else:
        size = (max(s, int(np.round(w * s / h))), s)
    return im if size == (w, h) else im.resize(size, Image.Resampling.BILINEAR)


def _crop(im: Any, p: dict) -> np.ndarray:
    w, h = im.size
    size = p["size"]
    left, top = int(np.round((w - size) / 2.0)), int(np.round((h - size) / 2.0))
    return np.asarray(im.crop((left, top, left + size, top + size)))


IMAGE = {
    "decode_image": _decode,
    "check_size": lambda im, p: im,
    "resize_shorter": _resize,
    "center_crop": _crop,
    "scale": lambda x, p: np.asarray(x, np.float32) / np.float32(p["divide_by"]),
    "normalize": lambda x, p: (x - np.asarray(p["mean"], np.float32)) / np.asarray(p["std"], np.float32),
}


def _to_model_input(x: Any, p: dict) -> np.ndarray:
    x = np.asarray(x)
    if p["layout"] == "windows,frames,mels->windows,1,mels,frames":
        x = x.transpose(0, 2, 1)[:, None]
    elif p["layout"] == "h,w,c->1,c,h,w":
        x = x.transpose(2, 0, 1)[None]
    return np.ascontiguousarray(x, dtype=np.float32)


def features(meta: dict, path: Path, skip: Iterable[str] = ()) -> np.ndarray:
    """The model input ``(windows, *shape)`` float32 of one file, following the sidecar's steps."""
    impl = {**AUDIO, **IMAGE, "to_model_input": _to_model_input}
    x: Any = path
    for spec in meta["frontend"]["steps"]:
        name = spec["step"]
        if name in skip:
            continue
        x = impl[name](x, {k: v for k, v in spec.items() if k != "step"})
    return x


# ------------------------------------------------------------------ the model and the decision
class Model:
    """The artifact run by its runtime, fed and read as the sidecar's ``input``/``output`` say."""

    def __init__(self, artifact: Path, meta: dict):
        self.meta = meta
        self.path = Path(artifact)
        if self.path.suffix == ".onnx":
            import onnxruntime as ort

            self.session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        else:
            from ai_edge_litert.interpreter import Interpreter

            self.interpreter = Interpreter(model_path=str(self.path), num_threads=1)
            self.interpreter.allocate_tensors()

    def quantize(self, x: np.ndarray) -> np.ndarray:
        io = self.meta["input"]
        if io.get("layout") == "NHWC" and x.ndim == 4:
            x = np.moveaxis(x, 1, -1)
        q = io.get("quantization")
        if not q:
            return np.ascontiguousarray(x, dtype=np.float32)
        v = np.rint(x / np.float32(q["scale"][0]) + q["zero_point"][0])
        return np.clip(v, q["qmin"], q["qmax"]).astype(io["dtype"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        q = self.quantize(x)
        out = []
        for i in range(len(q)):
            if hasattr(self, "session"):
                raw = self.session.run(None, {self.session.get_inputs()[0].name: q[i:i + 1]})[0]
            else:
                self.interpreter.set_tensor(self.interpreter.get_input_details()[0]["index"], q[i:i + 1])
                self.interpreter.invoke()
                raw = self.interpreter.get_tensor(self.interpreter.get_output_details()[0]["index"])
            oq = self.meta["output"].get("quantization")
            out.append((raw.astype(np.float64) - oq["zero_point"][0]) * oq["scale"][0] if oq else raw)
        return np.concatenate(out).astype(np.float64)

    def predict(self, x: np.ndarray) -> str:
        """The item's label: softmax per window, mean over windows, then the sidecar's decision."""
        z = self.logits(x)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        prob = (e / e.sum(axis=1, keepdims=True)).mean(axis=0)
        labels = self.meta["output"]["label_order"]
        pos = self.meta["output"]["positive_index"]
        decision = self.meta.get("decision")
        if decision and pos is not None:
            return labels[pos] if prob[pos] >= decision["threshold"] else labels[1 - pos]
        return labels[int(np.argmax(prob))]


def predictions(artifact: Path, files: Sequence[Path]) -> dict[str, str]:
    """File name -> predicted label, for every file."""
    meta = read_sidecar(artifact)
    model = Model(artifact, meta)
    return {Path(f).name: model.predict(features(meta, Path(f))) for f in files}
