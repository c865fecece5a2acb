"""End to end on the bundled real recordings: recipe → teacher → KD student → four artifacts → measured report.

Training is cut to a few epochs (the figures are not the point here; `make demo`
and benchmarks/ train fully): this checks that every artifact exists, loads, is
measured, and that the report and sidecars hold what the contracts promise.
"""

import json
from pathlib import Path

import pytest

from edgekd.cli import main
from edgekd.runtime.sidecar import sidecar_path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "heart-sample"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(heart_run):
    """The session's heart run (tests/conftest.py): x86_64, rpi4 (estimated) and the Cortex-M55 MCU."""
    return heart_run


@pytest.fixture(scope="module")
def report(run_dir):
    return json.loads((run_dir / "report.json").read_text())


def _artifact(report, role, fmt, precision, target="x86_64"):
    return next(a for a in report["artifacts"] if a["role"] == role and a["format"] == fmt
                and a["precision"] == precision and a["target"] == target)


def test_report_has_the_contract_keys(report):
    from edgekd.report.validation import schema_errors

    assert report["schema"] == "edgekd.report/1" and schema_errors(report) == []
    for key in ("recipe", "created", "versions", "seed", "data", "models", "artifacts"):
        assert key in report
    assert report["data"]["classes"] == ["normal", "abnormal"] and len(report["data"]["hash"]) == 64
    assert {"torch", "onnxruntime", "ai-edge-litert"} <= set(report["versions"])


def test_four_student_artifacts_each_measured(report, run_dir):
    students = [a for a in report["artifacts"] if a["role"] == "student" and a["target"] == "x86_64"]
    assert {(a["format"], a["precision"]) for a in students} == {
        ("tflite", "fp32"), ("tflite", "int8"), ("onnx", "fp32"), ("onnx", "int8")}
    for a in students:
        assert (run_dir / a["path"]).stat().st_size == a["size_bytes"]
        assert a["metrics"]["n"] == report["data"]["splits"]["test"]["recordings"]
        assert {"macc", "sensitivity", "specificity", "confusion"} <= set(a["metrics"])
        assert a["latency"]["p50_ms"] > 0 and a["latency"]["estimated"] is False
        assert "fully_integer" in a["audit"] and "passed" in a["budget"]


def test_splits_are_record_wise(report):
    s = report["data"]["splits"]
    assert sum(s[k]["recordings"] for k in ("train", "val", "test")) == 150


def test_int8_tflite_is_under_a_third_of_fp32(report):
    """All weights are int8: the file is < 1/3 of fp32 (0.293 measured for this 19.6 k-parameter student;
    the fixed flatbuffer tables keep it above 1/4, see benchmarks/results/student_size.md)."""
    fp32 = _artifact(report, "student", "tflite", "fp32")["size_bytes"]
    int8 = _artifact(report, "student", "tflite", "int8")["size_bytes"]
    assert int8 * 3 <= fp32


def test_student_int8_is_20x_smaller_than_teacher_fp32(report):
    teacher = _artifact(report, "teacher", "tflite", "fp32")["size_bytes"]
    assert _artifact(report, "student", "tflite", "int8")["size_bytes"] * 20 <= teacher


def test_int8_tflite_student_is_fully_integer(report):
    """Fully integer, and no layout TRANSPOSEs around the convolutions: the temporal student's one TRANSPOSE
    turns the (bands, frames) input into frames x band-channels once, at the input (5,760 int8 values)."""
    audit = _artifact(report, "student", "tflite", "int8")["audit"]
    assert audit["fully_integer"] and audit["transposes"] <= 1 and audit["ops"].get("CONV_2D") == 3


def test_sidecar_describes_the_artifact(report, run_dir):
    a = _artifact(report, "student", "tflite", "int8")
    meta = json.loads(sidecar_path(run_dir / a["path"]).read_text())
    assert meta["labels"] == ["normal", "abnormal"] and meta["positive"] == "abnormal"
    assert meta["schema"] == "edgekd.artifact/2" and meta["frontend"]["settings"]["sample_rate"] == 2000
    assert [s["step"] for s in meta["frontend"]["steps"]][:5] == ["read_wav", "remove_mean", "bandpass", "frame",
                                                                  "unit_rms"]
    assert meta["input"]["dtype"] == "int8" and meta["input"]["quantization"]["scale"]
    assert 0.0 < meta["decision"]["threshold"] < 1.0 and "validation" in meta["decision"]["chosen_on"]


