"""edgekd.distill on the user's own modules and data: arrays, a Dataset, ONNX and .pt2 teachers, bad input."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import edgekd  # noqa: E402
from edgekd.errors import InputError  # noqa: E402

QUIET = {"log": lambda s: None}


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two classes told apart by the mean of the top half of an 8x8 map."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0.0, 1.0, (n, 1, 8, 8)).astype(np.float32)
    x[:, 0, :4] += np.where(y == 1, 1.0, -1.0)[:, None, None]
    return x, y


def _net(width: int = 4, classes: int = 2) -> nn.Module:
    torch.manual_seed(width)
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes))


@pytest.fixture(scope="module")
def teacher():
    return edgekd.distill(_net(8), train=_data(96, 0), val=_data(32, 1), loss="ce", epochs=4, lr=0.02,
                          batch_size=16, threads=1, **QUIET).model


def test_a_student_distilled_from_arrays_learns_and_keeps_its_architecture(teacher):
    student = _net(2)
    before = [p.detach().clone() for p in student.parameters()]
    out = edgekd.distill(student, teacher=teacher, train=_data(96, 0), val=_data(32, 1), epochs=3, lr=0.02,
                         batch_size=16, threads=1, **QUIET)
    assert out.model is not student and out.epochs_run == 3 and out.classes == ["0", "1"]
    assert any(not torch.equal(a, b) for a, b in zip(before, out.model.parameters()))
    assert [type(m) for m in out.model] == [type(m) for m in student]
    assert out.val_metrics["n"] == 32 and 0.0 <= out.best_score <= 1.0
    assert out.loss["name"] == "kd"


def test_a_torch_dataset_is_accepted(teacher):
    x, y = _data(64, 2)

    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return torch.from_numpy(x[i]), torch.tensor(int(y[i]))

    out = edgekd.distill(_net(2), teacher=teacher, train=Pairs(), val=_data(16, 3), epochs=1, batch_size=16,
                         threads=1, **QUIET)
    assert out.epochs_run == 1


def test_a_dataset_yielding_another_shape_is_refused_naming_the_item(teacher):
    class Ragged(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.zeros(1, 8, 8 if i < 2 else 9), 0

    with pytest.raises(InputError, match=r"train: item 2 has shape \[1, 8, 9\], item 0 has \[1, 8, 8\]"):
        edgekd.distill(_net(2), teacher=teacher, train=Ragged(), val=_data(16, 3), epochs=1, **QUIET)


def test_a_teacher_with_another_number_of_outputs_is_refused():
    with pytest.raises(InputError, match=r"teacher: its output is \[1, 3\] for one example; the data has 2 classes"):
        edgekd.distill(_net(2), teacher=_net(4, classes=3).eval(), train=_data(32, 0), val=_data(16, 1), epochs=1,
                       **QUIET)


def test_a_teacher_in_training_mode_is_refused():
    with pytest.raises(InputError, match=r"teacher: the model is in training mode.*teacher.eval\(\)"):
        edgekd.distill(_net(2), teacher=_net(4).train(), train=_data(32, 0), val=_data(16, 1), epochs=1, **QUIET)


def test_a_model_on_another_device_is_refused():
    with pytest.raises(InputError, match=r"student: the model is on meta.*student.cpu\(\)"):
        edgekd.distill(_net(2).to("meta"), train=_data(32, 0), val=_data(16, 1), loss="ce", epochs=1, **QUIET)


def test_a_misspelled_setting_is_refused_naming_it(teacher):
    with pytest.raises(InputError, match=r"unknown key 'epoch' \(did you mean 'epochs'\?\)"):
        edgekd.distill(_net(2), teacher=teacher, train=_data(32, 0), val=_data(16, 1), epoch=3, **QUIET)


def test_kd_without_a_teacher_is_refused():
    with pytest.raises(InputError, match=r"loss 'kd' needs a teacher"):
        edgekd.distill(_net(2), train=_data(32, 0), val=_data(16, 1), loss="kd", epochs=1, **QUIET)


def test_labels_as_class_names_give_the_class_order(teacher):
    x, y = _data(48, 4)
    names = np.where(y == 1, "yes", "no")
    out = edgekd.distill(_net(2), teacher=teacher, train=(x, names), val=(x[:16], names[:16]), epochs=1, threads=1,
                         **QUIET)
    assert out.classes == ["no", "yes"]


@pytest.fixture(scope="module")
def teacher_onnx(teacher, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "teacher.onnx"
    edgekd.export(teacher, path, example=torch.zeros(1, 1, 8, 8), **QUIET)
    return path


def test_an_onnx_teacher_gives_the_torch_teachers_soft_labels(teacher, teacher_onnx):
    from edgekd.models.files import OnnxTeacher

    x = torch.from_numpy(_data(20, 5)[0])
    onnx = OnnxTeacher(teacher_onnx, (1, 8, 8), 2)
    with torch.no_grad():
        assert torch.allclose(onnx(x), teacher(x), atol=1e-4)


def test_a_student_distils_from_an_onnx_file(teacher_onnx):
    out = edgekd.distill(_net(2), teacher=teacher_onnx, train=_data(64, 0), val=_data(16, 1), epochs=2,
                         batch_size=16, threads=1,
                         method="mixup", **QUIET)
    assert out.epochs_run == 2


def test_an_onnx_teacher_of_another_input_shape_is_refused(teacher_onnx):
    x = np.zeros((16, 1, 8, 9), np.float32)
    with pytest.raises(InputError, match=r"teacher's input .* has shape \['\?', 1, 8, 8\]; the task's features are "
                                         r"\(N, 1, 8, 9\)"):
        edgekd.distill(_net(2), teacher=teacher_onnx, train=(x, np.arange(16) % 2), val=(x, np.arange(16) % 2),
                       epochs=1, **QUIET)


def test_feature_distillation_from_an_onnx_file_says_it_has_no_layers(teacher_onnx):
    method = {"method": "feature", "params": {"pairs": [{"student": "0", "teacher": "0"}], "kind": "hint"}}
    with pytest.raises(InputError, match=r"has no inner layers to read"):
        edgekd.distill(_net(2), teacher=teacher_onnx, train=_data(32, 0), val=_data(16, 1), epochs=1,
                       method=method, **QUIET)


def _save_pt2(model: nn.Module, path, shape=(1, 8, 8)):
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model.eval(), (torch.zeros(2, *shape),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))
    return path


def test_a_pt2_student_is_trained_through_its_module_and_exports(teacher, tmp_path):
    path = _save_pt2(_net(2), tmp_path / "student.pt2")
    out = edgekd.distill(str(path), teacher=teacher, train=_data(64, 0), val=_data(16, 1), epochs=2, batch_size=16,
                         threads=1, **QUIET)
    assert out.epochs_run == 2 and type(out.model).__name__ == "ExportedModule"
    art = edgekd.export(out.model.eval(), tmp_path / "student.tflite", precision="int8",
                        calibration=_data(32, 6)[0], **QUIET)
    assert art.size_bytes > 0 and edgekd.evaluate(art.path, _data(16, 7)).n == 16


def test_a_pt2_without_trainable_parameters_is_refused(tmp_path):
    class Fixed(nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3)).repeat(1, 2)

    path = _save_pt2(Fixed(), tmp_path / "fixed.pt2")
    with pytest.raises(InputError, match=r"no parameters to train"):
        edgekd.distill(str(path), train=_data(32, 0), val=_data(16, 1), loss="ce", epochs=1, **QUIET)


def test_a_pt2_archive_that_would_unpickle_is_refused(tmp_path):
    import json
    import zipfile

    src = _save_pt2(_net(2), tmp_path / "ok.pt2")
    bad = tmp_path / "bad.pt2"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.endswith("model_weights_config.json"):
                config = json.loads(data)
                first = next(iter(config["config"]))
                config["config"][first]["use_pickle"] = True
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    from edgekd.models.files import load_pt2

    with pytest.raises(InputError, match=r"stored pickled .* never unpickles"):
        load_pt2(bad)


def test_an_onnx_teacher_with_an_integer_input_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)], "int_input",
                              [helper.make_tensor_value_info("x", TensorProto.INT64, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 8, 8])])
    path = tmp_path / "int.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    with pytest.raises(InputError, match=r"int\.onnx: the teacher's input 'x' is tensor\(int64\); the task's features "
                                         r"are float32"):
        edgekd.distill(_net(2), teacher=str(path), train=_data(32, 0), val=_data(16, 1), epochs=1, **QUIET)


def test_a_recipe_whose_onnx_teacher_does_not_fit_exits_2_before_reading_data(teacher_onnx, tmp_path, capsys):
    from pathlib import Path

    from edgekd.cli import main

    root = Path(__file__).resolve().parent.parent
    code = main(["run", str(root / "recipes" / "heart.yaml"), "--out", str(tmp_path / "run"),
                 "--set", f"teacher={{file: {teacher_onnx}, train: {{epochs: 0}}}}"])
    err = capsys.readouterr().err
    assert code == 2 and "teacher.onnx: the teacher's input" in err and "(N, 1, 32, 180)" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_a_pt2_teacher_gives_the_torch_teachers_soft_labels(teacher, tmp_path):
    from edgekd.models.files import load_model_file

    path = _save_pt2(teacher, tmp_path / "teacher.pt2")
    loaded = load_model_file(path, role="teacher", input_shape=(1, 8, 8), num_classes=2)
    x = torch.from_numpy(_data(10, 8)[0])
    with torch.no_grad():
        assert torch.allclose(loaded(x), teacher(x), atol=1e-5)
    out = edgekd.distill(_net(2), teacher=str(path), train=_data(48, 0), val=_data(16, 1), epochs=1, batch_size=16,
                         threads=1, **QUIET)
    assert out.epochs_run == 1


def test_a_stopping_rule_ends_training_after_the_epoch_it_fires(teacher):
    asked = []

    def stop(epoch, score):
        asked.append((epoch, score))
        return epoch == 2

    out = edgekd.distill(_net(4), teacher=teacher, train=_data(96, 2), val=_data(32, 3), epochs=6, patience=6,
                         batch_size=16,
                         threads=1, stop=stop, **QUIET)
    assert out.epochs_run == 2 and [e for e, _ in asked] == [1, 2] and all(0 <= s <= 1 for _, s in asked)
