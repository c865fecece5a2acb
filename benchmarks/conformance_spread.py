"""How far a second implementation of the device contract can drift, and what it costs in predictions.

On the full data sets (1,084 PhysioNet recordings, 543 MangoLeafBD photos: an agreement measurement between
implementations, not an accuracy figure, so training items count too), with the committed int8 TFLite students
(``benchmarks/results/artifacts/``), every item's prediction decided as ``docs/sidecar-v2.md`` says, against the
reference (edgekd's front-end, float32 quantization, LiteRT with its default XNNPACK delegate, 1 thread), when:

- the input is quantized in float64 instead of float32;
- other kernels run the same file: LiteRT's built-in optimized kernels (no XNNPACK), LiteRT's reference kernels,
  tflite-runtime 2.14 (the Raspberry Pi wheel) with its defaults and with its reference kernels;
- (photos) the JPEG is decoded with the fast integer IDCT, or without fancy chroma upsampling (TensorFlow's
  ``decode_jpeg`` options), or the EXIF orientation is ignored; the resize skips antialiasing (a plain two-tap
  bilinear, as GPU scalers do), or is Pillow 13's one-call ``Image.resize``.

Usage: ``.venv/bin/python benchmarks/conformance_spread.py [heart] [plant]`` (a task given alone keeps the other's
rows from the last run on the same host; needs ``../shared/data`` and ``.venv-device``);
writes ``benchmarks/results/conformance_spread.{json,md}``.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
ARTIFACTS = ROOT / "benchmarks" / "results" / "artifacts"
RESULTS = ROOT / "benchmarks" / "results"
TASKS = {
    "heart": (SHARED / "heart-physionet2016", "file", ARTIFACTS / "heart" / "student-tflite-int8.tflite"),
    "plant": (SHARED / "plant-mangoleafbd", "path", ARTIFACTS / "plant" / "student-tflite-int8-qat.tflite"),
}
REFERENCE = "reference: float32 quantization, LiteRT default (XNNPACK)"


def items_of(folder: Path, column: str) -> list[Path]:
    return [folder / r[column] for r in csv.DictReader((folder / "labels.csv").open())]


def decide_items(meta: dict, raw: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Item predictions from raw int8 outputs, as the spec's steps 4-7 say."""
    from edgekd.runtime.artifact import _dequantize
    from edgekd.runtime.metrics import softmax
    from edgekd.runtime.scoring import aggregate, aggregation_name
    from edgekd.runtime.threshold import decide

    labels = list(meta["labels"])
    probs = softmax(_dequantize(raw, meta["output"]).astype(np.float64)).astype(np.float32)
    _, items = aggregate(probs, group, aggregation_name(meta.get("aggregation"), Path("x")))
    pos = labels.index(meta["positive"]) if meta.get("positive") in labels else None
    return decide(items, pos, (meta.get("decision") or {}).get("threshold"))


def quantize(features: np.ndarray, meta: dict, float64: bool = False) -> np.ndarray:
    from edgekd.runtime.artifact import _quantize

    x = np.moveaxis(features, 1, -1) if meta["input"].get("layout") == "NHWC" else features
    if not float64:
        return _quantize(x, meta["input"])
    q = meta["input"]["quantization"]
    return np.clip(np.round(x.astype(np.float64) / q["scale"][0] + q["zero_point"][0]), -128, 127).astype(np.int8)


def run_kernels(python: Path, model: Path, x: np.ndarray, resolvers: list[str]) -> dict[str, np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x)
        subprocess.run([str(python), str(ROOT / "benchmarks" / "kernel_worker.py"), str(model),
                        str(Path(tmp) / "x.npy"), str(Path(tmp) / "out.npz"), *resolvers], check=True)
        with np.load(Path(tmp) / "out.npz") as z:
            return {k: z[k] for k in z.files}


def compare(name: str, raw: np.ndarray, ref_raw: np.ndarray, pred: np.ndarray, ref_pred: np.ndarray) -> dict:
    d = np.abs(raw.astype(np.int32) - ref_raw.astype(np.int32)) if raw.shape == ref_raw.shape else None
    return {"variant": name,
            "windows_with_output_diff": None if d is None else int((d.max(axis=1) > 0).sum()),
            "max_output_diff_lsb": None if d is None else int(d.max()),
            "items_flipped": int((pred != ref_pred).sum()), "items": int(len(ref_pred))}


