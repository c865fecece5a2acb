"""A loopback "device" for benchmarks: sshd on 127.0.0.1 (key-only, its own config and a random port) and a
target profile whose ssh runner reaches it with the device venv's Python (``.venv-device``: numpy<2,
tflite-runtime 2.14 and onnxruntime, like a Raspberry Pi's).

    with loopback_profile(tmp) as profile_path:
        edgekd.bench(artifact, str(profile_path))

Needs Debian's openssh-server and client (``make sshd-deps``) and the device venv (``make device-env``).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
DEVICE_PYTHON = ROOT / ".venv-device" / "bin" / "python"
SSHD = Path("/usr/sbin/sshd")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgekd-bench", "-f", str(path)],
                   check=True, capture_output=True)


@contextlib.contextmanager
def loopback_profile(folder: Path, name: str = "loopback", threads: int = 1) -> Iterator[Path]:
    """Start sshd, yield the path of a profile (``FOLDER/NAME.yaml``) measuring over it; stop sshd after."""
    if not SSHD.is_file() or not DEVICE_PYTHON.is_file():
        raise SystemExit(f"needs {SSHD} (make sshd-deps) and {DEVICE_PYTHON} (make device-env)")
    d = folder / "sshd"
    d.mkdir(parents=True, exist_ok=True)
    for key in ("host_key", "user_key"):
        if not (d / key).is_file():
            _keygen(d / key)
    (d / "authorized_keys").write_text((d / "user_key.pub").read_text())
    port = _free_port()
    pub = (d / "host_key.pub").read_text().split()[:2]
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(pub)}\n")
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
        "StrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n")  # scp speaks SFTP
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    workdir = folder / "remote"
    workdir.mkdir(exist_ok=True)
    profile = {"name": name, "description": "this machine over a loopback ssh, with the device venv's Python",
               "arch": "x86_64", "formats": ["tflite", "onnx"], "precisions": ["fp32", "int8"], "threads": threads,
               "runtime": {"tflite": "tflite-runtime", "onnx": "onnxruntime"},
               "runner": {"kind": "ssh", "host": "127.0.0.1", "port": port, "user": getpass.getuser(),
                          "key": str(d / "user_key"), "known_hosts": str(d / "known_hosts"),
                          "python": str(DEVICE_PYTHON), "workdir": str(workdir), "connect_timeout_s": 10}}
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(profile, indent=1))  # JSON is YAML
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not listen on {port}") from None
                time.sleep(0.1)
        yield path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
