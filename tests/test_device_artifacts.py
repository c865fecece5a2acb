"""The committed heart-sound student artifacts run with the device-side code alone.

These run in both environments: the main one (ai-edge-litert) and .venv-device
(numpy<2 + tflite-runtime 2.14 + onnxruntime, no torch/TF), the set-up of an
older Raspberry Pi. The artifacts in tests/data were exported by the full-set
benchmark (benchmarks/heart_full.py) and are copied with their sidecars.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekd.runtime.artifact import load_artifact
from edgekd.runtime.audio import read_wav
from edgekd.runtime.evaluate import evaluate_folder
from edgekd.runtime.frontend import AudioFrontend
from edgekd.runtime.sidecar import read_sidecar

pytestmark = pytest.mark.device

DATA = Path(__file__).resolve().parent / "data"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "heart-sample"
TFLITE = DATA / "heart-student-tflite-int8.tflite"
ONNX = DATA / "heart-student-onnx-int8.onnx"


def _features(artifact: Path) -> np.ndarray:
    fe = AudioFrontend.from_dict(read_sidecar(artifact)["frontend"])
    return fe.features(read_wav(DATA / "a0011.wav", sample_rate=fe.sample_rate, min_seconds=fe.window_s))


@pytest.mark.parametrize("path", [TFLITE, ONNX], ids=["tflite", "onnx"])
def test_artifact_predicts_finite_logits_for_a_real_recording(path):
    art = load_artifact(path, threads=1)
    x = _features(path)
    logits = art.predict(x)
    assert logits.shape == (len(x), 2) and np.isfinite(logits).all()


def test_running_an_artifact_imports_no_torch_or_tensorflow():
    code = (
        "import sys\n"
        "from edgekd.runtime.evaluate import evaluate_folder\n"
        f"evaluate_folder({str(TFLITE)!r}, {str(SAMPLE)!r}, threads=1)\n"
        "print(sorted(m for m in ('torch', 'tensorflow', 'onnx', 'litert_torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tflite_and_onnx_int8_agree_on_real_windows():
    x = _features(TFLITE)
    a = load_artifact(TFLITE, threads=1).predict(x).argmax(1)
    b = load_artifact(ONNX, threads=1).predict(x).argmax(1)
    assert (a == b).mean() >= 0.9


def test_eval_runs_on_the_sample_folder_with_the_runtime_only():
    out = evaluate_folder(TFLITE, SAMPLE, threads=1)
    assert out["n"] == 150 and set(out["labels"]) == {"normal", "abnormal"}
    assert 0.0 <= out["macc"] <= 1.0 and sum(map(sum, out["confusion"])) == 150


@pytest.mark.parametrize("path", [TFLITE, ONNX], ids=["tflite", "onnx"])
def test_golden_vectors_and_conformance_run_on_the_device(path, tmp_path):
    """Upgrade the committed v1 sidecar, make golden vectors from a real recording excerpt, check them back:
    the device contract needs numpy and the runtime only (this also runs in .venv-device)."""
    import json
    import shutil

    from edgekd.runtime.audio import wav_excerpt
    from edgekd.runtime.conformance import check_features, check_inputs, check_outputs
    from edgekd.runtime.golden import make_golden
    from edgekd.runtime.sidecar import upgrade_sidecar, write_sidecar

    art = tmp_path / path.name
    shutil.copyfile(path, art)
    write_sidecar(art, upgrade_sidecar(read_sidecar(path), path))
    wav_excerpt(DATA / "a0011.wav", tmp_path / "excerpt.wav", 9000)
    manifest = make_golden(art, [tmp_path / "excerpt.wav"], art.with_suffix(".golden"))
    golden = art.with_suffix(".golden")
    entry = manifest["inputs"][0]
    assert [s["step"] for s in entry["steps"]][4] == "unit_rms" and entry["predicted"] in ("normal", "abnormal")
    assert check_features(art, golden / entry["steps"][-1]["file"]).passed
    assert check_inputs(art, golden / entry["model_input"]["file"]).passed
    assert check_outputs(art, golden / entry["output_raw"]["file"]).passed
    assert json.loads((golden / "golden.json").read_text())["artifact_sha256"] == manifest["artifact_sha256"]
