"""A reader that stops early (`edgekd gate R | head -1`) does not change the command's exit code."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.device
ROOT = Path(__file__).resolve().parent.parent
ART = ROOT / "tests" / "data" / "heart-student-tflite-int8.tflite"


def _exit_with_reader_gone(args: list[str]) -> tuple[int, str]:
    proc = subprocess.Popen([sys.executable, "-m", "edgekd", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT)
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err


def test_a_closed_pipe_keeps_the_exit_code_of_a_listing():
    code, err = _exit_with_reader_gone(["targets"])
    assert code == 0 and "Broken pipe" not in err, err


def test_a_closed_pipe_keeps_a_failing_commands_exit_code():
    code, err = _exit_with_reader_gone(["eval", str(ART), "--data", str(ROOT / "no-such-folder")])
    assert code == 2 and "Broken pipe" not in err, err


def test_a_closed_pipe_keeps_the_exit_code_of_json_output():
    code, err = _exit_with_reader_gone(["targets", "--json"])
    assert code == 0 and "Broken pipe" not in err and "Exception ignored" not in err, err
