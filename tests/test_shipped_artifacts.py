"""The int8 students the benchmarks shipped (benchmarks/results/artifacts/<task>/) run from their sidecars alone.

Anyone can point ``edgekd eval`` at them with their own recordings or photos. Here they run on the in-repo
samples, in both environments (the device one has no torch/TF). The heart sample's train/val recordings
were seen in training, so these are smoke figures, not test scores (those are in heart_deploy.md).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgekd.runtime.evaluate import evaluate_folder
from edgekd.runtime.sidecar import read_sidecar

pytestmark = pytest.mark.device

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "benchmarks" / "results" / "artifacts"
SAMPLES = {"heart": "heart-sample", "plant": "plant-sample"}
# every shipped model file (int8 post-training or int8 quantization-aware), whatever its name
CASES = [(task, f.name, sample) for task, sample in SAMPLES.items()
         for f in sorted((SHIPPED / task).glob("student-*")) if f.suffix in (".tflite", ".onnx")]


def test_every_task_ships_a_tflite_and_an_onnx_student():
    for task in SAMPLES:
        assert {n.split(".")[-1] for t, n, _ in CASES if t == task} == {"tflite", "onnx"}, task


@pytest.mark.parametrize("task, name, sample", CASES, ids=[f"{t}-{n.split('.')[-1]}" for t, n, _ in CASES])
def test_a_shipped_student_scores_above_chance_on_the_sample(task, name, sample):
    path = SHIPPED / task / name
    assert read_sidecar(path)["precision"].startswith("int8")
    result = evaluate_folder(path, ROOT / "data" / sample, threads=1)
    chance = 1 / len(result["labels"])
    assert result["n"] > 40 and result["balanced_accuracy"] > chance + 0.2, result["balanced_accuracy"]


def test_edgekd_eval_runs_a_shipped_file(tmp_path):
    path = SHIPPED / "heart" / "student-tflite-int8.tflite"
    proc = subprocess.run([sys.executable, "-m", "edgekd", "eval", str(path), "--data", str(ROOT / "data" / "heart-sample"),
                           "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n"] == 150 and "ci95" in out and out["ci95"]["macc"][0] < out["macc"] < out["ci95"]["macc"][1]
