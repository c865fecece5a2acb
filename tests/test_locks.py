"""The lock files pin every package with the SHA-256 of its file, so `make` installs them with --require-hashes."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "requirements"))
from hash_locks import GROUPS, parse  # noqa: E402

LOCKS = [name for names in GROUPS.values() for name in names]


@pytest.mark.parametrize("name", LOCKS)
def test_every_pin_carries_a_sha256(name):
    text = (ROOT / "requirements" / name).read_text()
    pins = [line for line, pkg in parse(ROOT / "requirements" / name) if pkg]
    assert pins and all("==" in p for p in pins)
    hashes = re.findall(r"--hash=sha256:([0-9a-f]+)", text)
    assert len(hashes) == len(pins) and all(len(h) == 64 for h in hashes)


def test_the_makefile_installs_the_locks_with_require_hashes():
    lines = [ln for ln in (ROOT / "Makefile").read_text().splitlines() if "pip install" in ln and ".lock" in ln]
    assert lines and all("--require-hashes" in ln for ln in lines if "arm64" not in ln)
    assert sorted({m for ln in lines for m in re.findall(r"requirements/([\w-]+\.lock)", ln)}) == sorted(LOCKS)


def test_torch_is_pinned_to_the_cpu_wheel_on_disk():
    torch = [line for line, pkg in parse(ROOT / "requirements" / "main.lock") if pkg == "torch"]
    assert torch == ["torch==2.13.0+cpu"]
