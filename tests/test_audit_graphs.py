"""The audit on hand-built ONNX graphs: a float op in an int8 graph, a transpose, per-tensor vs per-channel weights."""

from __future__ import annotations

import numpy as np
import pytest

from edgekd.audit import inspect_artifact

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _save(tmp_path, nodes, inits, name="g.onnx", out_shape=(1, 4, 8, 8)):
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _qdq_conv(scales: np.ndarray, tail_float: bool = False):
    """x → Q → DQ → Conv(DQ(int8 W)) → Q → DQ [→ Sigmoid in float] → y."""
    w = np.ones((4, 2, 3, 3), np.int8)
    inits = [
        numpy_helper.from_array(w, "w_q"),
        numpy_helper.from_array(scales.astype(np.float32), "w_s"),
        numpy_helper.from_array(np.array(0.05, np.float32), "a_s"),
        numpy_helper.from_array(np.array(0, np.uint8), "a_z"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "a_s", "a_z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "a_s", "a_z"], ["xf"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_s"], ["w"], axis=0),
        helper.make_node("Conv", ["xf", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("QuantizeLinear", ["c", "a_s", "a_z"], ["cq"]),
        helper.make_node("DequantizeLinear", ["cq", "a_s", "a_z"], ["cf" if tail_float else "y"]),
    ]
    if tail_float:
        nodes.append(helper.make_node("Sigmoid", ["cf"], ["y"], name="float_sigmoid"))
    return nodes, inits


def test_integer_qdq_graph_is_fully_integer(tmp_path):
    nodes, inits = _qdq_conv(np.full(4, 0.1))
    audit = inspect_artifact(_save(tmp_path, nodes, inits))
    assert audit["quantized"] and audit["fully_integer"] and audit["float_ops"] == []


def test_float_op_in_int8_graph_is_named(tmp_path):
    nodes, inits = _qdq_conv(np.full(4, 0.1), tail_float=True)
    audit = inspect_artifact(_save(tmp_path, nodes, inits))
    assert audit["quantized"] and not audit["fully_integer"]
    assert audit["float_ops"] == ["float_sigmoid"]


def test_transpose_is_counted(tmp_path):
    nodes, inits = _qdq_conv(np.full(4, 0.1))
    nodes[-1] = helper.make_node("DequantizeLinear", ["cq", "a_s", "a_z"], ["cf"])
    nodes.append(helper.make_node("Transpose", ["cf"], ["y"], perm=[0, 2, 3, 1], name="to_nhwc"))
    audit = inspect_artifact(_save(tmp_path, nodes, inits, out_shape=(1, 8, 8, 4)))
    assert audit["transposes"] == 1 and audit["ops"]["Transpose"] == 1


def test_per_tensor_and_per_channel_weights(tmp_path):
    per_tensor = inspect_artifact(_save(tmp_path, *_qdq_conv(np.array(0.1)), name="t.onnx"))
    per_channel = inspect_artifact(_save(tmp_path, *_qdq_conv(np.full(4, 0.1)), name="c.onnx"))
    assert (per_tensor["per_tensor_weights"], per_tensor["per_channel_weights"]) == (1, 0)
    assert (per_channel["per_tensor_weights"], per_channel["per_channel_weights"]) == (0, 1)
    assert per_channel["weight_dtypes"]["int8"] == 1
