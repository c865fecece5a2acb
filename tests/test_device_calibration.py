"""Device (latency) calibration: the kernel model's fit, the calibration file, and an estimate refused or flagged when the
calibration is another device's (``edgekd targets calibrate``, ``edgekd.runners.calibrated``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekd.cli import main
from edgekd.errors import InputError
from edgekd.runners.calibrated import identity_here, read_calibration
from edgekd.runners.estimate import run_estimate
from edgekd.runners.kernelmodel import KernelModel, fit
from edgekd.runners.opcost import OpCost
from edgekd.runners.options import BenchOptions
from edgekd.targets import load_target

DATA = Path(__file__).resolve().parent / "data"
TFLITE = DATA / "heart-student-tflite-int8.tflite"
ONNX = DATA / "heart-student-onnx-int8.onnx"


def _conv(macs: int, shape: str = "std", precision: str = "int8") -> OpCost:
    return OpCost("CONV_2D", "conv", precision, macs, 3 * macs // 100, shape, macs // 100, macs // 100, macs // 100)


def test_the_fit_recovers_the_per_kernel_costs_it_was_timed_with():
    """Graphs timed as 5 µs per invoke + 3 µs per conv + 20 µs per M MAC: the fit predicts a new graph exactly."""
    def truth(g: list[OpCost]) -> float:
        return (5.0 + sum(3.0 + 20.0 * c.macs / 1e6 for c in g)) / 1e3

    graphs = [[_conv(m)] * n for m in (10_000, 200_000, 1_000_000, 5_000_000) for n in (1, 2, 3)]
    model = fit(graphs, [truth(g) for g in graphs], "rt", "1")
    unseen = [_conv(2_500_000), _conv(40_000), _conv(700_000)]
    assert model.predict(unseen)["latency_ms"] == pytest.approx(truth(unseen), rel=0.02)


def test_a_network_that_fills_the_cache_pays_the_context_extra():
    """Timed alone each conv costs 3 µs + 20 µs/M MAC; timed after other files 2 µs more: a graph whose working set
    fills the L2 is predicted with the extra, a small one without."""
    graphs = [[_conv(m)] * n for m in (10_000, 200_000, 1_000_000, 5_000_000) for n in (1, 2, 3)]
    alone = [(5.0 + sum(3.0 + 20.0 * c.macs / 1e6 for c in g)) / 1e3 for g in graphs]
    after = [t + 2.0 * len(g) / 1e3 for t, g in zip(alone, graphs)]
    model = fit(graphs, alone, "rt", "1", context_ms=after, cache_kb=64)
    small, big = [_conv(10_000)], [_conv(5_000_000)] * 2  # 300 B vs 150 KB of weights + outputs
    assert model.predict(small)["cache_share"] < 0.01 and model.predict(big)["cache_share"] == 1.0
    assert model.predict(big)["latency_ms"] == pytest.approx((5.0 + 2 * (3.0 + 100.0 + 2.0)) / 1e3, rel=0.02)


def test_an_op_of_a_group_never_calibrated_is_borrowed_and_said():
    model = KernelModel("rt", "1", 1.0, {"int8/conv-std": {"ops": 2.0, "mmacs": 10.0}})
    out = model.predict([_conv(1_000_000, shape="pw")])
    assert out["latency_ms"] == pytest.approx((1.0 + 2.0 + 10.0) / 1e3)
    assert out["borrowed"] == ["CONV_2D (int8/conv-pw predicted as int8/conv-std)"]


def _calibration(tmp_path: Path, **identity) -> Path:
    """A calibration file for x86_64 whose identity is this machine's, with ``identity`` changed."""
    ident = {**identity_here("tflite", 1), "runtimes": {**identity_here("tflite", 1)["runtimes"],
                                                         **identity_here("onnx", 1)["runtimes"]}}
    ident.update(identity)
    model = {"runtime": "ai-edge-litert", "version": "2.3.0", "invoke_us": 4.0,
             "coef": {"int8/conv-std": {"ops": 2.0, "mmacs": 3.0}, "int8/dense": {"ops": 1.0, "mmacs": 3.0}}}
    data = {"kind": "edgekd-calibration", "format_version": 1, "target": "x86_64", "arch": "x86_64",
            "taken": "2026-12-06T00:00:00+00:00", "runner": "local", "identity": ident,
            "suite": {"name": "test"}, "models": {"tflite": model, "onnx": {**model, "runtime": "onnxruntime"}},
            "error": {"tflite": {"int8": {"n": 3, "mae_pct": 4.0, "within_15_pct": 100.0, "worst_pct": 6.0}}}}
    path = tmp_path / "x86_64.calibration.json"
    path.write_text(json.dumps(data))
    return path


