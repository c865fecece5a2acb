"""The ``ssh`` runner: the artifact measured on a real device (a Raspberry Pi, a board) with the device's own Python.

What it does, every step through the system OpenSSH client (``ssh``/``scp``) with a timeout:

1. probe: ``uname -m`` (must match the profile's ``arch``), the interpreter
   (``runner.python``: present, Python >= 3.9) and which of numpy, ai-edge-litert,
   tflite-runtime, onnxruntime it can import;
2. ``mktemp -d`` a run folder under ``runner.workdir``;
3. copy the artifact, its sidecar and the device-side runtime (the few files of
   ``edgekd.runtime.benchmain.SHIPPED_FILES``: numpy + a runtime is all they need),
   so the device needs no edgekd install and measures with the host's version of the code;
   with a front-end job (``opts.frontend``), its items and ``frontend.json`` too;
4. run ``python -m edgekd.runtime.benchmain`` there (under ``timeout`` when the
   device has it; ``--frontend`` times the front-end on the device after the model) and read its JSON;
5. remove the run folder, whatever happened.

Security: key-only (``BatchMode yes``, no password or keyboard-interactive), host-key
checking on against the profile's pinned known-hosts file (``StrictHostKeyChecking yes``,
no global file, never updated), no user ssh config read (``-F none``), so the run is the
same on every machine.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

from edgekd.runners.options import BenchOptions
from edgekd.errors import BackendError, EdgekdError, InputError
from edgekd.targets import SshRunner, TargetProfile, arch_of

_RUNTIME_MODULES = {"tflite": ("ai_edge_litert", "tflite_runtime"), "onnx": ("onnxruntime",), "pte": ("executorch",)}
_RUNTIME_PIP = {"tflite": "ai-edge-litert (or tflite-runtime)", "onnx": "onnxruntime",
                "pte": "executorch (with torch: its Python runtime links libtorch)"}
_PROBE = r"""
import importlib.util as u, json, platform, sys
mods = {m: u.find_spec(m) is not None for m in ("numpy", "ai_edge_litert", "tflite_runtime", "onnxruntime")}
print("EDGEKD_PROBE " + json.dumps({"python": platform.python_version(), "executable": sys.executable,
                                   "machine": platform.machine(), "modules": mods}))
