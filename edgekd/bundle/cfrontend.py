"""The audio front-end in portable C99 (``edgekd/bundle/csrc``) and its configuration header, made from a sidecar.

``edgekd_frontend.c/.h`` implement the audio step list of ``edgekd.runtime.steps`` from the samples onward
(read_wav's refusals, remove_mean, bandpass, frame, unit_rms, power_spectrogram, mel, log, the model layout and the
int8 quantization of the model input) without malloc, in a caller's buffer of ``EDGEKD_FE_WORK_BYTES``. What
differs between artifacts is generated here into ``edgekd_frontend_config.h``: every step parameter, the input
quantization, the maximum recording length the buffer is sized for, and the constant tables that are simpler
and exact to compute once in numpy (the periodic Hann window, the frame FFT's twiddles, the mel filterbank as a
sparse float table, from the very functions the reference runs).

Command line: ``python -m edgekd.bundle.cfrontend ARTIFACT --out DIR [--max-seconds S]`` writes the three files.
"""

from __future__ import annotations

import argparse
import inspect
import math
import shutil
import sys
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from edgekd.errors import InputError

CSRC = Path(__file__).with_name("csrc")
SOURCES = ("edgekd_frontend.h", "edgekd_frontend.c")
CONFIG = "edgekd_frontend_config.h"
README = "FRONTEND_C.md"
AUDIO_STEPS = ("read_wav", "remove_mean", "bandpass", "frame", "unit_rms", "power_spectrogram", "mel", "log",
               "to_model_input")
SPECTROGRAM_LAYOUT = "windows,frames,mels->windows,1,mels,frames"
DEFAULT_MAX_SECONDS = 20.0  # 20 s of 2 kHz audio: a 169 KiB float32 buffer, within a 256 KiB-SRAM MCU
API = ("edgekd_fe_prepare(&st, samples, n, work, EDGEKD_FE_WORK_BYTES), then edgekd_fe_window(&st, w, input, NULL) "
       "for w < st.n_windows (edgekd_frontend.h)")


def is_audio(meta: Mapping[str, Any]) -> bool:
    """Whether the sidecar's front-end is the audio step list this C front-end implements."""
    steps = (meta.get("frontend") or {}).get("steps") or []
    return [s.get("step") for s in steps] == list(AUDIO_STEPS)


