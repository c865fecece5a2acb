"""`make demo`: the student is distilled from the shipped teacher, whose test recordings it never saw, and
two runs print the same metrics."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tiny_demo(out: Path) -> tuple[str, dict]:
    import json

    args = [sys.executable, "-m", "edgekd", "run", "recipes/heart.yaml", "--out", str(out),
            "--set", "student.train.epochs=2", "--set", "bench.runs=5",
            "--set", "bench.warmup=1", "--set", f"data.cache_dir={out.parent / 'cache'}"]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr, json.loads((out / "report.json").read_text()), out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    return _tiny_demo(base / "a"), _tiny_demo(base / "b")


def test_the_demo_distils_from_the_shipped_teacher(two_runs):
    (log, report, _), _ = two_runs
    assert "train.epochs is 0: using models/heart-teacher.pt as it is" in log
    assert "none of the 48 test items is among the" in log
    teacher = next(m for m in report["models"] if m["role"] == "teacher")
    assert teacher["train"]["epochs_run"] == 0


def test_the_demo_reports_macc_with_its_interval(two_runs):
    (log, _, _), _ = two_runs
    lines = [ln for ln in log.splitlines() if "student-tflite-int8.tflite" in ln and "MAcc" in ln]
    assert lines and re.search(r"MAcc 0\.\d{3} \[95 % CI 0\.\d{3}-[01]\.\d{3}, n=48\]", lines[0]), lines


def test_two_demo_runs_print_the_same_metrics(two_runs):
    (log_a, rep_a, _), (log_b, rep_b, _) = two_runs

    def metric_lines(log):
        return [re.sub(r"p50 [\d.]+ ms", "", ln) for ln in log.splitlines() if "MAcc" in ln]

    assert metric_lines(log_a) == metric_lines(log_b)
    assert [a["metrics"] for a in rep_a["artifacts"]] == [b["metrics"] for b in rep_b["artifacts"]]
    assert [a["sha256"] for a in rep_a["artifacts"]] == [b["sha256"] for b in rep_b["artifacts"]]


def test_the_demo_report_passes_its_own_gate_unless_a_drop_is_real(two_runs):
    """The profile's fp32 twins are exported, so the accuracy drop is judged on paired flips: a few flipped
    recordings of 48 cannot fail it, a real drop (exact test, p <= 0.05) still does."""
    import json

    (_, _, out), _ = two_runs
    proc = subprocess.run([sys.executable, "-m", "edgekd", "gate", str(out / "report.json"), "--target", "x86_64",
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    checks = json.loads(proc.stdout)["checks"]
    failed = [c for c in checks if c["status"] == "fail"]
    assert all(c["budget"] == "accuracy_drop_pp" and "a real drop" in c["message"] for c in failed), failed
    assert any(c["budget"] == "accuracy_drop_pp" for c in checks)
