"""The arm64 Debian root the emulated runner executes in: where it lives, how it is built, whether it is ready.

Built once (``make arm64-root`` → ``python -m edgekd.runners.emulated_root build``)
and cached outside the repo: Debian ``debootstrap --arch=arm64 --foreign`` (minbase
+ python3, bookworm: Python 3.11), the second stage run in a chroot through
qemu-user + binfmt_misc, then the aarch64 cp311 wheels of ``requirements/arm64-root.lock``
(numpy, ai-edge-litert, onnxruntime and their dependencies) installed into its
``/usr/local/lib/python3.11/dist-packages``. A copy of ``qemu-aarch64-static`` is put
into the root's ``/usr/bin`` so runs can start it directly (``chroot ROOT
/usr/bin/qemu-aarch64-static /usr/bin/python3 ...``) without depending on a
binfmt_misc registration that a container restart drops.

Every step is skipped when already done: the base system is built in ``ROOT.partial``
and renamed into place, the wheels are installed into a temporary folder and swapped
in, and the stamp ``ROOT/.edgekd-arm64-root.json`` records the lock's hash and the
versions a smoke import reported. The root build needs root privileges (debootstrap,
chroot, binfmt_misc) and Debian's package mirror; about 6 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from edgekd.errors import BackendError, InputError

ENV_VAR = "EDGEKD_ARM64_ROOT"
STAMP_NAME = ".edgekd-arm64-root.json"
SUITE = "bookworm"  # python3 is 3.11 there, matching the cp311 wheels
MIRROR = "http://deb.debian.org/debian"
HOST_PACKAGES = ("qemu-user-static", "debootstrap", "binfmt-support")
QEMU = "qemu-aarch64-static"
SITE = "usr/local/lib/python3.11/dist-packages"
# pip cannot guess the platforms a wheel fits: every tag the runtimes publish is spelled out.
PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")
REPO_LOCK = Path(__file__).resolve().parents[2] / "requirements" / "arm64-root.lock"
SMOKE = (
    "import json, numpy, importlib.metadata as m, ai_edge_litert.interpreter, onnxruntime, platform; "
    "print(json.dumps({'machine': platform.machine(), 'python': platform.python_version(), "
    "'numpy': numpy.__version__, 'ai-edge-litert': m.version('ai-edge-litert'), "
    "'onnxruntime': onnxruntime.__version__}))"
)


def default_root() -> Path:
    """``$XDG_CACHE_HOME/edgekd/arm64-root`` (``~/.cache/edgekd/arm64-root``): outside any repo clone."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "edgekd" / "arm64-root"


