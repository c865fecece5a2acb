"""`edgekd conformance` on the committed benchmark artifacts: their golden vectors match what edgekd computes, and
the mistakes a second implementation makes (a resize without antialiasing, float64 quantization, a step left
out) are each reported, by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekd.runtime import conformance
from edgekd.runtime.sidecar import read_sidecar
from edgekd.runtime.steps import run_file, run_steps

pytestmark = pytest.mark.device  # numpy and a runtime only: it runs in the device environment too

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p for p in (ROOT / "benchmarks" / "results" / "artifacts").glob("*/*")
                 if p.suffix in (".tflite", ".onnx"))
PLANT_TFLITE = next(p for p in SHIPPED if "plant" in p.parts and p.suffix == ".tflite")
HEART_TFLITE = next(p for p in SHIPPED if "heart" in p.parts and p.suffix == ".tflite")


def _manifest(artifact: Path) -> tuple[dict, Path]:
    golden = artifact.with_suffix(".golden")
    return json.loads((golden / "golden.json").read_text()), golden


def _steps(artifact: Path) -> list:
    return read_sidecar(artifact)["frontend"]["steps"]


def _per_step_outputs(artifact: Path, out: Path, replace: dict | None = None) -> Path:
    """Every golden input through the sidecar's steps (a step swapped for ``replace[name]``), one file per step."""
    manifest, golden = _manifest(artifact)
    steps = _steps(artifact)
    out.mkdir(parents=True, exist_ok=True)
    for k, entry in enumerate(manifest["inputs"]):
        x = golden / entry["file"]
        for i, spec in enumerate(steps):
            fn = (replace or {}).get(spec["step"])
            x = fn(x, spec) if fn else run_steps([spec], x)
            np.save(out / f"input{k}.{i:02d}-{spec['step']}.npy", np.asarray(x))
    return out


def _features(folder: Path, manifest: dict) -> np.ndarray:
    n = len(manifest["inputs"][0]["steps"]) - 1
    return np.concatenate([np.load(folder / e["steps"][n]["file"]) for e in manifest["inputs"]])


def _plain_bilinear(rgb: np.ndarray, spec: dict) -> np.ndarray:
    """The resize a phone's GPU scaler does: bilinear at half-pixel centres, two taps, no antialiasing."""
    from edgekd.runtime.pixels import resized_size

    h, w = rgb.shape[:2]
    nw, nh = resized_size(w, h, spec["shorter_side"])

    def axis(n_in, n_out):
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), pos - lo

    y0, y1, fy = axis(h, nh)
    x0, x1, fx = axis(w, nw)
    x = rgb.astype(np.float64)
    rows = x[y0] * (1 - fy)[:, None, None] + x[y1] * fy[:, None, None]
    out = rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("artifact", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_artifact_has_golden_vectors_that_edgekd_reproduces(artifact, tmp_path):
    from edgekd.runtime.artifact import _quantize, channels_last, load_artifact

    manifest, golden = _manifest(artifact)
    steps = _steps(artifact)
    features = np.concatenate([run_file(steps, golden / e["file"]) for e in manifest["inputs"]])
    np.save(tmp_path / "f.npy", features)
    assert conformance.check_features(artifact, tmp_path / "f.npy").passed
    art = load_artifact(artifact)
    x = np.moveaxis(features, 1, -1) if channels_last(art.input.get("layout")) else features
    np.save(tmp_path / "i.npy", _quantize(x, art.input))
    assert conformance.check_inputs(artifact, tmp_path / "i.npy").passed
    raw = np.concatenate([art.invoke_raw(np.load(golden / e["model_input"]["file"])[i:i + 1])
                          for e in manifest["inputs"] for i in range(e["model_input"]["shape"][0])])
    np.save(tmp_path / "o.npy", raw)
    verdict = conformance.check_outputs(artifact, tmp_path / "o.npy")
    assert verdict.passed and verdict.compared[0]["flipped_items"] == []


def test_the_plant_golden_inputs_cover_phone_thumbnail_odd_exif_and_tall_photos():
    manifest, _ = _manifest(PLANT_TFLITE)
    sources = " ".join(e["source"] for e in manifest["inputs"])
    for form in ("original", "phone-", "thumbnail-", "odd-", "exif6", "tall-", "alpha"):
        assert form in sources


def test_a_resize_without_antialiasing_is_named_at_the_resize_step(tmp_path):
    given = _per_step_outputs(PLANT_TFLITE, tmp_path / "steps", {"resize_shorter": _plain_bilinear})
    verdict = conformance.check_features(PLANT_TFLITE, given)
    assert not verdict.passed and verdict.first_divergence["step"] == "resize_shorter"


def test_a_resize_without_antialiasing_fails_on_the_final_features_too(tmp_path):
    manifest, _ = _manifest(PLANT_TFLITE)
    given = _per_step_outputs(PLANT_TFLITE, tmp_path / "steps", {"resize_shorter": _plain_bilinear})
    np.save(tmp_path / "f.npy", _features(given, manifest))
    assert not conformance.check_features(PLANT_TFLITE, tmp_path / "f.npy").passed


def test_float64_quantization_is_reported_on_the_heart_vectors(tmp_path):
    """About one int8 value in 10^5 sits so close to a rounding boundary that float64 moves it; the vectors hold one."""
    manifest, golden = _manifest(HEART_TFLITE)
    quant = read_sidecar(HEART_TFLITE)["input"]["quantization"]
    features = np.moveaxis(np.concatenate([np.load(golden / e["steps"][-1]["file"]) for e in manifest["inputs"]]), 1, -1)
    q64 = np.clip(np.round(features.astype(np.float64) / quant["scale"][0] + quant["zero_point"][0]), -128, 127)
    np.save(tmp_path / "i.npy", q64.astype(np.int8))
    verdict = conformance.check_inputs(HEART_TFLITE, tmp_path / "i.npy")
    assert not verdict.passed and verdict.first_divergence["max_abs_diff"] == 1


def test_a_missing_step_output_is_named_as_missing(tmp_path):
    given = _per_step_outputs(HEART_TFLITE, tmp_path / "steps")
    (given / "input0.03-frame.npy").unlink()
    verdict = conformance.check_features(HEART_TFLITE, given)
    assert not verdict.passed
    assert verdict.first_divergence["missing"] == "input0.03-frame.npy" and "missing" in verdict.message

