"""The trainer: early stopping, best-weights restore and resume after an interruption."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn

from edgekd.data.features import WindowSet
from edgekd.distillation.losses import build_loss
from edgekd.distillation.trainer import TrainConfig, train_model


def _windows(n_rec: int, seed: int) -> WindowSet:
    rng = np.random.default_rng(seed)
    y_rec = np.arange(n_rec) % 2
    rec = np.repeat(np.arange(n_rec), 3)
    y = y_rec[rec]
    x = (rng.normal(size=(len(rec), 1, 4, 6)) + y[:, None, None, None] * 1.5).astype(np.float32)
    return WindowSet.from_arrays(x, y, item=rec)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(24, 8), nn.ReLU(), nn.Linear(8, 2))


def _train(tmp_path, log, epochs=4, teacher=None, loss="ce", smooth=1):
    params = {"alpha": 0.5, "temperature": 2.0} if loss == "kd" else {}
    return train_model(
        _model(), _windows(20, 0), _windows(8, 1), build_loss(loss, params), labels=["n", "a"], positive="a",
        cfg=TrainConfig(epochs=epochs, batch_size=8, lr=0.05, patience=10, smooth=smooth, threads=1),
        seed=0, checkpoint_dir=tmp_path, teacher=teacher, log=log,
    )


def test_learns_a_separable_problem(tmp_path):
    result = _train(tmp_path, log=lambda s: None)
    assert result.best_score == 1.0


def test_selection_uses_the_mean_of_the_last_epochs(tmp_path):
    result = _train(tmp_path, log=lambda s: None, epochs=5, smooth=3)
    scores = [h["val_score"] for h in result.history]
    best = result.best_epoch
    window = scores[max(0, best - 3) : best]
    assert result.best_score == pytest.approx(sum(window) / len(window))
    assert all(h["val_score_smoothed"] <= result.best_score + 1e-12 for h in result.history)


def test_resume_after_interruption_continues_from_last_epoch(tmp_path):
    def interrupt_at_epoch_2(line: str) -> None:
        if line.startswith("epoch   2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, log=interrupt_at_epoch_2)
    lines = []
    result = _train(tmp_path, log=lines.append)
    assert result.resumed_from == 2 and result.epochs_run == 4
    assert any("resuming" in line for line in lines)
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]


def test_kd_training_uses_the_teacher(tmp_path):
    teacher = _model()
    result = _train(tmp_path, log=lambda s: None, teacher=teacher, loss="kd", epochs=2)
    assert result.epochs_run == 2
