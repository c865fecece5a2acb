"""edgekd.audit.inspect_artifact on exported artifacts and on hand-built ONNX graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekd.audit import inspect_artifact
from edgekd.errors import InputError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def test_tflite_int8_is_fully_integer_nhwc_and_per_channel(exported):
    report = inspect_artifact(exported["tflite-int8"])
    assert report["quantized"] and report["fully_integer"] and report["float_ops"] == []
    assert report["input_dtypes"] == report["output_dtypes"] == ["int8"]
    assert report["transposes"] == 0 and report["quantize_ops"] == report["dequantize_ops"] == 0
    assert report["per_channel_weights"] == 4 and report["per_tensor_weights"] == 0


def test_tflite_fp32_is_not_quantized_and_has_the_same_weights(exported):
    fp32, int8 = inspect_artifact(exported["tflite-fp32"]), inspect_artifact(exported["tflite-int8"])
    assert not fp32["quantized"] and not fp32["fully_integer"] and fp32["input_dtypes"] == ["float32"]
    assert fp32["params"] == int8["params"] > 20_000 and fp32["ops"] == int8["ops"]


def test_onnx_int8_is_qdq_with_per_channel_weights(exported):
    report = inspect_artifact(exported["onnx-int8"])
    assert report["quantized"] and report["quantize_ops"] > 0 and report["dequantize_ops"] > 0
    assert report["per_channel_weights"] == 4 and report["per_tensor_weights"] == 0
    assert report["input_dtypes"] == ["float32"]


def test_onnx_fp32_is_not_quantized(exported):
    report = inspect_artifact(exported["onnx-fp32"])
    assert not report["quantized"] and report["quantize_ops"] == report["dequantize_ops"] == 0
    assert report["ops"]["Conv"] == 3 and report["format"] == "onnx"


def _qdq_model(path: Path, *, float_conv: bool = False, per_channel: bool = True, transpose: bool = False) -> Path:
    """x → Q → DQ → conv_q (int8 weights) → Q → DQ → [conv_float] → [Transpose] → y.

    ``conv_float`` has float weights and its output is not quantized: it computes in float.
    """
    scale_w = np.array([0.1, 0.2] if per_channel else 0.1, np.float32)
    inits = [
        numpy_helper.from_array(np.array(0.05, np.float32), "s"),
        numpy_helper.from_array(np.array(128, np.uint8), "zp"),
        numpy_helper.from_array(np.ones((2, 1, 1, 1), np.int8), "w_q"),
        numpy_helper.from_array(scale_w, "w_s"),
        numpy_helper.from_array(np.zeros(scale_w.shape, np.int8), "w_zp"),
        numpy_helper.from_array(np.ones((2, 2, 1, 1), np.float32), "w_f"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["x_q"], name="q_in"),
        helper.make_node("DequantizeLinear", ["x_q", "s", "zp"], ["x_dq"], name="dq_in"),
        helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_zp"], ["w"], name="dq_w", axis=0),
        helper.make_node("Conv", ["x_dq", "w"], ["c"], name="conv_q"),
        helper.make_node("QuantizeLinear", ["c", "s", "zp"], ["c_q"], name="q_c"),
        helper.make_node("DequantizeLinear", ["c_q", "s", "zp"], ["c_dq"], name="dq_c"),
    ]
    if float_conv:
        nodes.append(helper.make_node("Conv", [nodes[-1].output[0], "w_f"], ["f"], name="conv_float"))
    if transpose:
        nodes.append(helper.make_node("Transpose", [nodes[-1].output[0]], ["t"], name="nhwc", perm=[0, 2, 3, 1]))
    nodes[-1].output[0] = "y"
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 2] if transpose else [1, 2, 4, 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return path


def test_qdq_graph_is_fully_integer(tmp_path):
    report = inspect_artifact(_qdq_model(tmp_path / "q.onnx"))
    assert report["fully_integer"] and report["float_ops"] == []
    assert (report["quantize_ops"], report["dequantize_ops"], report["per_channel_weights"]) == (2, 3, 1)


def test_float_conv_between_qdq_ops_is_listed(tmp_path):
    report = inspect_artifact(_qdq_model(tmp_path / "f.onnx", float_conv=True))
    assert report["quantized"] and not report["fully_integer"]
    assert "conv_float" in report["float_ops"] and "conv_q" not in report["float_ops"]


def test_transpose_is_counted(tmp_path):
    assert inspect_artifact(_qdq_model(tmp_path / "t.onnx", transpose=True))["transposes"] == 1


def test_per_tensor_weights_are_counted_as_per_tensor(tmp_path):
    report = inspect_artifact(_qdq_model(tmp_path / "p.onnx", per_channel=False))
    assert (report["per_channel_weights"], report["per_tensor_weights"]) == (0, 1)
    assert report["params"] == 2 + 4  # int8 kernel + the float kernel; scales and zero points excluded


@pytest.mark.parametrize(("name", "content"), [("m.onnx", None), ("m.bin", b"x"), ("m.onnx", b"not onnx")])
def test_inspect_rejects_missing_unknown_or_corrupt_files(tmp_path, name, content):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=name):
        inspect_artifact(path)
