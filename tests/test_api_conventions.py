"""The API's conventions, one rule each, everywhere (ARCHITECTURE.md): the model first and ``teacher=`` by keyword;
``train=``/``val=`` and a ``Prepared`` accepted wherever data is; ``target`` a device profile, filters
``artifacts=``; a verb never changes the caller's module; typed results whose ``to_dict()`` is the CLI's JSON;
the old spellings still work, with a DeprecationWarning naming the new one."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import edgekd  # noqa: E402
from edgekd.cli import main  # noqa: E402
from edgekd.errors import InputError  # noqa: E402
from edgekd.report.gate import GateResult  # noqa: E402

QUIET = {"log": lambda s: None}
CLASSES = ["calm", "alert"]
NO_LATENCY = {"latency_p90_ms": None, "accuracy_drop_pp": None}  # fake records carry size and metrics only


def _net(width: int = 4) -> nn.Module:
    torch.manual_seed(width)
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(width, 2))


def _arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1, 8, 8)).astype(np.float32)
    return x, (x[:, 0, :4].mean((1, 2)) > 0).astype(int)


@pytest.fixture(scope="module")
def data():
    return edgekd.prepare(_arrays(100, 0), classes=CLASSES, positive="alert", **QUIET)


@pytest.fixture(scope="module")
def trained(data):
    return edgekd.distill(_net(8), train=data, loss="ce", epochs=3, lr=0.05, batch_size=16, threads=1, **QUIET).model


@pytest.fixture(scope="module")
def artifact(trained, tmp_path_factory):
    path = tmp_path_factory.mktemp("art") / "m.tflite"
    return edgekd.export(trained, path, example=torch.zeros(1, 1, 8, 8), classes=CLASSES, **QUIET)


# ---------------------------------------------------------------- distill: keywords, a copy, a Prepared
def test_distill_trains_a_copy_and_leaves_the_callers_module_as_it_was(data):
    student = _net(4).train()
    before = copy.deepcopy(student.state_dict())
    out = edgekd.distill(student, train=data, loss="ce", epochs=2, lr=0.05, batch_size=16, threads=1, **QUIET)
    assert out.model is not student and student.training and not out.model.training
    assert all(torch.equal(before[k], v) for k, v in student.state_dict().items())
    assert any(not torch.equal(before[k], v) for k, v in out.model.state_dict().items())


def test_distill_leaves_the_callers_teacher_as_it_was(data, trained):
    edgekd.distill(_net(4), teacher=trained, train=data, epochs=1, threads=1, **QUIET)
    assert all(p.requires_grad for p in trained.parameters()) and not trained.training  # not left frozen


def test_a_prepared_as_train_gives_the_val_split_task_classes_and_positive_class(data):
    out = edgekd.distill(_net(4), train=data, loss="ce", epochs=1, threads=1, **QUIET)
    assert out.classes == CLASSES and out.task == data.task.name
    assert out.val_metrics["n"] == len(data.val.recordings) and out.val_metrics["positive"] == "alert"


def test_data_takes_a_prepared_as_train_does(data, trained):
    out = edgekd.distill(_net(4), teacher=trained, data=data, epochs=1, threads=1, **QUIET)
    assert out.classes == CLASSES and out.val_metrics["n"] == len(data.val.recordings)


def test_data_that_is_not_a_prepared_is_refused_pointing_to_train_and_val(data):
    with pytest.raises(InputError, match=r"data: expected edgekd.prepare\(...\)'s result .* train= and val="):
        edgekd.distill(_net(4), data=_arrays(20, 1), loss="ce", epochs=1, **QUIET)


def test_a_task_other_than_the_prepared_datas_is_refused(data):
    with pytest.raises(InputError, match=r"task: 'image-classification' is not the prepared data's task"):
        edgekd.distill(_net(4), train=data, task="image-classification", loss="ce", epochs=1, **QUIET)


def test_the_positional_spelling_still_trains_and_warns_naming_the_keywords(data):
    with pytest.warns(DeprecationWarning, match=r"pass distill\(student, teacher=\.\.\., train=\.\.\., val=\.\.\.\)"
                      ) as caught:
        out = edgekd.distill(_net(4), None, data.train, data.val, loss="ce", epochs=1, threads=1, **QUIET)
    assert out.epochs_run == 1 and caught[0].filename == __file__  # the warning points at the caller's line


def test_a_teacher_given_by_position_and_by_keyword_is_refused(trained, data):
    with pytest.raises(TypeError, match=r"multiple values for argument 'teacher'"):
        edgekd.distill(_net(4), trained, teacher=trained, train=data, **QUIET)


# ---------------------------------------------------------------- prune and export take a Prepared
def test_prune_takes_the_input_shape_and_training_batches_from_a_prepared(trained, data):
    out = edgekd.prune(trained, {"macs_ratio": 0.6}, train=data, importance="taylor", **QUIET)
    assert out.after["macs"] <= 0.6 * out.before["macs"] and trained[0].out_channels == 8


def test_prune_recovery_takes_val_from_the_prepared_given_as_train(trained, data):
    out = edgekd.prune(trained, {"macs_ratio": 0.6}, train=data, importance="l2", threads=1,
                       recover={"epochs": 1, "loss": {"name": "ce"}}, **QUIET)
    assert out.steps and out.summary["recover"]["epochs"] == 1


def test_export_takes_calibration_and_val_splits_and_the_classes_from_a_prepared(trained, data, tmp_path):
    art = edgekd.export(trained, tmp_path / "m.onnx", precision="int8", calibration=data, val=data, **QUIET)
    assert art.sidecar["labels"] == CLASSES and art.sidecar["positive"] == "alert"
    assert art.sidecar["task"] == data.task.name and art.threshold is not None  # chosen on the val split


def test_export_leaves_the_callers_module_as_it_was(trained, data, tmp_path):
    before = copy.deepcopy(trained.state_dict())
    edgekd.export(trained, tmp_path / "m.onnx", precision="int8", calibration=data, **QUIET)
    assert not trained.training and all(torch.equal(before[k], v) for k, v in trained.state_dict().items())


def test_export_validation_still_works_and_warns_naming_val(trained, data, tmp_path):
    with pytest.warns(DeprecationWarning, match=r"edgekd.export\(validation=...\) is deprecated: pass val="):
        art = edgekd.export(trained, tmp_path / "m.onnx", validation=data, **QUIET)
    assert art.threshold is not None


def test_export_refuses_validation_and_val_together(trained, data, tmp_path):
    with pytest.raises(InputError, match=r"validation= and val= name the same argument; pass only val="):
        edgekd.export(trained, tmp_path / "m.onnx", validation=data, val=data, **QUIET)


# ---------------------------------------------------------------- typed results
def test_evaluate_scores_a_prepared_on_its_test_split(artifact, data):
    assert edgekd.evaluate(artifact.path, data).n == len(data.test.recordings)


def test_evaluation_is_a_dataclass_with_typed_fields(artifact, data):
    ev = edgekd.evaluate(artifact.path, data)
    assert dataclasses.is_dataclass(ev) and isinstance(ev.n, int) and isinstance(ev.accuracy, float)
    assert ev.labels == CLASSES and ev.macc is None and set(ev.ci95) >= {"accuracy", "balanced_accuracy"}


def test_evaluation_to_dict_is_exactly_the_clis_eval_json(artifact, tmp_path, capsys):
    x, y = _arrays(12, 7)
    for i, (xi, yi) in enumerate(zip(x, y)):
        (tmp_path / CLASSES[yi]).mkdir(exist_ok=True)
        np.save(tmp_path / CLASSES[yi] / f"ex{i}.npy", xi)
    assert main(["eval", str(artifact.path), "--data", str(tmp_path), "--json"]) == 0
    cli = capsys.readouterr().out.strip()
    assert json.dumps(edgekd.evaluate(artifact.path, tmp_path).to_dict()) == cli


def test_benchmark_to_dict_is_exactly_the_clis_bench_json(artifact, capsys):
    assert main(["bench", str(artifact.path), "--target", "rpi4", "--runner", "estimate", "--json"]) == 0
    cli = capsys.readouterr().out.strip()
    b = edgekd.bench(artifact.path, "rpi4", runner="estimate")
    assert json.dumps(b.to_dict()) == cli and b.estimated is True and b.runner == "estimate" and b.p50_ms > 0


def test_the_old_dict_attributes_still_work_and_warn(artifact, data):
    ev, b = edgekd.evaluate(artifact.path, data), edgekd.bench(artifact.path, "rpi4", runner="estimate")
    with pytest.warns(DeprecationWarning, match=r"Evaluation.metrics is deprecated"):
        assert ev.metrics == ev.to_dict()
    with pytest.warns(DeprecationWarning, match=r"Benchmark.result is deprecated"):
        assert b.result["runner"] == "estimate"


# ---------------------------------------------------------------- gate: target is a profile, artifacts= filters
def _record(tmp_path, target: str, size: int = 90_000) -> dict:
    path = tmp_path / f"{target}-student.tflite"
    path.write_bytes(b"x" * size)
    return {"name": "student-tflite-int8", "role": "student", "target": target, "format": "tflite",
            "precision": "int8", "path": str(path), "size_bytes": size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "metrics": {"balanced_accuracy": 0.9}}


def test_gate_returns_a_gate_result(tmp_path):
    assert isinstance(edgekd.gate([_record(tmp_path, "x86_64")], NO_LATENCY), GateResult)


def test_gate_artifacts_target_slash_name_gates_only_that_targets_files(tmp_path):
    records = [_record(tmp_path, "x86_64"), _record(tmp_path, "rpi4")]  # 88 KiB: over x86_64's 64, within rpi4's 512
    assert not edgekd.gate(records, NO_LATENCY).passed
    verdict = edgekd.gate(records, NO_LATENCY, artifacts="rpi4/student-*")
    assert verdict.passed and {c.target for c in verdict.checks} == {"rpi4"}
    assert verdict.not_gated == ["student-tflite-int8 on x86_64 (not selected)"]


def test_gate_target_by_name_judges_that_profiles_files_against_its_budgets(tmp_path):
    records = [_record(tmp_path, "x86_64"), _record(tmp_path, "rpi4")]
    verdict = edgekd.gate(records, NO_LATENCY, target="x86_64")
    assert {c.target for c in verdict.checks} == {"x86_64"} and [c.budget for c in verdict.violations] == ["size_kb"]


def test_gate_target_as_a_profile_object_brings_its_own_budgets(tmp_path):
    from edgekd.targets import load_target

    x86 = load_target("x86_64")
    roomy = x86.model_copy(update={"budgets": x86.budgets.model_copy(update={"size_kb": 128})})
    assert edgekd.gate([_record(tmp_path, "x86_64")], NO_LATENCY, target=roomy).passed


def test_gate_target_naming_no_profile_still_filters_and_warns_naming_artifacts(tmp_path):
    records = [_record(tmp_path, "x86_64"), _record(tmp_path, "local")]
    with pytest.warns(DeprecationWarning, match=r"pass artifacts='local/\*'"):
        verdict = edgekd.gate(records, {"size_kb": 128}, target="local")
    assert verdict.passed and {c.target for c in verdict.checks} == {"local"}


# ---------------------------------------------------------------- model
def test_model_takes_classes_and_input_shape_from_a_prepared():
    photos = edgekd.prepare((np.zeros((40, 3, 16, 16), np.float32), np.arange(40) % 2), **QUIET)
    m = edgekd.model("image_student", data=photos)
    assert m.eval()(torch.zeros(1, 3, 16, 16)).shape == (1, 2)
