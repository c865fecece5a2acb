"""A fully-integer target: backend choice, the gate's violation, and the recipe's export options checked up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekd.errors import InputError
from edgekd.recipe import load_recipe
from edgekd.report.budgets import check_artifact, profile_budgets
from edgekd.targets import load_target

RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "heart.yaml"


def _profile(tmp_path, text: str, formats: str = "[tflite]"):
    path = tmp_path / "npu.yaml"
    path.write_text(f"name: npu\narch: aarch64\nformats: {formats}\n" + text)
    return load_target(path)


def _artifact(float_ops: list[str], quantized: bool = True) -> dict:
    return {"name": "student-tflite-int8", "role": "student", "target": "npu", "format": "tflite", "precision": "int8",
            "size_bytes": 1000, "metrics": {"macc": 0.8},
            "audit": {"quantized": quantized, "fully_integer": quantized and not float_ops, "float_ops": float_ops}}


def test_float_op_in_a_quantized_artifact_violates_a_fully_integer_target(tmp_path):
    budgets = profile_budgets(_profile(tmp_path, "precisions: [int8]\nfully_integer: true\n"))
    checks = {c.budget: c for c in check_artifact(_artifact(["DEQUANTIZE#2", "ADD#3"]), [], budgets)}
    assert checks["fully_integer"].status == "fail"
    assert "ADD#3" in checks["fully_integer"].message
    ok = {c.budget: c for c in check_artifact(_artifact([]), [], budgets)}
    assert ok["fully_integer"].status == "pass"


def test_no_integer_check_without_the_profile_flag(tmp_path):
    budgets = profile_budgets(_profile(tmp_path, "precisions: [int8]\n"))
    assert "fully_integer" not in {c.budget for c in check_artifact(_artifact(["ADD#3"]), [], budgets)}


def test_fully_integer_profile_plans_the_onnx2tf_backend(tmp_path):
    from edgekd.exporting.stage import target_backend

    profile = _profile(tmp_path, "precisions: [fp32, int8]\nfully_integer: true\n")
    assert target_backend(profile, "tflite", "int8").name == "onnx2tf"
    pinned = _profile(tmp_path, "precisions: [int8]\nbackends: {tflite: litert-torch}\n")
    assert target_backend(pinned, "tflite", "int8").name == "litert-torch"


def test_recipe_export_sections_are_typed(tmp_path):
    with pytest.raises(InputError, match=r"export\.qat\.epoch"):
        load_recipe(RECIPE, ["export.qat.epoch=3"])
    recipe = load_recipe(RECIPE, ["export.precisions=[fp32, int8-qat, mixed]", "export.mixed.size_kb=20",
                                  "export.calibration={windows: 64, method: {onnxruntime: entropy}}"])
    assert recipe.export.precisions == ["fp32", "int8-qat", "mixed"] and recipe.export.calibration.windows == 64


def _check_export(recipe, profiles):
    from edgekd.exporting.stage import check_export_plan

    e = recipe.export
    check_export_plan(profiles, e.precisions, e.calibration.method, lambda t: e.mixed.size_kb or t.budgets.size_kb)


def test_mixed_without_any_size_budget_is_refused_before_work(tmp_path):
    profile = _profile(tmp_path, "precisions: [mixed]\n", formats="[onnx]")
    recipe = load_recipe(RECIPE, ["export.precisions=null"])  # the profile's precisions
    with pytest.raises(InputError, match=r"mixed precision, which needs a size budget"):
        _check_export(recipe, [profile])


def test_calibration_method_a_planned_backend_lacks_is_refused(tmp_path):
    recipe = load_recipe(RECIPE, ["export.calibration.method=entropy"])
    with pytest.raises(InputError, match=r"litert-torch cannot calibrate with 'entropy'"):
        _check_export(recipe, [_profile(tmp_path, "precisions: [int8]\n")])


def test_plan_keeps_a_precision_for_the_formats_that_have_it(tmp_path):
    from edgekd.exporting.stage import export_plan

    assert export_plan(["tflite", "onnx"], ["fp16", "int4-weights"]) == [("tflite", "fp16"), ("onnx", "int4-weights")]
    assert export_plan(["tflite"], ["int4-weights"]) == [("tflite", "int4-weights")]  # refused by check_export_plan


def test_parity_figures():
    import numpy as np

    from edgekd.audit.parity import parity

    ref = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])
    got = ref + np.array([[0.0, 0.5], [0.0, 0.0], [-1.5, 0.0], [0.0, 0.0]])  # window 3 flips to class 1
    p = parity(ref, got)
    assert p == {"windows": 4, "top1_agreement": 0.75, "max_abs_dlogit": 1.5, "mean_abs_dlogit": 0.25}
