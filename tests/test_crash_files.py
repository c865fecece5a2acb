"""Crash files are private (issue 27): a per-user 0700 folder, files created 0600 exclusively and never through a
symlink, unpredictable names, secrets masked in the file and on the terminal; and the crash handler never
tracebacks itself when its folder is unusable (it prints the one line without a file)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edgekd.cli import main

PASSWORD = "pa@ss:w0rd"
URL = f"postgresql://alice:{PASSWORD}@db.example:5432/studies"


@pytest.fixture
def crash(monkeypatch):
    """``edgekd sweep`` fails with an unexpected error whose message quotes the storage URL."""

    def boom(recipe, space, *, storage=None, **kwargs):
        raise RuntimeError(f"engine for {storage} said no (password {PASSWORD})")

    monkeypatch.setattr("edgekd.sweep.search.sweep", boom)
    return ["sweep", "recipe.yaml", "--space", "space.yaml", "--storage", URL]


def _one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _default_folder(monkeypatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("EDGEKD_CRASH_DIR", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    return tmp_path / f"edgekd-crashes-{os.getuid()}"


def test_a_crash_file_is_0600_in_a_per_user_0700_folder(tmp_path, monkeypatch, capsys, crash):
    folder = _default_folder(monkeypatch, tmp_path)
    assert main(crash) == 3
    files = list(folder.iterdir())
    assert len(files) == 1 and str(files[0]) in _one_line(capsys.readouterr().err)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert not (tmp_path / "edgekd-crashes").exists()  # the old shared folder


def test_two_crashes_in_one_second_get_unpredictable_distinct_names(tmp_path, monkeypatch, crash):
    monkeypatch.setenv("EDGEKD_CRASH_DIR", str(tmp_path))
    monkeypatch.setattr("time.strftime", lambda fmt, *a: "20260101-000000")  # the same second
    assert main(crash) == 3 and main(crash) == 3
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and all(str(os.getpid()) not in n for n in names)  # no pid: a random part


def test_secrets_are_masked_in_the_file_and_on_the_terminal(tmp_path, monkeypatch, capsys, crash):
    monkeypatch.setenv("EDGEKD_CRASH_DIR", str(tmp_path))
    assert main([*crash, "--set", "bench.api_token=t0ken-123"]) == 3
    line = _one_line(capsys.readouterr().err)
    text = next(tmp_path.iterdir()).read_text()
    for shown in (line, text):
        assert "w0rd" not in shown and "pa@ss" not in shown and "ss:w0rd@" not in shown
        assert "t0ken-123" not in shown
    assert "postgresql://alice:***@db.example:5432/studies" in text and "RuntimeError" in text


def test_a_planted_symlink_folder_is_not_followed(tmp_path, monkeypatch, capsys, crash):
    folder = _default_folder(monkeypatch, tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    folder.symlink_to(victim)
    assert main(crash) == 3
    line = _one_line(capsys.readouterr().err)
    assert "no crash file" in line and not list(victim.iterdir())


def test_a_folder_of_another_user_is_not_used(tmp_path, monkeypatch, capsys, crash):
    folder = _default_folder(monkeypatch, tmp_path)
    folder.mkdir(mode=0o700)
    owner = folder.stat().st_uid
    monkeypatch.setattr("os.getuid", lambda: owner + 1)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    other = tmp_path / f"edgekd-crashes-{owner + 1}"
    other.mkdir(mode=0o700)  # "someone else" made it first
    assert main(crash) == 3
    assert "no crash file" in _one_line(capsys.readouterr().err) and not list(other.iterdir())


def test_a_crash_folder_that_is_a_file_prints_the_line_without_a_traceback(tmp_path, monkeypatch, capsys, crash):
    blocker = tmp_path / "crashes"
    blocker.write_text("not a folder")
    monkeypatch.setenv("EDGEKD_CRASH_DIR", str(blocker))
    assert main(crash) == 3
    line = _one_line(capsys.readouterr().err)
    assert "internal error: RuntimeError" in line and "no crash file" in line and "w0rd" not in line
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into a read-only folder")
def test_an_unwritable_crash_folder_prints_the_line_without_a_traceback(tmp_path, monkeypatch, capsys, crash):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    monkeypatch.setenv("EDGEKD_CRASH_DIR", str(folder))
    try:
        assert main(crash) == 3
        assert "no crash file" in _one_line(capsys.readouterr().err)
    finally:
        folder.chmod(0o700)


def test_redaction_of_urls_flags_and_tokens():
    from edgekd.redact import redact_argv, redact_text, redact_url

    assert redact_url("postgresql://u:a@b@h:1/db") == "postgresql://u:***@h:1/db"
    assert redact_url("sqlite:///runs/a@b.db") == "sqlite:///runs/a@b.db"  # no password: unchanged
    shown, found = redact_argv(["x", "--password", "hunter22", "--api-key=k3y-value", "--set", "a.token=abc"])
    assert shown == ["x", "--password", "***", "--api-key=***", "--set", "a.token=***"]
    assert redact_text("failed: hunter22 / k3y-value", found) == "failed: *** / ***"
