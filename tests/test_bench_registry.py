"""Runner registry and `edgekd bench`: dispatch by the profile's runner, format/precision checks, labels, gating."""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

import pytest

from edgekd.runners.options import BenchOptions
from edgekd.runners.registry import RUNNERS, run_bench
from edgekd.cli import main
from edgekd.errors import InputError
from edgekd.report.budgets import check_artifact
from edgekd.targets import Budgets, TargetProfile, load_target

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
TFLITE = DATA / "heart-student-tflite-int8.tflite"
ONNX = DATA / "heart-student-onnx-int8.onnx"
QUICK = BenchOptions(runs=5, warmup=1, threads=1)


def test_every_runner_kind_is_registered():
    assert RUNNERS.names() == ["emulated", "estimate", "local", "ssh"]


@pytest.mark.device
def test_dispatch_follows_the_profile_runner():
    assert run_bench(ONNX, load_target("x86_64"), QUICK)["runner"] == "local"
    assert run_bench(TFLITE, load_target("android-arm64"), QUICK)["runner"] == "estimate"


@pytest.mark.device
def test_runner_override_estimates_an_ssh_profile_without_the_device():
    result = run_bench(TFLITE, load_target("rpi5"), QUICK, runner="estimate")
    assert result["runner"] == "estimate" and result["estimated"] is True and result["target"] == "rpi5"


@pytest.mark.device
def test_no_profile_means_this_machine():
    assert run_bench(ONNX, None, QUICK)["runner"] == "local"


def test_missing_emulated_module_is_a_clear_input_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "edgekd.runners.emulated", None)  # as if the module were not installed
    profile = TargetProfile.model_validate({**load_target("x86_64").model_dump(), "runner": {"kind": "emulated"}})
    with pytest.raises(InputError, match="emulated runner"):
        run_bench(TFLITE, profile, QUICK)


def test_format_the_target_cannot_run_exits_2(capsys):
    assert main(["bench", str(ONNX), "--target", "cortex-m55-ethos-u55"]) == 2
    assert "format 'onnx' is not one the target 'cortex-m55-ethos-u55'" in capsys.readouterr().err


def test_precision_the_target_cannot_run_exits_2(tmp_path, capsys):
    art = tmp_path / "student.tflite"
    shutil.copyfile(TFLITE, art)
    meta = json.loads(TFLITE.with_suffix(".edgekd.json").read_text())
    art.with_suffix(".edgekd.json").write_text(json.dumps({**meta, "precision": "fp32"}))
    assert main(["bench", str(art), "--target", "cortex-m55-ethos-u55"]) == 2
    assert "precision 'fp32'" in capsys.readouterr().err


@pytest.mark.device
def test_a_qat_int8_file_runs_on_a_target_that_runs_int8(tmp_path):
    art = tmp_path / "student.tflite"
    shutil.copyfile(TFLITE, art)
    meta = json.loads(TFLITE.with_suffix(".edgekd.json").read_text())
    art.with_suffix(".edgekd.json").write_text(json.dumps({**meta, "precision": "int8-qat"}))
    assert run_bench(art, load_target("rpi4"), QUICK, runner="estimate")["estimated"] is True  # rpi4: fp32, int8


def test_an_accuracy_controlled_int8_file_runs_on_a_target_that_runs_int8(tmp_path):
    """``int8-ac`` (NNCF with accuracy control) is an int8 graph with some ops kept in float: rpi4 runs int8."""
    onnx_file = tmp_path / "student.onnx"
    shutil.copyfile(ONNX, onnx_file)
    meta = json.loads(ONNX.with_suffix(".edgekd.json").read_text())
    onnx_file.with_suffix(".edgekd.json").write_text(json.dumps({**meta, "precision": "int8-ac"}))
    assert run_bench(onnx_file, load_target("rpi4"), QUICK, runner="estimate")["estimated"] is True


def test_unknown_target_exits_2(capsys):
    assert main(["bench", str(TFLITE), "--target", "rpi-4"]) == 2
    assert "unknown target 'rpi-4'" in capsys.readouterr().err


def test_text_output_says_the_figure_is_estimated(capsys):
    assert main(["bench", str(TFLITE), "--target", "rpi4", "--runner", "estimate"]) == 0
    out = capsys.readouterr().out
    assert "ESTIMATED, not measured" in out and "how: estimated" in out


def test_bench_json_keeps_the_contract(capsys):
    assert main(["bench", str(ONNX), "--target", "x86_64", "--runs", "5", "--warmup", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["runner"] == "local" and result["target"] == "x86_64" and result["runs"] == 5


def test_emulated_latency_is_never_gated():
    report = json.loads((DATA / "reports" / "within.json").read_text())
    art = copy.deepcopy(next(a for a in report["artifacts"] if a["name"] == "student-tflite-int8"))
    art["latency"].update(emulated=True, estimated=True, runner="emulated", p90_ms=500.0)
    budgets = Budgets(latency_p90_ms=20, allow_estimated_latency=True)
    (check,) = [c for c in check_artifact(art, report["artifacts"], budgets) if c.budget == "latency_p90_ms"]
    assert check.status == "fail" and "emulated" in check.detail  # never a pass, even with estimates allowed
    skipping = budgets.model_copy(update={"allow_unmeasured": True})
    (check,) = [c for c in check_artifact(art, report["artifacts"], skipping) if c.budget == "latency_p90_ms"]
    assert check.status == "skip" and "emulated" in check.detail


def test_ssh_runner_on_a_profile_without_ssh_settings_is_refused():
    with pytest.raises(InputError, match="has no ssh settings"):
        run_bench(TFLITE, load_target("x86_64"), QUICK, runner="ssh")


@pytest.mark.parametrize("passed,code", [(True, 0), (False, 1)])
def test_bench_exit_code_follows_emulated_parity(monkeypatch, capsys, passed, code):
    """An ARM runtime whose outputs disagree with x86 fails the command (exit 1), in text and JSON mode."""
    import edgekd.runners.registry as registry
    from edgekd.cli import main

    result = {"artifact": "m.tflite", "runtime": "ai-edge-litert", "runtime_version": "2.3.0", "threads": 1,
              "runs": 5, "warmup": 1, "p50_ms": 30.0, "p90_ms": 31.0, "p99_ms": 32.0, "mean_ms": 30.5, "cv": 0.01,
              "runner": "emulated", "estimated": False, "emulated": True, "host": {},
              "parity": {"n": 8, "max_abs_diff": 0.0 if passed else 3.0, "tolerance": 1, "passed": passed,
                         "reference": "x86_64 ai-edge-litert 2.3.0"}}
    monkeypatch.setattr(registry, "run_bench", lambda *a, **k: result)
    assert main(["bench", "m.tflite"]) == code
    assert ("FAILED" in capsys.readouterr().out) is (not passed)
    assert main(["bench", "m.tflite", "--json"]) == code
