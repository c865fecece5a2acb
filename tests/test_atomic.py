"""Atomic writes leave no temp file behind, even after kill -9: the next write into the folder clears them."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from edgekd.atomic import TEMP_MARK, _host_tag, atomic_path, clear_stale_temps, write_bytes

NAME = "student-tflite-int8.tflite"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temp(folder: Path, pid: int, host: str | None = None, rand: str = "abcd_123", suffix: str = ".tflite") -> Path:
    p = folder / f".{NAME}.{TEMP_MARK}-{host or _host_tag()}-{pid}-{rand}.tmp{suffix}"
    p.write_bytes(b"half a model")
    return p


def _age(p: Path, seconds: float) -> Path:
    t = time.time() - seconds
    os.utime(p, (t, t))
    return p


def test_temp_names_say_they_are_edgekds_and_whose(tmp_path):
    with atomic_path(tmp_path / NAME) as tmp:
        assert tmp.name.startswith(f".{NAME}.{TEMP_MARK}-{_host_tag()}-{os.getpid()}-")
        assert tmp.name.endswith(".tmp.tflite") and tmp.parent == tmp_path
        tmp.write_bytes(b"model")
    assert (tmp_path / NAME).read_bytes() == b"model" and sorted(p.name for p in tmp_path.iterdir()) == [NAME]


def test_the_next_write_removes_only_the_temp_files_of_writers_that_are_gone(tmp_path):
    dead = _dead_pid()
    stale = _temp(tmp_path, dead)
    stale_data = tmp_path / (stale.name + ".data")  # an ONNX export's external weights beside its temp file
    stale_data.write_bytes(b"weights")
    legacy = tmp_path / f".{NAME}.x7_k2m9q.tmp.tflite"  # the name before edgekd-tmp (mkstemp's only)
    legacy.write_bytes(b"old")
    _age(legacy, 3600)
    fresh_legacy = tmp_path / ".report.json.q1w2e3r4.tmp.json"  # could be a writer still running: kept
    fresh_legacy.write_bytes(b"{")
    live = _temp(tmp_path, os.getpid(), rand="live_000")  # this process is writing it
    other_host_fresh = _temp(tmp_path, dead, host="00000000", rand="otherhst")
    other_host_old = _age(_temp(tmp_path, dead, host="00000000", rand="otherold"), 2 * 24 * 3600)
    keep = [tmp_path / "notes.tmp", tmp_path / ".cache.tmp", tmp_path / f"{NAME}.tmp.tflite", tmp_path / "model.onnx"]
    for p in keep:
        p.write_bytes(b"the user's")
    (tmp_path / f".x.tflite.{TEMP_MARK}-{_host_tag()}-{dead}-folder00.tmp.tflite").mkdir()  # not a file: kept

    write_bytes(tmp_path / "other-artifact.onnx", b"model")

    gone = {stale, stale_data, legacy, other_host_old}
    assert not any(p.exists() for p in gone)
    assert all(p.exists() for p in [fresh_legacy, live, other_host_fresh, *keep])
    assert (tmp_path / f".x.tflite.{TEMP_MARK}-{_host_tag()}-{dead}-folder00.tmp.tflite").is_dir()
    assert (tmp_path / "other-artifact.onnx").read_bytes() == b"model"


def test_a_writer_killed_mid_export_leaves_a_temp_file_the_resumed_export_removes(tmp_path):
    """kill -9 inside atomic_path (what an export does) leaves its temp file; the next export into the
    folder, as a resumed run makes, removes it and writes the artifact."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from edgekd.atomic import atomic_path\n"
        "with atomic_path(Path(sys.argv[1])) as tmp:\n"
        "    tmp.write_bytes(b'half a model')\n"
        "    print(tmp.name, flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / NAME)], stdout=subprocess.PIPE, text=True)
    try:
        left = tmp_path / proc.stdout.readline().strip()
        assert left.is_file() and left.name.startswith(f".{NAME}.{TEMP_MARK}-")
        assert clear_stale_temps(tmp_path) == []  # its writer is still running: kept
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert left.is_file() and not (tmp_path / NAME).exists()  # what kill -9 leaves

    write_bytes(tmp_path / NAME, b"whole model")  # the resumed run exports it again

    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]
    assert (tmp_path / NAME).read_bytes() == b"whole model"


def test_an_exports_scratch_folder_left_by_a_killed_process_is_cleared_by_the_next_one(tmp_path, monkeypatch):
    import tempfile

    from edgekd.atomic import temp_dir

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = _dead_pid()
    stale = tmp_path / f"edgekd-onnx2tf.{TEMP_MARK}-{_host_tag()}-{dead}-abcd_123"
    (stale / "saved_model").mkdir(parents=True)
    (stale / "saved_model" / "model.pb").write_bytes(b"x" * 1000)
    live = tmp_path / f"edgekd-ortq.{TEMP_MARK}-{_host_tag()}-{os.getpid()}-live_000"
    live.mkdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "precious").write_bytes(b"keep")
    link = tmp_path / f"edgekd-aeq.{TEMP_MARK}-{_host_tag()}-{dead}-link_000"
    link.symlink_to(target)  # a link of our name: neither followed nor removed
    others = [tmp_path / "edgekd-onnx2tf-abcd1234", tmp_path / "someone-elses"]  # not our pattern: kept
    for p in others:
        p.mkdir()

    with temp_dir("onnx2tf") as scratch:
        assert scratch.is_dir() and scratch.parent == tmp_path
        assert scratch.name.startswith(f"edgekd-onnx2tf.{TEMP_MARK}-{_host_tag()}-{os.getpid()}-")
        assert not stale.exists()
    assert not scratch.exists()
    assert live.is_dir() and link.is_symlink() and (target / "precious").read_bytes() == b"keep"
    assert all(p.is_dir() for p in others)