def resolve_root(setting: Optional[str | os.PathLike[str]] = None) -> Path:
    """Where the root is: ``$EDGEKD_ARM64_ROOT``, else the profile's runner setting, else ``default_root()``.

    The environment wins so one machine can point every profile at its own cache.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    if setting:
        return Path(setting).expanduser()
    return default_root()


def read_stamp(root: Path) -> Optional[dict[str, Any]]:
    """The stamp of a finished root (lock hash, versions), or ``None`` when the root is not ready."""
    try:
        stamp = json.loads((root / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def check_ready(root: Path) -> dict[str, Any]:
    """Make sure ``root`` can run artifacts; return its stamp.

    Raises:
        InputError: the root was never built (says to run ``make arm64-root``),
            or qemu is missing from it.
        BackendError: this process cannot chroot (not root).
    """
    hint = f"run `make arm64-root` (or `python -m edgekd.runners.emulated_root build --root {root}`)"
    if not (root / "usr" / "bin" / "python3").exists():
        raise InputError(f"emulated aarch64 root {root} does not exist or has no python3: {hint}")
    stamp = read_stamp(root)
    if stamp is None:
        raise InputError(f"emulated aarch64 root {root} is incomplete (no {STAMP_NAME}): {hint}")
    if not (root / "usr" / "bin" / QEMU).is_file():
        raise InputError(f"{root}/usr/bin/{QEMU} is missing (qemu-user-static not copied into the root): {hint}")
    if os.geteuid() != 0:
        raise BackendError(f"the emulated runner chroots into {root} and needs root privileges (euid {os.geteuid()})")
    return stamp


def emulated_command(root: Path, argv: Sequence[str], cpu: str = "cortex-a72") -> list[str]:
    """The host command that runs ``argv`` (an aarch64 program and its arguments) inside ``root``.

    ``chroot`` is resolved on the host's ``PATH`` (it lives in ``/usr/sbin``), so the
    command can run with the root's own minimal environment.

    Args:
        root: the arm64 root.
        argv: the program (a path inside the root) and its arguments.
        cpu: the qemu ``-cpu`` model (``edgekd.runners.emulated_cpu``).
    """
    chroot = shutil.which("chroot") or shutil.which("chroot", path="/usr/sbin:/sbin")
    if chroot is None:
        raise BackendError("chroot (coreutils) is not on this host's PATH")
    return [chroot, str(root), f"/usr/bin/{QEMU}", "-cpu", cpu, *argv]


def lock_hash(lock: Path) -> str:
    """SHA-256 of the lock's pinned lines (comments, blank lines and the files' ``--hash`` options ignored: the
    same pins give the same root, so adding or refreshing file hashes does not rebuild it)."""
    text = re.sub(r"\\\s*\n\s*", " ", lock.read_text())  # backslash continuations joined
    lines = [re.sub(r"\s+--hash=\S+", "", ln).strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def build_root(root: Path, lock: Path = REPO_LOCK, *, log=print) -> dict[str, Any]:
    """Build (or finish, or just re-check) the arm64 root; idempotent.

    Args:
        root: where the root goes (parents are created).
        lock: pinned aarch64 wheels to install.
        log: progress printer.

    Returns:
        The stamp: ``{"lock_sha256", "versions", "built"}``.

    Raises:
        InputError: not root, or the lock file is missing.
        BackendError: apt, debootstrap, pip or the smoke import failed.
    """
    if not lock.is_file():
        raise InputError(f"{lock}: aarch64 wheel lock not found")
    root = root.expanduser().resolve()
    want = lock_hash(lock)
    stamp = read_stamp(root)
    if stamp and stamp.get("lock_sha256") == want and (root / "usr" / "bin" / QEMU).is_file():
        log(f"arm64 root {root} is ready ({stamp.get('versions')})")
        return stamp
    if os.geteuid() != 0:
        raise InputError("building the arm64 root needs root privileges (debootstrap, chroot, binfmt_misc)")
    _ensure_host_packages(log)
    _ensure_binfmt(log)
    if not (root / "usr" / "bin" / "python3").exists():
        _debootstrap(root, log)
    shutil.copy2(shutil.which(QEMU) or f"/usr/bin/{QEMU}", root / "usr" / "bin" / QEMU)
    _install_wheels(root, lock, log)
    versions = _smoke(root)
    built = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stamp = {"lock_sha256": want, "versions": versions, "suite": SUITE, "built": built}
    tmp = root / (STAMP_NAME + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=2) + "\n")
    tmp.replace(root / STAMP_NAME)
    log(f"arm64 root {root} is ready ({versions})")
    return stamp


def _run(cmd: Sequence[str], what: str, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess:
    """Run a build step; a failure or timeout is a ``BackendError`` quoting the tail of its output."""
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        raise BackendError(f"{what} timed out after {timeout:.0f} s: {' '.join(cmd)}") from None
    except FileNotFoundError as exc:
        raise BackendError(f"{what}: {exc.filename} not found") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BackendError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc


def _ensure_host_packages(log) -> None:
    """apt-get install qemu-user-static, debootstrap and binfmt-support when any is missing."""
    if all(shutil.which(tool) for tool in (QEMU, "debootstrap", "update-binfmts")):
        return
    log(f"installing {' '.join(HOST_PACKAGES)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update"], "apt-get update", 600, env=env)
    _run(["apt-get", "install", "-y", "--no-install-recommends", *HOST_PACKAGES], "apt-get install", 900, env=env)


def _ensure_binfmt(log) -> None:
    """Mount binfmt_misc and enable the qemu-aarch64 handler (needed by the chrooted debootstrap stage)."""
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "status").exists():
        log("mounting binfmt_misc")
        _run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)], "mounting binfmt_misc", 30)
    if not (binfmt / "qemu-aarch64").exists():
        log("enabling the qemu-aarch64 binfmt handler")
        _run(["update-binfmts", "--enable", "qemu-aarch64"], "update-binfmts --enable qemu-aarch64", 60)


def _debootstrap(root: Path, log) -> None:
    """Both debootstrap stages in ``ROOT.partial``, then rename it to ``root`` (never a half root at ``root``)."""
    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    if root.exists():
        shutil.rmtree(root)
    log(f"debootstrap stage 1 ({SUITE} arm64 minbase + python3) into {partial}")
    _run(["debootstrap", "--arch=arm64", "--foreign", "--variant=minbase", "--include=python3", SUITE,
          str(partial), MIRROR], "debootstrap stage 1", 1800)
    log("debootstrap stage 2 in a chroot under qemu (about 6 minutes)")
    _run(["chroot", str(partial), "/debootstrap/debootstrap", "--second-stage"], "debootstrap stage 2", 3600)
    partial.rename(root)


def _install_wheels(root: Path, lock: Path, log) -> None:
    """pip-install the lock's aarch64 cp311 wheels (no deps, binary only) into the root's dist-packages."""
    site = root / SITE
    tmp = site.with_name(site.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    log(f"installing aarch64 wheels from {lock} into {site}")
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--require-hashes", "--only-binary=:all:",
          *platforms,
          "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
          "--target", str(tmp), "-r", str(lock)], "pip install of the aarch64 wheels", 1200)
    if site.exists():
        shutil.rmtree(site)
    tmp.rename(site)


def _smoke(root: Path) -> dict[str, Any]:
    """Import numpy and both runtimes inside the root under qemu; return their versions."""
    proc = _run(emulated_command(root, ["/usr/bin/python3", "-c", SMOKE]), "smoke import inside the arm64 root", 300)
    try:
        versions = json.loads(proc.stdout.strip().splitlines()[-1])
        if not isinstance(versions, dict):
            raise ValueError("not an object")
    except (IndexError, ValueError):
        raise BackendError(f"the arm64 root's smoke import printed no versions: {proc.stdout[-300:]!r}") from None
    if versions.get("machine") != "aarch64":
        raise BackendError(f"the arm64 root's python reports machine {versions.get('machine')!r}, not aarch64")
    return versions


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m edgekd.runners.emulated_root build [--root DIR] [--lock FILE]`` or ``where``."""
    parser = argparse.ArgumentParser(prog="python -m edgekd.runners.emulated_root", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["build", "where"])
    parser.add_argument("--root", default=None, help=f"root folder (default: ${ENV_VAR} or {default_root()})")
    parser.add_argument("--lock", default=str(REPO_LOCK), help="pinned aarch64 wheels")
    args = parser.parse_args(argv)
    root = resolve_root(args.root) if args.root is None else Path(args.root)
    if args.action == "where":
        print(root)
        return 0
    try:
        build_root(root, Path(args.lock))
    except (InputError, BackendError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
