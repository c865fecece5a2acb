"""The README is the newcomer's page: short, and its API example runs as written from any folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_the_readme_api_example_runs_from_an_empty_folder_and_prints_size_accuracy_and_latency(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 14
    out = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code], cwd=tmp_path,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    size, accuracy, p50 = out.stdout.split()[-3:]
    assert int(size) > 1000 and 0.9 <= float(accuracy) <= 1.0 and float(p50) > 0  # digits: 0.97 when written
    assert (tmp_path / "digits.tflite").is_file() and (tmp_path / "digits.edgekd.json").is_file()


def test_the_readme_is_a_newcomers_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 300
    for link in re.findall(r"\]\((docs/[^)]+)\)", text):  # every page it sends a reader to exists
        assert (ROOT / link).is_file(), link
