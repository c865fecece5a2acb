"""The MCU runner on the committed int8 heart student: TFLM arena and flash, TFLM-vs-LiteRT outputs, Vela estimate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekd.runners.emulated_parity import feature_windows
from edgekd.runners.mcu import mcu_report
from edgekd.runners.options import BenchOptions
from edgekd.errors import InputError
from edgekd.report.budgets import check_artifact
from edgekd.runtime.sidecar import read_sidecar
from edgekd.targets import Budgets, TargetProfile

DATA = Path(__file__).parent / "data"
TFLITE_INT8 = DATA / "heart-student-tflite-int8.tflite"
ONNX_INT8 = DATA / "heart-student-onnx-int8.onnx"


def board(**mcu) -> TargetProfile:
    """A Cortex-M55 + Ethos-U55-128 board profile (estimate runner with an ``mcu`` section)."""
    settings = {"accelerator": "ethos-u55-128", "system_config": "Ethos_U55_High_End_Embedded",
                "memory_mode": "Shared_Sram", "sram_kb": 512, "flash_kb": 2048, **mcu}
    return TargetProfile.model_validate({
        "name": "test-m55", "arch": "cortex-m", "cpu": "Cortex-M55", "formats": ["tflite"], "precisions": ["int8"],
        "runner": {"kind": "estimate", "mcu": settings},
    })


@pytest.fixture(scope="module")
def report() -> dict:
    """The MCU report of the int8 student on seeded random inputs + 4 real log-mel windows of a0011.wav."""
    windows = feature_windows(read_sidecar(TFLITE_INT8), DATA / "a0011.wav", limit=4)
    return mcu_report(TFLITE_INT8, board(), windows=windows)


def test_arena_and_flash_bytes_are_reported_for_the_int8_student(report):
    assert report["arena_bytes"] > 0
    assert report["arena_bytes"] == report["tflm"]["arena_head_bytes"] + report["tflm"]["arena_tail_bytes"]
    assert report["tflm"]["arena_verified"]  # an interpreter with exactly this arena ran
    assert report["flash_bytes"] == TFLITE_INT8.stat().st_size


def test_tflm_outputs_are_bit_identical_to_litert_on_real_and_random_inputs(report):
    assert report["tflm"]["inputs"]["real_windows"] == 4
    assert report["tflm"]["output_matches_litert"] is True
    assert report["tflm"]["max_lsb_diff_vs_litert"] == 0


def test_vela_estimate_has_cycles_and_time_and_is_labelled_estimated(report):
    vela = report["vela"]
    assert vela["cycles"] > 0 and vela["inference_ms"] > 0
    assert vela["sram_bytes"] > 0 and vela["flash_bytes"] > 0
    assert vela["npu_ops"] + vela["cpu_ops"] > 0
    assert vela["accelerator"] == "ethos-u55-128" and vela["system_config"] == "Ethos_U55_High_End_Embedded"
    assert report["estimated"] is True and vela["estimated"] is True
    assert report["p90_ms"] == vela["inference_ms"] and report["runner"] == "mcu"


def test_ram_budget_is_judged_on_the_tflm_arena_of_the_runner_result(report):
    artifact = {"name": "student-tflite-int8", "target": "test-m55", "format": "tflite", "precision": "int8",
                "size_bytes": report["flash_bytes"], "metrics": {"balanced_accuracy": 0.8}, "latency": report}
    arena_kb = report["arena_bytes"] / 1024
    tight = check_artifact(artifact, [artifact], Budgets(ram_kb=arena_kb / 2))
    roomy = check_artifact(artifact, [artifact], Budgets(ram_kb=arena_kb * 2))
    assert [c.status for c in tight] == ["fail"] and [c.status for c in roomy] == ["pass"]


def test_onnx_artifact_is_refused_naming_tflite():
    with pytest.raises(InputError, match=r"int8 \.tflite"):
        mcu_report(ONNX_INT8, board())


def test_fp32_tflite_is_refused_naming_int8(exported):
    with pytest.raises(InputError, match="fully-int8"):
        mcu_report(exported["tflite-fp32"], board())


def test_profile_without_mcu_section_is_refused():
    profile = TargetProfile.model_validate({"name": "plain", "arch": "cortex-m", "formats": ["tflite"],
                                            "precisions": ["int8"], "runner": {"kind": "estimate"}})
    with pytest.raises(InputError, match="runner.mcu"):
        mcu_report(TFLITE_INT8, profile)


def test_unknown_vela_system_config_is_an_input_error():
    with pytest.raises(InputError, match="Nope_Board"):
        mcu_report(TFLITE_INT8, board(system_config="Nope_Board"))


def test_run_mcu_has_the_runner_signature(report):
    from edgekd.runners.mcu import run_mcu

    again = run_mcu(TFLITE_INT8, board(), BenchOptions(timeout_s=120))
    assert again["arena_bytes"] == report["arena_bytes"]  # the arena does not depend on the input values
    assert np.isclose(again["vela"]["inference_ms"], report["vela"]["inference_ms"])