def test_every_artifact_has_its_own_sidecar(report, run_dir):
    for a in report["artifacts"]:
        path = run_dir / a["path"]
        meta = json.loads(sidecar_path(path).read_text())
        assert (meta["format"], meta["precision"], meta["model"]["role"]) == (a["format"], a["precision"], a["role"])


def test_report_html_and_plots_written(run_dir):
    html = (run_dir / "report.html").read_text()
    assert "<img" in html and "http://" not in html and list((run_dir / "plots").glob("*.png"))


def test_report_markdown_written(run_dir):
    md = (run_dir / "report.md").read_text()
    assert "student-tflite-int8.tflite" in md and "training-e" in md


def test_eval_on_a_labelled_folder_prints_the_contract_json(report, run_dir, capsys):
    art = run_dir / _artifact(report, "student", "tflite", "int8")["path"]
    assert main(["eval", str(art), "--data", str(SAMPLE), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 150 and out["labels"] == ["normal", "abnormal"]
    for key in ("artifact", "accuracy", "balanced_accuracy", "confusion", "per_class", "sensitivity",
                "specificity", "macc"):
        assert key in out


def test_bench_prints_the_contract_json(report, run_dir, capsys):
    art = run_dir / _artifact(report, "student", "onnx", "int8")["path"]
    assert main(["bench", str(art), "--target", "x86_64", "--runs", "10", "--warmup", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("artifact", "runtime", "runtime_version", "threads", "runs", "warmup", "p50_ms", "p90_ms",
                "p99_ms", "mean_ms", "cv", "runner", "estimated", "host"):
        assert key in out


def _write_wav(path, data, rate=2000, channels=1):
    import wave

    import numpy as np

    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.asarray(data) * 8000).astype("<i2").tobytes())


@pytest.mark.parametrize(
    "case, expect",
    [("stereo", "stereo"), ("rate", "4000 Hz"), ("short", "too short"), ("empty", "empty"), ("label", "murmur")],
)
def test_eval_refuses_bad_recordings_with_exit_2(report, run_dir, tmp_path, capsys, case, expect):
    import numpy as np

    t = np.arange(2000 * 6) / 2000
    sig = np.sin(2 * np.pi * 50 * t)
    name, label = "x0001.wav", "normal"
    if case == "stereo":
        _write_wav(tmp_path / name, np.repeat(sig, 2), channels=2)
    elif case == "rate":
        _write_wav(tmp_path / name, sig, rate=4000)
    elif case == "short":
        _write_wav(tmp_path / name, sig[:2000])
    elif case == "empty":
        (tmp_path / name).write_bytes(b"")
    else:
        _write_wav(tmp_path / name, sig)
        label = "murmur"
    (tmp_path / "labels.csv").write_text(f"file,label\n{name},{label}\n")
    art = run_dir / _artifact(report, "student", "tflite", "int8")["path"]
    assert main(["eval", str(art), "--data", str(tmp_path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and expect in captured.err
    assert (name in captured.err) or ("labels.csv" in captured.err)


def test_the_gate_finds_every_file_the_run_measured(report, run_dir, capsys):
    code = main(["gate", str(run_dir / "report.json"), "--json"])
    result = json.loads(capsys.readouterr().out)
    files = [c for c in result["checks"] if c["budget"] == "file"]
    students = [a for a in report["artifacts"] if a["role"] == "student"]
    assert len(students) == 9  # 4 on x86_64, 4 on rpi4, 1 int8 TFLite on the MCU
    # the deployed ones: the int8 files (their fp32 twins are the accuracy references), 2 + 2 + 1
    assert code in (0, 1) and len(files) == 5 and all(c["status"] == "pass" for c in files)


def test_the_mcu_target_gets_only_its_int8_tflite_and_no_teacher(report):
    mcu = [(a["role"], a["format"], a["precision"]) for a in report["artifacts"]
           if a["target"] == "cortex-m55-ethos-u55"]
    assert mcu == [("student", "tflite", "int8")]


def test_rpi4_latency_is_labelled_estimated(report):
    rpi = [a for a in report["artifacts"] if a["target"] == "rpi4"]
    assert rpi and all(a["latency"]["estimated"] is True for a in rpi)
