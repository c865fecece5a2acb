"""Backends by name: which one a profile gets, what each refuses, and the residual-ADD audit of the two TFLite paths."""

from __future__ import annotations

import numpy as np
import pytest

from edgekd.errors import InputError
from edgekd.exporting.backends import BACKENDS, choose_backend
from edgekd.exporting.context import ExportContext
from edgekd.runtime.artifact import load_artifact

RES_SHAPE = (1, 16, 32)


def test_default_pinned_and_fully_integer_backends():
    assert choose_backend("tflite", "int8").name == "litert-torch"
    assert choose_backend("tflite", "int8", fully_integer=True).name == "onnx2tf"
    assert choose_backend("tflite", "fp32", fully_integer=True).name == "litert-torch"
    assert choose_backend("tflite", "fp16", pinned="onnx2tf").name == "onnx2tf"
    assert choose_backend("onnx", "int4-weights").name == "onnxruntime"


def test_precision_the_pinned_backend_cannot_produce_names_who_can():
    with pytest.raises(InputError, match=r"backend 'onnx2tf' cannot produce tflite int8-qat .*litert-torch can"):
        choose_backend("tflite", "int8-qat", pinned="onnx2tf", where="target 'mcu'")


def test_precision_no_backend_produces():
    with pytest.raises(InputError, match=r"tflite int4-weights, which no edgekd backend can produce"):
        choose_backend("tflite", "int4-weights")


def test_calibration_method_the_backend_lacks():
    with pytest.raises(InputError, match=r"litert-torch cannot calibrate with 'entropy'; it offers histogram, minmax"):
        ExportContext(calibration_method="entropy").method_for("litert-torch", ("histogram", "minmax"))
    assert ExportContext(calibration_method={"onnxruntime": "entropy"}).method_for("litert-torch", ("histogram",)) == "histogram"


def test_wrong_calibration_shape_is_an_input_error(student, example, tmp_path):
    bad = np.zeros((8, 1, 32, 99), np.float32)
    with pytest.raises(InputError, match=r"calibration data for .* must have shape \(N, 1, 32, 188\), got \(8, 1, 32, 99\)"):
        BACKENDS.get("onnx2tf").exporters["int8"](student, example, tmp_path / "m.tflite", bad).path
    assert not (tmp_path / "m.tflite").exists()


@pytest.fixture(scope="module")
def residual():
    """A trained-enough residual student on a small input (the ADD is what matters)."""
    import torch

    from edgekd.models import build_model

    torch.manual_seed(0)
    model = build_model("heart_student_res", num_classes=2, input_shape=RES_SHAPE, widths=(4, 8, 8), kernel=3)
    x = torch.randn(64, *RES_SHAPE)
    with torch.no_grad():  # settle BatchNorm statistics
        model.train()(x)
    return model.eval(), x


@pytest.mark.parametrize("backend, fully_integer", [("litert-torch", False), ("onnx2tf", True)])
def test_residual_add_audit(residual, tmp_path, backend, fully_integer):
    from edgekd.audit import inspect_artifact

    model, x = residual
    path = BACKENDS.get(backend).exporters["int8"](model, x[:1], tmp_path / "r.tflite", x.numpy()).path
    audit = inspect_artifact(path)
    assert audit["ops"].get("ADD") == 2  # the stem's and the identity block's
    assert audit["fully_integer"] is fully_integer
    float_adds = [op for op in audit["float_ops"] if op.startswith("ADD#")]
    assert len(float_adds) == (0 if fully_integer else 1)
    assert audit["transposes"] == 0
    if fully_integer:
        assert audit["input_dtypes"] == audit["output_dtypes"] == ["int8"]
    assert load_artifact(path).predict(x[:4].numpy()).shape == (4, 2)


@pytest.mark.parametrize("backend, precision", [("litert-torch", "fp16"), ("litert-torch", "int8-dynamic"),
                                                ("onnxruntime", "int8-dynamic")])
def test_weight_precisions_run(residual, tmp_path, backend, precision):
    from edgekd.audit import inspect_artifact

    model, x = residual
    fmt = BACKENDS.get(backend).format
    path = BACKENDS.get(backend).exporters[precision](model, x[:1], tmp_path / f"m.{fmt}", None).path
    with __import__("torch").no_grad():
        ref = model(x[:8]).numpy()
    out = load_artifact(path).predict(x[:8].numpy())
    assert np.abs(out - ref).max() < 0.25
    audit = inspect_artifact(path)
    want = "float16" if precision == "fp16" else "int8"
    assert audit["weight_dtypes"].get(want, 0) >= 1 and audit["input_dtypes"] == ["float32"]


def test_a_second_format_of_the_same_name_does_not_take_the_first_ones_sidecar(tmp_path):
    """NAME.tflite then NAME.onnx would share NAME.edgekd.json: the second export is refused, the first file keeps
    its sidecar (a new user lost a TFLite file's sidecar this way)."""
    import torch

    import edgekd
    from edgekd.errors import InputError

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
    first = edgekd.export(net, tmp_path / "net.onnx", example=torch.zeros(1, 1, 4, 4), log=lambda s: None)
    before = first.sidecar_path.read_bytes()
    with pytest.raises(InputError, match="net.edgekd.json is the sidecar of net.onnx.*give this file another name"):
        edgekd.export(net, tmp_path / "net.tflite", example=torch.zeros(1, 1, 4, 4), log=lambda s: None)
    assert first.sidecar_path.read_bytes() == before and not (tmp_path / "net.tflite").exists()


def test_an_onnx_runtime_int8_file_names_its_quantizer(residual, tmp_path):
    """Both ONNX int8 quantizers say in the sidecar which made the file (the nncf one: tests/test_nncf_quantize.py)."""
    import onnxruntime

    model, x = residual
    out = BACKENDS.get("onnxruntime").exporters["int8"](model, x[:1], tmp_path / "r.onnx", x.numpy())
    q = out.details["quantizer"]
    assert (q["name"], q["version"]) == ("onnxruntime", onnxruntime.__version__)
    assert q["preset"] == out.details["ort_form"]["chosen"] and q["activations_range"] == "minmax"


def test_a_misspelt_backend_in_the_calibration_methods_is_refused():
    """``export.calibration.method: {nnfc: minmax}`` would be silently ignored: refused, naming the key."""
    from edgekd.exporting.stage import check_export_plan
    from edgekd.targets import load_target

    with pytest.raises(InputError, match=r"export.calibration.method: unknown backend\(s\) nnfc \(known: .*nncf"):
        check_export_plan([load_target("x86_64")], ["int8"], {"nnfc": "minmax"}, lambda t: None)
