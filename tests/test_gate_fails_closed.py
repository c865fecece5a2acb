"""The gate never passes what it did not check (issue 27): nothing to gate, a target without budgets and artifact
paths outside the report's folder are each refused with exit 2 naming the report, never ``PASS`` exit 0.

Exit 2, not 1: no budget was broken (exit 1 says one was, CONTRACTS.md); the report or the selection gives the
gate nothing it may judge, like an ``--artifact`` pattern that matches nothing (already exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reportfiles import materialise

from edgekd.cli import main
from edgekd.errors import InputError

DATA = Path(__file__).resolve().parent / "data"
WITHIN = DATA / "reports" / "within.json"


@pytest.fixture(autouse=True)
def test_profiles(monkeypatch):
    """Budgets come from tests/data/targets/ (one x86_64 profile), not the repo's."""
    monkeypatch.setenv("EDGEKD_TARGETS", str(DATA / "targets"))


def _gate(args, capsys) -> tuple[int, str, str]:
    code = main(["gate", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _teachers_only(report: dict) -> None:
    report["artifacts"] = [a for a in report["artifacts"] if a.get("role") == "teacher"]


def _on_a_target_without_budgets(report: dict) -> None:
    for a in report["artifacts"]:
        a["target"] = "nowhere"
    report["targets"] = []
    report["recipe"] = {}


def test_a_report_of_teachers_only_is_nothing_to_gate(tmp_path, capsys):
    report = materialise(WITHIN, tmp_path, edit=_teachers_only)
    code, out, err = _gate([report], capsys)
    assert code == 2 and "PASS" not in out
    assert f"{report}: nothing to gate: no deployed (student) artifact" in err


def test_a_target_with_no_profile_and_no_recorded_budgets_is_refused(tmp_path, capsys):
    report = materialise(WITHIN, tmp_path, edit=_on_a_target_without_budgets)
    code, out, err = _gate([report, "--target", "nowhere"], capsys)
    assert code == 2 and "PASS" not in out
    assert f"{report}: target 'nowhere' has no budgets to gate (no profile and none recorded in the report)" in err


def test_a_report_target_without_budgets_is_refused_without_target_too(tmp_path, capsys):
    report = materialise(WITHIN, tmp_path, edit=_on_a_target_without_budgets)
    code, _, err = _gate([report], capsys)
    assert code == 2 and "target 'nowhere' has no budgets to gate" in err


def test_budgets_given_on_the_command_line_make_such_a_target_gateable(tmp_path, capsys):
    report = materialise(WITHIN, tmp_path, edit=_on_a_target_without_budgets)
    code, out, _ = _gate([report, "--budget", "size_kb=1000"], capsys)
    assert code == 0 and "PASS" in out


def _path_of_int8(value: str):
    def edit(report: dict) -> None:
        next(a for a in report["artifacts"] if a["name"] == "student-tflite-int8")["path"] = value
    return edit


@pytest.mark.parametrize("path, why", [("/etc/hostname", "is absolute"),
                                       ("../../outside/student.tflite", "climbs out of the report's folder")])
def test_an_artifact_path_outside_the_report_folder_is_refused_by_the_gate(tmp_path, capsys, path, why):
    report = materialise(WITHIN, tmp_path, edit=_path_of_int8(path))
    code, out, err = _gate([report], capsys)
    assert code == 2 and "PASS" not in out
    assert f"{report}: artifact 'student-tflite-int8' (target 'x86_64'): path {path!r} {why}" in err


def test_the_api_gate_refuses_a_climbing_path_of_a_report_file(tmp_path):
    import edgekd

    report = materialise(WITHIN, tmp_path, edit=_path_of_int8("../x.tflite"))
    with pytest.raises(InputError, match=r"path '\.\./x\.tflite' climbs out"):
        edgekd.gate(report)


def test_bundle_refuses_an_absolute_artifact_path_and_writes_nothing(tmp_path, capsys):
    report = materialise(WITHIN, tmp_path / "run", edit=_path_of_int8("/etc/hostname"))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code = main(["bundle", str(report.parent), "--target", "x86_64"])
    err = capsys.readouterr().err
    assert code == 2 and "path '/etc/hostname' is absolute" in err and "Traceback" not in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_write_report_refuses_an_artifact_outside_the_report_folder(tmp_path):
    import hashlib

    import edgekd

    model = tmp_path / "elsewhere" / "m.onnx"
    model.parent.mkdir()
    model.write_bytes(b"x" * 100)
    record = {"name": "m", "target": "x86_64", "format": "onnx", "precision": "int8", "path": str(model),
              "sha256": hashlib.sha256(model.read_bytes()).hexdigest(), "metrics": {"balanced_accuracy": 0.9}}
    (tmp_path / "run").mkdir()
    with pytest.raises(InputError, match=r"m.onnx is outside the report's folder"):
        edgekd.write_report(tmp_path / "run" / "report.json", [record])
    assert not (tmp_path / "run" / "report.json").exists()


def test_a_sweep_trials_gate_report_names_its_files_relative_to_itself(tmp_path, capsys):
    from types import SimpleNamespace

    from edgekd.report.record import artifact_record
    from edgekd.sweep.search import write_gate_report

    model = tmp_path / "trial" / "artifacts" / "x86_64" / "student.tflite"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"x" * 2048)
    row = artifact_record(name="student-tflite-int8", role="student", target="x86_64", format="tflite",
                          precision="int8", path=model.resolve(), metrics={"balanced_accuracy": 0.9})
    plan = SimpleNamespace(recipe=SimpleNamespace(name="heart"), target=SimpleNamespace(name="x86_64"),
                           budgets={"size_kb": 4})
    report = tmp_path / "trial" / "gate-report.json"
    write_gate_report(report, {"gate_rows": [row]}, plan)
    assert json.loads(report.read_text())["artifacts"][0]["path"] == "artifacts/x86_64/student.tflite"
    code, out, _ = _gate([report, "--budget", "latency_p90_ms=none", "--budget", "accuracy_drop_pp=none"], capsys)
    assert code == 0 and "PASS" in out


def test_recipe_budgets_that_are_not_a_mapping_are_refused_not_dropped(tmp_path, capsys):
    def edit(report: dict) -> None:
        report["recipe"] = {"config": {"export": {"budgets": {"x86_64": "big"}}}}

    report = materialise(WITHIN, tmp_path, edit=edit)
    code, out, err = _gate([report], capsys)
    assert code == 2 and "PASS" not in out
    assert f"{report}: recipe.config.export.budgets.x86_64 is 'big', not a mapping" in err


def test_a_report_whose_artifacts_is_no_list_exits_2(tmp_path, capsys):
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"schema": "edgekd.report/1", "artifacts": True}))
    code, _, err = _gate([path], capsys)
    assert code == 2 and f"{path}: artifacts: True is not of type 'array'" in err
