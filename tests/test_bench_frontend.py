"""The front-end timed beside the model: measure_frontend, benchmain --frontend, and what `bench` reports.

No test asserts a wall time: only the structure and relations that hold whatever the machine's speed.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekd.errors import InputError
from edgekd.runtime.latency import end_to_end, measure_frontend

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
WAV = DATA / "a0011.wav"  # 22 windows of the heart front-end
TFLITE = DATA / "heart-student-tflite-int8.tflite"
ONNX = DATA / "heart-student-onnx-int8.onnx"
STEPS = [  # the heart front-end (a0011.wav gives 22 windows of 3 s every 1.5 s)
    {"step": "read_wav", "sample_rate": 2000, "min_seconds": 3.0},
    {"step": "remove_mean"},
    {"step": "bandpass", "sample_rate": 2000, "low_hz": 25.0, "high_hz": 400.0, "order": 4},
    {"step": "frame", "window_samples": 6000, "hop_samples": 3000},
    {"step": "unit_rms"},
    {"step": "power_spectrogram", "n_fft": 256, "hop_length": 32},
    {"step": "mel", "sample_rate": 2000, "n_fft": 256, "n_mels": 32, "fmin": 25.0, "fmax": 500.0},
    {"step": "log", "floor": 1e-6},
    {"step": "to_model_input", "layout": "windows,frames,mels->windows,1,mels,frames"},
]


def write_wav(path: Path, seconds: float, sr: int = 2000) -> Path:
    """A 16-bit mono PCM WAV of a noisy 60 Hz tone."""
    n = int(seconds * sr)
    x = 0.3 * np.sin(2 * np.pi * 60 * np.arange(n) / sr) + 0.05 * np.random.default_rng(0).standard_normal(n)
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr,
                     2 * sr, 2, 16) + b"data" + struct.pack("<I", len(pcm)) + pcm)
    return path


def check_end_to_end(result: dict) -> None:
    """end_to_end is frontend per item + model x invokes per item, from the reported parts."""
    fe, e2e = result["frontend"], result["end_to_end"]
    w, per = fe["windows_per_item"], e2e["windows_per_invoke"]
    assert e2e["per"] == "item" and "sum of separately measured parts" in e2e["how"]
    assert e2e["p50_ms"] == pytest.approx(fe["per_item"]["p50_ms"] + result["p50_ms"] * w["p50"] / per, rel=1e-12)
    assert e2e["p90_ms"] == pytest.approx(fe["per_item"]["p90_ms"] + result["p90_ms"] * w["p90"] / per, rel=1e-12)


@pytest.mark.device
def test_one_item_gives_per_item_figures_that_are_its_windows_times_the_per_window_ones():
    fe = measure_frontend(STEPS, [WAV], runs=7, warmup=1, max_seconds=float("inf"))  # no time cap: counts exact
    assert (fe["per"], fe["per_item"]["per"]) == ("window", "item")
    assert fe["runs"] == 7 and fe["items"] == 1 and fe["refused"] == 0
    assert fe["windows_per_item"] == {"p50": 22.0, "p90": 22.0, "min": 22, "max": 22}
    assert fe["per_item"]["p50_ms"] == pytest.approx(22 * fe["p50_ms"], rel=1e-9)
    assert fe["per_item"]["p90_ms"] == pytest.approx(22 * fe["p90_ms"], rel=1e-9)
    assert 0 < fe["p50_ms"] <= fe["p90_ms"]


@pytest.mark.device
def test_every_item_is_timed_at_least_once_and_a_refused_one_is_counted_not_timed(tmp_path):
    short = write_wav(tmp_path / "short.wav", 1.0)  # below min_seconds: the front-end refuses it
    longer = write_wav(tmp_path / "long.wav", 7.5)  # 4 windows
    fe = measure_frontend(STEPS, [short, WAV, longer], runs=1, warmup=1, max_seconds=float("inf"))
    assert fe["runs"] == 2 and fe["items"] == 2
    assert fe["refused"] == 1 and fe["refusals"][0]["item"] == "short.wav"
    assert (fe["windows_per_item"]["min"], fe["windows_per_item"]["max"]) == (4, 22)


@pytest.mark.device
def test_items_the_front_end_refuses_all_are_an_input_error_naming_one(tmp_path):
    with pytest.raises(InputError, match="short.wav"):
        measure_frontend(STEPS, [write_wav(tmp_path / "short.wav", 1.0)], runs=3)


@pytest.mark.device
def test_end_to_end_is_none_without_a_front_end_and_scales_the_model_by_windows_per_invoke():
    fe = {"per_item": {"p50_ms": 2.0, "p90_ms": 3.0}, "windows_per_item": {"p50": 10.0, "p90": 20.0}}
    assert end_to_end({"p50_ms": 0.1, "p90_ms": 0.2}, None) is None
    e2e = end_to_end({"p50_ms": 0.1, "p90_ms": 0.2}, fe, per_invoke=2)
    assert (e2e["p50_ms"], e2e["p90_ms"]) == pytest.approx((2.0 + 0.1 * 5, 3.0 + 0.2 * 10))


@pytest.mark.device
def test_benchmain_times_the_front_end_on_the_device_side(tmp_path):
    shutil.copyfile(WAV, tmp_path / "rec.wav")
    (tmp_path / "job.json").write_text(json.dumps({"steps": STEPS, "items": ["rec.wav"]}))
    out = subprocess.run([sys.executable, "-m", "edgekd.runtime.benchmain", str(ONNX), "--runs", "5", "--warmup",
                          "1", "--frontend", str(tmp_path / "job.json")], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout
    result = json.loads(out)
    assert result["frontend"]["items"] == 1 and result["frontend"]["windows_per_item"]["p50"] == 22
    check_end_to_end(result)


# ---------------------------------------------------------------- bench (main environment: the CLI and API)
def bench_json(capsys, *args: str) -> dict:
    from edgekd.cli import main

    code = main(["bench", *map(str, args), "--runs", "5", "--warmup", "1", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_bench_items_gives_frontend_and_end_to_end_beside_the_contract_keys(capsys):
    result = bench_json(capsys, TFLITE, "--items", WAV)
    for key in ("artifact", "runtime", "runtime_version", "threads", "runs", "warmup", "p50_ms", "p90_ms", "p99_ms",
                "mean_ms", "cv", "runner", "estimated", "host"):
        assert key in result, key
    fe = result["frontend"]
    assert {"p50_ms", "p90_ms", "per"} <= set(fe) and fe["per"] == "window" and fe["per_item"]["per"] == "item"
    assert (fe["source"], fe["runner"], fe["emulated"]) == ("items", "local", False)
    check_end_to_end(result)


def test_without_items_or_golden_inputs_the_front_end_is_null_with_a_reason(tmp_path, capsys):
    for f in (TFLITE, TFLITE.with_suffix(".edgekd.json")):  # a folder with no golden inputs beside the file
        shutil.copyfile(f, tmp_path / f.name)
    result = bench_json(capsys, tmp_path / TFLITE.name)
    assert result["frontend"] is None and result["end_to_end"] is None
    assert "no items" in result["frontend_reason"] and "--items" in result["frontend_reason"]


def test_golden_inputs_beside_the_artifact_are_the_default_items(tmp_path, capsys):
    for f in (TFLITE, TFLITE.with_suffix(".edgekd.json")):
        shutil.copyfile(f, tmp_path / f.name)
    golden = tmp_path / (TFLITE.stem + ".golden") / "inputs"
    golden.mkdir(parents=True)
    shutil.copyfile(WAV, golden / "input0.wav")
    result = bench_json(capsys, tmp_path / TFLITE.name)
    assert result["frontend"]["source"] == "golden" and result["frontend"]["items"] == 1


def test_a_labelled_folder_times_the_front_end_on_its_files(tmp_path, capsys):
    shutil.copyfile(WAV, tmp_path / "a.wav")
    write_wav(tmp_path / "b.wav", 7.5)
    (tmp_path / "labels.csv").write_text("file,label\na.wav,normal\nb.wav,abnormal\n")
    fe = bench_json(capsys, ONNX, "--data", tmp_path)["frontend"]
    assert fe["source"] == "data" and fe["items"] == 2 and fe["windows_per_item"]["max"] == 22


def test_a_missing_item_is_a_usage_error(tmp_path, capsys):
    from edgekd.cli import main

    assert main(["bench", str(TFLITE), "--items", str(tmp_path / "nope.wav")]) == 2
    assert "nope.wav" in capsys.readouterr().err


def test_the_estimate_runner_says_the_front_end_is_not_measured(capsys):
    result = bench_json(capsys, TFLITE, "--target", "rpi4", "--runner", "estimate", "--items", WAV)
    assert result["estimated"] is True and result["frontend"] is None and result["end_to_end"] is None
    assert result["frontend_reason"].startswith("not measured") and "estimate runner" in result["frontend_reason"]


def test_text_output_puts_front_end_and_model_side_by_side(capsys):
    from edgekd.cli import main

    assert main(["bench", str(TFLITE), "--items", str(WAV), "--runs", "5", "--warmup", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines if line.strip().split(" ")[0] in
            ("front-end", "model", "end-to-end")}
    assert rows["model"][3] == "invoke" and rows["end-to-end"][3] == "item"
    assert any(line.split()[-1] == "window" and line.split()[0] == "front-end" for line in lines)
    assert any(line.split()[-1] == "item" and line.split()[0] == "front-end" for line in lines)


def test_no_items_is_said_in_the_text_output(tmp_path, capsys):
    from edgekd.cli import main

    for f in (ONNX, ONNX.with_suffix(".edgekd.json")):
        shutil.copyfile(f, tmp_path / f.name)
    assert main(["bench", str(tmp_path / ONNX.name), "--runs", "5", "--warmup", "1"]) == 0
    assert "front-end: not timed: no items" in capsys.readouterr().out


# ---------------------------------------------------------------- the gate's end-to-end budget and the report
def record(**latency) -> dict:
    """A deployed int8 student whose latency carries ``latency`` (p50/p90 of the model and what is given)."""
    return {"name": "student-tflite-int8", "role": "student", "target": "x86_64", "format": "tflite",
            "precision": "int8", "size_bytes": 50_000, "metrics": {"balanced_accuracy": 0.8},
            "latency": {"p50_ms": 0.1, "p90_ms": 0.2, "runner": "local", "estimated": False, "emulated": False,
                        **latency}}


def e2e_check(artifact: dict, **budgets):
    from edgekd.report.budgets import check_artifact
    from edgekd.targets import Budgets

    (check,) = [c for c in check_artifact(artifact, [artifact], Budgets(**budgets))
                if c.budget == "latency_end_to_end_p90_ms"]
    return check


def test_the_end_to_end_budget_judges_the_per_item_p90():
    a = record(end_to_end={"p50_ms": 3.0, "p90_ms": 5.0, "per": "item"}, frontend={"p50_ms": 0.2})
    over = e2e_check(a, latency_end_to_end_p90_ms=4.0)
    assert (over.status, over.value, over.limit) == ("fail", 5.0, 4.0)
    assert e2e_check(a, latency_end_to_end_p90_ms=6.0).status == "pass"


def test_the_end_to_end_budget_without_a_front_end_timing_fails_closed_saying_why():
    a = record(frontend=None, frontend_reason="not timed: no items to run it on", end_to_end=None)
    check = e2e_check(a, latency_end_to_end_p90_ms=4.0)
    assert check.status == "fail" and "no items to run it on" in check.detail and "fails closed" in check.detail
    assert e2e_check(a, latency_end_to_end_p90_ms=4.0, allow_unmeasured=True).status == "skip"


def test_an_emulated_end_to_end_figure_is_never_gated():
    a = record(emulated=True, end_to_end={"p50_ms": 3.0, "p90_ms": 5.0, "per": "item", "emulated": True})
    check = e2e_check(a, latency_end_to_end_p90_ms=100.0)
    assert check.status == "fail" and "emulated" in check.detail


def test_a_target_profile_may_set_the_end_to_end_budget_beside_the_others():
    from edgekd.targets import TargetProfile

    p = TargetProfile.model_validate({"name": "t", "arch": "x86_64", "formats": ["tflite"], "precisions": ["int8"],
                                      "budgets": {"latency_p90_ms": 20, "latency_end_to_end_p90_ms": 150}})
    assert (p.budgets.latency_p90_ms, p.budgets.latency_end_to_end_p90_ms) == (20, 150)


def test_gate_cli_checks_the_end_to_end_budget(tmp_path, capsys):
    import hashlib

    from edgekd.cli import main

    model = tmp_path / "student.tflite"
    model.write_bytes(b"x" * 50_000)
    a = record(end_to_end={"p50_ms": 3.0, "p90_ms": 5.0, "per": "item"})
    a.update(path=model.name, sha256=hashlib.sha256(model.read_bytes()).hexdigest())
    report = {"schema": "edgekd.report/1", "artifacts": [a]}
    (tmp_path / "report.json").write_text(json.dumps(report))
    code = main(["gate", str(tmp_path / "report.json"), "--target", "x86_64", "--budget", "latency_p90_ms=none",
                 "--budget", "accuracy_drop_pp=none", "--budget", "size_kb=none",
                 "--budget", "latency_end_to_end_p90_ms=4"])
    out = capsys.readouterr().out
    assert code == 1 and "latency_end_to_end_p90_ms" in out


def test_the_pipeline_times_the_front_end_on_the_test_items_files():
    from types import SimpleNamespace

    from edgekd.flow.measuring import _latency
    from edgekd.runners.options import BenchSpec
    from edgekd.runtime.artifact import load_artifact
    from edgekd.targets import load_target

    test = SimpleNamespace(recordings=[SimpleNamespace(path=WAV), SimpleNamespace(path=None)])
    latency = _latency(load_artifact(ONNX, threads=1), ONNX, load_target("x86_64"),
                       BenchSpec(runs=5, warmup=1, max_seconds=30), test)
    assert latency["frontend"]["source"] == "test split" and latency["frontend"]["items"] == 1
    check_end_to_end(latency)
    in_memory = _latency(load_artifact(ONNX, threads=1), ONNX, load_target("x86_64"),
                         BenchSpec(runs=5, warmup=1, max_seconds=30), SimpleNamespace(recordings=[]))
    assert in_memory["frontend"] is None and "no test items as files" in in_memory["frontend_reason"]


def test_report_md_shows_front_end_model_and_end_to_end_per_artifact():
    from edgekd.report.markdown import _frontend_table

    fe = {"p50_ms": 0.25, "p90_ms": 0.3, "per": "window", "per_item": {"p50_ms": 5.5, "p90_ms": 7.0, "per": "item"},
          "windows_per_item": {"p50": 22.0, "p90": 22.0, "min": 22, "max": 22}}
    timed = record(frontend=fe, end_to_end={"p50_ms": 7.7, "p90_ms": 11.4, "per": "item"})
    untimed = record(frontend=None, frontend_reason="not timed: no items")
    timed["path"], untimed["path"] = "artifacts/x86_64/a.tflite", "artifacts/x86_64/b.onnx"
    lines = _frontend_table([timed, untimed], "x86_64")
    row_a = next(line for line in lines if "`a.tflite`" in line)
    assert "0.250 / 0.300" in row_a and "5.50 / 7.00" in row_a and "7.70 / 11.40" in row_a and "22 / 22" in row_a
    assert "not timed: no items" in next(line for line in lines if "`b.onnx`" in line)


def test_a_front_end_that_crashes_leaves_the_models_figures_and_says_why(monkeypatch, capsys):
    from edgekd.runtime import steps

    def broken(*args, **kwargs):
        raise MemoryError("out of memory in the test")

    monkeypatch.setitem(steps.STEPS, "remove_mean", broken)
    result = bench_json(capsys, ONNX, "--items", WAV)
    assert result["p50_ms"] > 0 and result["frontend"] is None
    assert "MemoryError" in result["frontend_reason"] and result["end_to_end"] is None
