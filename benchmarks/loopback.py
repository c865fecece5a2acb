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
import sys
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
DEVICE_PYTHON = ROOT / ".venv-device" / "bin" / "python"
sys.path.insert(0, str(ROOT / "tests"))
from sshserver import SSHD, sshd  # noqa: E402  (the tests' loopback sshd)


@contextlib.contextmanager
def loopback_profile(folder: Path, name: str = "loopback", threads: int = 1) -> Iterator[Path]:
    """Start sshd (``tests/sshserver.py``), yield the path of a profile (``FOLDER/NAME.yaml``) measuring over it."""
    if not SSHD.is_file() or not DEVICE_PYTHON.is_file():
        raise SystemExit(f"needs {SSHD} (make sshd-deps) and {DEVICE_PYTHON} (make device-env)")
    workdir = folder / "remote"
    workdir.mkdir(parents=True, exist_ok=True)
    with sshd(folder / "sshd") as server:
        d = server["dir"]
        profile = {"name": name, "description": "this machine over a loopback ssh, with the device venv's Python",
                   "arch": "x86_64", "formats": ["tflite", "onnx"], "precisions": ["fp32", "int8"], "threads": threads,
                   "runtime": {"tflite": "tflite-runtime", "onnx": "onnxruntime"},
                   "runner": {"kind": "ssh", "host": "127.0.0.1", "port": server["port"], "user": getpass.getuser(),
                              "key": str(d / "user_key"), "known_hosts": str(d / "known_hosts"),
                              "python": str(DEVICE_PYTHON), "workdir": str(workdir), "connect_timeout_s": 10}}
        path = folder / f"{name}.yaml"
        path.write_text(json.dumps(profile, indent=1))  # JSON is YAML
        yield path
