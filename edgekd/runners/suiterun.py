"""Time a folder of calibration files on a target's runner: here in a fresh process, or on the device over ssh.

Both run the same device-side code (``python -m edgekd.runtime.suitebench``): locally with this interpreter in a
child process (no torch or TensorFlow loaded beside the runtime), over ssh with the device's own Python after
copying the runtime files and the suite in one ``scp``.

Example:
    >>> from edgekd.runners.suiterun import MEASURING
    >>> MEASURING
    ('local', 'ssh')
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from edgekd.errors import BackendError, EdgekdError, InputError
from edgekd.runners.probe import MEASURING
from edgekd.targets import SshRunner, TargetProfile

DEVICE_FILES = ("edgekd/runtime/suitebench.py",)  # beside benchmain.SHIPPED_FILES


def time_suite(folder: Path, files: Sequence[str], profile: TargetProfile, *, threads: int, rounds: int = 5,
               timeout_s: float = 3600.0, log: Optional[Callable[[str], None]] = None) -> dict:
    """``suitebench``'s JSON for ``files`` (relative to ``folder``) timed on ``profile``'s runner, plus ``runner``
    and, over ssh, ``device``.

    Raises:
        InputError: a runner that does not measure (estimate, emulated), an unreachable or unfit device.
        BackendError: the timing process failed or printed no JSON.
    """
    check_can_time(profile)
    if profile.runner.kind == "local":
        return {**_time_here(folder, files, threads, rounds, timeout_s, log), "runner": "local"}
    return _time_over_ssh(folder, files, profile, threads, rounds, timeout_s, log)


def check_can_time(profile: TargetProfile) -> None:
    """Refuse, before anything is built, a runner that does not measure or ssh settings that cannot work.

    Raises:
        InputError: the runner is ``estimate`` or ``emulated``; an ssh key or known-hosts file is missing.
    """
    kind = profile.runner.kind
    if kind not in MEASURING:
        why = ("the emulator's timing is not the device's (qemu translates every instruction), so a latency model "
               "fitted on it would predict the emulator" if kind == "emulated" else
               "it does not measure anything")
        raise InputError(f"target {profile.name!r}: cannot calibrate on its {kind!r} runner: {why}. Calibrate on the "
                         "device itself (runner local there, or ssh from here), e.g. edgekd targets derive "
                         f"{profile.name} --name my-{profile.name} --runner ssh --set runner.host=...")
    if kind == "ssh":
        from edgekd.runners.ssh import SshDevice

        SshDevice(profile.runner, profile.source or profile.name)  # checks the key and known-hosts files


def _list_file(folder: Path, files: Sequence[str]) -> Path:
    fd, name = tempfile.mkstemp(prefix=".suite-", suffix=".json", dir=folder)
    with os.fdopen(fd, "w") as f:
        json.dump({"files": list(files)}, f)
    return Path(name)


def _parse(stdout: str, where: str) -> dict:
    try:
        out = json.loads(stdout.strip().splitlines()[-1])
        if not isinstance(out, dict) or "results" not in out:
            raise ValueError("no results")
        return out
    except (IndexError, ValueError):
        raise BackendError(f"{where}: the suite timing printed no JSON: {stdout.strip()[-300:]!r}") from None


def _relay(proc: subprocess.Popen, log: Optional[Callable[[str], None]]) -> None:
    """Forward the child's progress lines (stderr) to ``log`` until it closes them."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if log is not None and line.strip():
            log(f"calibrate: {line.strip()}")


