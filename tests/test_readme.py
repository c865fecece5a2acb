"""The README's API example is pasteable: the first Python block of its "Python API" section runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_the_readme_api_example_runs_and_prints_size_accuracy_and_latency(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12  # the "ten-line example"
    (tmp_path / "data").symlink_to(ROOT / "data")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    size, accuracy, p50 = out.stdout.split()[-3:]
    assert int(size) > 1000 and 0.0 <= float(accuracy) <= 1.0 and float(p50) > 0
    assert (tmp_path / "leaf.tflite").is_file() and (tmp_path / "leaf.edgekd.json").is_file()
