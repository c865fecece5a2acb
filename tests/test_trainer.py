"""The trainer: early stopping, best-weights restore and resume after an interruption."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn

from edgekd.data.features import WindowSet
from edgekd.training.losses import build_loss
from edgekd.training.trainer import TrainConfig, train_model


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


def _cells(n_a: int, n_b: int) -> WindowSet:
    """Group a: n_a items of class 0 and 2 of class 1; group b: 2 of class 0 and n_b of class 1 (one window each)."""
    y = [0] * n_a + [1] * 2 + [0] * 2 + [1] * n_b
    groups = ["a"] * (n_a + 2) + ["b"] * (2 + n_b)
    x = np.zeros((len(y), 1, 2, 2), np.float32)
    return WindowSet.from_arrays(x, y, groups=groups)


def test_group_label_balance_draws_every_cell_equally_often():
    from edgekd.training.trainer import sampling_weights

    ws = _cells(30, 10)
    w = sampling_weights(ws, "group_label").numpy()
    keys = [(ws.groups[int(r)], int(y)) for r, y in zip(ws.rec, ws.y)]
    share = {k: float(sum(wi for wi, ki in zip(w, keys) if ki == k)) for k in set(keys)}
    assert sorted(share) == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert all(v == pytest.approx(0.25) for v in share.values())


def test_label_balance_ignores_groups():
    from edgekd.training.trainer import sampling_weights

    ws = _cells(30, 10)
    w = sampling_weights(ws, "label").numpy()
    assert float(w[ws.y == 0].sum()) == pytest.approx(0.5)
    assert sampling_weights(ws, "none") is None


def test_balanced_epochs_draw_epoch_windows(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=8, lr=0.05, patience=10, smooth=1, threads=1, balance="label",
                      epoch_windows=16)
    result = train_model(_model(), _windows(20, 0), _windows(8, 1), build_loss("ce", {}), labels=["n", "a"],
                         positive="a", cfg=cfg, seed=0, checkpoint_dir=tmp_path, log=lambda s: None)
    assert result.epochs_run == 2


def test_group_mean_selection_scores_each_group_within_itself(tmp_path):
    rng = np.random.default_rng(0)

    def data(n):  # group "easy" is separable, group "hard" is noise
        y = np.arange(n) % 2
        groups = ["easy" if i < n // 2 else "hard" for i in range(n)]
        shift = np.where(np.array(groups) == "easy", y * 3.0, 0.0)
        x = (rng.normal(size=(n, 1, 4, 6)) + shift[:, None, None, None]).astype(np.float32)
        return WindowSet.from_arrays(x, y, groups=groups)

    lines = []
    result = train_model(_model(), data(40), data(40), build_loss("ce", {}), labels=["n", "a"], positive="a",
                         cfg=TrainConfig(epochs=3, batch_size=8, lr=0.05, patience=10, smooth=1, threads=1,
                                         select="group_mean"),
                         seed=0, checkpoint_dir=tmp_path, log=lines.append)
    row = result.history[-1]
    assert set(row["val_group_scores"]) == {"easy", "hard"}
    assert row["val_score"] == pytest.approx(np.mean(list(row["val_group_scores"].values())))
    assert "easy" in lines[-1] and "hard" in lines[-1]
