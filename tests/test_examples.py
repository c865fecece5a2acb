"""The examples run: the CI workflow gates the committed example report, and examples/own_models.py takes the
user's own teacher and student through the Python API and prints the measured files."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import yaml

from edgekd.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_ci_gate_workflow_command_passes_on_the_example_report(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    workflow = yaml.safe_load((ROOT / "examples" / "ci-gate.yml").read_text())
    runs = [s["run"] for s in workflow["jobs"]["gate"]["steps"] if "edgekd gate" in s.get("run", "")]
    assert len(runs) == 1
    argv = shlex.split(runs[0].replace("$GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md")))
    assert argv[:3] == ["edgekd", "gate", "examples/report.json"]
    argv = [a.replace("gate.xml", str(tmp_path / "gate.xml")) for a in argv]
    code = main(argv[1:])
    out = capsys.readouterr().out
    assert code == 0, out
    assert (tmp_path / "gate.xml").is_file() and "all budgets hold" in (tmp_path / "summary.md").read_text()


@pytest.mark.slow
def test_own_models_example_runs_and_prints_the_measured_artifacts(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "own_models.py"), "--out", str(tmp_path),
                          "--epochs", "6", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert out.returncode in (0, 1), out.stderr[-2000:]  # 1: the gate failed, which the example prints
    text = out.stdout
    assert re.search(r"teacher: MobileNetV3-small from .*, 1,5\d\d,\d\d\d parameters", text)
    for name in ("leafnet-tflite-int8.tflite", "leafnet-onnx-int8.onnx"):
        assert re.search(rf"{name}: [\d.]+ KiB, top-1 [\d.]+ on \d+ test photos .* p50 [\d.]+ ms", text), text
        assert (tmp_path / name).is_file() and (tmp_path / name).with_suffix(".edgekd.json").is_file()
    result = json.loads(text.strip().splitlines()[-1])
    assert {a["format"] for a in result["artifacts"]} == {"tflite", "onnx"}
    assert all(a["metrics"]["n"] > 0 and a["latency"]["p50_ms"] > 0 for a in result["artifacts"])
