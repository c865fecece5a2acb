"""Tasks as plugins of one interface: the built-ins, typed settings, and the tensor task's .npy folders."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgekd.data.features import FeatureCache
from edgekd.errors import InputError
from edgekd.tasks import TASKS, Task, build_task


def test_the_three_built_in_tasks_are_registered():
    assert {"audio-classification", "image-classification", "tensor-classification"} <= set(TASKS.names())
    assert all(issubclass(TASKS.get(n), Task) for n in TASKS.names())


def test_an_unknown_task_is_refused_with_a_suggestion():
    with pytest.raises(InputError, match=r"unknown task 'audio-clasification'; did you mean audio-classification"):
        build_task("audio-clasification")


def test_task_settings_are_typed():
    with pytest.raises(InputError, match=r"unknown key 'freq_fractoin' \(did you mean 'freq_fraction'\?\)"):
        build_task("audio-classification", augment={"freq_fractoin": 0.2})
    with pytest.raises(InputError, match=r"front-end: unknown key 'sampel_rate'"):
        build_task("audio-classification", frontend={"sampel_rate": 2000})


def test_each_task_describes_its_device_side_in_the_sidecar():
    for name, kind in (("audio-classification", "logmel"), ("image-classification", "image")):
        meta = build_task(name).sidecar()
        assert meta["task"] == name and meta["frontend"]["kind"] == kind and meta["aggregation"] == "mean"


def test_the_audio_task_augments_with_specaugment_and_can_switch_it_off():
    from edgekd.data.spec_augment import SpecAugment

    assert isinstance(build_task("audio-classification").augmentation(), SpecAugment)
    assert build_task("audio-classification", augment={"enabled": False}).augmentation() is None


def test_the_tensor_task_adds_noise_only_when_asked():
    assert build_task("tensor-classification").augmentation() is None
    torch = pytest.importorskip("torch")
    noisy = build_task("tensor-classification", augment={"noise_std": 0.5}).augmentation()
    x = torch.zeros(4, 3)
    assert not torch.equal(noisy(x, torch.Generator().manual_seed(0)), x)


def _npy_folder(root, shape=(2, 5), n=6):
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / ("up" if i % 2 else "down")
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / f"x{i}.npy", rng.normal(size=shape).astype(np.float32))
    return root


def test_the_tensor_task_reads_a_folder_of_arrays_and_takes_the_first_shape(tmp_path):
    root = _npy_folder(tmp_path / "arrays")
    task = build_task("tensor-classification")
    items = task.list_items(root, ["down", "up"])
    ws = task.featurize(items, ["down", "up"], FeatureCache(None))
    assert ws.x.shape == (6, 2, 5) and ws.y.tolist() == [0, 0, 0, 1, 1, 1]  # items sorted by file: down/, then up/ and ws.x.flags["C_CONTIGUOUS"]


def test_a_stack_of_windows_in_one_file_is_one_item(tmp_path):
    root = tmp_path / "stacks"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    np.save(root / "a" / "r1.npy", np.ones((3, 2, 5), np.float32))
    np.save(root / "b" / "r2.npy", np.zeros((2, 2, 5), np.float32))
    task = build_task("tensor-classification", frontend={"shape": [2, 5]})
    ws = task.featurize(task.list_items(root, ["a", "b"]), ["a", "b"], FeatureCache(None))
    assert ws.x.shape == (5, 2, 5) and ws.rec.tolist() == [0, 0, 0, 1, 1]


@pytest.mark.parametrize("array,match", [
    (np.zeros((2, 6), np.float32), "fits neither the input shape [2, 5]"),
    (np.full((2, 5), np.nan, np.float32), "NaN or infinity"),
    (np.array([{"a": 1}], dtype=object), "holds Python objects"),
])
def test_a_bad_array_file_is_refused_naming_it(tmp_path, array, match):
    from edgekd.runtime.tensor import TensorFrontend

    path = tmp_path / "bad.npy"
    np.save(path, array, allow_pickle=True)
    with pytest.raises(InputError, match=re.escape(str(path)) + ".*" + re.escape(match)):
        TensorFrontend(shape=(2, 5)).load(path)


def test_examples_of_another_shape_than_the_front_end_are_refused():
    with pytest.raises(InputError, match=r"examples of shape \[1, 8, 8\] do not fit the audio-classification task"):
        build_task("audio-classification").for_input((1, 8, 8))


@pytest.mark.slow
def test_a_recipe_runs_the_tensor_task_on_a_folder_of_arrays_and_eval_reads_it_back(tmp_path, capsys):
    pytest.importorskip("torch")
    import json

    from edgekd.cli import main

    rng = np.random.default_rng(0)
    data = tmp_path / "arrays"
    for i in range(60):
        label = "bump" if i % 2 else "flat"
        x = rng.normal(0.0, 1.0, (1, 16, 16)).astype(np.float32)
        x[0, 4:12, 4:12] += 1.5 if label == "bump" else 0.0
        (data / label).mkdir(parents=True, exist_ok=True)
        np.save(data / label / f"ex{i:02d}.npy", x)
    recipe = tmp_path / "tensor.yaml"
    recipe.write_text(f"""
name: tensor-demo
task: tensor-classification
data: {{path: {data}, classes: [flat, bump], positive: bump, stratify: [label], cache_dir: null}}
teacher: {{model: heart_student, params: {{widths: [8, 16]}}, train: {{epochs: 2, batch_size: 8, threads: 1}}}}
student: {{model: heart_student, params: {{widths: [4, 8]}}, loss: {{name: kd}}, train: {{epochs: 2, batch_size: 8, threads: 1}}}}
export: {{targets: [x86_64], teacher: false}}
bench: {{runs: 5, warmup: 1}}
""")
    out = tmp_path / "run"
    assert main(["run", str(recipe), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["frontend"] == {"kind": "tensor", "shape": [1, 16, 16]}
    assert {a["precision"] for a in report["artifacts"]} == {"fp32", "int8"}
    capsys.readouterr()
    assert main(["eval", str(out / "artifacts" / "x86_64" / "student-onnx-int8.onnx"), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 60
