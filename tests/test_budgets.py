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


def test_estimated_latency_fails_closed_unless_the_target_allows_estimates_or_skipping(artifacts):
    a = _by_name(artifacts, "student-tflite-int8")
    a["latency"].update(estimated=True, runner="estimate", p90_ms=50.0)
    refused = _one(check_artifact(a, artifacts, Budgets(latency_p90_ms=20)), "latency_p90_ms")
    assert refused.status == "fail" and "estimated" in refused.detail and "fails closed" in refused.detail
    skipped = _one(check_artifact(a, artifacts, Budgets(latency_p90_ms=20, allow_unmeasured=True)), "latency_p90_ms")
    assert skipped.status == "skip"
    allowed = _one(check_artifact(a, artifacts, Budgets(latency_p90_ms=20, allow_estimated_latency=True)),
                   "latency_p90_ms")
    assert allowed.status == "fail" and "estimated" in allowed.message


def test_an_estimate_from_another_devices_calibration_is_not_gated(artifacts):
    """Even where estimates are accepted, one whose calibration was taken on another CPU fails closed."""
    a = _by_name(artifacts, "student-tflite-int8")
    a["latency"] = {**a["latency"], "estimated": True, "runner": "estimate", "p90_ms": 0.5,
                    "calibration": {"file": "targets/x86_64.calibration.json", "taken": "2026-12-06"},
                    "calibration_mismatch": ["cpu: calibrated on 'AMD EPYC', here 'Intel Xeon'"]}
    flagged = _one(check_artifact(a, artifacts, Budgets(latency_p90_ms=20, allow_estimated_latency=True)),
                   "latency_p90_ms")
    assert flagged.status == "fail" and "another device identity" in flagged.message and "AMD EPYC" in flagged.message
    del a["latency"]["calibration_mismatch"]
    ok = _one(check_artifact(a, artifacts, Budgets(latency_p90_ms=20, allow_estimated_latency=True)), "latency_p90_ms")
    assert ok.status == "pass" and "with the calibration targets/x86_64.calibration.json" in ok.message


def test_estimate_runner_profile_accepts_estimates():
    p = TargetProfile(name="m4", arch="cortex-m", formats=["tflite"], precisions=["int8"],
                      budgets=Budgets(latency_p90_ms=50), runner={"kind": "estimate"})
    assert profile_budgets(p).allow_estimated_latency is True


def test_ram_is_checked_against_the_mcu_arena_or_reported_not_measured(artifacts):
    a = _by_name(artifacts, "student-tflite-int8")
    assert _one(check_artifact(a, artifacts, Budgets(ram_kb=64)), "ram_kb").status == "fail"
    assert _one(check_artifact(a, artifacts, Budgets(ram_kb=64, allow_unmeasured=True)), "ram_kb").status == "skip"
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
    assert not evaluate([_by_name(artifacts, "teacher-tflite-fp32")], {"x86_64": Budgets(size_kb=1)})


def test_an_fp32_twin_is_the_accuracy_reference_not_a_deploy_candidate(artifacts):
    apply_budgets(artifacts, {"x86_64": Budgets(size_kb=64)})
    twin = _by_name(artifacts, "student-tflite-fp32")["budget"]
    assert twin["checked"] is False and "twin" in twin["reason"]


def test_a_report_with_fp32_files_only_gates_them(artifacts):
    alone = [dict(_by_name(artifacts, "student-tflite-fp32"))]
    apply_budgets(alone, {"x86_64": Budgets(size_kb=64)})
    assert alone[0]["budget"]["passed"] is False and alone[0]["budget"]["violations"][0]["budget"] == "size_kb"


@pytest.mark.parametrize("field,value,budget,why", [
    ("size_bytes", float("nan"), "size_kb", "size_bytes is nan, not a finite number"),
    ("size_bytes", -24352, "size_kb", "size_bytes is -24352, outside >= 1"),
    ("size_bytes", "big", "size_kb", "size_bytes is 'big', not a number"),
    ("size_bytes", None, "size_kb", "size_bytes is null"),
    ("size_bytes", True, "size_kb", "size_bytes is True, not a number"),
    ("metrics.macc", float("nan"), "min_metric", "metrics.macc is nan, not a finite number"),
    ("metrics.macc", "good", "min_metric", "metrics.macc is 'good', not a number"),
    ("metrics.macc", 1.7, "min_metric", "metrics.macc is 1.7, outside [0, 1]"),
    ("latency.p90_ms", float("inf"), "latency_p90_ms", "latency.p90_ms is inf, not a finite number"),
    ("latency.p90_ms", -1.0, "latency_p90_ms", "latency.p90_ms is -1.0, outside >= 0"),
])
def test_a_malformed_figure_fails_its_budget_naming_it(artifacts, field, value, budget, why):
    a = _by_name(artifacts, "student-tflite-int8")
    node = a
    *path, last = field.split(".")
    for part in path:
        node = node[part]
    node[last] = value
    limits = {"size_kb": Budgets(size_kb=64), "min_metric": Budgets(min_metric=0.5),
              "latency_p90_ms": Budgets(latency_p90_ms=20)}[budget]
    check = _one(check_artifact(a, artifacts, limits), budget)
    assert check.status == "fail" and why in check.detail and check.artifact == "student-tflite-int8"


