"""The public verbs one by one on tiny inline models: prune, export (artifact + sidecar), evaluate, bench, gate."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import edgekd  # noqa: E402
from edgekd.errors import InputError  # noqa: E402

QUIET = {"log": lambda s: None}


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0.0, 1.0, (n, 1, 12, 12)).astype(np.float32)
    x[:, 0, :6] += np.where(y == 1, 1.0, -1.0)[:, None, None]
    return x, y


def _net(width: int = 16) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, width, 3), nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, width, 3),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 2))


@pytest.fixture(scope="module")
def trained():
    return edgekd.distill(_net(), train=_data(128, 0), val=_data(32, 1), loss="ce", epochs=4, lr=0.02, batch_size=16,
                          threads=1, **QUIET).model


# ---------------------------------------------------------------- prune
def test_prune_meets_a_macs_budget_and_leaves_the_input_model_alone(trained):
    before = sum(p.numel() for p in trained.parameters())
    out = edgekd.prune(trained, {"macs_ratio": 0.5}, torch.zeros(1, 1, 12, 12), importance="l2")
    assert out.after["macs"] <= 0.5 * out.before["macs"] and out.macs_ratio <= 0.5
    assert sum(p.numel() for p in trained.parameters()) == before and out.reference is trained
    assert out.model(torch.zeros(3, 1, 12, 12)).shape == (3, 2)


def test_prune_with_taylor_importance_and_kd_recovery(trained):
    out = edgekd.prune(trained, {"params_ratio": 0.6}, importance="taylor", train=_data(64, 2), val=_data(32, 3),
                       teacher=trained, recover={"epochs": 1, "lr": 1e-3}, batch_size=16, threads=1, **QUIET)
    assert out.after["params"] <= 0.6 * out.before["params"]
    assert out.steps[0]["recovery"]["epochs_run"] == 1


def test_taylor_importance_without_training_data_is_refused(trained):
    with pytest.raises(InputError, match=r"importance 'taylor' scores channels by gradients"):
        edgekd.prune(trained, {"macs_ratio": 0.5}, torch.zeros(1, 1, 12, 12))


def test_an_unreachable_budget_is_refused_before_any_work(trained):
    with pytest.raises(InputError, match=r"cannot be met"):
        edgekd.prune(trained, {"macs": 10}, (1, 12, 12), importance="l1")


# ---------------------------------------------------------------- export
def test_export_writes_the_artifact_and_its_complete_sidecar(trained, tmp_path):
    art = edgekd.export(trained, tmp_path / "net.tflite", precision="int8", calibration=_data(64, 4)[0],
                        classes=["no", "yes"], positive="yes", val=_data(32, 5), target="x86_64", **QUIET)
    meta = json.loads(art.sidecar_path.read_text())
    assert art.path.is_file() and art.size_bytes == art.path.stat().st_size
    assert meta["labels"] == ["no", "yes"] and meta["task"] == "tensor-classification"
    assert meta["schema"] == "edgekd.artifact/2" and meta["aggregation"] == "mean"
    assert meta["frontend"]["settings"] == {"kind": "tensor", "shape": [1, 12, 12]}
    assert [s["step"] for s in meta["frontend"]["steps"]] == ["load_npy", "check_shape", "to_model_input"]
    assert meta["precision"] == "int8" and meta["target"] == "x86_64" and meta["calibration"]["windows"] == 64
    assert meta["decision"]["threshold"] == art.threshold and "validation" in meta["decision"]["chosen_on"]


def test_export_refuses_a_model_in_training_mode(tmp_path):
    with pytest.raises(InputError, match=r"model: the model is in training mode"):
        edgekd.export(_net().train(), tmp_path / "m.onnx", example=torch.zeros(1, 1, 12, 12), **QUIET)
    assert not list(tmp_path.iterdir())


def test_export_refuses_a_precision_the_target_does_not_run(trained, tmp_path):
    with pytest.raises(InputError, match=r"target 'x86_64' runs fp32, int8, not fp16"):
        edgekd.export(trained, tmp_path / "m.tflite", precision="fp16", target="x86_64",
                      example=torch.zeros(1, 1, 12, 12), **QUIET)


def test_export_refuses_classes_that_do_not_match_the_outputs(trained, tmp_path):
    with pytest.raises(InputError, match=r"the data has 3 classes"):
        edgekd.export(trained, tmp_path / "m.onnx", classes=["a", "b", "c"], example=torch.zeros(1, 1, 12, 12),
                      **QUIET)


def test_export_refuses_an_unknown_suffix(trained, tmp_path):
    with pytest.raises(InputError, match=r"cannot tell the format from the suffix '.bin'"):
        edgekd.export(trained, tmp_path / "m.bin", example=torch.zeros(1, 1, 12, 12), **QUIET)


# ---------------------------------------------------------------- evaluate, bench
@pytest.fixture(scope="module")
def artifact(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("art")
    return edgekd.export(trained, folder / "net.onnx", precision="int8", calibration=_data(64, 4)[0],
                         classes=["no", "yes"], positive="yes", val=_data(32, 5), **QUIET)


def test_evaluate_runs_the_file_on_arrays_and_matches_the_torch_model(trained, artifact):
    x, y = _data(40, 6)
    ev = edgekd.evaluate(artifact.path, (x, y))
    assert ev.n == 40 and set(ev.to_dict()) >= {"accuracy", "balanced_accuracy", "confusion", "per_class", "macc"}
    with torch.no_grad():
        torch_acc = float((trained(torch.from_numpy(x)).argmax(1).numpy() == y).mean())
    assert abs(ev.accuracy - torch_acc) <= 0.1  # int8 and the val-chosen threshold may move a few


def test_evaluate_reads_a_folder_of_npy_arrays_through_the_sidecar(artifact, tmp_path):
    x, y = _data(12, 7)
    for i, (xi, yi) in enumerate(zip(x, y)):
        folder = tmp_path / ("yes" if yi else "no")
        folder.mkdir(exist_ok=True)
        np.save(folder / f"ex{i}.npy", xi)
    ev = edgekd.evaluate(artifact.path, tmp_path)
    assert ev.n == 12 and ev.to_dict()["labels"] == ["no", "yes"]


def test_evaluate_a_missing_artifact_says_so(tmp_path):
    with pytest.raises(InputError, match=r"artifact not found"):
        edgekd.evaluate(tmp_path / "none.tflite", _data(4, 0))


def test_bench_times_the_file_here(artifact):
    b = edgekd.bench(artifact.path, runs=10, warmup=2)
    assert b.p50_ms > 0 and b.runner == "local" and b.estimated is False


# ---------------------------------------------------------------- gate
def test_gate_judges_measured_records_against_budgets(artifact):
    ev = edgekd.evaluate(artifact.path, _data(40, 6))
    record = artifact.measured(ev, edgekd.bench(artifact.path, runs=10, warmup=2))
    assert edgekd.gate([record], {"size_kb": 1000, "min_metric": 0.0}).passed
    failed = edgekd.gate([record], {"size_kb": 0.5})
    assert not failed.passed and [c.budget for c in failed.violations] == ["size_kb"]


def test_gate_refuses_budgets_for_a_target_the_results_lack(artifact):
    record = artifact.measured(edgekd.evaluate(artifact.path, _data(8, 6)))
    with pytest.raises(InputError, match=r"'rpi9' is not a target of these results"):
        edgekd.gate([record], {"rpi9": {"size_kb": 10}})
