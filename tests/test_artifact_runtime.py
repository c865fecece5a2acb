"""edgekd.runtime: loading artifacts in their runtimes, and the sidecar files."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from edgekd.errors import InputError
from edgekd.runtime.artifact import describe_io, load_artifact
from edgekd.runtime.sidecar import SCHEMA, read_sidecar, sidecar_path, write_sidecar


def test_tflite_int8_artifact_reports_nhwc_int8_io(exported):
    art = load_artifact(exported["tflite-int8"], threads=2)
    assert (art.format, art.runtime, art.threads) == ("tflite", "ai-edge-litert", 2)
    assert art.input["shape"] == [1, 32, 188, 1] and art.input["layout"] == "NHWC"
    assert art.input["dtype"] == art.output["dtype"] == "int8"
    assert len(art.input["quantization"]["scale"]) == 1 and len(art.output["quantization"]["zero_point"]) == 1


def test_onnx_artifact_reports_nchw_float_io_with_dynamic_batch(exported):
    art = load_artifact(exported["onnx-int8"], threads=1)
    assert (art.format, art.runtime) == ("onnx", "onnxruntime")
    assert art.input == {
        "name": "input", "shape": [None, 1, 32, 188], "dtype": "float32", "quantization": None, "layout": "NCHW"
    }
    assert art.output["shape"] == [None, 2]


def test_invoke_raw_runs_the_artifacts_own_dtype_and_layout(exported):
    art = load_artifact(exported["tflite-int8"], threads=1)
    out = art.invoke_raw(np.zeros((1, 32, 188, 1), np.int8))
    assert out.dtype == np.int8 and out.shape == (1, 2)


def test_predict_rejects_a_batch_of_the_wrong_shape(exported):
    art = load_artifact(exported["tflite-fp32"], threads=1)
    with pytest.raises(InputError, match=r"\[1, 32, 188, 1\]"):
        art.predict(np.zeros((2, 1, 32, 100), np.float32))


def test_describe_io_matches_the_loaded_artifact(exported):
    art = load_artifact(exported["tflite-fp32"])
    assert describe_io(exported["tflite-fp32"]) == {"input": art.input, "output": art.output}


@pytest.mark.device
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [("m.tflite", None, "not found"), ("m.pt", b"x", "unknown artifact type"), ("m.tflite", b"garbage", "cannot load")],
)
def test_bad_artifact_file_raises_input_error_naming_it(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        load_artifact(path)
    assert str(path) in str(info.value)


def test_forcing_a_runtime_of_the_other_format_raises_input_error(exported):
    with pytest.raises(InputError, match="onnxruntime"):
        load_artifact(exported["tflite-fp32"], runtime="onnxruntime")


def test_missing_runtime_names_the_pip_package(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(InputError, match="pip install ai-edge-litert or tflite-runtime"):
        load_artifact(exported["tflite-fp32"])


@pytest.mark.device
def test_sidecar_round_trip(tmp_path):
    artifact = tmp_path / "student.tflite"
    artifact.write_bytes(b"model")
    meta = {"precision": "int8", "labels": ["normal", "abnormal"], "frontend": {"kind": "tensor", "shape": [1, 4]}}
    written = write_sidecar(artifact, meta)
    assert written == sidecar_path(artifact) == tmp_path / "student.edgekd.json"
    assert read_sidecar(artifact) == {"schema": SCHEMA, **meta}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student.edgekd.json", "student.tflite"]  # no temp file


@pytest.mark.device
def test_read_sidecar_of_a_missing_artifact_says_the_artifact_is_missing(tmp_path):
    write_sidecar(tmp_path / "gone.onnx", {"labels": ["a", "b"], "frontend": {"kind": "tensor", "shape": [2]}})
    with pytest.raises(InputError, match=r"gone.onnx: artifact not found"):
        read_sidecar(tmp_path / "gone.onnx")


@pytest.mark.device
@pytest.mark.parametrize(
    ("text", "message"),
    [(None, "not found"), ("{not json", "not readable JSON"), (json.dumps({"schema": "other/9"}), "other/9")],
)
def test_read_sidecar_rejects_missing_or_garbled_files(tmp_path, text, message):
    artifact = tmp_path / "m.onnx"
    artifact.write_bytes(b"model")
    if text is not None:
        sidecar_path(artifact).write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_sidecar(artifact)
    assert "m.edgekd.json" in str(info.value)
