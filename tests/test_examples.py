"""The example CI workflow gates the committed example report, and that report passes its budgets."""

import shlex
from pathlib import Path

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
