"""Plugins through entry points: listed with their distribution, a broken one reported by name while the others
keep working, a key claimed twice refused naming both. Fake distributions are written to a folder on PYTHONPATH
(importlib.metadata finds their dist-info) and each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _dist(site: Path, name: str, entry_points: str, modules: dict[str, str]) -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, code in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(code))


@pytest.fixture()
def site(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    good = """
        from torch import nn

        def tiny(*, num_classes, input_shape, width=4):
            return nn.Sequential(nn.Flatten(), nn.Linear(int(__import__('math').prod(input_shape)), num_classes))
    """
    _dist(site, "good-plugin", "[edgekd.models]\ntiny_plugin_net = good_plugin_mod:tiny\nshared_key = good_plugin_mod:tiny\n",
          {"good_plugin_mod": good})
    _dist(site, "broken-plugin", "[edgekd.models]\nbroken_net = broken_plugin_mod:build\n",
          {"broken_plugin_mod": "raise ImportError('this plugin needs libfoo')\n"})
    _dist(site, "other-plugin", "[edgekd.models]\nshared_key = other_plugin_mod:tiny\n",
          {"other_plugin_mod": good})
    return site


def _python(site: Path, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_plugins_lists_every_entry_and_the_broken_one_with_its_error(site):
    out = _python(site, "from edgekd.cli import main; raise SystemExit(main(['plugins', '--json']))")
    assert out.returncode == 0, out.stderr
    entries = {(e["key"], e["distribution"]): e for e in json.loads(out.stdout)}
    assert entries[("tiny_plugin_net", "good-plugin 1.0")]["error"] is None
    assert "ImportError: this plugin needs libfoo" in entries[("broken_net", "broken-plugin 1.0")]["error"]
    assert "registered by two plugins" in entries[("shared_key", "other-plugin 1.0")]["error"]


def test_a_broken_plugin_does_not_stop_the_others(site):
    out = _python(site, """
        from edgekd.models import build_model
        from edgekd.errors import PluginError
        print(type(build_model('tiny_plugin_net', num_classes=2, input_shape=(1, 4, 4))).__name__)
        print(type(build_model('heart_student', num_classes=2, input_shape=(1, 32, 180))).__name__)
        try:
            build_model('broken_net', num_classes=2, input_shape=(1, 4, 4))
        except PluginError as exc:
            print('refused:', exc)
    """)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["Sequential", "HeartStudent"]
    assert "model 'broken_net' comes from the plugin broken-plugin 1.0" in lines[2] and "libfoo" in lines[2]


def test_a_key_registered_by_two_plugins_is_refused_naming_both(site):
    out = _python(site, """
        from edgekd.models import MODELS
        try:
            MODELS.get('shared_key')
        except Exception as exc:
            print(type(exc).__name__, exc)
    """)
    assert "PluginError" in out.stdout and "good-plugin 1.0" in out.stdout and "other-plugin 1.0" in out.stdout


def test_a_recipe_naming_a_broken_plugin_exits_2_with_one_message(site, tmp_path):
    out = _python(site, f"""
        from edgekd.cli import main
        raise SystemExit(main(['run', 'recipes/heart.yaml', '--out', r'{tmp_path / "run"}',
                               '--set', 'student.model=broken_net', '--set', 'student.params={{}}']))
    """)
    assert out.returncode == 2, out.stderr
    assert "broken_net" in out.stderr and "Traceback" not in out.stderr


def test_a_plugin_model_is_used_from_a_recipe_key_not_an_import_path(site, tmp_path):
    out = _python(site, """
        from edgekd.recipe import load_recipe
        from edgekd.pipeline import check_recipe
        r = load_recipe('recipes/heart.yaml', ['student.model=tiny_plugin_net', 'student.params={}'])
        check_recipe(r)
        print('ok')
    """)
    assert out.stdout.strip() == "ok", out.stderr


def test_a_plugin_runner_measures_for_a_target_profile_that_names_it(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    runner = """
        def measure(artifact, profile, opts):
            return {"artifact": str(artifact), "runtime": "lab-board", "runtime_version": "1", "threads": 1,
                    "runs": opts.runs, "warmup": opts.warmup, "p50_ms": 1.5, "p90_ms": 2.0, "p99_ms": 2.5,
                    "mean_ms": 1.6, "cv": 0.01, "runner": "lab-board", "estimated": False,
                    "host": {"board": profile.runner.model_extra.get("board")}}
    """
    _dist(site, "lab-runner", "[edgekd.runners]\nlab-board = lab_runner_mod:measure\n", {"lab_runner_mod": runner})
    profile = tmp_path / "board.yaml"
    profile.write_text("name: board\narch: aarch64\nformats: [tflite]\nprecisions: [int8]\n"
                       "runner: {kind: lab-board, board: rig-7}\n")
    artifact = ROOT / "tests" / "data" / "heart-student-tflite-int8.tflite"
    out = _python(site, f"""
        from edgekd.cli import main
        raise SystemExit(main(['bench', r'{artifact}', '--target', r'{profile}', '--runs', '7', '--json']))
    """)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["runner"] == "lab-board" and result["p90_ms"] == 2.0 and result["runs"] == 7
    assert result["host"] == {"board": "rig-7"} and result["target"] == "board"


def test_a_profile_naming_an_unknown_runner_lists_the_plugins_too(tmp_path):
    from edgekd.errors import InputError
    from edgekd.targets import load_target

    profile = tmp_path / "board.yaml"
    profile.write_text("name: board\narch: aarch64\nformats: [tflite]\nprecisions: [int8]\nrunner: {kind: lab-bord}\n")
    with pytest.raises(InputError, match=r"runner.kind: unknown runner 'lab-bord'"):
        load_target(profile)


def test_a_plugin_calling_sys_exit_on_import_is_listed_with_its_error_and_plugins_exits_0(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _dist(site, "exiting-plugin", "[edgekd.models]\nexiting_net = exiting_plugin_mod:build\n",
          {"exiting_plugin_mod": "import sys\nsys.exit(1)\n"})
    out = _python(site, "from edgekd.cli import main; raise SystemExit(main(['plugins', '--json']))")
    assert out.returncode == 0, out.stderr
    entry = {e["key"]: e for e in json.loads(out.stdout)}["exiting_net"]
    assert "SystemExit" in entry["error"] and "sys.exit(1)" in entry["error"]
