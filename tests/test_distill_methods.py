"""Every distillation method trains through ``train_model`` on tiny data, with tiny inline models."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn

from edgekd.data.features import WindowSet
from edgekd.data.spec_augment import SpecAugment
from edgekd.training.losses import build_loss
from edgekd.distillation.methods import METHODS, build_method
from edgekd.training.trainer import TrainConfig, train_model
from edgekd.errors import InputError


class TinyCNN(nn.Module):
    """Two conv stages and a linear head; ``width`` sets the channel counts (teacher ≠ student)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, 2))

    def forward(self, x):
        return self.head(self.features(x))


def _windows(n_rec: int, seed: int) -> WindowSet:
    rng = np.random.default_rng(seed)
    y_rec = np.arange(n_rec) % 2
    rec = np.repeat(np.arange(n_rec), 2)
    y = y_rec[rec]
    x = (rng.normal(size=(len(rec), 1, 4, 6)) + y[:, None, None, None] * 1.5).astype(np.float32)
    return WindowSet.from_arrays(x, y, item=rec)


def _net(width: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return TinyCNN(width)


PAIRS = [{"student": "features.2", "teacher": "features.2"}, {"student": "features.4", "teacher": "features.4"}]


def _params(name: str, tmp_path) -> dict:
    if name in ("feature",):
        return {"pairs": PAIRS, "kind": "hint"}
    if name == "stagewise":
        return {"stages": PAIRS, "stage_epochs": 1}
    if name == "multi_teacher":
        path = tmp_path / "t2.pt"
        torch.save({"model": _net(6, 3).state_dict()}, path)
        return {"teachers": [{"checkpoint": str(path)}], "combine": "confidence"}
    if name == "checkpoint_ensemble":
        paths = []
        for i in range(2):
            paths.append(str(tmp_path / f"e{i}.pt"))
            torch.save({"model": _net(6, 10 + i).state_dict()}, paths[-1])
        return {"checkpoints": paths}
    return {}


@pytest.mark.parametrize("name", sorted(METHODS.names()))
def test_each_method_trains_a_student_with_fewer_channels(tmp_path, name):
    teacher, student = _net(6, 1), _net(2, 2)
    before = [p.detach().clone() for p in student.parameters()]
    teacher_before = [p.detach().clone() for p in teacher.parameters()]
    method = build_method(name, _params(name, tmp_path), build_loss("kd", {"alpha": 0.5, "temperature": 2.0}))
    result = train_model(
        student, _windows(16, 0), _windows(6, 1), method, labels=["n", "a"], positive="a",
        cfg=TrainConfig(epochs=3, batch_size=8, lr=0.02, patience=5, smooth=1, threads=1),
        seed=0, checkpoint_dir=tmp_path / "ck", teacher=teacher, log=lambda s: None, augment=SpecAugment(),
    )
    assert result.epochs_run == 3
    assert any(not torch.equal(a, b) for a, b in zip(before, student.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(teacher_before, teacher.parameters()))  # the teacher stays frozen
    # no hook is left on either model, and the student holds no adapter (nothing extra reaches export)
    for m in list(student.modules()) + list(teacher.modules()):
        assert not m._forward_hooks
    assert set(dict(student.named_parameters())) == set(dict(_net(2, 0).named_parameters()))


def test_stagewise_epochs_are_not_selected_before_end_to_end(tmp_path):
    method = build_method("stagewise", {"stages": PAIRS, "stage_epochs": 1}, build_loss("kd", {}))
    result = train_model(
        _net(2, 2), _windows(16, 0), _windows(6, 1), method, labels=["n", "a"], positive="a",
        cfg=TrainConfig(epochs=3, batch_size=8, lr=0.02, patience=5, smooth=1, threads=1),
        seed=0, checkpoint_dir=tmp_path, teacher=_net(6, 1), log=lambda s: None,
    )
    assert [h.get("selectable", True) for h in result.history] == [False, False, True]
    assert result.best_epoch == 3


def test_stagewise_stage_one_leaves_earlier_layers_untouched(tmp_path):
    """In stage 2 (the second pair) the layers before stage 1's output get no gradient."""
    student, teacher = _net(2, 2), _net(6, 1)
    method = build_method("stagewise", {"stages": PAIRS, "stage_epochs": 1}, build_loss("kd", {}))
    from edgekd.distillation.methods import Batch, BindContext

    train = _windows(8, 0)
    method.bind(BindContext(student=student, teacher=teacher, train_x=train.x, num_classes=2, online=True, epochs=3))
    x = torch.from_numpy(train.x)
    batch = Batch(x=x, x_clean=x, y=torch.from_numpy(train.y), idx=torch.arange(len(x)), epoch=2, gen=torch.Generator())
    method.loss(student, batch).backward()
    method.unbind()
    assert student.features[0].weight.grad is None  # stage 1 (frozen while stage 2 learns)
    assert student.features[3].weight.grad is not None and student.features[3].weight.grad.abs().sum() > 0
    assert student.head[2].weight.grad is None  # the head is not trained block-wise


def test_misspelled_method_parameter_is_named():
    with pytest.raises(InputError, match="stage_epoch"):
        build_method("stagewise", {"stages": PAIRS, "stage_epoch": 1}, build_loss("kd", {}))


def test_unknown_layer_is_named_with_close_matches(tmp_path):
    method = build_method("feature", {"pairs": [{"student": "feature.2", "teacher": "features.2"}]}, build_loss("kd", {}))
    with pytest.raises(InputError, match="no layer 'feature.2'.*features.2"):
        train_model(
            _net(2, 2), _windows(8, 0), _windows(4, 1), method, labels=["n", "a"], positive="a",
            cfg=TrainConfig(epochs=1, batch_size=8, threads=1), seed=0, checkpoint_dir=tmp_path,
            teacher=_net(6, 1), log=lambda s: None,
        )


def test_resume_restores_adapters_and_continues(tmp_path):
    def interrupt_at_epoch_2(line: str) -> None:
        if line.startswith("epoch   2/"):
            raise KeyboardInterrupt

    def run(log):
        method = build_method("feature", {"pairs": PAIRS}, build_loss("kd", {}))
        student = _net(2, 2)
        res = train_model(
            student, _windows(16, 0), _windows(6, 1), method, labels=["n", "a"], positive="a",
            cfg=TrainConfig(epochs=3, batch_size=8, lr=0.02, patience=5, smooth=1, threads=1),
            seed=0, checkpoint_dir=tmp_path, teacher=_net(6, 1), log=log,
        )
        return res, method

    with pytest.raises(KeyboardInterrupt):
        run(interrupt_at_epoch_2)
    saved = torch.load(tmp_path / "last.pt", weights_only=True)["method"]["extra"]
    lines = []
    result, method = run(lines.append)
    assert result.resumed_from == 2 and result.epochs_run == 3
    assert saved and set(saved) == set(method.extra_modules().state_dict())


def test_snapshot_every_keeps_epoch_checkpoints(tmp_path):
    train_model(
        _net(2, 2), _windows(8, 0), _windows(4, 1), build_loss("ce", {}), labels=["n", "a"], positive="a",
        cfg=TrainConfig(epochs=2, batch_size=8, threads=1), seed=0, checkpoint_dir=tmp_path,
        log=lambda s: None, snapshot_every=1,
    )
    assert sorted(p.name for p in tmp_path.glob("epoch*.pt")) == ["epoch001.pt", "epoch002.pt"]


def test_one_method_serves_a_second_training_of_a_narrower_student(tmp_path):
    """Pruning recovery: the same method object trains again after the student lost channels."""
    method = build_method("feature", {"pairs": PAIRS}, build_loss("kd", {}))
    teacher = _net(6, 1)
    cfg = TrainConfig(epochs=1, batch_size=8, threads=1)
    for width, where in ((4, "dense"), (2, "pruned")):
        train_model(
            _net(width, 2), _windows(8, 0), _windows(4, 1), method, labels=["n", "a"], positive="a", cfg=cfg,
            seed=0, checkpoint_dir=tmp_path / where, teacher=teacher, log=lambda s: None,
        )
        assert method.extra_modules()["0"].proj.in_channels == width
