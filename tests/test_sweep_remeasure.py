"""A sweep judged on the estimate: its trials say which estimate, and its front is re-measured on the device when
one is attached (``edgekd.sweep.remeasure``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from edgekd.runners.options import BenchSpec
from edgekd.sweep.remeasure import REMEASURED, device_runner, latency_basis, remeasure_front
from edgekd.targets import load_target

DATA = Path(__file__).resolve().parent / "data"
ONNX = DATA / "heart-student-onnx-int8.onnx"


def _row(number: int, artifact: Path, p90: float, pareto: bool = True) -> dict:
    return {"number": number, "pareto": pareto, "worker": "w",
            "figures": {"artifact": str(artifact), "latency_p90_ms": p90, "latency_estimated": True}}


def test_a_calibrated_estimate_is_labelled_with_its_calibration():
    bench = {"estimated": True, "runner": "estimate", "estimate": {"model": "calibrated"},
             "calibration": {"file": "targets/x86_64.calibration.json", "sha256": "ab", "taken": "2026-12-06",
                             "matches": False, "differences": ["cpu: ..."], "identity": {"cpu": "Xeon"}}}
    basis = latency_basis(bench)
    assert basis["model"] == "estimate (calibrated)" and basis["calibration"]["cpu"] == "Xeon"
    assert basis["calibration"]["matches"] is False


def test_the_front_is_timed_on_the_device_when_trials_were_estimated(tmp_path):
    artifact = tmp_path / "trial.onnx"
    shutil.copyfile(ONNX, artifact)
    rows = [_row(0, artifact, 0.5), _row(1, tmp_path / "elsewhere.onnx", 0.4), _row(2, artifact, 9.0, pareto=False)]
    out = remeasure_front(rows, load_target("x86_64"), "estimate", BenchSpec(runs=10, warmup=1),
                          {"latency_p90_ms": 20.0}, tmp_path)
    assert out["done"] is True and out["runner"] == "local" and out["trials"] == 1
    m = rows[0]["remeasured"]
    assert m["p90_ms"] > 0 and m["runner"] == "local" and m["meets_latency_budget"] is True
    assert m["estimate_error_pct"] == round(100 * (0.5 / m["p90_ms"] - 1), 1)
    assert "not found here" in rows[1]["remeasured"]["skipped"] and "remeasured" not in rows[2]
    assert list(json.loads((tmp_path / REMEASURED).read_text())) == [m["sha256"]]  # cached by the file's hash


def test_no_device_leaves_the_front_estimated_and_says_why(tmp_path):
    rows = [_row(0, ONNX, 0.5)]
    out = remeasure_front(rows, load_target("android-arm64"), "estimate", BenchSpec(), {}, tmp_path)
    assert out == {"done": False, "why": "the target's runner is 'estimate': there is no device to measure on"}
    assert "remeasured" not in rows[0]


def test_a_sweep_measured_on_the_device_is_not_timed_again():
    assert device_runner(load_target("x86_64"), None) == (None, "trials were measured on the target's runner already")
