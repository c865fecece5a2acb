"""Weight-only int4/int8 ONNX files and mixed precision under a size budget."""

from __future__ import annotations

import numpy as np
import pytest

from edgekd.errors import InputError
from edgekd.exporting.context import ExportContext, Validation
from edgekd.runtime.artifact import load_artifact

from conftest import spectrograms


@pytest.fixture(scope="module")
def fp32_onnx(student, example, tmp_path_factory):
    from edgekd.exporting import EXPORTERS

    return EXPORTERS.get("onnx-fp32")(student, example, tmp_path_factory.mktemp("w") / "fp32.onnx", None)


def test_int4_weights_run_in_onnxruntime_and_are_smaller_than_int8(student, example, fp32_onnx, tmp_path, calibration):
    from edgekd.audit import inspect_artifact
    from edgekd.exporting import EXPORTERS
    from edgekd.exporting.onnx_weights import quantize_weights

    int8 = EXPORTERS.get("onnx-int8")(student, example, tmp_path / "int8.onnx", calibration)
    int4 = quantize_weights(fp32_onnx, tmp_path / "int4.onnx", 4)
    x = spectrograms(16, seed=3)[0]
    ref = load_artifact(fp32_onnx).predict(x)
    out = load_artifact(int4).predict(x)
    assert out.shape == ref.shape and np.isfinite(out).all()
    assert int4.stat().st_size < int8.stat().st_size
    audit = inspect_artifact(int4)
    assert audit["weight_dtypes"].get("int4") == 4 and audit["per_channel_weights"] == 4


def test_choose_bits_meets_budget_with_least_cost():
    from edgekd.exporting.mixed import choose_bits

    sens = {
        "fp32_size": 1000,
        "layers": [
            {"name": "a", "options": {8: {"size_delta": -300, "cost": 0.0}, 4: {"size_delta": -450, "cost": 0.5}}},
            {"name": "b", "options": {8: {"size_delta": -300, "cost": 0.0}, 4: {"size_delta": -450, "cost": 0.01}}},
        ],
    }
    assert choose_bits(sens, 400) == {"a": 8, "b": 8}
    assert choose_bits(sens, 260) == {"a": 8, "b": 4}  # b is the cheap one to push to int4
    assert choose_bits(sens, 50) is None


def test_mixed_budget_below_the_smallest_file_names_it(fp32_onnx, tmp_path):
    from edgekd.exporting.mixed import export_mixed

    x = spectrograms(8, seed=4)[0]
    with pytest.raises(InputError, match=r"smallest possible file \(every layer int4 weights\) is [0-9.]+ KiB"):
        export_mixed(fp32_onnx, tmp_path / "m.onnx", x=x, score=lambda logits: 1.0, size_kb=1.0, subject="tiny")
    assert not (tmp_path / "m.onnx").exists()


def test_mixed_meets_a_budget_that_int8_weights_miss(student, example, fp32_onnx, tmp_path):
    from edgekd.exporting.backends import BACKENDS
    from edgekd.exporting.onnx_weights import quantize_weights

    x, y = spectrograms(24, seed=5)
    int8 = quantize_weights(fp32_onnx, tmp_path / "w8.onnx", 8).stat().st_size
    int4 = quantize_weights(fp32_onnx, tmp_path / "w4.onnx", 4).stat().st_size
    budget_kb = (int8 + int4) / 2 / 1024
    ctx = ExportContext(validation=Validation(x, lambda logits: float((logits.argmax(1) == y).mean())),
                        mixed_size_kb=budget_kb)
    out = BACKENDS.get("onnxruntime").exporters["mixed"](student, example, tmp_path / "mixed.onnx", None, context=ctx)
    path = out.path
    assert int4 <= path.stat().st_size <= budget_kb * 1024 < int8
    bits = out.details["mixed"]["bits"]
    assert set(bits.values()) <= {32, 8, 4} and 4 in bits.values()
    assert load_artifact(path).predict(x).shape == (24, 2)
