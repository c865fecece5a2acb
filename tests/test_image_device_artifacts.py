"""The committed plant-leaf student artifacts run on photo folders with the device-side code alone.

These run in both environments: the main one (ai-edge-litert) and .venv-device
(numpy<2 + tflite-runtime 2.14 + onnxruntime + Pillow, no torch/TF). The
artifacts in tests/data were exported by benchmarks/plant_full.py (full dev set)
and are copied with their sidecars. The sample photos are downscaled copies of
dev photos, some of which that student trained on: the accuracy here is a
sanity check of the device path, not a held-out figure.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekd.runtime.artifact import load_artifact
from edgekd.runtime.evaluate import evaluate_folder
from edgekd.runtime.image import ImageFrontend, to_layout
from edgekd.runtime.sidecar import read_sidecar

pytestmark = pytest.mark.device

DATA = Path(__file__).resolve().parent / "data"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "plant-sample"
TFLITE = DATA / "plant-student-tflite-int8.tflite"
ONNX = DATA / "plant-student-onnx-int8.onnx"
EVAL_KEYS = {"artifact", "n", "accuracy", "balanced_accuracy", "labels", "confusion", "per_class"}


def test_tflite_artifact_takes_nhwc_int8_photos_as_its_sidecar_says():
    meta = read_sidecar(TFLITE)
    assert meta["task"] == "image-classification" and len(meta["labels"]) == 7
    art = load_artifact(TFLITE, threads=1)
    assert art.input["layout"] == "NHWC" and art.input["shape"] == [1, 96, 96, 3] and art.input["dtype"] == "int8"
    fe = ImageFrontend.from_dict(meta["frontend"])
    x = fe.features(SAMPLE / "healthy" / "20211231_123105 (Custom).jpg")
    logits = art.predict(x)
    assert logits.shape == (1, 7) and np.isfinite(logits).all()
    # feeding the runtime directly in the sidecar's layout gives the same output as predict
    q = art.input["quantization"]
    raw = np.clip(np.round(to_layout(x, art.input["layout"]) / q["scale"][0] + q["zero_point"][0]), -128, 127)
    out = art.invoke_raw(raw.astype(np.int8))
    oq = art.output["quantization"]
    assert np.allclose((out.astype(np.float32) - oq["zero_point"][0]) * oq["scale"][0], logits)


@pytest.mark.parametrize("path", [TFLITE, ONNX], ids=["tflite", "onnx"])
def test_eval_scores_the_sample_folder_with_seven_classes(path):
    result = evaluate_folder(path, SAMPLE, threads=1)
    assert EVAL_KEYS <= set(result) and result["n"] == 70
    assert "sensitivity" not in result  # two-class keys only for two classes
    assert np.array(result["confusion"]).shape == (7, 7)
    assert result["accuracy"] > 0.6  # chance is 1/7


def test_eval_json_from_the_cli_imports_no_torch(tmp_path):
    code = (
        "import sys, json\n"
        "from edgekd.cli import main\n"
        f"rc = main(['eval', {str(TFLITE)!r}, '--data', {str(SAMPLE)!r}, '--json', '--threads', '1'])\n"
        "print(json.dumps({'rc': rc, 'heavy': sorted(m for m in ('torch', 'tensorflow', 'onnx', 'litert_torch') "
        "if m in sys.modules)}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, last = out.stdout.strip().splitlines()[0], out.stdout.strip().splitlines()[-1]
    assert EVAL_KEYS <= set(json.loads(first)) and json.loads(last) == {"rc": 0, "heavy": []}


def test_tflite_and_onnx_int8_agree_on_the_sample_photos():
    fe = ImageFrontend.from_dict(read_sidecar(TFLITE)["frontend"])
    x = np.concatenate([fe.features(p) for p in sorted(SAMPLE.glob("*/*.jpg"))])
    a = load_artifact(TFLITE, threads=1).predict(x).argmax(1)
    b = load_artifact(ONNX, threads=1).predict(x).argmax(1)
    assert (a == b).mean() >= 0.9