def _time_here(folder: Path, files: Sequence[str], threads: int, rounds: int, timeout_s: float,
               log: Optional[Callable[[str], None]]) -> dict:
    listing = _list_file(folder, files)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    argv = [sys.executable, "-m", "edgekd.runtime.suitebench", str(listing), "--threads", str(threads),
            "--rounds", str(rounds)]
    # stdout (the JSON, larger than a pipe holds) goes to a file, so the child never blocks on it while the
    # progress lines on stderr are being relayed
    with tempfile.TemporaryFile("w+") as result:
        try:
            proc = subprocess.Popen(argv, stdout=result, stderr=subprocess.PIPE, text=True, env=env)
            t0 = time.monotonic()
            _relay(proc, log)
            code = proc.wait(timeout=max(1.0, timeout_s - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            proc.kill()
            raise BackendError(f"timing the calibration suite took longer than {timeout_s:.0f} s (killed)") from None
        finally:
            listing.unlink(missing_ok=True)
        result.seek(0)
        out = result.read()
    if code != 0:
        raise BackendError(f"timing the calibration suite failed (exit {code})")
    return _parse(out, "this machine")


def _time_over_ssh(folder: Path, files: Sequence[str], profile: TargetProfile, threads: int, rounds: int,
                   timeout_s: float, log: Optional[Callable[[str], None]]) -> dict:
    from edgekd.runners.ssh import _REMOTE_PREFIX, SshDevice, _tail, copy_device_runtime, probe

    runner = profile.runner
    if not isinstance(runner, SshRunner):
        raise InputError(f"target {profile.name!r} has no ssh settings")
    device = SshDevice(runner, profile.source or profile.name)
    short = runner.connect_timeout_s + 30.0
    formats = sorted({Path(f).suffix.lstrip(".") for f in files})
    info = {}
    for fmt in formats:
        info = probe(device, profile, fmt, short)
    made = device.run(f"mktemp -d {shlex.quote(runner.workdir.rstrip('/') or '/')}/{_REMOTE_PREFIX}XXXXXXXX",
                      short, "making the run folder")
    remote = made.stdout.strip().splitlines()[-1] if made.stdout.strip() else ""
    if made.returncode != 0 or _REMOTE_PREFIX not in remote:
        raise BackendError(f"{device.where}: cannot make a run folder in {runner.workdir}: {_tail(made.stderr)}")
    try:
        with tempfile.TemporaryDirectory(prefix="edgekd-suite-") as tmp:
            stage = Path(tmp)
            copy_device_runtime(stage / "pkg", DEVICE_FILES)
            (stage / "suite").mkdir()
            (stage / "suite" / "list.json").write_text(json.dumps({"files": list(files)}))
            size_mb = sum((folder / name).stat().st_size for name in files) / 1e6
            if log is not None:
                log(f"calibrate: copying {len(files)} suite files ({size_mb:.1f} MB) to {device.where}")
            device.copy([stage / "pkg", stage / "suite"], remote, runner.connect_timeout_s + 60.0)
            # the suite files go straight from the cache, in batches (no staged copy of hundreds of MB)
            for start in range(0, len(files), 200):
                batch = [folder / name for name in files[start:start + 200]]
                mb = sum(p.stat().st_size for p in batch) / 1e6
                device.copy(batch, f"{remote}/suite", runner.connect_timeout_s + 60.0 + 10.0 * mb)
        command = (f"cd {shlex.quote(remote)}/pkg && export PYTHONDONTWRITEBYTECODE=1 && exec "
                   f"{shlex.quote(runner.python)} -m edgekd.runtime.suitebench ../suite/list.json "
                   f"--threads {threads} --rounds {rounds}")
        proc = device.run(command, timeout_s, "timing the calibration suite")
    finally:
        try:
            device.run(f"rm -rf -- {shlex.quote(remote)}", short, "removing the run folder")
        except EdgekdError:
            pass
    if proc.returncode != 0:
        raise BackendError(f"{device.where}: timing the calibration suite failed (exit {proc.returncode}): "
                           f"{_tail(proc.stderr)}")
    out = _parse(proc.stdout, device.where)
    out.update(runner="ssh", device={"address": device.where, "python": info.get("python"),
                                     "executable": info.get("executable")})
    return out
