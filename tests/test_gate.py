"""`edgekd gate`: exit 0 within budget, 1 with the right violations, 2 on bad input; JUnit and Markdown outputs."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from reportfiles import materialise

from edgekd.cli import main

DATA = Path(__file__).resolve().parent / "data"
WITHIN = DATA / "reports" / "within.json"
BREAKS = DATA / "reports" / "breaks.json"
OLD = DATA / "reports" / "old-schema.json"
# the deployed files: the fp32 ones are their twins (the accuracy-drop references), listed as not gated
STUDENTS = ["student-tflite-int8", "student-onnx-int8"]
TWINS = ["student-tflite-fp32", "student-onnx-fp32"]
BUDGETS = ["size_kb", "latency_p90_ms", "accuracy_drop_pp"]
CHECKS = [*BUDGETS, "file"]  # every gated artifact's file is checked too (exists, SHA-256 as measured)


@pytest.fixture()
def within(tmp_path):
    return materialise(WITHIN, tmp_path / "within")


@pytest.fixture()
def breaks(tmp_path):
    return materialise(BREAKS, tmp_path / "breaks")


@pytest.fixture(autouse=True)
def test_profiles(monkeypatch):
    """Budgets come from tests/data/targets/x86_64.yaml (size 128 KiB, p90 20 ms, drop 2 pp), not the repo's."""
    monkeypatch.setenv("EDGEKD_TARGETS", str(DATA / "targets"))


