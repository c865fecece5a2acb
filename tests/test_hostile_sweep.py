"""Property-based tests (Hypothesis) of the sweep's and ``run --check``'s input contract (issue 27).

Generated journals (random lines, bytes, records cut anywhere), ``sweep.json`` files for ``--export-best``,
search spaces with random bounds, steps, runners and budgets, and ``--set`` numbers (NaN, infinities, huge)
for ``run --check``. Whatever the input: the exit code is 0, 1 or 2 (never 3: these are inputs, and no
backend is involved), stderr holds no traceback, and a refused ``--export-best`` writes nothing.

The trials are replaced by a function of their values (as in test_sweep.py), so a sweep runs in well under a
second. Settings: few examples per property (12-25) so that the file runs in about half a minute, no
deadline (a CI machine is noisy), the Hypothesis database off (each run explores afresh).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
pytest.importorskip("optuna")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from edgekd.cli import main  # noqa: E402
from hostile import run_cli  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RECIPE = str(ROOT / "recipes" / "heart.yaml")
FAST = ["student.model=heart_student", "student.params={widths: [8, 16, 40], kernel: 5}", "student.train.epochs=1",
        "export.precisions=[int8]"]
SPACE = {"params": {"student.params.widths": {"choices": [[4, 8, 16], [8, 16, 40]]}},
         "sampler": {"name": "random"}, "stop": {"name": "none"}, "format": "onnx"}
NO_TRACEBACK_CODES = {0, 1, 2}

SETTINGS = settings(max_examples=20, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

numbers = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-10**30, max_value=10**30)
           | st.sampled_from([0, -1, 1e308, -1e308, 5e-324, 2**63, 2**64 + 1]))
scalars = st.none() | st.booleans() | numbers | st.text(max_size=10)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                           max_size=3), max_leaves=6)


def fake_trial(worker, values, workdir, stop=None, on_model=None):
    """Figures as a function of the trial's values (no training): the sweep's machinery is what is tested."""
    width = sum(values.get("student.params.widths") or [28])
    rows = [{"name": f"student-onnx-{prec}", "target": "x86_64", "format": "onnx", "precision": prec,
             "size_bytes": int(width * 512), "metrics": {"macc": 0.6 + drop, "n": 24},
             "latency": {"p50_ms": 0.01, "p90_ms": 0.02, "runner": "local"},
             "audit": {"quantized": prec == "int8", "float_ops": []}} for prec, drop in (("fp32", 0.005), ("int8", 0.0))]
    return {"metric": 0.6, "metric_name": "MAcc", "val": {"n": 24}, "size_kb": width / 2.0, "latency_p50_ms": 0.01,
            "latency_p90_ms": 0.02, "latency_runner": "local", "latency_estimated": False, "precision": "int8",
            "artifact": str(workdir / "missing.onnx"), "curve": [0.6], "teacher_checkpoint": None, "data_hash": "x",
            "accuracy_drop_pp": 0.5, "gate_rows": rows}


def _cli(args, capfd) -> int:
    return run_cli(args, capfd, NO_TRACEBACK_CODES)


def _sweep(out: Path, space: Path, capfd, trials: int = 1) -> int:
    return _cli(["sweep", RECIPE, "--space", space, "--trials", trials, "--out", out,
                 *[a for s in FAST for a in ("--set", s)]], capfd)


@pytest.fixture(autouse=True)
def _fake_trials_and_private_crash_dir(monkeypatch, tmp_path):
    monkeypatch.setattr("edgekd.sweep.trial.run_trial", fake_trial)
    monkeypatch.setenv("EDGEKD_CRASH_DIR", str(tmp_path / "crashes"))


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory) -> Path:
    """A fake two-trial sweep's folder (journal and sweep.json), made once and copied by each example."""
    root = tmp_path_factory.mktemp("sweep")
    space = root / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    mp = pytest.MonkeyPatch()
    mp.setattr("edgekd.sweep.trial.run_trial", fake_trial)
    try:
        code = main(["sweep", RECIPE, "--space", str(space), "--trials", "2", "--out", str(root / "out"),
                     *[a for s in FAST for a in ("--set", s)]])
    finally:
        mp.undo()
    assert code == 0 and json.loads((root / "out" / "sweep.json").read_text())["front"]  # something to export
    return root


