"""The emulated aarch64 runner: the committed heart students on the ARM wheels under qemu, parity with x86.

The arm64 root is built by ``make arm64-root`` (a prerequisite of ``make test``);
the runs here are kept short (5 timed runs under qemu).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekd.runners.emulated import run_emulated
from edgekd.runners.emulated_parity import feature_windows, compare_outputs
from edgekd.runners.emulated_root import read_stamp, resolve_root
from edgekd.runners.options import BenchOptions
from edgekd.errors import InputError
from edgekd.report.budgets import check_artifact
from edgekd.runtime.sidecar import read_sidecar
from edgekd.targets import Budgets, TargetProfile

DATA = Path(__file__).parent / "data"
STUDENTS = {"tflite": DATA / "heart-student-tflite-int8.tflite", "onnx": DATA / "heart-student-onnx-int8.onnx"}
OPTS = BenchOptions(runs=5, warmup=1, threads=1, max_seconds=30, timeout_s=240)

needs_root = pytest.mark.skipif(
    read_stamp(resolve_root()) is None, reason=f"arm64 root not built at {resolve_root()}: run `make arm64-root`"
)


def arm_board(**runner) -> TargetProfile:
    """An aarch64 profile measured by the emulated runner."""
    return TargetProfile.model_validate({
        "name": "test-arm64", "arch": "aarch64", "formats": ["tflite", "onnx"], "precisions": ["int8"],
        "runtime": {"tflite": "ai-edge-litert", "onnx": "onnxruntime"},
        "runner": {"kind": "emulated", "samples": 4, **runner},
    })


@pytest.fixture(scope="module")
def windows() -> np.ndarray:
    """4 real log-mel windows of a0011.wav, made with the students' own front-end."""
    return feature_windows(read_sidecar(STUDENTS["tflite"]), DATA / "a0011.wav", limit=4)


@needs_root
@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_int8_student_runs_on_aarch64_runtime_with_output_parity(fmt, windows):
    result = run_emulated(STUDENTS[fmt], arm_board(), OPTS, windows=windows)
    parity = result["parity"]
    assert parity["passed"], parity
    assert parity["n"] == 8 and parity["inputs"]["real_windows"] == 4
    assert parity["max_lsb_diff"] <= 1 and parity["tolerance_unit"] == "LSB"
    assert parity["reference"].startswith("x86_64 ")
    assert result["host"]["machine"] == "aarch64" and result["host"]["emulated"] is True
    assert result["runtime"] == {"tflite": "ai-edge-litert", "onnx": "onnxruntime"}[fmt]


@needs_root
def test_runtimes_see_the_profiles_arm_core_and_litert_uses_xnnpack():
    result = run_emulated(STUDENTS["tflite"], arm_board().model_copy(update={"cpu": "Cortex-A76 (BCM2712)"}), OPTS)
    assert result["host"]["qemu_cpu"] == "cortex-a76"
    assert result["host"]["cpu_detected"] is True and result["host"]["xnnpack"] is True


@needs_root
def test_emulated_latency_is_labelled_and_never_gated():
    result = run_emulated(STUDENTS["tflite"], arm_board(), OPTS)
    assert result["runner"] == "emulated" and result["emulated"] is True
    assert result["estimated"] is False and result["latency_meaningful"] is False
    assert result["runs"] == 5 and result["p50_ms"] > 0
    artifact = {"name": "student", "target": "test-arm64", "format": "tflite", "precision": "int8",
                "size_bytes": 1, "metrics": {"balanced_accuracy": 0.8}, "latency": result}
    (check,) = check_artifact(artifact, [artifact], Budgets(latency_p90_ms=1e9))
    assert check.status == "fail" and "emulated" in check.detail and "fails closed" in check.detail
    (check,) = check_artifact(artifact, [artifact], Budgets(latency_p90_ms=1e9, allow_unmeasured=True))
    assert check.status == "skip" and "emulated" in check.detail


def test_parity_fails_on_a_two_lsb_difference():
    ref = np.array([[[10, -3]], [[7, 7]]], dtype=np.int8)
    got = ref.copy()
    got[1, 0, 1] += 2
    record = compare_outputs(ref, got, output={"dtype": "int8", "quantization": None}, float_lsb=None,
                             atol=1e-5, lsb=1)
    assert record["max_lsb_diff"] == 2 and record["passed"] is False


def test_parity_of_a_qdq_float_output_counts_steps_of_its_scale():
    ref = np.array([[0.5, -0.25]], dtype=np.float32)
    one_step = compare_outputs(ref, ref + np.float32(0.125), output={"dtype": "float32"}, float_lsb=0.125,
                               atol=1e-5, lsb=1)
    assert one_step["max_lsb_diff"] == 1 and one_step["passed"] is True


def test_missing_root_says_make_arm64_root(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEKD_ARM64_ROOT", str(tmp_path / "no-root"))
    with pytest.raises(InputError, match="make arm64-root"):
        run_emulated(STUDENTS["tflite"], arm_board(), OPTS)


def test_runtime_the_root_lacks_is_refused():
    profile = arm_board().model_copy(update={"runtime": {"tflite": "tflite-runtime"}})
    with pytest.raises(InputError, match="tflite-runtime"):
        run_emulated(STUDENTS["tflite"], profile, OPTS)


def test_unknown_artifact_format_is_refused(tmp_path):
    model = tmp_path / "model.pt"
    model.write_bytes(b"\0")
    with pytest.raises(InputError, match=r"\.tflite and \.onnx"):
        run_emulated(model, arm_board(), OPTS)


def test_qemu_cpu_follows_the_profile_and_never_uses_max():
    from edgekd.runners.emulated_cpu import qemu_cpu

    assert qemu_cpu("Cortex-A72 (BCM2711), 4 cores")[0] == "cortex-a72"
    assert qemu_cpu("Cortex-X3 + Cortex-A715")[0] == "cortex-a76"  # nearest model qemu 7.2 has
    assert qemu_cpu("some phone")[0] == "cortex-a72"


@needs_root
def test_the_front_end_is_timed_under_qemu_too_and_labelled_emulated():
    from edgekd.runners.frontend import finish, frontend_job

    job, _ = frontend_job(STUDENTS["tflite"], items=[DATA / "a0011.wav"])
    opts = BenchOptions(runs=3, warmup=1, threads=1, max_seconds=30, timeout_s=240, frontend=job)
    result = finish(run_emulated(STUDENTS["tflite"], arm_board(), opts), STUDENTS["tflite"], job, None)
    assert result["frontend"]["emulated"] is True and result["frontend"]["runner"] == "emulated"
    assert result["end_to_end"]["emulated"] is True
    row = {"name": "student-tflite-int8", "target": "test-arm64", "latency": result}
    (check,) = check_artifact(row, [row], Budgets(latency_end_to_end_p90_ms=1e9))
    assert check.status == "fail" and "emulated" in check.detail