"""
_REMOTE_PREFIX = "edgekd-bench."


class SshDevice:
    """One device reached with the profile's ssh settings.

    Args:
        runner: the profile's ``runner`` section (kind ``ssh``).
        source: the profile file, for messages.
    """

    def __init__(self, runner: SshRunner, source: str) -> None:
        self.r = runner
        self.source = source
        self.dest = f"{runner.user}@{runner.host}"
        self.where = f"{self.dest}:{runner.port}"
        self.key = self._local_file(runner.key, "runner.key")
        self.known_hosts = self._local_file(runner.known_hosts, "runner.known_hosts")
        if self.key.stat().st_mode & 0o077:
            raise InputError(f"{source}: runner.key {self.key} is readable by others; ssh refuses it (chmod 600)")
        for tool in ("ssh", "scp"):
            if shutil.which(tool) is None:
                raise InputError(f"the ssh runner needs the OpenSSH client ({tool} not found): "
                                 "apt-get install openssh-client")

    def _local_file(self, value: str, key: str) -> Path:
        path = Path(value).expanduser().resolve()
        if not path.is_file():
            hint = (" (pin the device's host key: ssh-keyscan -p PORT HOST > FILE, then compare its fingerprint "
                    "with the device's own)" if key.endswith("known_hosts") else "")
            raise InputError(f"{self.source}: {key}: {path} not found{hint}")
        return path

    def options(self) -> list[str]:
        """The OpenSSH options every call uses (shared by ssh and scp)."""
        opts = {
            "BatchMode": "yes",
            "StrictHostKeyChecking": "yes",
            "UserKnownHostsFile": str(self.known_hosts),
            "GlobalKnownHostsFile": "/dev/null",
            "UpdateHostKeys": "no",
            "PasswordAuthentication": "no",
            "KbdInteractiveAuthentication": "no",
            "PubkeyAuthentication": "yes",
            "IdentitiesOnly": "yes",
            "IdentityFile": str(self.key),
            "ConnectTimeout": str(max(1, int(round(self.r.connect_timeout_s)))),
            "ServerAliveInterval": "5",
            "ServerAliveCountMax": "3",
            "LogLevel": "ERROR",
        }
        return ["-F", "none", *[arg for k, v in opts.items() for arg in ("-o", f"{k}={v}")]]

    def run(self, command: str, timeout: float, what: str, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
        """Run a shell command on the device; connection failures become one clear error."""
        argv = ["ssh", *self.options(), "-p", str(self.r.port), self.dest, command]
        proc = self._call(argv, timeout, what, stdin)
        if proc.returncode == 255:
            raise self._connection_error(proc.stderr, what)
        return proc

    def copy(self, files: list[Path], remote_dir: str, timeout: float) -> None:
        """``scp -r`` local files/folders into ``remote_dir`` on the device."""
        argv = ["scp", *self.options(), "-P", str(self.r.port), "-q", "-r",
                *map(str, files), f"{self.dest}:{remote_dir}/"]
        proc = self._call(argv, timeout, "copying the artifact")
        if proc.returncode != 0:
            if proc.returncode == 255 and _is_connection_problem(proc.stderr):
                raise self._connection_error(proc.stderr, "copying the artifact")
            raise BackendError(f"{self.where}: copying the artifact failed: {_tail(proc.stderr)}")

    def _call(self, argv: list[str], timeout: float, what: str, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(argv, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BackendError(f"{self.where}: {what} got no answer within {timeout:.0f} s (killed)") from None

    def _connection_error(self, stderr: str, what: str) -> EdgekdError:
        text = stderr.lower()
        last = _tail(stderr)
        if "host key verification failed" in text or "host identification has changed" in text:
            return InputError(
                f"{self.where}: host key refused — the device's key is not the one pinned in {self.known_hosts} "
                f"(ssh said: {_tail(stderr, 1)}). If the device was re-installed, check its fingerprint and re-pin it "
                f"(ssh-keyscan -p {self.r.port} {self.r.host})")
        if "permission denied" in text:
            return InputError(f"{self.where}: key login refused for user {self.r.user!r} with {self.key} "
                              f"(is its public key in the device's ~/.ssh/authorized_keys?): {last}")
        if _is_connection_problem(stderr):
            return InputError(f"{self.where}: device unreachable while {what} ({last}); check runner.host/port "
                              f"in {self.source} and that the device is on and runs sshd")
        return BackendError(f"{self.where}: ssh failed while {what}: {last}")


def _is_connection_problem(stderr: str) -> bool:
    text = stderr.lower()
    return any(s in text for s in ("connection refused", "timed out", "no route to host", "could not resolve",
                                   "network is unreachable", "connection closed", "connection reset",
                                   "name or service not known", "host is down"))


def _tail(text: str, lines: int = 3) -> str:
    """The last few non-empty lines of a stream, on one line."""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "no message"


def probe(device: SshDevice, profile: TargetProfile, fmt: str, timeout: float) -> dict:
    """Check the device's architecture, Python and runtime before copying anything.

    Returns:
        ``{"python", "executable", "machine", "modules"}`` as the device reports them.

    Raises:
        InputError: wrong architecture, no Python, Python too old, no numpy or no runtime for ``fmt``.
    """
    py = shlex.quote(device.r.python)
    command = (f"uname -m; command -v {py} >/dev/null 2>&1 || {{ echo EDGEKD_NO_PYTHON; exit 0; }}; "
               f"exec {py} -")
    proc = device.run(command, timeout, "probing the device", stdin=_PROBE)
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    machine = lines[0] if lines else "?"
    arch = arch_of(machine)
    if arch != profile.arch:
        raise InputError(f"{device.where}: the device is {machine} ({arch}) but profile {profile.name!r} "
                         f"({profile.source}) says arch {profile.arch}: wrong host or wrong profile")
    if "EDGEKD_NO_PYTHON" in lines:
        raise InputError(f"{device.where}: no Python at {device.r.python!r} on the device; install python3 or set "
                         f"runner.python in {profile.source} to the device's interpreter (absolute path)")
    found = [line for line in lines if line.startswith("EDGEKD_PROBE ")]
    if proc.returncode != 0 or not found:
        raise InputError(f"{device.where}: {device.r.python!r} did not run on the device "
                         f"(exit {proc.returncode}): {_tail(proc.stderr)}")
    try:
        info = json.loads(found[-1].split(" ", 1)[1])
        version = tuple(int(p) for p in info["python"].split(".")[:2])
    except (ValueError, TypeError, KeyError, AttributeError):
        raise InputError(f"{device.where}: {device.r.python!r} answered the probe with {found[-1][:200]!r}, "
                         "not edgekd's probe line") from None
    if version < (3, 9):
        raise InputError(f"{device.where}: Python {info['python']} on the device; the device runtime needs >= 3.9")
    mods = info["modules"]
    missing = []
    if not mods.get("numpy"):
        missing.append("numpy")
    if not any(mods.get(m) for m in _RUNTIME_MODULES[fmt]):
        missing.append(_RUNTIME_PIP[fmt])
    if missing:
        raise InputError(f"{device.where}: {info['executable']} (Python {info['python']}) has no "
                         f"{' and no '.join(missing)}; on the device: pip install {' '.join(m.split()[0] for m in missing)}"
                         " (numpy<2 with tflite-runtime 2.14)")
    return info


def copy_device_runtime(pkg: Path, extra: tuple[str, ...] = ()) -> None:
    """Copy the device-side edgekd files (``benchmain.SHIPPED_FILES`` and ``extra``) under ``pkg``, as on the host."""
    from edgekd.runtime.benchmain import SHIPPED_FILES

    root = Path(__file__).resolve().parents[2]  # the folder that holds edgekd/
    for rel in (*SHIPPED_FILES, *extra):
        dest = pkg / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, dest)


def stage(artifact: Path, into: Path, frontend: Optional[object] = None) -> list[Path]:
    """Lay out what the device receives: ``pkg/edgekd/...`` (the runtime) and the artifact + sidecar under fixed names;
    with a front-end job (``FrontendJob``), ``items/`` and ``frontend.json`` (item paths relative to it)."""
    copy_device_runtime(into / "pkg")
    name = "artifact" + artifact.suffix.lower()
    shutil.copyfile(artifact, into / name)
    files = [into / "pkg", into / name]
    sidecar = artifact.with_suffix(".edgekd.json")
    if sidecar.is_file():
        shutil.copyfile(sidecar, into / "artifact.edgekd.json")
        files.append(into / "artifact.edgekd.json")
    if frontend is not None:
        from edgekd.runners.frontend import staged

        (into / "frontend.json").write_text(json.dumps(staged(frontend, into, "")))
        files += [into / "items", into / "frontend.json"]
    return files


def run_ssh(artifact: Path, profile: TargetProfile, opts: BenchOptions) -> dict:
    """Benchmark the artifact on the profile's ssh device (see the module docstring).

    Returns:
        The device's ``bench --json`` dict with ``runner: "ssh"``, ``host`` = the device,
        ``device`` (address, Python), ``method`` and ``round_trip_s``.

    Raises:
        InputError: bad ssh settings, unreachable device, refused host key or login,
            wrong architecture, no Python or runtime on the device, a file the device runtime cannot load.
        BackendError: a call timed out, the copy failed, the runtime failed while running.
    """
    runner = profile.runner
    if not isinstance(runner, SshRunner):
        raise InputError(f"target {profile.name!r} has no ssh settings (its runner is {runner.kind!r}): "
                         "give it a runner section with kind: ssh, host, user, key, known_hosts")
    t0 = time.perf_counter()
    device = SshDevice(runner, profile.source or profile.name)
    fmt = artifact.suffix.lower().lstrip(".")
    short = min(opts.timeout_s, runner.connect_timeout_s + 30.0)
    info = probe(device, profile, fmt, short)
    threads = opts.threads or profile.threads
    made = device.run(f"mktemp -d {shlex.quote(runner.workdir.rstrip('/') or '/')}/{_REMOTE_PREFIX}XXXXXXXX",
                      short, "making the run folder")
    remote = made.stdout.strip().splitlines()[-1] if made.stdout.strip() else ""
    if made.returncode != 0 or _REMOTE_PREFIX not in remote:
        raise BackendError(f"{device.where}: cannot make a run folder in {runner.workdir}: {_tail(made.stderr)}")
    try:
        with tempfile.TemporaryDirectory(prefix="edgekd-stage-") as tmp:
            files = stage(artifact, Path(tmp), opts.frontend)
            size_mb = sum(g.stat().st_size for f in files for g in ([f] if f.is_file() else f.rglob("*"))
                          if g.is_file()) / 1e6
            device.copy(files, remote, min(opts.timeout_s, runner.connect_timeout_s + 60.0 + 10.0 * size_mb))
        bench = [shlex.quote(runner.python), "-m", "edgekd.runtime.benchmain", f"../artifact{artifact.suffix.lower()}",
                 "--threads", str(threads), "--runs", str(opts.runs), "--warmup", str(opts.warmup),
                 "--max-seconds", str(opts.max_seconds), "--min-runs", str(opts.min_runs)]
        if opts.cv_target is not None:
            bench += ["--cv-target", str(opts.cv_target)]
        if opts.frontend is not None:
            bench += ["--frontend", "../frontend.json"]
        limit = max(1, int(opts.timeout_s))
        command = (f"cd {shlex.quote(remote)}/pkg && export PYTHONDONTWRITEBYTECODE=1 && "
                   f"if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 {limit} {' '.join(bench)}; "
                   f"else exec {' '.join(bench)}; fi")
        proc = device.run(command, opts.timeout_s + 15.0, "running the benchmark")
    finally:
        try:
            device.run(f"rm -rf -- {shlex.quote(remote)}", short, "removing the run folder")
        except EdgekdError:
            pass  # the device went away mid-run: the first error is the one to report
    if proc.returncode == 124:
        raise BackendError(f"{device.where}: the benchmark did not finish within {limit} s on the device")
    if proc.returncode == 2:
        raise InputError(f"{device.where}: the device runtime refused the artifact: {_tail(proc.stderr)}")
    if proc.returncode != 0:
        raise BackendError(f"{device.where}: the benchmark failed on the device (exit {proc.returncode}): "
                           f"{_tail(proc.stderr)}")
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if not isinstance(result, dict):
            raise ValueError("not an object")
    except (IndexError, ValueError):
        raise BackendError(f"{device.where}: the device printed no benchmark JSON: {_tail(proc.stdout)}") from None
    result.update(
        artifact=str(artifact),
        runner="ssh",
        estimated=False,
        emulated=False,
        device={"address": device.where, "python": info["python"], "executable": info["executable"]},
        round_trip_s=round(time.perf_counter() - t0, 3),
        method=(f"measured on the device {device.where} over ssh with its own Python {info['python']} and "
                f"{result.get('runtime')} {result.get('runtime_version')}: {result.get('runs')} timed invokes after "
                f"{result.get('warmup')} warm-up, {threads} thread(s); stopped by {result.get('stopped')}"
                + ("; the front-end timed there too" if result.get("frontend") else "")),
    )
    return result
