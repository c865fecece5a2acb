"""Schedules: iterative pruning reaches the target in steps with recovery between them, and a re-run resumes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from edgekd.data.features import WindowSet  # noqa: E402
from edgekd.training.losses import build_loss  # noqa: E402
from edgekd.training.trainer import TrainConfig  # noqa: E402
from edgekd.pruning.budget import Budget, measure_cost  # noqa: E402
from edgekd.pruning.prune import resolve_ignored  # noqa: E402
from edgekd.pruning.schedule import PruneSettings, Recovery, prune_and_recover  # noqa: E402

SHAPE = (1, 8, 16)


def _windows(n_rec: int, seed: int) -> WindowSet:
    """Two classes: energy in the low or the high half of the bins; 3 windows per recording."""
    rng = np.random.default_rng(seed)
    y_rec = np.arange(n_rec) % 2
    rec = np.repeat(np.arange(n_rec), 3)
    x = rng.normal(0, 0.3, (len(rec), *SHAPE)).astype(np.float32)
    for i, r in enumerate(rec):
        x[i, 0, :4] += 1.0 if y_rec[r] == 0 else 0.0
        x[i, 0, 4:] += 1.0 if y_rec[r] == 1 else 0.0
    return WindowSet.from_arrays(x, y_rec[rec], item=rec)


def _student() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AvgPool2d((SHAPE[1] // 2, SHAPE[2] // 2)), nn.Flatten(), nn.Linear(16, 2),
    )


def _run(model, tmp_path, logs: list[str], teacher) -> object:
    budget = Budget("macs", measure_cost(model, SHAPE).macs * 0.4, "prune.target.macs_ratio", "macs_ratio 0.4")
    settings = PruneSettings(budget=budget, importance="taylor", ignored=resolve_ignored(model, [], SHAPE), steps=2,
                             gradient_batches=2)
    recovery = Recovery(loss=build_loss("kd", {"temperature": 4.0, "alpha": 0.5}),
                        cfg=TrainConfig(epochs=2, batch_size=16, lr=3e-3, threads=1), teacher=teacher)
    return prune_and_recover(model, settings, recovery, train=_windows(24, 0), val=_windows(8, 1), labels=["a", "b"],
                             positive="b", input_shape=SHAPE, seed=0, checkpoint_dir=tmp_path, log=logs.append)


def test_iterative_schedule_meets_the_target_in_steps_and_resumes(tmp_path) -> None:
    teacher = _student().eval()
    model, logs = _student(), []
    result = _run(model, tmp_path, logs, teacher)
    limits = [s["budget_limit"] for s in result.steps]
    assert len(limits) == 2 and limits[0] > limits[1]  # half way first, then the target
    assert result.steps[0]["outcome"]["after"]["macs"] <= limits[0]
    assert result.after.macs <= 0.4 * result.before.macs
    assert all(s["recovery"]["epochs_run"] == 2 for s in result.steps)
    assert (tmp_path / "step1.pt").is_file() and (tmp_path / "step2.pt").is_file()

    again, logs2 = _student(), []
    resumed = _run(again, tmp_path, logs2, teacher)
    assert any("resumed from" in line for line in logs2) and not any("recover" in line for line in logs2)
    assert resumed.after == result.after
    x = torch.from_numpy(_windows(4, 2).x)
    with torch.no_grad():
        np.testing.assert_array_equal(again.eval()(x).numpy(), model.eval()(x).numpy())


@pytest.mark.parametrize("method", ["mixup", "feature"])
def test_recovery_takes_any_distillation_method(tmp_path, method) -> None:
    """Pruning recovery trains with a registered KD method (here mixup, and feature hints with adapters)."""
    from edgekd.distillation.methods import build_method

    teacher, model, logs = _student().eval(), _student(), []
    budget = Budget("macs", measure_cost(model, SHAPE).macs * 0.5, "prune.target.macs_ratio", "macs_ratio 0.5")
    settings = PruneSettings(budget=budget, importance="taylor", ignored=resolve_ignored(model, [], SHAPE), steps=1,
                             gradient_batches=2)
    params = {"pairs": [{"teacher": "5", "student": "5"}]} if method == "feature" else {}  # hint on the 2nd block's BN
    objective = build_method(method, params, build_loss("kd", {"temperature": 4.0, "alpha": 0.5}),
                             where="prune.recover.distill")
    recovery = Recovery(loss=objective, teacher=teacher, name=method,
                        cfg=TrainConfig(epochs=1, batch_size=16, lr=3e-3, threads=1))
    result = prune_and_recover(model, settings, recovery, train=_windows(24, 0), val=_windows(8, 1), labels=["a", "b"],
                               positive="b", input_shape=SHAPE, seed=0, checkpoint_dir=tmp_path, log=logs.append)
    assert result.after.macs <= 0.5 * result.before.macs
    assert result.steps[0]["recovery"]["epochs_run"] == 1
    assert model(torch.zeros(2, *SHAPE)).shape == (2, 2)