def test_an_estimate_names_the_calibration_it_came_from(tmp_path):
    cal = _calibration(tmp_path)
    result = run_estimate(TFLITE, load_target("x86_64"), BenchOptions(calibration=str(cal)))
    assert result["estimated"] is True and result["estimate"]["model"] == "calibrated"
    assert result["calibration"]["file"] == str(cal) and result["calibration"]["matches"] is True
    assert result["calibration"]["fit_error"]["int8"]["mae_pct"] == 4.0
    assert "calibration_mismatch" not in result and result["p50_ms"] > 0


def test_an_onnx_estimate_says_how_its_graph_was_read(tmp_path):
    """A calibration that predates ONNX Runtime layouts reads the file as written; one with this host's layout
    class reads it through the optimizer, as the device runs it (``estimate.onnx_layout``)."""
    from edgekd.runners.ortlayout import host_layout

    cal = _calibration(tmp_path)
    old = run_estimate(ONNX, load_target("x86_64"), BenchOptions(calibration=str(cal)))
    assert old["estimate"]["onnx_layout"].startswith("as written (the calibration predates")
    data = json.loads(cal.read_text())
    data["models"]["onnx"]["layout"] = host_layout()
    cal.write_text(json.dumps(data))
    new = run_estimate(ONNX, load_target("x86_64"), BenchOptions(calibration=str(cal)))
    assert new["estimate"]["onnx_layout"].startswith(f"{host_layout()}: read through this machine's onnxruntime")


def test_a_calibration_taken_on_another_cpu_is_flagged(tmp_path, capsys):
    cal = _calibration(tmp_path, cpu="AMD EPYC 7B13 64-Core Processor", isa=["avx2", "fma"])
    code = main(["bench", str(TFLITE), "--target", "x86_64", "--runner", "estimate", "--calibration", str(cal),
                 "--json"])
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert code == 0 and result["calibration"]["matches"] is False
    assert any(d.startswith("cpu: calibrated on 'AMD EPYC") for d in result["calibration_mismatch"])
    assert "warning: the estimate uses a calibration taken on another device identity" in err
    assert "FLAGGED" in result["method"]


def test_a_calibration_from_another_runtime_version_is_flagged(tmp_path):
    cal = _calibration(tmp_path, runtimes={"tflite": {"runtime": "tflite-runtime", "version": "2.14.0"}})
    result = run_estimate(TFLITE, load_target("x86_64"), BenchOptions(calibration=str(cal)))
    assert result["calibration_mismatch"] == [
        f"tflite runtime: calibrated with tflite-runtime 2.14.0, here "
        f"{identity_here('tflite', 1)['runtimes']['tflite']['runtime']} "
        f"{identity_here('tflite', 1)['runtimes']['tflite']['version']}"]


def test_a_calibration_from_another_architecture_is_refused(tmp_path, capsys):
    cal = _calibration(tmp_path)
    code = main(["bench", str(TFLITE), "--target", "rpi4", "--runner", "estimate", "--calibration", str(cal)])
    assert code == 2 and "a calibration from another architecture is refused" in capsys.readouterr().err