def _copy(finished: Path, tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("copy")
    shutil.copytree(finished / "out", where / "out")
    shutil.copy(finished / "space.yaml", where / "space.yaml")
    return where


# ---------------------------------------------------------------- journals
lines = st.binary(max_size=40) | st.text(max_size=40).map(str.encode) | values.map(lambda v: json.dumps(v).encode())


@settings(SETTINGS, max_examples=12)
@given(cut=st.floats(min_value=0, max_value=1), insert_at=st.floats(min_value=0, max_value=1),
       extra=st.lists(lines, max_size=3), mode=st.sampled_from(["cut", "insert", "both", "replace"]))
def test_a_damaged_journal_is_resumed_or_refused_naming_it(tmp_path_factory, capfd, finished_sweep, cut, insert_at,
                                                           extra, mode):
    where = _copy(finished_sweep, tmp_path_factory)
    journal = where / "out" / "sweep.journal"
    data = journal.read_bytes()
    if mode in ("insert", "both"):
        records = data.split(b"\n")
        at = int(insert_at * (len(records) - 1))
        data = b"\n".join([*records[:at], *extra, *records[at:]])
    if mode in ("cut", "both"):
        data = data[:int(cut * len(data))]
    if mode == "replace":
        data = b"\n".join(extra)
    journal.write_bytes(data)
    code = _sweep(where / "out", where / "space.yaml", capfd, trials=3)
    if code == 0:  # resumed: the journal it left replays again
        assert _sweep(where / "out", where / "space.yaml", capfd, trials=3) == 0


# ---------------------------------------------------------------- sweep.json for --export-best
def _paths(node, prefix=()) -> list[tuple]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node[:2]):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


@SETTINGS
@given(data=st.data(), mode=st.sampled_from(["set", "delete", "truncate", "random"]), value=values)
def test_any_sweep_json_is_exported_or_refused_naming_it(tmp_path_factory, capfd, finished_sweep, data, mode, value):
    where = _copy(finished_sweep, tmp_path_factory)
    path = where / "out" / "sweep.json"
    text = path.read_text()
    summary = json.loads(text)
    if mode in ("set", "delete"):
        key = data.draw(st.sampled_from(_paths(summary)))
        node = summary
        for part in key[:-1]:
            node = node[part]
        if mode == "set":
            node[key[-1]] = value
        else:
            del node[key[-1]]
        text = json.dumps(summary)
    elif mode == "truncate":
        text = text[:data.draw(st.integers(min_value=0, max_value=len(text)))]
    else:
        text = json.dumps(value)
    path.write_text(text)
    dest = where / "best.yaml"
    code = _cli(["sweep", RECIPE, "--out", where / "out", "--export-best", dest], capfd)
    assert code in (0, 2)
    assert dest.exists() == (code == 0)


# ---------------------------------------------------------------- search spaces
# keys whose values cost nothing to check (a random kernel or width would allocate its layers: not on a shared box)
keys = st.sampled_from(["student.train.lr", "student.train.epochs", "student.loss.params.temperature",
                        "student.loss.params.alpha", "student.train.weight_decay", "bench.runs", "no.such.key"])
sensible = st.lists(st.floats(min_value=1e-4, max_value=10), min_size=2, max_size=2).map(
    lambda b: {"low": min(b), "high": max(b)})
ranges = st.fixed_dictionaries({"low": numbers, "high": numbers},
                               optional={"log": st.booleans(), "int": st.booleans(), "step": numbers})
choices = st.fixed_dictionaries({"choices": st.lists(numbers | values, min_size=1, max_size=3)})
specs = st.one_of(sensible, sensible, ranges, choices, values)  # half of them valid, so trials do run


@settings(SETTINGS, max_examples=25)
@given(params=st.dictionaries(keys, specs, min_size=1, max_size=2),
       runner=st.one_of(st.none(), st.none(), st.sampled_from(["local", "estimate", "emulated", "ssh", "quantum", ""]),
                        st.text(max_size=8)),
       budgets=st.one_of(st.none(), st.none(),
                         st.dictionaries(st.sampled_from(["size_kb", "latency_p90_ms", "x"]), numbers | values,
                                         max_size=2)))
def test_a_space_with_random_bounds_runners_and_budgets_runs_or_is_refused(tmp_path_factory, capfd, params, runner,
                                                                           budgets):
    where = tmp_path_factory.mktemp("space")
    space = {**SPACE, "params": params}
    if runner is not None:
        space["runner"] = runner
    if budgets is not None:
        space["budgets"] = budgets
    (where / "space.yaml").write_text(yaml.safe_dump(space, allow_unicode=True))
    code = _sweep(where / "out", where / "space.yaml", capfd)
    if code == 2:
        assert not (where / "out" / "sweep.journal").exists()  # refused before the study was opened


# ---------------------------------------------------------------- --set numbers for run --check
set_keys = st.sampled_from(["student.train.lr", "teacher.train.lr", "student.train.epochs", "student.train.batch_size",
                            "student.loss.params.temperature", "student.loss.params.alpha", "data.split.train",
                            "seed", "bench.runs", "export.calibration_windows", "student.train.weight_decay"])
yaml_numbers = (numbers.map(lambda v: repr(v) if not (isinstance(v, float) and not math.isfinite(v))
                            else {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}[repr(v)])
                | st.sampled_from([".inf", "-.inf", ".nan", ".NaN", "1e999", "-1e999", "1e308", "0x7fffffffffffffff",
                                   "99999999999999999999999", "-0.0", "1_000"]))


@settings(SETTINGS, max_examples=25)
@given(key=set_keys, value=yaml_numbers)
def test_run_check_with_any_number_at_a_numeric_key_exits_0_or_2(capfd, key, value):
    code = _cli(["run", RECIPE, "--check", "--set", f"{key}={value}"], capfd)
    assert code in (0, 2)
