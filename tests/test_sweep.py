"""``edgekd sweep``: the space's checks, the front, the constraints, the stopping rules, crashes, studies, --export-best.

The orchestration tests replace the trial (training + export, tested end to end in test_sweep_e2e.py)
with a function of the trial's values, so each runs in seconds on the real recipe and sample data.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("optuna")

from edgekd.cli import main  # noqa: E402
from edgekd.errors import InputError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RECIPE = str(ROOT / "recipes" / "heart.yaml")
# the sweep's mechanics on the small 2-D student (the recipe's own values, trial 0, are among the choices)
TWO_D = ["student.model=heart_student", "student.params={widths: [8, 16, 40], kernel: 5}"]
FAST = [*TWO_D, "student.train.epochs=1", "export.precisions=[int8]", "bench.runs=10", "bench.warmup=1"]


def write_space(tmp_path: Path, name: str = "space.yaml", **changes) -> Path:
    space = {"params": {"student.params.widths": {"choices": [[4, 8, 16], [8, 16, 40], [16, 32, 64]]},
                        "student.loss.params.temperature": {"choices": [2.0, 7.0]}},
             "sampler": {"name": "random"}, "stop": {"name": "none"}, "format": "onnx"}
    space.update(changes)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(space))
    return path


def fake_trial(worker, values, workdir, stop=None, on_model=None):
    """Figures as a function of the values: wider is more accurate and larger."""
    width = sum(values["student.params.widths"])
    if values.get("student.loss.params.temperature") == 7.0 and values["student.params.widths"] == [8, 16, 40]:
        raise RuntimeError("simulated converter crash")
    metric = 0.5 + width / 400
    rows = [{"name": f"student-onnx-{prec}", "target": "x86_64", "format": "onnx", "precision": prec,
             "size_bytes": int(width / 2.0 * 1024), "metrics": {"macc": metric + drop, "n": 24},
             "latency": {"p50_ms": width / 1000, "p90_ms": width / 900, "runner": "local"},
             "audit": {"quantized": prec == "int8", "float_ops": []}} for prec, drop in (("fp32", 0.005), ("int8", 0.0))]
    return {"metric": metric, "metric_name": "MAcc", "val": {"n": 24}, "size_kb": width / 2.0,
            "latency_p50_ms": width / 1000, "latency_p90_ms": width / 900, "latency_runner": "local",
            "latency_estimated": False, "precision": "int8", "artifact": str(workdir / "missing.onnx"),
            "curve": [0.5], "teacher_checkpoint": None, "data_hash": "x", "accuracy_drop_pp": 0.5, "gate_rows": rows}


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr("edgekd.sweep.trial.run_trial", fake_trial)


def run_fake(tmp_path, space, trials=4, extra=()):
    return main(["sweep", RECIPE, "--space", str(space), "--trials", str(trials), "--out", str(tmp_path / "out"),
                 *[a for s in FAST for a in ("--set", s)], *extra])


def summary(tmp_path) -> dict:
    return json.loads((tmp_path / "out" / "sweep.json").read_text())


def test_a_crashing_trial_is_recorded_failed_and_the_sweep_continues(tmp_path, fake, capsys):
    assert run_fake(tmp_path, write_space(tmp_path), trials=3) == 0
    s = summary(tmp_path)
    first = s["trials"][0]
    assert first["baseline"] and first["state"] == "FAIL"  # the recipe's own values crash in the fake
    assert first["error"] == "RuntimeError: simulated converter crash"
    assert s["counts"]["COMPLETE"] == 3


def test_an_infeasible_trial_is_never_on_the_front(tmp_path, fake):
    space = write_space(tmp_path, budgets={"size_kb": 20.0})  # [16, 32, 64] is 56 KB: outside, and the most accurate
    assert run_fake(tmp_path, space, trials=6) == 0
    s = summary(tmp_path)
    wide = [r for r in s["trials"] if r["state"] == "COMPLETE" and r["parameters"]["student.params.widths"] == [16, 32, 64]]
    assert wide, "the random sampler should have drawn the widest student in 6 trials"
    assert all(not r["feasible"] and not r["pareto"] and r["constraints"]["size_kb"] > 0 for r in wide)
    assert s["front"] and all(r["feasible"] for r in s["trials"] if r["pareto"])


def test_a_study_made_with_another_space_is_refused_unless_resume(tmp_path, fake, capsys):
    assert run_fake(tmp_path, write_space(tmp_path), trials=1) == 0
    widths = {"choices": [[4, 8, 16], [8, 16, 40], [16, 32, 64]]}
    other = write_space(tmp_path, "other.yaml", params={"student.params.widths": widths,
                                                        "student.train.lr": {"low": 0.001, "high": 0.01}})
    capsys.readouterr()
    assert run_fake(tmp_path, other, trials=3) == 2
    err = capsys.readouterr().err
    assert "exists with another search space" in err and "--resume" in err
    changed = write_space(tmp_path, "changed.yaml", params={"student.params.widths": {"choices": [[4, 8, 16]]}})
    assert run_fake(tmp_path, changed, trials=3, extra=["--resume"]) == 2  # Optuna cannot change a choice list
    assert "params.student.params.widths changed" in capsys.readouterr().err
    assert run_fake(tmp_path, other, trials=3, extra=["--resume"]) == 0
    s = summary(tmp_path)
    assert s["counts"]["COMPLETE"] == 3 and "student.train.lr" in s["trials"][-1]["parameters"]


def test_export_best_writes_the_chosen_trials_recipe(tmp_path, fake, capsys):
    assert run_fake(tmp_path, write_space(tmp_path), trials=3) == 0
    dest = tmp_path / "best.yaml"
    assert main(["sweep", RECIPE, "--out", str(tmp_path / "out"), "--export-best", str(dest)]) == 0
    s = summary(tmp_path)
    best = max((r for r in s["trials"] if r["pareto"]), key=lambda r: r["figures"]["metric"])
    from edgekd.recipe import load_recipe

    recipe = load_recipe(dest)
    assert list(recipe.student.params["widths"]) == best["parameters"]["student.params.widths"]
    assert recipe.student.loss.params["temperature"] == best["parameters"]["student.loss.params.temperature"]
    assert recipe.export.targets == ["x86_64"] and recipe.export.precisions == ["fp32", "int8"]  # fp32 twin: gate
    assert f"trial {best['number']}" in capsys.readouterr().out


@pytest.mark.parametrize("params, message", [
    ({"student.train.epoch": {"low": 1, "high": 3}}, "did you mean 'student.train.epochs'"),
    ({"student.params.widht": {"choices": [[4, 8, 16]]}}, "did you mean 'student.params.widths'"),
    ({"student.train.lr": {"low": 0.01, "high": 0.001}}, "low 0.01 > high 0.001"),
    ({"teacher.train.lr": {"low": 0.001, "high": 0.01}}, "the teacher is trained once"),
    ({"export.precisions": {"choices": [["int8"], ["int4-weights"]]}}, "int4-weights"),
    ({"student.train.epochs": {"choices": [1, -3]}}, "student.train.epochs = -3"),
    ({"frontend.n_mels": {"choices": [24, 32]}}, "changes the teacher's input"),
])
def test_a_bad_space_is_refused_before_any_trial(tmp_path, capsys, params, message):
    space = write_space(tmp_path, params=params, format="tflite")
    assert run_fake(tmp_path, space) == 2
    err = capsys.readouterr().err
    assert message in err and str(space) in err
    assert not (tmp_path / "out" / "sweep.journal").exists()


def test_timeout_stops_starting_trials(tmp_path, monkeypatch):
    clock = {"now": 0.0}  # a fake clock: each trial takes exactly one "second", whatever the machine's load

    def one_second(*args, **kwargs):
        clock["now"] += 1.0
        return fake_trial(*args, **kwargs)

    monkeypatch.setattr("edgekd.sweep.search._clock", lambda: clock["now"])
    monkeypatch.setattr("edgekd.sweep.trial.run_trial", one_second)
    assert run_fake(tmp_path, write_space(tmp_path), trials=100, extra=["--timeout", "2"]) == 0
    assert len(summary(tmp_path)["trials"]) == 2  # t=1: go on; t=2: the timeout is reached, no third trial


def test_an_unreachable_database_is_refused_with_the_connect_timeout(tmp_path, capsys, monkeypatch):
    import psycopg2

    asked = {}
    real = psycopg2.connect

    def spy(*args, **kwargs):
        asked.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(psycopg2, "connect", spy)
    code = run_fake(tmp_path, write_space(tmp_path), extra=["--storage", "postgresql://u:secret@127.0.0.1:1/db",
                                                            "--connect-timeout", "3"])
    err = capsys.readouterr().err
    assert code == 2 and asked["connect_timeout"] == 3  # the driver is told the timeout (no wall-time assertion)
    assert "cannot connect" in err and "secret" not in err and "u:***@127.0.0.1:1" in err


def test_a_password_containing_at_is_never_printed(tmp_path, capsys):
    code = run_fake(tmp_path, write_space(tmp_path), extra=["--storage", "postgresql://u:se@cr@t@127.0.0.1:1/db",
                                                            "--connect-timeout", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot connect" in err and "u:***@127.0.0.1:1/db" in err
    assert "cr@t" not in err and "se@" not in err


def test_an_unknown_storage_scheme_is_refused(tmp_path, capsys):
    assert run_fake(tmp_path, write_space(tmp_path), extra=["--storage", "redis://localhost/0"]) == 2
    assert "unknown scheme 'redis'" in capsys.readouterr().err


def test_export_best_without_a_sweep_is_refused(tmp_path, capsys):
    assert main(["sweep", RECIPE, "--out", str(tmp_path), "--export-best", str(tmp_path / "b.yaml")]) == 2
    assert "no sweep.json" in capsys.readouterr().err and not (tmp_path / "b.yaml").exists()


def test_pareto_mask_keeps_the_non_dominated_rows():
    from edgekd.sweep.objectives import pareto_mask

    rows = [[0.9, 30, 1.0], [0.8, 10, 1.0], [0.8, 12, 1.0], [0.9, 30, 0.5]]
    assert pareto_mask(rows, ["maximize", "minimize", "minimize"]) == [False, True, False, True]


def test_an_unmeasured_budget_counts_as_broken():
    from edgekd.sweep.objectives import constraint_values, feasible

    cons = constraint_values({"metric": 0.8, "size_kb": 10.0}, {"size_kb": 20.0, "accuracy_drop_pp": 2.0})
    assert cons == {"size_kb": -10.0, "accuracy_drop_pp": None}
    assert not feasible(cons)
    assert feasible(constraint_values({"metric": 0.8, "size_kb": 10.0}, {"size_kb": 20.0, "min_metric": 0.7}))


def test_feasibility_is_the_gates_verdict_on_the_trials_files():
    from edgekd.sweep.objectives import agree, constraint_values, feasible, gate_checks

    row = {"name": "student-tflite-int8", "target": "t", "format": "tflite", "precision": "int8", "size_bytes": 10240,
           "metrics": {"macc": 0.8, "n": 40}, "latency": {"p90_ms": 1.0, "runner": "local"},
           "audit": {"quantized": True, "float_ops": ["DEQUANTIZE"]}}
    figures = {"metric": 0.8, "size_kb": 10.0, "latency_p90_ms": 1.0, "precision": "int8", "gate_rows": [row]}
    budgets = {"size_kb": 20.0, "fully_integer": True}  # a float op left: the sweep's own figures cannot see it
    checks = gate_checks(figures, budgets)
    cons = agree(constraint_values(figures, budgets), checks)
    assert [c.budget for c in checks if c.status == "fail"] == ["fully_integer"]
    assert cons["fully_integer"] > 0 and cons["size_kb"] < 0 and not feasible(cons)


def test_a_trial_without_gate_rows_fails_closed():
    from edgekd.sweep.objectives import gate_checks

    assert [c.status for c in gate_checks({"metric": 0.8, "precision": "int8"}, {"size_kb": 20.0})] == ["fail"]


def test_median_rule_stops_a_trial_below_the_others_median():
    from edgekd.sweep.space import StopSpec
    from edgekd.sweep.stopping import Curve, build_rule

    rule = build_rule(StopSpec(name="median", warmup_epochs=2, startup_trials=2))
    others = [Curve([0.6, 0.7, 0.8], 100, 100), Curve([0.6, 0.75, 0.8], 100, 100)]
    assert rule.should_stop(2, Curve([0.5, 0.6], 10, 10), others)
    assert not rule.should_stop(1, Curve([0.1], 10, 10), others)  # warm-up
    assert not rule.should_stop(2, Curve([0.5, 0.8], 10, 10), others)


def test_the_teacher_is_trained_once_and_then_read_from_its_cache(tmp_path):
    from edgekd.pipeline import prepare_data
    from edgekd.recipe import load_recipe
    from edgekd.sweep.teacher import shared_teacher

    recipe = load_recipe(RECIPE, ["teacher.checkpoint=null", "teacher.train.epochs=1", "teacher.params.widths=[4, 4, 4, 4]",
                                  "teacher.train.epoch_windows=64"])
    data = prepare_data(recipe, lambda s: None)
    lines: list[str] = []
    first, path = shared_teacher(recipe, data, lines.append, root=tmp_path)
    second, again = shared_teacher(recipe, data, lines.append, root=tmp_path)
    assert path == again and path.is_file() and path.with_suffix(".json").is_file()
    assert any("training once" in s for s in lines) and any("cached" in s for s in lines)
    assert all((a == b).all() for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    other = load_recipe(RECIPE, ["teacher.checkpoint=null", "teacher.train.epochs=1", "teacher.params.widths=[4, 4, 4, 8]",
                                 "teacher.train.epoch_windows=64"])
    _, third = shared_teacher(other, data, lines.append, root=tmp_path)
    assert third != path  # another teacher, another content hash


@pytest.mark.parametrize("space_file, overrides", [("recipes/heart-space.yaml", []),
                                                   ("benchmarks/sweep_heart_space.yaml", [*TWO_D, "export.precisions=[int8]"])])
def test_the_shipped_spaces_pass_their_checks(space_file, overrides):
    from edgekd.recipe import read_recipe_tree
    from edgekd.sweep.check import check_sweep
    from edgekd.sweep.search import baseline_params
    from edgekd.sweep.space import load_space

    space = load_space(ROOT / space_file)
    plan = check_sweep(space, read_recipe_tree(RECIPE, overrides), RECIPE, space_file)
    assert plan.target.name == space.target and plan.target.formats == ["tflite"]
    assert baseline_params(space, plan.base) is not None  # the hand-made recipe is trial 0


def test_optuna_dashboard_reads_the_sweeps_journal(tmp_path, fake):
    import shutil
    import socket
    import subprocess
    import urllib.request

    assert run_fake(tmp_path, write_space(tmp_path), trials=2) == 0
    dashboard = shutil.which("optuna-dashboard") or str(Path(__import__("sys").executable).parent / "optuna-dashboard")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([dashboard, str(tmp_path / "out" / "sweep.journal"), "--host", "127.0.0.1", "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 600  # a hang guard only (the dashboard's start-up time is not what is tested)
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5).read().decode()
                break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, "optuna-dashboard did not serve the journal"
                time.sleep(0.5)
        assert "heart-demo-sweep" in body
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ---------------------------------------------------------------- bad input to a sweep: exit 2 naming it (issue 27)
def _export_best(tmp_path, capsys) -> tuple[int, str]:
    code = main(["sweep", RECIPE, "--out", str(tmp_path / "out"), "--export-best", str(tmp_path / "best.yaml")])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("content, named", [
    ('{"schema": "edgekd.sweep/1", "trials": [', "not readable JSON"),
    ('[1, 2]', "not an edgekd.sweep/1 file"),
    ('{"schema": "edgekd.sweep/1", "recipe": {"base": {}, "name": "x"}, "target": {"name": "t", "budgets": {}}, '
     '"study": "s", "trials": [{"number": 0, "state": "COMPLETE", "pareto": true, "parameters": {}, '
     '"figures": {"metric": "high", "size_kb": 1, "latency_p90_ms": 1, "metric_name": "MAcc"}}]}',
     "trials[0].figures.metric"),
    ('{"schema": "edgekd.sweep/1", "recipe": "gone"}', "recipe: missing or not a dict"),
])
def test_export_best_refuses_a_malformed_sweep_json_naming_it(tmp_path, capsys, content, named):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sweep.json").write_text(content)
    code, err = _export_best(tmp_path, capsys)
    assert code == 2 and str(tmp_path / "out" / "sweep.json") in err and named in err and "Traceback" not in err
    assert not (tmp_path / "best.yaml").exists()


def test_export_best_refuses_a_base_recipe_edited_into_another_shape(tmp_path, fake, capsys):
    assert run_fake(tmp_path, write_space(tmp_path), trials=2) == 0
    s = summary(tmp_path)
    s["recipe"]["base"]["teacher"] = "gone"
    (tmp_path / "out" / "sweep.json").write_text(json.dumps(s))
    code, err = _export_best(tmp_path, capsys)
    assert code == 2 and "sweep.json" in err and not (tmp_path / "best.yaml").exists()


@pytest.mark.parametrize("make, named", [
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: p.write_bytes(b"this is not a database at all\n"), "not an SQLite database"),
    (lambda p: (sqlite3.connect(p).execute("create table t (x)").connection.commit(), p.chmod(0o444)), "read-only"),
])
def test_an_sqlite_storage_that_cannot_hold_a_study_is_refused_naming_it(tmp_path, fake, capsys, make, named):
    db = tmp_path / "study.db"
    make(db)
    assert run_fake(tmp_path, write_space(tmp_path), trials=1, extra=["--storage", f"sqlite:///{db}"]) == 2
    err = capsys.readouterr().err
    assert str(db) in err and named in err and "Traceback" not in err


def test_a_truncated_journal_line_is_dropped_with_a_warning_and_the_sweep_resumes(tmp_path, fake, capsys):
    assert run_fake(tmp_path, write_space(tmp_path), trials=2) == 0
    journal = tmp_path / "out" / "sweep.journal"
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"op_code": 5, "worker_id": "x", "trial_id": 0, "us')  # a killed writer's last line
    capsys.readouterr()
    assert run_fake(tmp_path, write_space(tmp_path), trials=3) == 0
    err = capsys.readouterr().err
    assert "dropped a truncated last line" in err and str(journal) in err
    assert summary(tmp_path)["counts"]["COMPLETE"] == 3 and journal.read_bytes().startswith(whole)


def test_a_garbage_journal_line_is_refused_naming_the_file_and_line(tmp_path, fake, capsys):
    assert run_fake(tmp_path, write_space(tmp_path), trials=1) == 0
    journal = tmp_path / "out" / "sweep.journal"
    lines = journal.read_bytes().split(b"\n")
    journal.write_bytes(b"\n".join([lines[0], b"garbage here", *lines[1:]]))
    capsys.readouterr()
    assert run_fake(tmp_path, write_space(tmp_path), trials=2) == 2
    err = capsys.readouterr().err
    assert f"{journal}: line 2: not an Optuna journal record" in err and "Traceback" not in err


def test_a_journal_that_is_a_fifo_is_refused_without_blocking(tmp_path, fake, capsys):
    import os

    (tmp_path / "out").mkdir()
    os.mkfifo(tmp_path / "out" / "sweep.journal")
    assert run_fake(tmp_path, write_space(tmp_path), trials=1) == 2
    assert "sweep.journal: not a regular file" in capsys.readouterr().err


def test_a_journal_optuna_cannot_replay_is_refused_naming_it(tmp_path, fake, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sweep.journal").write_text('{"op_code": 4, "worker_id": "w"}\n')  # a trial of no study
    assert run_fake(tmp_path, write_space(tmp_path), trials=1) == 2
    err = capsys.readouterr().err
    assert "sweep.journal: not a journal of Optuna studies" in err and "Traceback" not in err


def test_a_space_with_an_unknown_runner_is_refused_before_any_trial(tmp_path, monkeypatch, capsys):
    ran = []
    monkeypatch.setattr("edgekd.sweep.trial.run_trial", lambda *a, **k: ran.append(1) or fake_trial(*a, **k))
    space = write_space(tmp_path, runner="quantum")
    assert run_fake(tmp_path, space) == 2
    err = capsys.readouterr().err
    assert f"{space}: runner 'quantum': unknown runner 'quantum'" in err and not ran
    assert not (tmp_path / "out" / "sweep.journal").exists()


def test_a_sweep_where_no_trial_finished_does_not_exit_0(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("the converter is broken")

    monkeypatch.setattr("edgekd.sweep.trial.run_trial", broken)
    assert run_fake(tmp_path, write_space(tmp_path), trials=3) == 3
    err = capsys.readouterr().err
    assert "0 trials finished" in err and "RuntimeError: the converter is broken" in err
    assert summary(tmp_path)["counts"] == {"FAIL": 3}  # what happened is still written


@pytest.mark.parametrize("params, named", [
    ({"student.train.lr": {"low": 0.001, "high": float("inf")}}, "params.student.train.lr: high"),
    ({"student.train.lr": {"low": float("nan"), "high": 0.01}}, "params.student.train.lr: low"),
    ({"student.train.lr": {"choices": [0.001, float("inf")]}}, "params.student.train.lr = inf"),
])
def test_a_non_finite_bound_or_choice_is_refused_naming_the_key(tmp_path, capsys, params, named):
    space = write_space(tmp_path, params=params)
    assert run_fake(tmp_path, space) == 2
    err = capsys.readouterr().err
    assert named in err and str(space) in err and "Traceback" not in err
