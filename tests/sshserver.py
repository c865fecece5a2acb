"""A loopback OpenSSH server for the ssh runner's tests and benchmarks: key-only, its own config, a free port.

    with sshd(folder) as server:   # {"dir": folder, "port": ...}; user key and pinned known_hosts in the folder
        ...

Needs Debian's openssh-server and client (``make sshd-deps``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

SSHD = Path("/usr/sbin/sshd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgekd-test", "-f", str(path)],
                   check=True, capture_output=True)


def _wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"sshd did not listen on {port} within {seconds} s")


@contextlib.contextmanager
def sshd(d: Path) -> Iterator[dict]:
    """Start sshd on 127.0.0.1 with keys in ``d`` (``user_key``, ``known_hosts`` pinning its host key); stop it after."""
    d.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "user_key"):
        if not (d / name).is_file():
            keygen(d / name)
    (d / "authorized_keys").write_text((d / "user_key.pub").read_text())
    port = free_port()
    pub = (d / "host_key.pub").read_text().split()[:2]
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(pub)}\n")
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
        "StrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n"  # scp speaks SFTP
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege-separation dir sshd needs as root
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, proc)
        yield {"dir": d, "port": port}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