def test_a_calibration_timed_with_other_threads_is_refused(tmp_path):
    cal = _calibration(tmp_path, threads=4)
    with pytest.raises(InputError, match="timed with 4 thread.*asks for 1: calibrate again with --threads 1"):
        run_estimate(TFLITE, load_target("x86_64"), BenchOptions(calibration=str(cal)))


def test_a_calibration_file_with_a_bad_key_is_named(tmp_path, capsys):
    cal = _calibration(tmp_path)
    data = json.loads(cal.read_text())
    data["models"]["tflite"]["invoke_us"] = "fast"
    cal.write_text(json.dumps(data))
    code = main(["bench", str(TFLITE), "--target", "x86_64", "--runner", "estimate", "--calibration", str(cal)])
    err = capsys.readouterr().err
    assert code == 2 and str(cal) in err and "models.tflite.invoke_us" in err


def test_a_calibration_beside_the_profile_is_found_by_name(tmp_path, monkeypatch):
    folder = tmp_path / "targets"
    folder.mkdir()
    (folder / "my-box.yaml").write_text("arch: x86_64\nformats: [tflite]\nprecisions: [int8]\nrunner: {kind: local}\n")
    _calibration(folder).rename(folder / "my-box.calibration.json")
    monkeypatch.setenv("EDGEKD_TARGETS", str(folder))
    result = run_estimate(TFLITE, load_target("my-box"), BenchOptions())
    assert result["calibration"]["file"] == str(folder / "my-box.calibration.json")


def test_a_calibration_given_to_a_measuring_bench_is_refused(tmp_path, capsys):
    code = main(["bench", str(TFLITE), "--target", "x86_64", "--calibration", str(_calibration(tmp_path))])
    assert code == 2 and "give runner='estimate' / --runner estimate to use it" in capsys.readouterr().err


def test_the_estimate_runner_cannot_calibrate(capsys):
    code = main(["targets", "calibrate", "android-arm64", "--suite", "smoke"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot calibrate on its 'estimate' runner" in err


def test_an_existing_calibration_is_not_replaced_without_force(tmp_path, capsys):
    out = tmp_path / "x86_64.calibration.json"
    out.write_text("{}")
    code = main(["targets", "calibrate", "x86_64", "--suite", "smoke", "--out", str(out), "--cache", str(tmp_path / "c")])
    assert code == 2 and "exists" in capsys.readouterr().err and "--force" not in out.read_text()
    assert out.read_text() == "{}" and not (tmp_path / "c").exists()  # refused before anything was built


def test_an_ssh_target_without_its_key_is_refused_before_anything_is_built(tmp_path, capsys):
    code = main(["targets", "calibrate", "rpi4", "--suite", "smoke", "--cache", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "runner.key" in err and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_calibrate_times_the_suite_here_and_the_estimate_uses_it(tmp_path, capsys):
    """The smoke suite (4 cases, ONNX) built, timed in a child process, fitted, written, then used by bench."""
    out = tmp_path / "x86_64.calibration.json"
    code = main(["targets", "calibrate", "x86_64", "--suite", "smoke", "--formats", "onnx", "--rounds", "1",
                 "--out", str(out), "--cache", str(tmp_path / "cache"), "--json"])
    printed, err = capsys.readouterr()
    assert code == 0, err
    cal = read_calibration(out)
    assert cal.data.runner == "local" and set(cal.data.models) == {"onnx"}
    assert cal.data.identity.runtimes["onnx"].runtime == "onnxruntime"
    assert json.loads(printed)["error"]["onnx"]["int8"]["n"] == 8
    assert sum(1 for m in json.loads(out.read_text())["measurements"] if m["ms"] > 0) == 8
    result = run_estimate(ONNX, load_target("x86_64"), BenchOptions(calibration=str(out)))
    assert result["calibration"]["matches"] is True and result["p50_ms"] > 0
