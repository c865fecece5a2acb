"""Atomic file writes: write to a temp file beside the target, then rename.

A crash or an error never leaves a half-written artifact or report behind. A process killed outright (kill -9,
power loss) cannot remove its temp file, so the temp names say whose they are:
``.NAME.edgekd-tmp-HOST-PID-XXXXXXXX.tmp.SUFFIX`` (HOST: 8 hex digits of the host name's SHA-256; PID: the
writer's process id). The next write into that folder removes the temp files of writers that are gone
(``clear_stale_temps``): on this host, a PID no longer running; from another host (a shared folder), a file
untouched for a day. Files of edgekd versions before these names (``.NAME.XXXXXXXX.tmp.SUFFIX``) are removed
once untouched for a minute. Nothing else in the folder is touched.

Scratch folders of exports (``temp_dir``, in ``$TMPDIR``) are named the same way,
``edgekd-WHAT.edgekd-tmp-HOST-PID-XXXXXXXX``, and the next one made removes those of writers that are gone
(real folders owned by this user only; a link of that name is left alone).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path in the target's folder; rename it over ``path`` on success.

    Use it for writers that insist on a path (exporters): on any exception the
    temp file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    if path.is_dir():  # say so before any work, naming the target (not the temp file)
        import errno

        raise IsADirectoryError(errno.EISDIR, "a folder; give a file path", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_temps(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{TEMP_MARK}-{_host_tag()}-{os.getpid()}-",
                               suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the result should get the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


TEMP_MARK = "edgekd-tmp"
# mkstemp's random part: 8 of [a-z0-9_]; an exporter may add ``.data`` (ONNX external weights) to the temp name
_OURS = re.compile(r"^\..+\." + TEMP_MARK + r"-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?"
                   r"(\.data)?$")
_LEGACY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?(\.data)?$")
OTHER_HOST_AGE_S = 24 * 3600.0
LEGACY_AGE_S = 60.0


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process (or cannot tell): keep its file
    return True


def is_stale_temp(path: Path, *, now: float | None = None) -> bool:
    """Whether ``path`` is a temp file of an edgekd writer that is gone (see the module's docstring)."""
    name = path.name
    ours, legacy = _OURS.match(name), None
    if ours is None:
        legacy = _LEGACY.match(name)
        if legacy is None:
            return False
    try:
        st = path.lstat()
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):  # a folder, link or FIFO of that name is not ours
        return False
    age = (time.time() if now is None else now) - st.st_mtime
    if ours is None:
        return age > LEGACY_AGE_S
    return _stale(ours["host"], int(ours["pid"]), st.st_mtime)


def clear_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temp files that killed edgekd writers left in ``folder``; return what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(".") or ".tmp" not in entry.name:
            continue
        p = Path(entry.path)
        if is_stale_temp(p):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


_OURS_DIR = re.compile(r"^edgekd-[A-Za-z0-9_-]+\." + TEMP_MARK + r"-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[a-z0-9_]{8}$")


def _stale(host: str, pid: int, mtime: float) -> bool:
    if host != _host_tag():
        return time.time() - mtime > OTHER_HOST_AGE_S
    return not _running(pid)


def clear_stale_temp_dirs(base: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the scratch folders (``temp_dir``) that killed edgekd processes left in ``base`` ($TMPDIR)."""
    base = Path(tempfile.gettempdir() if base is None else base)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        m = _OURS_DIR.match(entry.name)
        if m is None:
            continue
        try:
            st = os.lstat(entry.path)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():  # a link or another user's: not ours to clear
            continue
        if _stale(m["host"], int(m["pid"]), st.st_mtime):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def temp_dir(what: str) -> Iterator[Path]:
    """A private scratch folder in $TMPDIR for one export step, removed afterwards (as
    ``tempfile.TemporaryDirectory``), named so that the next call clears it if this process is killed."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", what):
        raise ValueError(f"temp_dir: {what!r} is not a plain name")
    clear_stale_temp_dirs()
    folder = Path(tempfile.mkdtemp(prefix=f"edgekd-{what}.{TEMP_MARK}-{_host_tag()}-{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
