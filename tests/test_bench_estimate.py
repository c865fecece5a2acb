"""The estimate runner: per-op MACs/bytes read from the file, the device's coefficients, the "estimated" label."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from edgekd.runners.estimate import estimate_ms, run_estimate
from edgekd.runners.graphcost import graph_costs
from edgekd.runners.opcost import Tensor, op_cost
from edgekd.runners.options import BenchOptions
from edgekd.errors import InputError
from edgekd.targets import EstimateCoefficients, TargetProfile, load_target

ROOT = Path(__file__).resolve().parent.parent
TFLITE = ROOT / "tests" / "data" / "heart-student-tflite-int8.tflite"
ONNX = ROOT / "tests" / "data" / "heart-student-onnx-int8.onnx"
COEFFS = EstimateCoefficients(int8_gmacs=4.0, fp32_gmacs=2.0, mem_gbps=5.0, op_overhead_us=10.0,
                              invoke_overhead_us=50.0, sources=["test figures"])


def _sidecar_macs(artifact: Path) -> int:
    return json.loads(artifact.with_suffix(".edgekd.json").read_text())["model"]["macs"]


def test_conv_macs_are_output_elements_times_kernel_volume():
    out = Tensor((1, 16, 90, 32))
    assert op_cost("CONV_2D", [Tensor((1, 32, 180, 16)), Tensor((32, 3, 3, 16), True)], [out], "int8").macs \
        == out.elements * 3 * 3 * 16
    assert op_cost("DEPTHWISE_CONV_2D", [Tensor((1, 16, 90, 32)), Tensor((1, 3, 3, 32), True)], [out], "fp32").macs \
        == out.elements * 3 * 3
    assert op_cost("Conv", [Tensor((1, 16, 32, 180)), Tensor((32, 16, 3, 3), True)], [Tensor((1, 32, 16, 90))],
                   "fp32").macs == out.elements * 16 * 3 * 3
    assert op_cost("FULLY_CONNECTED", [Tensor((1, 64)), Tensor((2, 64), True)], [Tensor((1, 2))], "int8").macs == 128


def test_int8_ops_move_a_quarter_of_the_fp32_bytes():
    args = ([Tensor((1, 64)), Tensor((2, 64), True)], [Tensor((1, 2))])
    assert op_cost("FULLY_CONNECTED", *args, "fp32").bytes == 4 * op_cost("FULLY_CONNECTED", *args, "int8").bytes


def test_reshape_is_free():
    c = op_cost("RESHAPE", [Tensor((1, 64, 1, 1)), Tensor((2,), True)], [Tensor((1, 64))], "int8")
    assert c.macs == 0 and c.bytes == 0


@pytest.mark.device
def test_tflite_graph_macs_match_the_sidecar():
    costs = graph_costs(TFLITE)
    assert sum(c.macs for c in costs if c.kind in ("conv", "matmul")) == _sidecar_macs(TFLITE)
    assert {c.precision for c in costs if c.kind == "conv"} == {"int8"}


def test_onnx_qdq_graph_macs_match_the_sidecar():
    pytest.importorskip("onnx")
    costs = graph_costs(ONNX)
    assert sum(c.macs for c in costs if c.kind in ("conv", "matmul")) == _sidecar_macs(ONNX)
    assert all(c.op not in ("QuantizeLinear", "DequantizeLinear") or c.kind == "elementwise" for c in costs)
    assert {c.precision for c in costs if c.kind == "conv"} == {"int8"}


@pytest.mark.device
def test_estimate_grows_with_macs_and_shrinks_with_throughput():
    costs = graph_costs(TFLITE)
    doubled = [c.__class__(c.op, c.kind, c.precision, 2 * c.macs, c.bytes) for c in costs]
    base = estimate_ms(costs, COEFFS, threads=1)
    assert estimate_ms(doubled, COEFFS, 1)["compute_ms"] == pytest.approx(2 * base["compute_ms"])
    assert estimate_ms(doubled, COEFFS, 1)["latency_ms"] > base["latency_ms"]
    faster = COEFFS.model_copy(update={"int8_gmacs": 8.0})
    assert estimate_ms(costs, faster, 1)["compute_ms"] == pytest.approx(base["compute_ms"] / 2)


@pytest.mark.device
def test_more_threads_speed_up_compute_only_up_to_the_cores():
    costs = graph_costs(TFLITE)
    coeffs = COEFFS.model_copy(update={"cores": 2, "thread_efficiency": 0.5})
    one, two, eight = (estimate_ms(costs, coeffs, t) for t in (1, 2, 8))
    assert two["compute_ms"] == pytest.approx(one["compute_ms"] / 1.5)
    assert eight["compute_ms"] == pytest.approx(two["compute_ms"])
    assert two["memory_ms"] == one["memory_ms"]


@pytest.mark.device
def test_estimate_runner_is_labelled_estimated():
    result = run_estimate(TFLITE, load_target("rpi4"), BenchOptions())
    assert result["runner"] == "estimate" and result["estimated"] is True and result["runs"] == 0
    assert math.isfinite(result["p50_ms"]) and result["p50_ms"] > 0
    assert result["p50_ms"] == result["p90_ms"] == result["p99_ms"]
    assert result["method"].startswith("estimated, not measured") and result["host"]["profile"] == "rpi4"


@pytest.mark.device
def test_profile_without_coefficients_cannot_estimate():
    bare = TargetProfile(name="board", arch="aarch64", formats=["tflite"], precisions=["int8"],
                         runner={"kind": "estimate"}, source="board.yaml")
    with pytest.raises(InputError, match="board.yaml: the estimate runner needs a calibration .* or an .estimate. section"):
        run_estimate(TFLITE, bare, BenchOptions())


def test_the_ops_shape_and_channels_are_read_for_the_kernel_predictors():
    """A 1-channel input's convolution is TFLite's depthwise with a depth multiplier (its own slow kernel), told
    apart from a true depthwise; channels, window and output positions come from the weights."""
    out = Tensor((1, 32, 188, 8))
    dwm = op_cost("DEPTHWISE_CONV_2D", [Tensor((1, 32, 188, 1)), Tensor((1, 5, 5, 8), True)], [out], "int8")
    dw = op_cost("DEPTHWISE_CONV_2D", [Tensor((1, 32, 188, 8)), Tensor((1, 3, 3, 8), True)], [out], "int8")
    pw = op_cost("Conv", [Tensor((1, 24, 16, 16)), Tensor((40, 24, 1, 1), True)], [Tensor((1, 40, 16, 16))], "fp32")
    assert (dwm.shape, dw.shape, pw.shape) == ("dwm", "dw", "pw")
    assert (pw.cin, pw.cout, pw.window, pw.pixels) == (24, 40, 1, 256) and pw.macs == 24 * 40 * 256
    assert (pw.in_bytes, pw.weight_bytes, pw.out_bytes) == (4 * 24 * 256, 4 * 40 * 24, 4 * 40 * 256)
