"""A newcomer's mistakes with the public verbs (issue 25): each is an InputError that says what to do, raised
before any training; and what they need works: string labels with a teacher, a Pi without the Pi, an ONNX
teacher in compress, step-by-step results as a report.json that `edgekd gate` reads."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
datasets = pytest.importorskip("sklearn.datasets")
from torch import nn  # noqa: E402

import edgekd  # noqa: E402
from edgekd.errors import InputError  # noqa: E402

QUIET = {"log": lambda s: None}
WORDS = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's bundled 8x8 digits: 600 of them, labels 0..9."""
    d = datasets.load_digits()
    return (d.images[:600, None] / 16.0).astype(np.float32), d.target[:600]


def _net(width: int = 8) -> nn.Module:
    torch.manual_seed(width)
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(width * 64, 10))


@pytest.fixture(scope="module")
def teacher(digits):
    """A teacher trained on the integer labels (output i is digit i)."""
    x, y = digits
    return edgekd.distill(_net(8), train=(x[:400], y[:400]), val=(x[400:], y[400:]), loss="ce", epochs=4, lr=0.01,
                          batch_size=16, threads=1, **QUIET).model


def _lines():
    lines: list[str] = []
    return lines, {"log": lines.append}


# ---------------------------------------------------------------- class order against the teacher
def test_string_labels_sorted_unlike_the_teachers_outputs_are_refused_naming_classes(digits, teacher):
    x, y = digits
    lines, log = _lines()
    order = str(WORDS.tolist()).replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(InputError, match=r"teacher: its outputs do not follow the class order \['eight', 'five'.*"
                                         rf"Pass classes={order}"):
        edgekd.distill(_net(4), teacher=teacher, train=(x[:400], WORDS[y[:400]]), val=(x[400:], WORDS[y[400:]]),
                       epochs=3, **log)
    assert not any(line.startswith("epoch") for line in lines)  # refused before any training
    assert any("sorted by name" in line for line in lines)


def test_the_teachers_order_given_as_classes_trains_a_useful_student(digits, teacher):
    x, y = digits
    out = edgekd.distill(_net(4), teacher=teacher, train=(x[:400], WORDS[y[:400]]), val=(x[400:], WORDS[y[400:]]),
                         classes=WORDS.tolist(), epochs=4, lr=0.01, batch_size=16, threads=1, **QUIET)
    assert out.classes == WORDS.tolist() and out.best_score > 0.6  # chance is 0.1


def test_integer_labels_numbered_unlike_the_teacher_are_refused(digits, teacher):
    x, y = digits
    edgekd.distill(_net(4), teacher=teacher, train=(x[:400], y[:400]), val=(x[400:], y[400:]), epochs=0,
                   **QUIET)  # right: accepted
    with pytest.raises(InputError, match=r"relabel y so that label i is the teacher's output i \(likely "
                                         r"label->output: 0->1, 1->2, .* 9->0\)"):
        edgekd.distill(_net(4), teacher=teacher, train=(x[:400], (y[:400] + 9) % 10),
                       val=(x[400:], (y[400:] + 9) % 10), epochs=3,
                       **QUIET)


def test_an_untrained_teacher_is_not_mistaken_for_a_permuted_one(digits):
    x, y = digits
    out = edgekd.distill(_net(4), teacher=_net(6).eval(), train=(x[:400], WORDS[y[:400]]),
                         val=(x[400:], WORDS[y[400:]]), epochs=0,
                         **QUIET)
    assert out.epochs_run == 0


def test_compress_refuses_a_distilled_teacher_whose_classes_are_in_another_order(digits, tmp_path):
    x, y = digits
    named = edgekd.distill(_net(6), train=(x[:400], WORDS[y[:400]]), val=(x[400:], WORDS[y[400:]]),
                           classes=WORDS.tolist(), loss="ce", epochs=0, **QUIET)
    with pytest.raises(InputError, match=r"trained with the classes in the order \['zero', 'one'.* pass classes="):
        edgekd.compress(_net(4), (x, WORDS[y]), teacher=named, training={"epochs": 1}, out=tmp_path, **QUIET)
    assert not list(tmp_path.iterdir())  # nothing written


