"""Budget evaluation (shared by the pipeline and `edgekd gate`): one rule per test."""

import copy
import json
from pathlib import Path

import pytest

from edgekd.report.budgets import apply_budgets, check_artifact, evaluate, profile_budgets
from edgekd.targets import Budgets, TargetProfile

WITHIN = Path(__file__).resolve().parent / "data" / "reports" / "within.json"


@pytest.fixture()
def artifacts():
    return copy.deepcopy(json.loads(WITHIN.read_text())["artifacts"])


def _by_name(artifacts, name):
    return next(a for a in artifacts if a["name"] == name)


def _one(checks, budget):
    (check,) = [c for c in checks if c.budget == budget]
    return check


def test_estimated_latency_is_skipped_unless_the_target_allows_it(artifacts):
    a = _by_name(artifacts, "student-tflite-int8")
    a["latency"].update(estimated=True, runner="estimate", p90_ms=50.0)
    refused = _one(check_artifact(a, artifacts, Budgets(latency_p90_ms=20)), "latency_p90_ms")
    assert refused.status == "skip" and "estimated" in refused.detail
    allowed = _one(check_artifact(a, artifacts, Budgets(latency_p90_ms=20, allow_estimated_latency=True)),
                   "latency_p90_ms")
    assert allowed.status == "fail" and "estimated" in allowed.message


def test_estimate_runner_profile_accepts_estimates():
    p = TargetProfile(name="m4", arch="cortex-m", formats=["tflite"], precisions=["int8"],
                      budgets=Budgets(latency_p90_ms=50), runner={"kind": "estimate"})
    assert profile_budgets(p).allow_estimated_latency is True


def test_ram_is_checked_against_the_mcu_arena_or_reported_not_measured(artifacts):
    a = _by_name(artifacts, "student-tflite-int8")
    assert _one(check_artifact(a, artifacts, Budgets(ram_kb=64)), "ram_kb").status == "skip"
    a["mcu"] = {"arena_bytes": 100 * 1024}
    ram = _one(check_artifact(a, artifacts, Budgets(ram_kb=64)), "ram_kb")
    assert ram.status == "fail" and ram.value == 100.0


def test_accuracy_drop_is_against_the_fp32_twin_of_the_same_format(artifacts):
    a = _by_name(artifacts, "student-onnx-int8")
    a["metrics"]["macc"] = 0.69  # onnx fp32 twin: 0.72
    drop = _one(check_artifact(a, artifacts, Budgets(accuracy_drop_pp=2)), "accuracy_drop_pp")
    assert drop.status == "fail" and drop.value == pytest.approx(3.0) and "student-onnx-fp32" in drop.detail


def test_min_metric_is_a_lower_bound(artifacts):
    a = _by_name(artifacts, "student-tflite-int8")  # MAcc 0.76
    assert _one(check_artifact(a, artifacts, Budgets(min_metric=0.8)), "min_metric").status == "fail"
    assert _one(check_artifact(a, artifacts, Budgets(min_metric=0.7)), "min_metric").status == "pass"


def test_teachers_are_references_in_the_report(artifacts):
    apply_budgets(artifacts, {"x86_64": Budgets(size_kb=64)})
    teacher = _by_name(artifacts, "teacher-tflite-fp32")["budget"]
    assert teacher["checked"] is False and teacher["passed"] is None
    fp32 = _by_name(artifacts, "student-tflite-fp32")["budget"]
    assert fp32["passed"] is False and fp32["violations"][0]["budget"] == "size_kb"
    assert not evaluate([_by_name(artifacts, "teacher-tflite-fp32")], {"x86_64": Budgets(size_kb=1)})
