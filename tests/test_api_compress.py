"""edgekd.compress: the whole flow on the user's own modules and in-memory data, measured on the files."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import edgekd  # noqa: E402
from edgekd.errors import InputError  # noqa: E402

QUIET = {"log": lambda s: None}


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0.0, 1.0, (n, 1, 10, 10)).astype(np.float32)
    x[:, 0, :5] += np.where(y == 1, 1.0, -1.0)[:, None, None]
    return x, y


def _net(width: int):
    torch.manual_seed(width)
    return nn.Sequential(nn.Conv2d(1, width, 3), nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, width, 3), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 2))


@pytest.fixture(scope="module")
def teacher():
    run = edgekd.distill(_net(16), train=_data(96, 0), val=_data(32, 1), loss="ce", epochs=3, lr=0.02, batch_size=16,
                         threads=1, **QUIET)
    return run


@pytest.fixture(scope="module")
def compressed(teacher, tmp_path_factory):
    out = tmp_path_factory.mktemp("compress")
    return edgekd.compress(_net(4), _data(150, 2), teacher=teacher, classes=["calm", "alert"], positive="alert",
                           training={"epochs": 2, "batch_size": 16, "threads": 1},
                           prune={"target": {"macs_ratio": 0.6}, "importance": "l2", "recover": {"epochs": 1}},
                           export={"precisions": ["fp32", "int8"]}, bench={"runs": 5, "warmup": 1}, out=out, **QUIET)


def test_every_artifact_is_exported_and_measured_on_the_test_split(compressed):
    report = compressed.report
    names = {(a["role"], a["format"], a["precision"]) for a in report["artifacts"]}
    assert {("student", f, p) for f in ("tflite", "onnx") for p in ("fp32", "int8")} <= names
    assert {("teacher", "tflite", "fp32"), ("student-unpruned", "onnx", "int8")} <= names
    test_n = report["data"]["splits"]["test"]["recordings"]
    for a in report["artifacts"]:
        assert (compressed.out / a["path"]).stat().st_size == a["size_bytes"]
        assert a["metrics"]["n"] == test_n and "macc" in a["metrics"] and a["latency"]["p50_ms"] > 0
    assert json.loads((compressed.out / "report.json").read_text())["schema"] == "edgekd.report/1"
    assert (compressed.out / "report.md").is_file() and (compressed.out / "report.html").is_file()


def test_the_pruned_student_is_smaller_than_its_unpruned_twin(compressed):
    before = compressed.artifact("student-unpruned-onnx-fp32")["size_bytes"]
    assert compressed.artifact("student-onnx-fp32")["size_bytes"] < before
    assert len(compressed.report["pruning"]["artifacts"]) == 4  # before/after pairs: 2 formats x 2 precisions


def test_the_teacher_training_is_recorded_when_given_as_a_distill_result(compressed, teacher):
    info = next(m for m in compressed.report["models"] if m["role"] == "teacher")
    assert info["train"]["epochs_run"] == teacher.epochs_run and info["loss"] == {"name": "ce"}


def test_the_gate_reads_the_compress_result(compressed):
    verdict = edgekd.gate(compressed, {"size_kb": 10_000, "latency_p90_ms": 1000, "accuracy_drop_pp": 100})
    assert verdict.passed and {c.artifact for c in verdict.checks} >= {"student-tflite-int8"}


def test_impossible_settings_are_refused_before_any_training(teacher, tmp_path):
    with pytest.raises(InputError, match=r"no edgekd backend can produce"):
        edgekd.compress(_net(4), _data(60, 2), teacher=teacher, export={"precisions": ["int4-weights"]}, targets=["cortex-m55-ethos-u55"],
                        out=tmp_path, **QUIET)
    with pytest.raises(InputError, match=r"prune.ignore"):
        edgekd.compress(_net(4), _data(60, 2), teacher=teacher, prune={"target": {"macs_ratio": 0.5}, "ignore": ["nope"]},
                        out=tmp_path, **QUIET)
    assert not (tmp_path / "checkpoints").exists()


def test_the_report_validates_against_its_published_json_schema(compressed):
    from edgekd.report.validation import SCHEMA_FILE, schema_errors

    assert SCHEMA_FILE.is_file() and schema_errors(compressed.report) == []
    assert all(len(a["sha256"]) == 64 for a in compressed.report["artifacts"])


def test_the_old_argument_order_still_works_with_a_deprecation_warning(monkeypatch):
    import edgekd.flow.compress as flow

    seen = {}
    monkeypatch.setattr(flow, "_data_and_checks", lambda student, data, *a, **k: seen.update(student=student, data=data)
                        or (_ for _ in ()).throw(RuntimeError("stop here")))
    with pytest.warns(DeprecationWarning, match="compress\\(student, data, teacher=teacher\\)"):
        with pytest.raises(RuntimeError, match="stop here"):
            flow.compress("TEACHER", "STUDENT", "DATA")
    assert seen == {"student": "STUDENT", "data": "DATA"}
