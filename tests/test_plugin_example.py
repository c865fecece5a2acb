"""The example plugin (examples/plugin, installed by `make test`): its task, front-end and model from a recipe."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from edgekd.cli import main

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_the_example_plugin_is_installed_in_the_test_environment():
    try:
        assert version("edgekd-example-plugin") == "0.1.0"
    except PackageNotFoundError:
        pytest.fail("examples/plugin is not installed: `make test` installs it (pip install -e examples/plugin)")


def test_plugins_lists_its_model_task_and_front_end(capsys):
    assert main(["plugins", "--json"]) == 0
    entries = [e for e in json.loads(capsys.readouterr().out) if e["distribution"] == "edgekd-example-plugin 0.1.0"]
    assert {(e["kind"], e["key"]) for e in entries} == {("models", "envelope_cnn"), ("tasks", "pcg-envelope"),
                                                        ("frontends", "pcg-envelope")}
    assert all(e["error"] is None for e in entries)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("plugin-run")
    code = main(["run", str(ROOT / "examples" / "plugin" / "recipe.yaml"), "--out", str(out),
                 "--set", "teacher.train.epochs=2", "--set", "student.train.epochs=2",
                 "--set", f"data.cache_dir={out / 'cache'}"])
    assert code == 0
    return out


def test_a_recipe_runs_on_the_plugins_task_and_model(run_dir):
    report = json.loads((run_dir / "report.json").read_text())
    students = [a for a in report["artifacts"] if a["role"] == "student"]
    assert {(a["format"], a["precision"]) for a in students} == {("tflite", "fp32"), ("tflite", "int8"),
                                                                 ("onnx", "fp32"), ("onnx", "int8")}
    assert report["frontend"]["kind"] == "pcg-envelope" and report["models"][1]["macs"] > 0
    assert all(a["metrics"]["n"] == report["data"]["splits"]["test"]["recordings"] for a in students)


def test_the_device_side_evaluates_the_plugin_artifact_through_its_front_end(run_dir, capsys):
    art = run_dir / "artifacts" / "x86_64" / "student-tflite-int8.tflite"
    assert json.loads(art.with_suffix(".edgekd.json").read_text())["frontend"]["kind"] == "pcg-envelope"
    assert main(["eval", str(art), "--data", str(ROOT / "data" / "heart-sample"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 150 and "macc" in result
