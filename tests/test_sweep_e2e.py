"""``edgekd sweep`` end to end on the bundled heart recordings: real trials (distil, export, run the file).

- A sweep killed (SIGKILL) in the middle of a trial resumes: the dead worker's trial is failed and queued
  again, its training resumes from the checkpoint, and the study reaches its trial count.
- Two worker processes on a real PostgreSQL server (Debian's, started on a free local port and removed
  afterwards; ``make postgres-deps`` installs it) share one study: every trial once, none lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")
optuna = pytest.importorskip("optuna")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgserver import bin_dir, postgres_server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
# the sweep's mechanics on the small 2-D student (the recipe's own values, trial 0, are among the choices)
SETS = ["student.model=heart_student", "student.params={widths: [8, 16, 40], kernel: 5}", "student.train.epochs=2", "student.train.patience=2", "export.precisions=[int8]", "bench.runs=10",
        "bench.warmup=1"]


def space(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({
        "params": {"student.params.widths": {"choices": [[4, 8, 16], [6, 12, 24], [8, 16, 40]]},
                   "student.loss.params.temperature": {"low": 2.0, "high": 8.0}},
        "format": "onnx", "sampler": {"name": "random"}, "stop": {"name": "none"}}))
    return path


def command(tmp_path: Path, out: Path, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edgekd", "sweep", "recipes/heart.yaml", "--space", str(space(tmp_path)),
            "--trials", str(trials), "--out", str(out), *[a for s in SETS for a in ("--set", s)], *extra]


def test_a_killed_sweep_resumes_where_it_stopped(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(command(tmp_path, out, 2), cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True)
    seen_trial_1 = False
    deadline = time.time() + 600
    for line in proc.stderr:  # kill it once trial 1 has trained an epoch (a checkpoint exists)
        seen_trial_1 = seen_trial_1 or line.startswith("trial 1 [")
        if seen_trial_1 and "epoch   1/2" in line:
            proc.send_signal(signal.SIGKILL)
            break
        assert time.time() < deadline, "the sweep never reached trial 1"
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    again = subprocess.run(command(tmp_path, out, 2), cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "trial 1 was cut short" in again.stderr and "queued again" in again.stderr
    assert "resuming from" in again.stderr  # the retried trial continued its training from the checkpoint
    s = json.loads((out / "sweep.json").read_text())
    rows = {r["number"]: r for r in s["trials"]}
    assert rows[1]["state"] == "FAIL" and "died during the trial" in rows[1]["error"]
    retry = [r for r in s["trials"] if r["retry_of"] == 1]
    assert len(retry) == 1 and retry[0]["state"] == "COMPLETE" and retry[0]["parameters"] == rows[1]["parameters"]
    assert s["counts"]["COMPLETE"] == 2 and s["final"]
    assert s["latency"]["judged_on"] == {"model": "measured", "runner": "local"}  # no estimate: nothing re-measured
    assert s["latency"]["front_remeasured"]["done"] is False
    front = [r for r in s["trials"] if r["pareto"]]
    assert front and all(0 <= r["test"]["metric"] <= 1 and r["test"]["n"] == 48 for r in front)  # only the front
    assert all("test" not in r for r in s["trials"] if not r["pareto"])


def test_the_exported_best_recipe_makes_the_same_file_again(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(command(tmp_path, out, 1), cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    best = tmp_path / "best.yaml"
    subprocess.run([sys.executable, "-m", "edgekd", "sweep", "recipes/heart.yaml", "--out", str(out), "--export-best",
                    str(best)], cwd=ROOT, check=True, capture_output=True, timeout=120)
    rerun = subprocess.run([sys.executable, "-m", "edgekd", "run", str(best), "--out", str(tmp_path / "run"),
                            "--set", "export.teacher=false"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    row = json.loads((out / "sweep.json").read_text())["trials"][0]
    trial_file = Path(row["figures"]["artifact"])
    again = tmp_path / "run" / "artifacts" / "x86_64" / trial_file.name
    assert trial_file.read_bytes() == again.read_bytes()  # the same student, quantized the same way


@pytest.mark.skipif(bin_dir() is None, reason="needs Debian's postgresql: make postgres-deps")
def test_two_workers_share_one_study_on_postgresql(tmp_path):
    with postgres_server() as url:
        workers = [subprocess.Popen(command(tmp_path, tmp_path / f"w{i}", 4, "--storage", url, "--study", "shared",
                                            "--set", "student.train.epochs=1"),
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for i in range(2)]
        results = [w.communicate(timeout=900) for w in workers]
        for w, (_, err) in zip(workers, results):
            assert w.returncode == 0, err[-2000:]
        study = optuna.load_study(study_name="shared", storage=url.replace("postgresql://", "postgresql+psycopg2://"))
        trials = study.trials
        assert [t.number for t in trials] == list(range(len(trials)))  # no gap, no duplicate number
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)  # nothing lost or left running
        assert 4 <= len(trials) <= 5  # 4 asked for; a second worker may start one more before it sees the count
        ran_by = {t.user_attrs["worker"] for t in trials}
        assert len(ran_by) == 2  # both workers ran trials
        for i, (_, err) in enumerate(results):
            mine = {int(line.split()[1]) for line in err.splitlines() if line.startswith("trial ") and "MAcc" in line}
            others = {int(line.split()[1]) for line in results[1 - i][1].splitlines()
                      if line.startswith("trial ") and "MAcc" in line}
            assert mine and not mine & others  # no trial ran on both workers
        last = max((json.loads((tmp_path / f"w{i}" / "sweep.json").read_text()) for i in range(2)),
                   key=lambda s: len(s["trials"]))
        assert len(last["trials"]) == len(trials) and "***" in last["storage"] and "edgekd-test-pw" not in last["storage"]
        wrong = subprocess.run(command(tmp_path, tmp_path / "w3", 4, "--storage", url.replace("edgekd-test-pw", "nope"),
                                       "--study", "shared"), cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert wrong.returncode == 2 and "password authentication failed" in wrong.stderr


def test_each_trials_feasibility_is_what_edgekd_gate_says_of_its_files(tmp_path):
    """A sweep under RAM, fully-integer, size and (estimated) latency budgets on the Cortex-M profile: every
    trial's ``feasible`` equals the exit of ``edgekd gate`` on the trial's own files (``gate-report.json``)."""
    target = "cortex-m55-ethos-u55"
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({
        "params": {"student.params.widths": {"choices": [[4, 8, 16], [16, 32, 64]]}},
        "target": target, "format": "tflite", "sampler": {"name": "random"}, "stop": {"name": "none"},
        "budgets": {"ram_kb": 48, "size_kb": 40}}))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "edgekd", "sweep", "recipes/heart.yaml", "--space", str(path),
                           "--trials", "2", "--out", str(out), "--set", "student.model=heart_student",
                           "--set", "student.params={widths: [8, 16, 40], kernel: 5}", "--set", "student.train.epochs=2",
                           "--set", "student.train.patience=2", "--set", "bench.runs=5", "--set", "bench.warmup=1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    s = json.loads((out / "sweep.json").read_text())
    complete = [r for r in s["trials"] if r["state"] == "COMPLETE"]
    assert complete
    for r in complete:
        report = Path(r["gate_report"])
        judged = {c["budget"] for c in r["gate"]}
        assert {"size_kb", "ram_kb", "fully_integer", "latency_p90_ms"} <= judged, judged
        gate = subprocess.run([sys.executable, "-m", "edgekd", "gate", str(report), "--target", target],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert gate.returncode in (0, 1), gate.stderr[-2000:]
        assert (gate.returncode == 0) == r["feasible"], (r["gate"], gate.stdout)
