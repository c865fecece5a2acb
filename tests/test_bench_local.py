"""The local runner and the device-side benchmark entry point (numpy + a runtime only: they run in .venv-device too)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgekd.runners.local import run_local
from edgekd.runners.options import BenchOptions
from edgekd.runtime.artifact import load_artifact
from edgekd.runtime.latency import measure_latency

pytestmark = pytest.mark.device

ROOT = Path(__file__).resolve().parent.parent
TFLITE = ROOT / "tests" / "data" / "heart-student-tflite-int8.tflite"
ONNX = ROOT / "tests" / "data" / "heart-student-onnx-int8.onnx"
CONTRACT = ("artifact", "runtime", "runtime_version", "threads", "runs", "warmup", "p50_ms", "p90_ms", "p99_ms",
            "mean_ms", "cv", "runner", "estimated", "host")


class _Clock:
    """A fake clock for the timing loop: each real invoke of the artifact takes ``step_s`` seconds of it, so the
    loop's stopping rules (runs, CV target, time cap) are tested exactly, whatever else runs on the machine."""

    def __init__(self, step_s: float) -> None:
        self.now, self.step_s = 100.0, step_s

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture()
def clocked(monkeypatch):
    """``clocked(step_s)`` → the ONNX artifact whose invokes advance a fake clock installed in the timing loop."""
    import edgekd.runtime.latency as latency

    def make(step_s: float):
        clock = _Clock(step_s)
        monkeypatch.setattr(latency, "time", clock)
        art = load_artifact(ONNX, threads=1)
        real = art.invoke_raw

        def invoke_raw(x):
            out = real(x)
            clock.now += clock.step_s
            return out

        monkeypatch.setattr(art, "invoke_raw", invoke_raw)
        return art

    return make


def test_cv_target_stops_after_the_minimum_runs(clocked):
    result = measure_latency(clocked(0.002), runs=200, warmup=1, cv_target=0.01, min_runs=12)
    assert result["runs"] == 12 and result["stopped"] == "cv_target"
    assert result["p50_ms"] == pytest.approx(2.0) and result["cv"] == pytest.approx(0.0, abs=1e-9)


def test_without_a_cv_target_all_runs_are_timed(clocked):
    result = measure_latency(clocked(0.5), runs=15, warmup=1, max_seconds=60.0)
    assert result["runs"] == 15 and result["stopped"] == "runs" and result["cv_target"] is None


def test_the_time_cap_stops_the_loop(clocked):
    result = measure_latency(clocked(1.0), runs=200, warmup=1, max_seconds=5.0)
    assert result["runs"] == 5 and result["stopped"] == "max_seconds" and result["p90_ms"] == pytest.approx(1000.0)


def test_threads_are_set_explicitly_and_reported():
    result = run_local(ONNX, None, BenchOptions(runs=5, warmup=1, threads=2))
    assert result["threads"] == 2


def test_local_result_has_the_contract_keys_and_peak_rss():
    result = run_local(TFLITE, None, BenchOptions(runs=5, warmup=1, threads=1))
    assert all(k in result for k in CONTRACT)
    assert result["runner"] == "local" and result["estimated"] is False and result["emulated"] is False
    assert isinstance(result["peak_rss_kb"], int) and result["peak_rss_kb"] > 1024
    assert 0 < result["p50_ms"] <= result["p90_ms"] <= result["p99_ms"]
    assert "measured on this machine" in result["method"]


def test_shipped_device_files_are_self_contained(tmp_path):
    """The files the ssh runner copies to a device run the benchmark without any other edgekd module."""
    from edgekd.runtime.benchmain import SHIPPED_FILES

    for rel in SHIPPED_FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, tmp_path / rel)
    probe = (
        "import json, sys\n"
        "import edgekd.runtime.benchmain as b\n"
        f"code = b.main([{str(ONNX)!r}, '--runs', '3', '--warmup', '1'])\n"
        "files = sorted(m.__file__ for n, m in sys.modules.items() if n.split('.')[0] == 'edgekd')\n"
        "print(json.dumps({'code': code, 'files': files}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    bench, report = [json.loads(line) for line in out.stdout.strip().splitlines()[-2:]]
    assert report["code"] == 0 and bench["runs"] == 3
    assert report["files"] and all(f.startswith(str(tmp_path)) for f in report["files"])


def test_a_local_timing_under_another_arch_profile_says_so(tmp_path):
    from edgekd.runners.registry import host_arch, run_bench
    from edgekd.runners.options import BenchOptions
    from edgekd.targets import load_target

    art = Path(__file__).resolve().parent / "data" / "heart-student-tflite-int8.tflite"
    other = "aarch64" if host_arch() != "aarch64" else "x86_64"
    profile = next(load_target(n) for n in ("rpi4", "x86_64") if load_target(n).arch == other)
    result = run_bench(art, profile, BenchOptions(runs=3, warmup=1), runner="local")
    assert f"not on the profile's {other} device" in result["arch_mismatch"]
    same = next(load_target(n) for n in ("rpi4", "x86_64") if load_target(n).arch == host_arch())
    assert "arch_mismatch" not in run_bench(art, same, BenchOptions(runs=3, warmup=1), runner="local")


def test_the_host_record_names_the_speed_relevant_isa_flags_and_usable_cores():
    from edgekd.runtime.latency import SPEED_FLAGS, host_info

    host = host_info()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        pytest.skip("no /proc/cpuinfo here")
    reported = {f for line in text.splitlines() if line.split(":")[0].strip().lower() in ("flags", "features")
                for f in line.split(":", 1)[1].split()}
    assert host["isa"] == [f for f in SPEED_FLAGS if f in reported]  # in SPEED_FLAGS' order, only what the CPU has
    assert 1 <= host["usable_cores"] <= host["cores"]