def test_a_missing_figure_fails_rather_than_passes(artifacts):
    a = _by_name(artifacts, "student-tflite-int8")
    del a["size_bytes"], a["metrics"]["macc"]
    checks = check_artifact(a, artifacts, Budgets(size_kb=64, min_metric=0.1))
    assert _one(checks, "size_kb").status == "fail" and "size_bytes is missing" in _one(checks, "size_kb").detail
    assert _one(checks, "min_metric").status == "fail"


def test_a_malformed_fp32_twin_fails_the_accuracy_drop(artifacts):
    _by_name(artifacts, "student-onnx-fp32")["metrics"]["macc"] = None
    drop = _one(check_artifact(_by_name(artifacts, "student-onnx-int8"), artifacts, Budgets(accuracy_drop_pp=2)),
                "accuracy_drop_pp")
    assert drop.status == "fail" and "fp32 twin student-onnx-fp32: metrics.macc is null" in drop.detail


def test_a_missing_fp32_twin_fails_closed(artifacts):
    only = [a for a in artifacts if a["name"] != "student-onnx-fp32"]
    drop = _one(check_artifact(_by_name(only, "student-onnx-int8"), only, Budgets(accuracy_drop_pp=2)),
                "accuracy_drop_pp")
    assert drop.status == "fail" and "no fp32 onnx twin" in drop.detail


# The accuracy-drop budget judged on paired flips (edgekd.report.paired): tiny inline reports, 48 items.
TRUE_48 = [0] * 24 + [1] * 24


def _pair(int8_pred, true=TRUE_48, per_item=True, fp32_pred=None):
    """An fp32 twin (every item right unless ``fp32_pred``) and an int8 file deciding ``int8_pred``, as the pipeline
    records them."""
    from edgekd.runtime.metrics import classification_metrics

    def record(precision, pred):
        m = classification_metrics(true, pred, ["normal", "abnormal"], "abnormal")
        if per_item:
            m["per_item"] = {"ids": list(range(len(true))), "true": list(true), "predicted": list(pred)}
        return {"name": f"student-tflite-{precision}", "role": "student", "target": "x86_64", "format": "tflite",
                "precision": precision, "metrics": m}

    return [record("fp32", list(true) if fp32_pred is None else fp32_pred), record("int8", list(int8_pred))]


def _flipped(indices, true=TRUE_48):
    return [1 - t if i in indices else t for i, t in enumerate(true)]


def _drop_check(artifacts, limit=2.0):
    return _one(check_artifact(artifacts[1], artifacts, Budgets(accuracy_drop_pp=limit)), "accuracy_drop_pp")


def test_one_flip_of_48_passes_a_2pp_budget_as_not_evidenced():
    drop = _drop_check(_pair(_flipped({30})))  # 2.08 pp: one recording of 48
    assert drop.status == "pass" and drop.value == pytest.approx(2.083, abs=1e-3)
    assert "1 became wrong, 0 became right" in drop.detail and "n=48" in drop.detail and "p=0.5" in drop.detail
    assert "> budget 2 pp" in drop.message and "cannot tell this drop from none" in drop.message


def test_a_real_drop_of_10_flips_of_48_fails_with_its_bound():
    drop = _drop_check(_pair(_flipped({0, 4, 8, 12, 16, 24, 28, 32, 36, 40})))
    assert drop.status == "fail" and drop.value == pytest.approx(20.833, abs=1e-3)
    assert "10 became wrong, 0 became right" in drop.detail and "a real drop" in drop.detail
    assert "95 % lower bound of the drop 10.05 pp" in drop.detail  # (2 * 0.05^(1/10) - 1) * 10/48


def test_a_drop_in_the_rare_class_fails_although_as_many_items_became_right():
    true = [1] * 10 + [0] * 90  # 10 abnormal, 90 normal: in MAcc an abnormal item weighs as much as 9 normal ones
    fp32_pred = _flipped(set(range(10, 15)), true)  # the twin misses 5 normal items
    int8_pred = _flipped(set(range(5)), true)  # int8 gets those 5 right and misses 5 abnormal ones
    drop = _drop_check(_pair(int8_pred, true, fp32_pred=fp32_pred))
    assert "5 became wrong, 5 became right" in drop.detail  # McNemar on the counts alone would say p = 0.62
    assert drop.status == "fail" and "p=0.0313" in drop.detail  # all 5 heavy flips the wrong way: 2^-5


def test_without_per_item_decisions_the_point_rule_applies():
    drop = _drop_check(_pair(_flipped({30}), per_item=False))
    assert drop.status == "fail" and "point rule: no per-item decisions" in drop.detail


def test_per_item_decisions_that_do_not_reproduce_the_figures_fail_closed():
    artifacts = _pair(_flipped({0, 4, 8, 12, 16, 24, 28, 32, 36, 40}))
    artifacts[1]["metrics"]["per_item"]["predicted"] = list(TRUE_48)  # claims no flip; the figures say 10
    drop = _drop_check(artifacts)
    assert drop.status == "fail" and "does not reproduce metrics.macc" in drop.detail
