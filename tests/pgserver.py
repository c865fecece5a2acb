"""A throw-away PostgreSQL server for tests: Debian's postgresql, a fresh cluster on a free local port.

``make postgres-deps`` installs the package. As root the server runs as the ``postgres`` user (the
server refuses to run as root); password authentication (scram-sha-256) so a wrong password is refused.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

USER, PASSWORD, DB = "edgekd", "edgekd-test-pw", "sweep"


def bin_dir() -> Optional[Path]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(cmd: list[str], env: Optional[dict] = None) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a cluster, create the database, yield its URL; stop and delete it afterwards."""
    bins = bin_dir()
    if bins is None:
        raise RuntimeError("PostgreSQL is not installed: make postgres-deps")
    root = Path(tempfile.mkdtemp(prefix="edgekd-pg-"))
    data, sock, pwfile = root / "data", root / "sock", root / "pw"
    sock.mkdir()
    pwfile.write_text(PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    try:
        r = _as_server_user([str(bins / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
                             "--auth=scram-sha-256", "-E", "UTF8"])
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stderr[-500:]}")
        r = _as_server_user([str(bins / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
                             "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1", "start"])
        if r.returncode:
            raise RuntimeError(f"pg_ctl start failed: {r.stderr[-500:]} {(root / 'log').read_text()[-500:]}")
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        deadline = time.time() + 30
        while True:
            r = subprocess.run([str(bins / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DB],
                               capture_output=True, text=True, env=env, timeout=60)
            if r.returncode == 0:
                break
            if time.time() > deadline:
                raise RuntimeError(f"createdb failed: {r.stderr}")
            time.sleep(0.5)
        yield f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/{DB}"
    finally:
        if (data / "postmaster.pid").exists():
            _as_server_user([str(bins / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)