def features_all(paths: list[Path], steps: list, rgb_fn=None, full_fn=None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Front-end outputs of every item (``rgb_fn(path)`` replaces decoding, ``full_fn(path)`` the whole front-end)."""
    from edgekd.errors import InputError
    from edgekd.runtime.steps import run_file, run_steps

    feats, group, refused = [], [], []
    for k, p in enumerate(paths):
        try:
            x = full_fn(p) if full_fn else run_steps(steps[1:], rgb_fn(p)) if rgb_fn else run_file(steps, p)
        except InputError as exc:
            refused.append(f"{p.name}: {exc}")
            continue
        feats.append(x)
        group += [k] * len(x)
    return np.concatenate(feats), np.asarray(group), refused


def kernel_rows(task: str, model: Path, meta: dict, feats: np.ndarray, group: np.ndarray) -> tuple[list, dict]:
    q32, q64 = quantize(feats, meta), quantize(feats, meta, float64=True)
    main_py, device_py = ROOT / ".venv" / "bin" / "python", ROOT / ".venv-device" / "bin" / "python"
    outs = run_kernels(main_py, model, q32, ["AUTO", "BUILTIN_WITHOUT_DEFAULT_DELEGATES", "BUILTIN_REF"])
    ref_key = next(k for k in outs if k.endswith(":AUTO"))
    ref_raw = outs[ref_key]
    ref_pred = decide_items(meta, ref_raw, group)
    rows = [compare(REFERENCE.replace("LiteRT", ref_key.split(":")[0]), ref_raw, ref_raw, ref_pred, ref_pred)]
    raw64 = run_kernels(main_py, model, q64, ["AUTO"])[ref_key]
    row = compare("float64 quantization (same kernels)", raw64, ref_raw, decide_items(meta, raw64, group), ref_pred)
    row["int8_input_values_moved"] = int((q64 != q32).sum())
    row["int8_input_values"] = int(q32.size)
    rows.append(row)
    for key in [k for k in outs if k != ref_key]:
        rows.append(compare(key, outs[key], ref_raw, decide_items(meta, outs[key], group), ref_pred))
    if device_py.exists():
        for key, raw in run_kernels(device_py, model, q32, ["AUTO", "BUILTIN_REF"]).items():
            rows.append(compare(key, raw, ref_raw, decide_items(meta, raw, group), ref_pred))
    return rows, {"group": group, "ref_pred": ref_pred, "ref_key": ref_key}


def photo_rows(paths: list[Path], steps: list, model: Path, meta: dict, ref: dict) -> list:
    """Decoder, EXIF and resize variants on the photos: pixels and predictions against the reference."""
    import tensorflow as tf
    from PIL import Image

    from edgekd.runtime.pixels import decode_rgb
    from tests.test_conformance_shipped import _plain_bilinear

    def tf_decode(p: Path, **kw) -> np.ndarray:
        rgb = tf.io.decode_jpeg(tf.io.read_file(str(p)), channels=3, **kw).numpy()
        orientation = Image.open(p).getexif().get(0x0112, 1)
        return {1: rgb, 3: rgb[::-1, ::-1], 6: np.rot90(rgb, -1), 8: np.rot90(rgb, 1)}.get(orientation, rgb)

    def no_exif(p: Path) -> np.ndarray:
        return np.asarray(Image.open(p).convert("RGB"))

    def pillow13(rgb: np.ndarray, spec: dict) -> np.ndarray:
        from edgekd.runtime.pixels import resized_size

        nw, nh = resized_size(rgb.shape[1], rgb.shape[0], spec["shorter_side"])
        return np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.Resampling.BILINEAR))

    def resize_swap(fn):
        from edgekd.runtime.steps import run_steps

        i = next(k for k, s in enumerate(steps) if s["step"] == "resize_shorter")
        return lambda p: run_steps(steps[i + 1:], fn(run_steps(steps[1:i], decode_rgb(p)), steps[i]))

    tf.config.threading.set_intra_op_parallelism_threads(1)
    variants = {
        "JPEG fast integer IDCT (TF decode_jpeg INTEGER_FAST)": lambda p: tf_decode(p, dct_method="INTEGER_FAST"),
        "JPEG without fancy chroma upsampling (TF fancy_upscaling=False)":
            lambda p: tf_decode(p, fancy_upscaling=False),
        "JPEG as TF decodes it by default (libjpeg-turbo)": lambda p: tf_decode(p),
        "EXIF orientation ignored": no_exif,
    }
    main_py = ROOT / ".venv" / "bin" / "python"
    orientations = [Image.open(p).getexif().get(0x0112, 1) for p in paths]
    rows = []
    for name, fn in variants.items():
        pixel = [np.abs(fn(p).astype(int) - decode_rgb(p).astype(int)) if fn(p).shape == decode_rgb(p).shape
                 else None for p in paths[:60]]
        feats, group, _ = features_all(paths, steps, lambda p, fn=fn: fn(p))
        raw = run_kernels(main_py, model, quantize(feats, meta), ["AUTO"])[ref["ref_key"]]
        row = compare(name, raw, np.zeros_like(raw), decide_items(meta, raw, group), ref["ref_pred"])
        row.pop("windows_with_output_diff"), row.pop("max_output_diff_lsb")
        same = [d for d in pixel if d is not None]
        row["pixels_max_abs_diff_first_60"] = int(max(d.max() for d in same)) if same else None
        row["pixels_mean_abs_diff_first_60"] = round(float(np.mean([d.mean() for d in same])), 3) if same else None
        rows.append(row)
    for name, fn in {"resize without antialiasing (plain two-tap bilinear)": _plain_bilinear,
                     "resize by Pillow 13 Image.resize in one call": pillow13}.items():
        feats, group, _ = features_all(paths, steps, full_fn=resize_swap(fn))
        raw = run_kernels(main_py, model, quantize(feats, meta), ["AUTO"])[ref["ref_key"]]
        row = compare(name, raw, np.zeros_like(raw), decide_items(meta, raw, group), ref["ref_pred"])
        row.pop("windows_with_output_diff"), row.pop("max_output_diff_lsb")
        rows.append(row)
    rows.append({"variant": "photos whose EXIF orientation turns them (2-8)", "items": len(paths),
                 "count": int(sum(2 <= o <= 8 for o in orientations))})
    rows.append({"variant": "photos with EXIF orientation 0 (not a valid value: shown as stored)", "items": len(paths),
                 "count": int(sum(o == 0 for o in orientations))})
    return rows


def main() -> None:
    from edgekd.runtime.latency import host_info
    from edgekd.runtime.sidecar import read_sidecar

    only = sys.argv[1:] or list(TASKS)
    previous = RESULTS / "conformance_spread.json"
    out = {"host": host_info(), "created": time.strftime("%Y-%m-%d %H:%M:%S"), "tasks": {}}
    if previous.is_file() and only != list(TASKS):  # keep the other task's rows (same host only)
        old = json.loads(previous.read_text())
        if old.get("host", {}).get("cpu") == out["host"]["cpu"]:
            out["tasks"] = {k: v for k, v in old["tasks"].items() if k not in only}
    for task, (folder, column, model) in TASKS.items():
        if task not in only:
            continue
        meta = read_sidecar(model)
        steps = meta["frontend"]["steps"]
        paths = items_of(folder, column)
        t0 = time.perf_counter()
        feats, group, refused = features_all(paths, steps)
        rows, ref = kernel_rows(task, model, meta, feats, group)
        if task == "plant":
            rows += photo_rows(paths, steps, model, meta, ref)
        out["tasks"][task] = {"artifact": str(model.relative_to(ROOT)), "items": len(paths) - len(refused),
                              "refused": refused, "windows": int(len(group)), "rows": rows,
                              "seconds": round(time.perf_counter() - t0, 1)}
        print(f"{task}: {len(paths) - len(refused)} items, {len(group)} windows", file=sys.stderr)
        (RESULTS / "conformance_spread.json").write_text(json.dumps(out, indent=2) + "\n")  # resume point
    (RESULTS / "conformance_spread.json").write_text(json.dumps(out, indent=2) + "\n")
    (RESULTS / "conformance_spread.md").write_text(render(out))
    print(RESULTS / "conformance_spread.md")


def render(out: dict) -> str:
    lines = ["# How far a second implementation drifts, and what it costs",
             "",
             f"Made by `.venv/bin/python benchmarks/conformance_spread.py` on {out['created']} UTC; host "
             f"{out['host']['cpu']} ({out['host']['cores']} cores). Every item's prediction is decided as "
             "`docs/sidecar-v2.md` says; a flip is an item whose prediction differs from the reference (edgekd's "
             "front-end, float32 quantization, LiteRT's default kernels, 1 thread: what `edgekd eval --items` "
             "reports). The whole data sets, training items included: this measures agreement between "
             "implementations, not accuracy.", ""]
    for task, t in out["tasks"].items():
        lines += [f"## {task}: `{t['artifact']}`, {t['items']} items, {t['windows']} windows "
                  f"({len(t['refused'])} refused by the front-end)", "",
                  "| variant | windows whose int8 output differs | max diff (LSB) | items flipped | notes |",
                  "|---|---:|---:|---:|---|"]
        for r in t["rows"]:
            if "count" in r:
                lines.append(f"| {r['variant']} | | | | {r['count']} of {r['items']} |")
                continue
            notes = []
            if "int8_input_values_moved" in r:
                notes.append(f"{r['int8_input_values_moved']} of {r['int8_input_values']:,} int8 input values moved")
            if r.get("pixels_max_abs_diff_first_60") is not None:
                notes.append(f"decoded pixels: max |diff| {r['pixels_max_abs_diff_first_60']}, mean "
                             f"{r['pixels_mean_abs_diff_first_60']} (first 60 photos)")
            w = "" if r.get("windows_with_output_diff") is None else f"{r['windows_with_output_diff']} of {t['windows']}"
            m = "" if r.get("max_output_diff_lsb") is None else str(r["max_output_diff_lsb"])
            lines.append(f"| {r['variant']} | {w} | {m} | {r['items_flipped']} of {r['items']} | {'; '.join(notes)} |")
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