# ---------------------------------------------------------------- targets and runners
def test_one_target_as_a_string_and_a_missing_ssh_key_are_refused_before_training(digits, teacher, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/edgekd_pi here
    x, y = digits
    with pytest.raises(InputError, match=r"target 'rpi4' is measured over ssh: .*runner.key: .*edgekd_pi not found; "
                                         r"without the device, pass runner='estimate'"):
        edgekd.compress(_net(4), (x, y), teacher=teacher, targets="rpi4", training={"epochs": 1}, out=tmp_path / "run", **QUIET)
    assert not (tmp_path / "run").exists()


def test_runner_local_for_a_device_target_is_refused(digits, teacher, tmp_path):
    x, y = digits
    with pytest.raises(InputError, match=r"runner: 'local' would time 'rpi4'.*use runner='estimate'"):
        edgekd.compress(_net(4), (x, y), teacher=teacher, targets=["rpi4"], runner="local", out=tmp_path, **QUIET)


@pytest.fixture(scope="module")
def onnx_teacher(teacher, tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "teacher.onnx"
    edgekd.export(teacher, path, example=torch.zeros(1, 1, 8, 8), **QUIET)
    return path


@pytest.fixture(scope="module")
def estimated_run(digits, onnx_teacher, tmp_path_factory):
    """An ONNX teacher file, an rpi4 target without the Pi (runner='estimate'), one target given as a string."""
    x, y = digits
    lines: list[str] = []
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = edgekd.compress(_net(4), (x[:300], y[:300]), teacher=str(onnx_teacher), targets="rpi4", runner="estimate",
                              training={"epochs": 1, "threads": 2}, export={"precisions": ["fp32"]},
                              bench={"runs": 5, "warmup": 1}, out=tmp_path_factory.mktemp("run"), log=lines.append)
        threads_after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    return run, lines, threads_after


def test_compress_estimates_latency_on_a_target_without_its_device(estimated_run):
    run, lines, _ = estimated_run
    students = [a for a in run.artifacts if a["role"] == "student"]
    assert {a["target"] for a in run.artifacts} == {"rpi4"} and students
    for a in students:
        assert a["latency"]["estimated"] is True and a["latency"]["runner"] == "estimate"
    assert any("rpi4: latency estimated by the estimate runner" in line for line in lines)


def test_a_teacher_file_is_not_re_exported_and_a_log_line_says_so(estimated_run):
    run, lines, _ = estimated_run
    assert not [a for a in run.artifacts if a["role"] == "teacher"]
    assert any("teacher.onnx is a model file already" in line for line in lines)


def test_threads_hold_for_the_call_only(estimated_run, digits):
    assert estimated_run[2] == 1  # compress trained with threads=2, then put torch back to 1
    x, y = digits
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        edgekd.distill(_net(2), train=(x[:60], y[:60]), val=(x[60:90], y[60:90]), loss="ce", epochs=1, threads=2,
                       **QUIET)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_bench_on_a_device_without_its_key_says_how_to_estimate(onnx_teacher, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(InputError, match=r"edgekd_pi not found; without the device, pass runner='estimate'"):
        edgekd.bench(onnx_teacher, "rpi4", runs=5, warmup=1)
    estimated = edgekd.bench(onnx_teacher, "rpi4", runner="estimate")
    assert estimated.estimated and estimated.runner == "estimate"


# ---------------------------------------------------------------- raw exceptions become InputErrors
def test_prune_with_a_bare_number_says_which_mapping_to_give(teacher):
    with pytest.raises(InputError, match=r"budget: expected a mapping with exactly one of params_ratio, macs, "
                                         r"macs_ratio, int8_kb, latency_p50_ms, e.g. \{'macs_ratio': 0.6\}"):
        edgekd.prune(teacher, 0.6, torch.zeros(1, 1, 8, 8), importance="l2", **QUIET)


def test_prune_with_an_example_of_another_shape_names_example(teacher):
    with pytest.raises(InputError, match=r"example: the model cannot run on an input of shape \[1, 1, 9, 9\]"):
        edgekd.prune(teacher, {"macs_ratio": 0.6}, torch.zeros(1, 1, 9, 9), importance="l2", **QUIET)


def test_export_with_an_example_of_another_shape_names_example(teacher, tmp_path):
    with pytest.raises(InputError, match=r"example: the model cannot run on an input of shape \[1, 1, 9, 9\] "
                                         r"\(mat1 and mat2.*\); give example= as a batch of one input"):
        edgekd.export(teacher, tmp_path / "t.onnx", example=torch.zeros(1, 1, 9, 9), **QUIET)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- step by step → report.json → edgekd gate
@pytest.fixture(scope="module")
def step_report(digits, teacher, tmp_path_factory):
    x, y = digits
    run = tmp_path_factory.mktemp("steps")
    records = []
    for precision in ("fp32", "int8"):
        art = edgekd.export(teacher, run / "artifacts" / f"student-onnx-{precision}.onnx", precision=precision,
                            calibration=x[:64], example=torch.zeros(1, 1, 8, 8), target="x86_64", **QUIET)
        ev = edgekd.evaluate(art.path, (x[400:], y[400:]))
        records.append(art.measured(ev, edgekd.bench(art.path, "x86_64", runs=10, warmup=2)))
    return edgekd.write_report(run / "report.json", records, budgets={"x86_64": {"size_kb": 512}}), records


def test_write_report_writes_paths_relative_to_the_report(step_report):
    path, records = step_report
    report = json.loads(path.read_text())
    assert report["schema"] == "edgekd.report/1"
    assert [a["path"] for a in report["artifacts"]] == ["artifacts/student-onnx-fp32.onnx",
                                                         "artifacts/student-onnx-int8.onnx"]
    assert all("budget" in a for a in report["artifacts"]) and not list(path.parent.glob(".report.json.*"))


def test_edgekd_gate_reads_the_step_by_step_report_after_the_folder_moved(step_report, tmp_path):
    path, _ = step_report
    moved = tmp_path / "moved"
    shutil.copytree(path.parent, moved)
    proc = subprocess.run([sys.executable, "-m", "edgekd", "gate", str(moved / "report.json")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert proc.returncode == edgekd.gate(moved / "report.json").exit_code


def test_write_report_refuses_a_file_changed_since_it_was_measured(step_report, tmp_path):
    _, records = step_report
    copy = tmp_path / "m.onnx"
    copy.write_bytes(b"not the measured file")
    with pytest.raises(InputError, match=r"changed since it was measured"):
        edgekd.write_report(tmp_path / "report.json", [{**records[0], "path": str(copy)}])
