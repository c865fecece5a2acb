"""Backend chatter stays out of the user's terminal unless asked for (``--verbose``), and a failure keeps it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

_NATIVE = """
import os, sys
from edgekd.runtime.native_log import quiet_native
with quiet_native():
    os.write(2, b"native chatter\\n")
    print("edgekd progress", file=sys.stderr)
try:
    with quiet_native():
        os.write(2, b"the native reason\\n")
        raise RuntimeError("failed")
except RuntimeError:
    pass
"""


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def test_native_output_is_held_back_and_python_progress_is_not():
    err = _run(_NATIVE, EDGEKD_VERBOSE="0").stderr
    assert "native chatter" not in err and "edgekd progress" in err


def test_a_failing_call_shows_what_the_backend_said():
    assert "the native reason" in _run(_NATIVE, EDGEKD_VERBOSE="0").stderr


def test_verbose_shows_native_output():
    assert "native chatter" in _run(_NATIVE, EDGEKD_VERBOSE="1").stderr


@pytest.mark.device
def test_eval_prints_no_runtime_log_lines_and_names_photos():
    art = ROOT / "benchmarks" / "results" / "artifacts" / "plant"
    path = sorted(art.glob("student-tflite-*.tflite"))[0]
    proc = subprocess.run([sys.executable, "-m", "edgekd", "eval", str(path), "--data", str(ROOT / "data" / "plant-sample")],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "EDGEKD_VERBOSE": "0"})
    assert proc.returncode == 0, proc.stderr
    assert "INFO:" not in proc.stderr and "photos" in proc.stdout and "recordings" not in proc.stdout
