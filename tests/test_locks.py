"""The lock files pin every package with the SHA-256 of its file, so `make` installs them with --require-hashes."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "requirements"))
from hash_locks import GROUPS, LOCKS, parse  # noqa: E402

MAKEFILE_LOCKS = [name for names in GROUPS.values() for name in names]  # arm64-root.lock: emulated_root's


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
    assert sorted({m for ln in lines for m in re.findall(r"requirements/([\w-]+\.lock)", ln)}) == sorted(MAKEFILE_LOCKS)


def test_torch_is_pinned_to_the_cpu_wheel_on_disk():
    torch = [line for line, pkg in parse(ROOT / "requirements" / "main.lock") if pkg == "torch"]
    assert torch == ["torch==2.13.0+cpu"]


def test_the_arm64_root_installs_its_lock_with_hashes_and_its_stamp_ignores_them(tmp_path, monkeypatch):
    """Hashes added to a lock do not rebuild a root built from the same pins (its stamp hashes the pins only)."""
    from edgekd.runners import emulated_root

    lock = ROOT / "requirements" / "arm64-root.lock"
    bare = tmp_path / "bare.lock"
    bare.write_text("\n".join(line for line, _ in parse(lock)) + "\n")
    assert "--hash" in lock.read_text() and "--hash" not in bare.read_text()
    assert emulated_root.lock_hash(lock) == emulated_root.lock_hash(bare)
    calls = []
    monkeypatch.setattr(emulated_root, "_run", lambda argv, what, timeout: calls.append(argv))
    site = tmp_path / "root" / emulated_root.SITE
    site.parent.mkdir(parents=True)
    monkeypatch.setattr(type(site), "rename", lambda self, target: None)
    emulated_root._install_wheels(tmp_path / "root", lock, log=lambda s: None)
    (argv,) = calls
    assert "--require-hashes" in argv and argv[argv.index("-r") + 1] == str(lock)
