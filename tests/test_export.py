"""Exporters: each artifact runs in its runtime like the torch model; failures are clean."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import spectrograms

from edgekd.errors import BackendError, InputError
from edgekd.exporting import EXPORTERS
from edgekd.exporting.litert_export import export_tflite
from edgekd.exporting.onnx_export import export_onnx
from edgekd.exporting.ort_quantize import quantize_onnx_int8
from edgekd.runtime.artifact import load_artifact

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402


@pytest.fixture(scope="module")
def inputs_and_logits(student) -> tuple[np.ndarray, np.ndarray]:
    """64 fresh windows and the torch model's logits for them."""
    x = spectrograms(64, seed=2)[0]
    with torch.no_grad():
        return x, student(torch.from_numpy(x)).numpy()


class SvdNet(nn.Module):
    """Calls torch.linalg.svd, which neither exporter can lower."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.svd(self.conv(x).mean(dim=1))[1][:, :2]


class DataDependentNet(nn.Module):
    """Branches in Python on a tensor value: torch.export cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if y.sum() > 0:
            return y.mean((2, 3))[:, :2]
        return y.amax((2, 3))[:, :2]


@pytest.mark.parametrize(("key", "tolerance"), [("onnx-fp32", 1e-4), ("tflite-fp32", 1e-3)])
def test_fp32_artifact_matches_torch(exported, inputs_and_logits, key, tolerance):
    x, logits = inputs_and_logits
    got = load_artifact(exported[key], threads=1).predict(x)
    assert got.dtype == np.float32 and got.shape == logits.shape
    assert np.abs(got - logits).max() < tolerance


@pytest.mark.parametrize("key", ["onnx-int8", "tflite-int8"])
def test_int8_artifact_agrees_with_torch(exported, inputs_and_logits, key):
    x, logits = inputs_and_logits
    got = load_artifact(exported[key], threads=1).predict(x)
    assert (got.argmax(1) == logits.argmax(1)).mean() >= 0.9
    assert np.abs(got - logits).mean() < 0.05 * np.abs(logits).mean()


def test_int8_tflite_is_under_a_third_of_fp32(exported):
    assert exported["tflite-int8"].stat().st_size < exported["tflite-fp32"].stat().st_size / 3


def test_onnx_export_is_one_file_with_dynamic_batch(exported):
    folder = exported["onnx-fp32"].parent
    assert not list(folder.glob("*.data")) and not list(folder.glob(".*.tmp*"))
    assert load_artifact(exported["onnx-fp32"]).input["shape"] == [None, 1, 32, 188]


def test_onnx_quantization_rejects_wrong_calibration_shape(exported, tmp_path):
    with pytest.raises(InputError, match=r"\(N, 1, 32, 188\), got \(8, 1, 32, 100\)"):
        quantize_onnx_int8(exported["onnx-fp32"], tmp_path / "q.onnx", np.zeros((8, 1, 32, 100), np.float32))
    assert not (tmp_path / "q.onnx").exists()


def test_tflite_int8_rejects_wrong_calibration_shape(student, example, tmp_path):
    with pytest.raises(InputError, match=r"\(N, 1, 32, 188\), got \(32, 188\)"):
        export_tflite(student, example, tmp_path / "q.tflite", precision="int8", calibration=np.zeros((32, 188)))


def test_tflite_rejects_unknown_precision(student, example, tmp_path):
    with pytest.raises(InputError, match="fp16"):
        export_tflite(student, example, tmp_path / "m.tflite", precision="fp16")


@pytest.mark.parametrize(
    ("key", "net", "blame"),
    [
        ("onnx-fp32", SvdNet, "aten._linalg_svd"),
        ("tflite-fp32", SvdNet, "aten._linalg_svd"),
        ("tflite-int8", DataDependentNet, "data-dependent"),
    ],
)
def test_unexportable_model_raises_backend_error_and_writes_nothing(key, net, blame, example, calibration, tmp_path):
    target = tmp_path / f"bad.{key.split('-')[0]}"
    with pytest.raises(BackendError, match=net.__name__) as info:
        EXPORTERS.get(key)(net().eval(), example, target, calibration)
    assert blame in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_export_restores_the_training_mode(example, tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).train()
    export_onnx(model, example, tmp_path / "m.onnx")
    assert model.training


def test_importing_the_packages_loads_no_heavy_backend():
    code = (
        "import sys, edgekd.exporting, edgekd.audit, edgekd.runtime.artifact, edgekd.runtime.sidecar;"
        "print([m for m in ('torch', 'tensorflow', 'onnx', 'litert_torch', 'onnxruntime') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