def _with_defaults(steps: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each step's parameters with the reference's defaults filled in; a choice the C code lacks is refused."""
    from edgekd.runtime.steps import CHOICES, STEPS

    names = [s.get("step") for s in steps]
    if names != list(AUDIO_STEPS):
        raise InputError(f"the C front-end implements the audio steps {', '.join(AUDIO_STEPS)}; this sidecar has "
                         f"{', '.join(map(str, names))}")
    out = {}
    for spec in steps:
        name = spec["step"]
        params = {k: p.default for k, p in inspect.signature(STEPS[name]).parameters.items()
                  if p.kind is p.KEYWORD_ONLY and p.default is not p.empty}
        params.update({k: v for k, v in spec.items() if k != "step"})
        for key, allowed in CHOICES.get(name, {}).items():
            if key in params and params[key] not in allowed:
                raise InputError(f"front-end step {name}: {key} {params[key]!r} is not implemented in C")
        out[name] = params
    if out["to_model_input"]["layout"] != SPECTROGRAM_LAYOUT:
        raise InputError(f"the C front-end writes the layout {SPECTROGRAM_LAYOUT!r}, not "
                         f"{out['to_model_input']['layout']!r}")
    return out


def _smooth(n: int) -> bool:
    for p in (2, 3, 5):
        while n > 1 and n % p == 0:
            n //= p
    return n == 1


def _min_samples(sample_rate: int, min_seconds: float) -> int:
    """The fewest samples ``read_wav`` accepts: ``n / sample_rate >= min_seconds``."""
    n = max(0, math.ceil(min_seconds * sample_rate))
    while n > 0 and (n - 1) / sample_rate >= min_seconds:
        n -= 1
    while n / sample_rate < min_seconds:
        n += 1
    return n


def _input_quantization(meta: Mapping[str, Any], n_mels: int, n_frames: int) -> dict[str, Any]:
    """Scale (as float32), zero point, range and layout of an int8 model input of (mels, frames), one channel."""
    from edgekd.runtime.artifact import channels_last

    io = meta.get("input") or {}
    q = io.get("quantization") or {}
    if io.get("dtype") != "int8" or len(q.get("scale") or []) != 1:
        raise InputError(f"the C front-end writes an int8 model input with one scale; this artifact takes "
                         f"{io.get('dtype')!r} (quantization {q or None})")
    nhwc = channels_last(io.get("layout"))
    want = [n_mels, n_frames, 1] if nhwc else [1, n_mels, n_frames]
    if list(io.get("shape") or [])[1:] != want:
        raise InputError(f"model input shape {io.get('shape')} is not (1, {', '.join(map(str, want))}) "
                         f"for {n_mels} mels x {n_frames} frames in layout {io.get('layout')}")
    return {"scale": float(np.float32(q["scale"][0])), "zero_point": int(q["zero_point"][0]),
            "qmin": int(q.get("qmin", -128)), "qmax": int(q.get("qmax", 127)), "nhwc": nhwc}


def frontend_params(meta: Mapping[str, Any], max_seconds: float = DEFAULT_MAX_SECONDS) -> dict[str, Any]:
    """The numbers ``edgekd_frontend_config.h`` defines, checked (InputError for what the C code cannot do)."""
    from edgekd.runtime.steps import next_fast_len

    st = _with_defaults((meta.get("frontend") or {}).get("steps") or [])
    sr = int(st["read_wav"]["sample_rate"])
    bp, fr, ps, ml = st["bandpass"], st["frame"], st["power_spectrogram"], st["mel"]
    n_fft, window = int(ps["n_fft"]), int(fr["window_samples"])
    if int(bp["sample_rate"]) != sr or int(ml["sample_rate"]) != sr or int(ml["n_fft"]) != n_fft:
        raise InputError("the front-end steps disagree on the sample rate or n_fft")
    if not _smooth(n_fft) or n_fft > window:
        raise InputError(f"n_fft {n_fft} must be a 2^a 3^b 5^c no longer than the window ({window} samples)")
    n_frames = 1 + (window - n_fft) // int(ps["hop_length"])
    min_n = max(window, _min_samples(sr, float(st["read_wav"]["min_seconds"])))
    max_n = int(round(max_seconds * sr))
    if max_n < min_n:
        raise InputError(f"--max-seconds {max_seconds:g} is shorter than the shortest recording accepted "
                         f"({min_n} samples)")
    pad = int(bp["pad_at_least"])
    return {"sample_rate": sr, "min_samples": min_n, "max_samples": max_n, "pad_at_least": pad,
            "max_fft": next_fast_len(max_n + 2 * min(pad, max_n - 1)),
            "band_low_hz": float(bp["low_hz"]), "band_high_hz": float(bp["high_hz"]), "band_order": int(bp["order"]),
            "window_samples": window, "hop_samples": int(fr["hop_samples"]),
            "unit_rms_epsilon": float(st["unit_rms"]["epsilon"]), "n_fft": n_fft,
            "hop_length": int(ps["hop_length"]), "n_frames": n_frames, "n_mels": int(ml["n_mels"]),
            "fmin": float(ml["fmin"]), "fmax": float(ml["fmax"]), "log_floor": float(st["log"]["floor"]),
            "refuse": st["read_wav"].get("refuse"),
            "input": _input_quantization(meta, int(ml["n_mels"]), n_frames)}


def work_bytes(params: Mapping[str, Any], double: bool = False) -> int:
    """``EDGEKD_FE_WORK_BYTES``: (max FFT length + n_fft + n_fft/2 + 1) reals of 4 bytes (8 with EDGEKD_FE_DOUBLE)."""
    n_fft = params["n_fft"]
    return (params["max_fft"] + n_fft + n_fft // 2 + 1) * (8 if double else 4)


def _array(ctype: str, name: str, values: Sequence[Any], per_line: int = 4) -> list[str]:
    text = [repr(float(v)) if isinstance(v, (float, np.floating)) else str(int(v)) for v in values]
    rows = [", ".join(text[i:i + per_line]) for i in range(0, len(text), per_line)]
    return [f"static const {ctype} {name}[{len(values)}] = {{", *(f"    {r}," for r in rows), "};"]


def _tables(p: Mapping[str, Any]) -> list[str]:
    """Hann window, frame FFT twiddles and the sparse mel filterbank, as the reference computes them (float64)."""
    from edgekd.runtime.steps import mel_filterbank

    n_fft = p["n_fft"]
    k = np.arange(n_fft)
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * k / n_fft)
    angle = 2.0 * np.pi * k / n_fft
    twiddles = np.stack([np.cos(angle), np.sin(angle)], axis=1).ravel()
    fb = mel_filterbank(p["sample_rate"], n_fft, p["n_mels"], p["fmin"], p["fmax"])
    first, count, offset, weights = [], [], [], []
    for row in fb:
        nz = np.flatnonzero(row)
        lo, hi = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 0)
        first.append(lo)
        count.append(hi - lo)
        offset.append(len(weights))
        weights.extend(float(v) for v in row[lo:hi])
    return [
        "/* periodic Hann window: 0.5 - 0.5 cos(2 pi k / n_fft) */",
        *_array("edgekd_fe_real", "EDGEKD_FE_HANN", list(hann)),
        "/* cos, sin of 2 pi k / n_fft, interleaved: the frame FFT's twiddles */",
        *_array("edgekd_fe_real", "EDGEKD_FE_FFT_TABLE", list(twiddles)),
        "/* mel filter m weighs power bins MEL_FIRST[m] .. MEL_FIRST[m] + MEL_COUNT[m] - 1 by",
        "   MEL_WEIGHTS[MEL_OFFSET[m] ...] (librosa htk=False, norm='slaney'; zero elsewhere) */",
        *_array("unsigned short", "EDGEKD_FE_MEL_FIRST", first, 16),
        *_array("unsigned short", "EDGEKD_FE_MEL_COUNT", count, 16),
        *_array("unsigned short", "EDGEKD_FE_MEL_OFFSET", offset, 16),
        *_array("edgekd_fe_real", "EDGEKD_FE_MEL_WEIGHTS", weights),
    ]


def _defines(p: Mapping[str, Any]) -> list[str]:
    q, refuse = p["input"], p["refuse"]
    wl, wh = (float(np.tan(np.pi * p[k] / p["sample_rate"])) for k in ("band_low_hz", "band_high_hz"))
    items = [("SAMPLE_RATE", p["sample_rate"]), ("MIN_SAMPLES", p["min_samples"]),
             ("PAD_AT_LEAST", p["pad_at_least"]), ("BAND_LOW_HZ", p["band_low_hz"]),
             ("BAND_HIGH_HZ", p["band_high_hz"]), ("BAND_ORDER", p["band_order"]),
             ("BAND_WL", wl), ("BAND_WH", wh), ("WINDOW_SAMPLES", p["window_samples"]),
             ("HOP_SAMPLES", p["hop_samples"]), ("UNIT_RMS_EPSILON", p["unit_rms_epsilon"]),
             ("N_FFT", p["n_fft"]), ("HOP_LENGTH", p["hop_length"]), ("N_FRAMES", p["n_frames"]),
             ("N_MELS", p["n_mels"]), ("FMIN", p["fmin"]), ("FMAX", p["fmax"]), ("LOG_FLOOR", p["log_floor"]),
             ("INPUT_ZERO_POINT", q["zero_point"]), ("INPUT_QMIN", q["qmin"]), ("INPUT_QMAX", q["qmax"]),
             ("LAYOUT_NHWC", int(q["nhwc"])), ("REFUSE", int(refuse is not None))]
    if refuse is not None:
        items += [("SILENCE_RMS", float(refuse.get("silence_rms", 0.0))),
                  ("CLIP_FRACTION", float(refuse.get("clip_fraction", 1.0)))]
    lines = [f"#define EDGEKD_FE_{k} {v!r}" for k, v in items]
    lines.append(f"#define EDGEKD_FE_INPUT_SCALE {q['scale']!r}f /* exactly float32(scale) */")
    return lines


def config_header(meta: Mapping[str, Any], max_seconds: float = DEFAULT_MAX_SECONDS) -> str:
    """``edgekd_frontend_config.h`` for the artifact of sidecar ``meta`` and recordings up to ``max_seconds``."""
    p = frontend_params(meta, max_seconds)
    f32, f64 = work_bytes(p), work_bytes(p, double=True)
    head = [
        f"/* edgekd_frontend_config.h: the front-end of {meta.get('name')} (sidecar {meta.get('schema')}),",
        "   generated by `python -m edgekd.bundle.cfrontend`; regenerate rather than edit.",
        f"   Recordings of {p['min_samples']} to {p['max_samples']} samples "
        f"({p['max_samples'] / p['sample_rate']:g} s); working buffer EDGEKD_FE_WORK_BYTES = {f32} bytes",
        f"   ({f32 / 1024:.1f} KiB) in float32, {f64} bytes with -DEDGEKD_FE_DOUBLE. */",
        "#ifndef EDGEKD_FRONTEND_CONFIG_H_", "#define EDGEKD_FRONTEND_CONFIG_H_", "",
        "#ifndef EDGEKD_FE_MAX_SAMPLES",
        f"#define EDGEKD_FE_MAX_SAMPLES {p['max_samples']}",
        f"#define EDGEKD_FE_MAX_FFT {p['max_fft']} /* the smallest 2^a 3^b 5^c >= MAX_SAMPLES + 2 min(PAD, MAX-1) */",
        "#endif", *_defines(p), "", "#ifdef EDGEKD_FRONTEND_TABLES /* edgekd_frontend.c only */",
    ]
    return "\n".join([*head, *_tables(p), "#endif", "", "#endif /* EDGEKD_FRONTEND_CONFIG_H_ */", ""])


def readme(meta: Mapping[str, Any], entry: Mapping[str, Any]) -> str:
    """``FRONTEND_C.md`` of a bundle: the files, the API, the working buffer and what each arithmetic gives."""
    return "\n".join([
        f"# The front-end of {meta.get('name')} in C99", "",
        f"`{SOURCES[0]}`, `{SOURCES[1]}` and `{CONFIG}` (generated from the sidecar) turn float32 samples (the "
        "`read_wav` step's output) into the model's int8 input, window by window, as the sidecar's "
        "`frontend.steps` say: no malloc, no static state, only `<math.h>`, `<stdint.h>`, `<stddef.h>`.", "",
        "```c", "#include \"edgekd_frontend.h\"", "static edgekd_fe_real work[EDGEKD_FE_WORK_REALS];",
        "edgekd_fe_state st;",
        "int rc = edgekd_fe_prepare(&st, samples, n_samples, work, sizeof work);  /* 0, or a refusal (< 0) */",
        "for (size_t w = 0; rc == EDGEKD_FE_OK && w < st.n_windows; ++w)",
        "  rc = edgekd_fe_window(&st, w, input_tensor_int8, NULL);  /* EDGEKD_FE_INPUT_VALUES int8; run the model */",
        "```", "",
        f"Working buffer: `EDGEKD_FE_WORK_BYTES` = {entry['work_bytes']:,} bytes for recordings of up to "
        f"{entry['max_seconds']:g} s ({entry['max_samples']:,} samples), {entry['work_bytes_double']:,} with "
        "`-DEDGEKD_FE_DOUBLE`; the formula is in `edgekd_frontend.h`. Longer recordings are refused "
        "(`EDGEKD_FE_ERR_TOO_LONG`), as are those shorter than one window; regenerate the config for another "
        "maximum: `python -m edgekd.bundle.cfrontend ARTIFACT --out DIR --max-seconds S`.", "",
        "Arithmetic: float32 by default. Built with `-DEDGEKD_FE_DOUBLE` it reproduces the reference exactly (the "
        "golden `model_input`, which `edgekd conformance` requires bit for bit); in float32 about one int8 value "
        "in 7,000 lands one step away and the log-mel differ by up to 4e-3 where a recording's spectrum drops to "
        "the log floor (edgekd's benchmarks/results/c_frontend.md).", "",
        "Check a port: feed the golden inputs' `read_wav` outputs (`NAME.golden/inputN.00-read_wav.npy`) and "
        "compare the int8 tensors with `inputN.model_input.npy`.", ""])


def write_c_frontend(meta: Mapping[str, Any], folder: Path, max_seconds: float = DEFAULT_MAX_SECONDS) -> dict[str, Any]:
    """Write the C front-end, its config and ``FRONTEND_C.md`` for ``meta`` into ``folder``; returns the
    bundle.json entry (file names, maximum length, working buffer bytes, API)."""
    folder = Path(folder)
    header = config_header(meta, max_seconds)
    for name in SOURCES:
        shutil.copyfile(CSRC / name, folder / name)
    (folder / CONFIG).write_text(header)
    p = frontend_params(meta, max_seconds)
    entry = {"header": SOURCES[0], "source": SOURCES[1], "config": CONFIG, "readme": README,
             "max_samples": p["max_samples"], "max_seconds": p["max_samples"] / p["sample_rate"],
             "work_bytes": work_bytes(p), "work_bytes_double": work_bytes(p, double=True), "api": API}
    (folder / README).write_text(readme(meta, entry))
    return entry


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m edgekd.bundle.cfrontend ARTIFACT --out DIR [--max-seconds S]``."""
    from edgekd.runtime.sidecar import read_sidecar, upgrade_sidecar

    ap = argparse.ArgumentParser(prog="python -m edgekd.bundle.cfrontend", description=__doc__.splitlines()[0])
    ap.add_argument("artifact", type=Path, help="the .tflite file (its sidecar is read)")
    ap.add_argument("--out", type=Path, required=True, help="folder for edgekd_frontend.{c,h} and the config")
    ap.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS, help="longest recording accepted")
    args = ap.parse_args(argv)
    try:
        meta = upgrade_sidecar(read_sidecar(args.artifact), args.artifact)
        args.out.mkdir(parents=True, exist_ok=True)
        entry = write_c_frontend(meta, args.out, args.max_seconds)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {', '.join((*SOURCES, CONFIG, README))}; working buffer {entry['work_bytes']} bytes "
          f"({entry['work_bytes_double']} with -DEDGEKD_FE_DOUBLE) for {entry['max_seconds']:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