def _gate(args, capsys):
    code = main(["gate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_within_budget_exits_0(within, capsys):
    code, out, err = _gate([within], capsys)
    assert code == 0, out + err
    assert "PASS" in out and "all 8 checks hold" in out


def test_broken_budgets_exit_1_with_exactly_those_violations(breaks, capsys):
    code, out, _ = _gate([breaks, "--json"], capsys)
    assert code == 1
    result = json.loads(out)
    got = {(v["artifact"], v["budget"]) for v in result["violations"]}
    assert got == {("student-tflite-int8", "size_kb"), ("student-onnx-int8", "latency_p90_ms"),
                   ("student-onnx-int8", "accuracy_drop_pp")}
    by = {(v["artifact"], v["budget"]): v for v in result["violations"]}
    assert by[("student-tflite-int8", "size_kb")]["value"] == 200.0
    assert by[("student-onnx-int8", "accuracy_drop_pp")]["value"] == pytest.approx(4.0)


def test_violation_message_names_figure_budget_and_artifact(breaks, capsys):
    code, out, _ = _gate([breaks], capsys)
    assert code == 1
    assert "FAIL student-tflite-int8 [x86_64] size_kb: file size 200 KiB > budget 128 KiB" in out
    assert "FAIL student-onnx-int8 [x86_64] latency_p90_ms: latency p90 45 ms > budget 20 ms" in out


def test_teachers_are_not_gated(within, capsys):
    _, out, _ = _gate([within, "--json"], capsys)
    result = json.loads(out)
    assert {c["artifact"] for c in result["checks"]} == set(STUDENTS)
    assert any(n.startswith("teacher-tflite-fp32") for n in result["not_gated"])
    assert all(any(n.startswith(t) and "twin" in n for n in result["not_gated"]) for t in TWINS)


def test_an_fp32_twin_named_with_artifact_is_gated(within, capsys):
    code, out, _ = _gate([within, "--artifact", "student-tflite-fp32", "--budget", "size_kb=30", "--json"], capsys)
    assert code == 1 and {v["artifact"] for v in json.loads(out)["violations"]} == {"student-tflite-fp32"}


def test_budget_override_on_the_command_line_breaks_the_gate(within, capsys):
    code, out, _ = _gate([within, "--budget", "size_kb=30", "--json"], capsys)
    assert code == 1
    assert {v["artifact"] for v in json.loads(out)["violations"]} == {"student-onnx-int8"}


def test_budgets_file_is_layered_over_the_profile(within, tmp_path, capsys):
    f = tmp_path / "budgets.yaml"
    f.write_text("x86_64:\n  latency_p90_ms: 0.3\n")
    code, out, _ = _gate([within, "--budgets", f, "--json"], capsys)
    result = json.loads(out)
    assert code == 1
    assert {(v["artifact"], v["budget"]) for v in result["violations"]} == {("student-onnx-int8", "latency_p90_ms")}
    assert result["targets"]["x86_64"]["budgets"]["size_kb"] == 128


def test_artifact_selection_gates_only_the_shipped_files(within, capsys):
    code, out, _ = _gate([within, "--artifact", "student-*-int8", "--budget", "size_kb=64", "--json"], capsys)
    assert code == 0
    assert {c["artifact"] for c in json.loads(out)["checks"]} == {"student-tflite-int8", "student-onnx-int8"}


def test_unknown_schema_exits_2(capsys):
    code, out, err = _gate([OLD], capsys)
    assert code == 2 and "schema 'edgekd.report/0' is not 'edgekd.report/1'" in err
    assert "Traceback" not in err


def test_an_artifact_with_no_identity_exits_2(tmp_path, capsys):
    bad = materialise(WITHIN, tmp_path / "r", edit=lambda r: r["artifacts"][3].pop("target"))
    code, _, err = _gate([bad], capsys)
    assert code == 2 and "artifacts[3]: 'target' is a required property" in err and "Traceback" not in err


def test_a_target_that_is_not_a_name_exits_2(tmp_path, capsys):
    bad = materialise(WITHIN, tmp_path / "r", edit=lambda r: r["artifacts"][3].update(target=["x86_64"]))
    code, _, err = _gate([bad], capsys)
    assert code == 2 and "artifacts[3].target: ['x86_64'] is not of type 'string'" in err


def test_misspelled_budget_key_in_file_exits_2(within, tmp_path, capsys):
    f = tmp_path / "budgets.yaml"
    f.write_text("x86_64:\n  size_kbb: 30\n")
    code, _, err = _gate([within, "--budgets", f], capsys)
    assert code == 2 and "unknown key 'size_kbb'" in err and "did you mean 'size_kb'" in err


def test_misspelled_budget_key_in_override_exits_2(within, capsys):
    code, _, err = _gate([within, "--budget", "latency_p90=5"], capsys)
    assert code == 2 and "--budget: unknown key 'latency_p90'" in err and "latency_p90_ms" in err


def test_target_missing_from_report_exits_2(within, capsys):
    code, _, err = _gate([within, "--target", "rpi4"], capsys)
    assert code == 2 and "target 'rpi4' is not in the report (report targets: x86_64)" in err


def test_budgets_file_naming_a_target_missing_from_report_exits_2(within, tmp_path, capsys):
    f = tmp_path / "budgets.yaml"
    f.write_text("rpi4:\n  size_kb: 30\n")
    code, _, err = _gate([within, "--budgets", f], capsys)
    assert code == 2 and "target 'rpi4' is not in the report" in err


def test_target_without_profile_uses_budgets_recorded_in_report(tmp_path, capsys):
    def edit(report):
        for a in report["artifacts"]:
            a["target"] = "lab-box"
        report["targets"][0]["name"] = "lab-box"  # recorded budgets: size 64 KiB, p90 20 ms, drop 2 pp

    path = materialise(WITHIN, tmp_path / "r", edit=edit)
    code, out, _ = _gate([path, "--json"], capsys)
    result = json.loads(out)
    assert "recorded in the report" in result["targets"]["lab-box"]["sources"][0]
    assert result["targets"]["lab-box"]["budgets"]["size_kb"] == 64  # the int8 files fit it: only the twins did not
    assert code == 0 and not result["violations"]


def test_junit_has_one_case_per_artifact_and_budget(breaks, tmp_path, capsys):
    xml_path = tmp_path / "gate.xml"
    code, _, _ = _gate([breaks, "--junit", xml_path], capsys)
    assert code == 1
    root = ET.parse(xml_path).getroot()
    cases = root.findall(".//testcase")
    keys = [(c.get("classname").rsplit(".", 1)[-1], c.get("name")) for c in cases]
    assert sorted(keys) == sorted((a, b) for a in STUDENTS for b in CHECKS)
    failed = {(c.get("classname").rsplit(".", 1)[-1], c.get("name")) for c in cases if c.find("failure") is not None}
    assert failed == {("student-tflite-int8", "size_kb"), ("student-onnx-int8", "latency_p90_ms"),
                      ("student-onnx-int8", "accuracy_drop_pp")}
    assert root.get("tests") == "8" and root.get("failures") == "3"


def test_unmeasured_ram_fails_closed(within, tmp_path, capsys):
    xml_path = tmp_path / "gate.xml"
    code, out, _ = _gate([within, "--budget", "ram_kb=256", "--junit", xml_path], capsys)
    assert code == 1 and "RAM not measured" in out and "fails closed" in out
    ram = [c for c in ET.parse(xml_path).getroot().iter("testcase") if c.get("name") == "ram_kb"]
    assert len(ram) == 2 and all(c.find("failure") is not None for c in ram)


def test_unmeasured_ram_is_a_skipped_case_when_the_user_allows_skipping(within, tmp_path, capsys):
    xml_path = tmp_path / "gate.xml"
    code, _, _ = _gate([within, "--budget", "ram_kb=256", "--budget", "allow_unmeasured=true", "--junit", xml_path],
                       capsys)
    assert code == 0
    ram = [c for c in ET.parse(xml_path).getroot().iter("testcase") if c.get("name") == "ram_kb"]
    assert len(ram) == 2 and all(c.find("skipped") is not None and c.find("failure") is None for c in ram)


def test_markdown_summary_has_the_table(breaks, tmp_path, capsys):
    md = tmp_path / "summary.md"
    _gate([breaks, "--markdown", md], capsys)
    text = md.read_text()
    assert text.startswith("## edgekd gate: ❌ 3 budget(s) broken")
    assert "| artifact | target | budget | value | limit | result | detail |" in text
    assert "| `student-tflite-int8` | x86_64 | size_kb | 200 KiB | 128 KiB | ❌ FAIL |" in text
    assert sum(line.startswith("| `student-") for line in text.splitlines()) == 8


def test_gate_does_not_import_matplotlib_or_torch(within):
    import subprocess
    import sys

    code = ("import sys\nfrom edgekd.cli import main\n"
            f"rc = main(['gate', {str(within)!r}, '--json'])\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'torch', 'tensorflow'))\n"
            "print('HEAVY', heavy, rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "EDGEKD_TARGETS": str(DATA / "targets")}).stdout
    assert "HEAVY [] 0" in out


def test_recipe_budgets_recorded_in_the_report_layer_over_the_profile(tmp_path, capsys):
    """A release budget in the recipe (export.budgets) is applied by the gate on top of the device profile's."""
    def edit(report):
        report["recipe"].setdefault("config", {}).setdefault("export", {})["budgets"] = {"x86_64": {"size_kb": 256}}

    path = materialise(BREAKS, tmp_path / "r", edit=edit)
    code, out, _ = _gate([path, "--json"], capsys)
    result = json.loads(out)
    got = {(v["artifact"], v["budget"]) for v in result["violations"]}
    assert ("student-tflite-int8", "size_kb") not in got  # 200 KB: over the profile's 128, within the recipe's 256
    assert ("student-onnx-int8", "latency_p90_ms") in got
    assert result["targets"]["x86_64"]["budgets"]["size_kb"] == 256
    assert "recipe export.budgets" in result["targets"]["x86_64"]["sources"]



@pytest.mark.parametrize("field,value,why", [
    ("size_bytes", float("nan"), "size_bytes is nan, not a finite number"),
    ("size_bytes", None, "size_bytes is null"),
    ("size_bytes", "big", "size_bytes is 'big', not a number"),
    ("size_bytes", -5, "size_bytes is -5, outside >= 1"),
    ("macc", float("nan"), "metrics.macc is nan, not a finite number"),
    ("macc", "good", "metrics.macc is 'good', not a number"),
    ("macc", None, "metrics.macc is null"),
])
def test_a_nan_missing_negative_or_non_numeric_figure_exits_1_naming_artifact_and_figure(tmp_path, capsys, field,
                                                                                          value, why):
    def edit(report):
        a = report["artifacts"][3]  # student-tflite-int8
        (a["metrics"] if field == "macc" else a)[field] = value

    path = materialise(WITHIN, tmp_path / "r", edit=edit)
    code, out, err = _gate([path, "--budget", "min_metric=0.5"], capsys)
    assert code == 1, out + err
    assert any(line.startswith("  FAIL student-tflite-int8 [x86_64]") and why in line for line in out.splitlines()), out


def test_a_missing_figure_exits_1_naming_it(tmp_path, capsys):
    path = materialise(WITHIN, tmp_path / "r", edit=lambda r: r["artifacts"][3].pop("size_bytes"))
    code, out, _ = _gate([path], capsys)
    assert code == 1 and "FAIL student-tflite-int8 [x86_64] size_kb" in out and "size_bytes is missing" in out


def test_a_missing_artifact_file_exits_1_naming_the_file(within, capsys):
    gone = within.parent / "artifacts" / "x86_64" / "student-onnx-int8.onnx"
    gone.unlink()
    code, out, _ = _gate([within], capsys)
    assert code == 1 and f"FAIL student-onnx-int8 [x86_64] file: artifact file: {gone} not found" in out


def test_a_changed_artifact_file_exits_1_naming_the_file(within, capsys):
    swapped = within.parent / "artifacts" / "x86_64" / "student-tflite-int8.tflite"
    swapped.write_bytes(swapped.read_bytes()[:-1] + b"!")
    code, out, _ = _gate([within], capsys)
    assert code == 1 and f"{swapped} changed since it was measured" in out


def test_a_report_that_records_no_sha256_cannot_vouch_for_its_files(tmp_path, capsys):
    path = materialise(WITHIN, tmp_path / "r", edit=lambda r: [a.update(sha256=None) for a in r["artifacts"]])
    code, out, _ = _gate([path], capsys)
    assert code == 1 and "records no SHA-256" in out


def test_junit_into_a_folder_exits_2(within, tmp_path, capsys):
    code, _, err = _gate([within, "--junit", tmp_path], capsys)
    assert code == 2 and str(tmp_path) in err and "Traceback" not in err


def test_one_recording_of_48_flipped_between_fp32_and_int8_passes_the_2pp_drop_budget(tmp_path, capsys):
    """Issue 25: ``make demo``'s report failed its own gate on 2.08 pp from one flipped recording of 48."""
    from edgekd.runtime.metrics import classification_metrics

    true = [0] * 24 + [1] * 24
    flipped = [1 - t if i == 30 else t for i, t in enumerate(true)]

    def edit(report):
        for a in report["artifacts"]:
            pred = flipped if a["precision"] == "int8" else true
            a["metrics"] = {**classification_metrics(true, pred, ["normal", "abnormal"], "abnormal"),
                            "per_item": {"ids": list(range(48)), "true": true, "predicted": pred}}

    code, out, _ = _gate([materialise(WITHIN, tmp_path / "r", edit=edit)], capsys)
    assert code == 0, out
    assert ("PASS student-onnx-int8 [x86_64] accuracy_drop_pp: accuracy drop 2.08 pp > budget 2 pp" in out
            and "1 became wrong, 0 became right" in out)
