"""What the latency model reads of a graph beyond its ops: ONNX Runtime's per-layer layout (blocked NCHWc or plain
convolutions, inserted reorders), grouped convolutions and global pools (``edgekd.runners.ortlayout``,
``graphcost``, ``kernelmodel.group_of``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekd.runners.graphcost import graph_costs
from edgekd.runners.kernelmodel import group_of
from edgekd.runners.opcost import Tensor, op_cost
from edgekd.runners.ortlayout import host_layout, layout_for

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _two_convs(path: Path, channels: int) -> Path:
    """input (1, 16, 32, 32) -> 1x1 Conv to ``channels`` -> Relu -> depthwise 3x3 Conv: an fp32 ONNX file (an
    inverted residual's first half)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(size=(channels, 16, 1, 1)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(size=(channels, 1, 3, 3)).astype(np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="expand"),
             helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w2"], ["y"], pads=[1, 1, 1, 1], group=channels, name="depthwise")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, 32, 32])],
                              [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


needs_nchwc = pytest.mark.skipif(not host_layout().startswith("ort-nchwc"),
                                 reason="ONNX Runtime's blocked layout needs an x86 CPU with AVX2")


def test_the_layout_class_follows_the_cpu():
    assert layout_for("x86_64", ["avx2", "avx512f"]) == "ort-nchwc16"
    assert layout_for("x86_64", ["avx2"]) == "ort-nchwc8"
    assert layout_for("aarch64", ["asimd"]) == "ort"


@needs_nchwc
def test_aligned_convolutions_are_read_as_onnx_runtime_blocks_them(tmp_path):
    costs = graph_costs(_two_convs(tmp_path / "m.onnx", 32), onnx_layout=host_layout())
    convs = [c for c in costs if c.kind == "conv"]
    assert [c.layout for c in convs] == ["nchwc", "nchwc"]
    assert [group_of(c) for c in convs] == ["conv-pw-b", "conv-dw-b"]
    assert any(c.layout == "inserted" and group_of(c) == "reorder" for c in costs)  # into and out of the blocks


@needs_nchwc
def test_a_pruned_odd_channel_count_leaves_the_blocked_layout(tmp_path):
    """30 channels (a pruned 32) is no multiple of the SIMD block: ONNX Runtime still pads the 1x1 convolution's
    output into its blocks, but runs the depthwise one plain."""
    costs = graph_costs(_two_convs(tmp_path / "m.onnx", 30), onnx_layout=host_layout())
    assert [c.layout for c in costs if c.kind == "conv"] == ["nchwc", ""]


def test_a_device_without_blocked_layout_gets_plain_convolutions(tmp_path):
    """An Arm device (layout ``ort``): the blocked transformer is switched off, whatever this host has."""
    costs = graph_costs(_two_convs(tmp_path / "m.onnx", 32), onnx_layout="ort")
    assert [c.layout for c in costs if c.kind == "conv"] == ["", ""]


def test_without_a_layout_the_graph_is_read_as_written(tmp_path):
    costs = graph_costs(_two_convs(tmp_path / "m.onnx", 32))
    assert not any(c.layout for c in costs)


def test_a_grouped_convolution_is_its_own_kind():
    """ONNX [Cout, Cin/group, kh, kw] and TFLite [Cout, kh, kw, Cin/groups] on a wider input: ``grp``."""
    onnx_op = op_cost("Conv", [Tensor((1, 64, 8, 8)), Tensor((64, 8, 3, 3), const=True)], [Tensor((1, 64, 8, 8))],
                      "fp32")
    tfl_op = op_cost("CONV_2D", [Tensor((1, 8, 8, 64)), Tensor((64, 3, 3, 8), const=True)], [Tensor((1, 8, 8, 64))],
                     "int8")
    assert (onnx_op.shape, tfl_op.shape) == ("grp", "grp")
    assert group_of(onnx_op) == group_of(tfl_op) == "conv-grp"
    assert onnx_op.macs == 64 * 64 * 8 * 9  # outputs x (Cin/group x kh x kw)


def test_an_average_pool_over_the_whole_map_is_a_global_mean():
    """MobileNetV3's squeeze-excite average is written as AveragePool with the map as its kernel: costed as a
    global mean, not as a 2x2 pooling of the same bytes."""
    glob = op_cost("AveragePool", [Tensor((1, 72, 28, 28))], [Tensor((1, 72, 1, 1))], "int8")
    local = op_cost("AveragePool", [Tensor((1, 72, 28, 28))], [Tensor((1, 72, 14, 14))], "int8")
    assert (group_of(glob), group_of(local)) == ("pool-mean", "pool-avg")
