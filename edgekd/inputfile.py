"""Opening the files a user points edgekd at: regular files only, and malformed content as one clear message.

Why: a FIFO, a socket or a device given as ``--features``, a report or a recipe blocks forever on ``open`` (a
FIFO with no writer) or never ends (``/dev/zero``), and a deeply nested JSON file raises ``RecursionError``
deep inside a reader. Every input file is therefore checked here before it is opened: one ``InputError``
(exit 2) naming the file and what is wrong, never a hang or a traceback.

- ``regular_file(path, what)``: the path, after checking it is an existing regular file (symlinks followed),
  for readers that insist on a path (numpy, Pillow, ``wave``);
- ``read_bytes`` / ``read_text``: the content, opened without blocking and checked on the open descriptor (a
  file swapped for a FIFO between the check and the open is still refused);
- ``read_json``: parsed JSON, any nesting deeper than ``MAX_JSON_DEPTH`` refused (real edgekd files stay
  under 12 levels; much deeper ones make recursive readers such as JSON Schema validation overflow).

Standard library only: the device runtime and the light core use it.
"""

from __future__ import annotations

import json
import re
import os
import stat
from pathlib import Path
from typing import Any

from edgekd.errors import InputError

#: deepest JSON nesting accepted in an input file (report.json, sidecars and golden.json use fewer than 12)
MAX_JSON_DEPTH = 64


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _refuse(path: Path, mode: int, what: str) -> InputError:
    if stat.S_ISDIR(mode):
        return InputError(f"{path}: a folder, not a {what} file")
    return InputError(f"{path}: {_kind(mode)}, not a regular file: the {what} file must be a regular file (reading "
                      "a pipe or a device could block forever)")


def regular_file(path: str | os.PathLike[str], what: str = "input") -> Path:
    """``path`` as a ``Path``, after checking that it names an existing regular file (symlinks followed).

    Args:
        path: the file the user gave.
        what: what it is, for the message (``"--features"``, ``"sidecar"``, ``"report"``).

    Raises:
        InputError: it does not exist, cannot be looked at, is a folder, or is a FIFO, socket or device.
    """
    p = Path(path)
    mode = _mode(p, f"{p}: {what} file not found", f"{p}: cannot read the {what} file")
    if not stat.S_ISREG(mode):
        raise _refuse(p, mode, what)
    return p


def existing_folder(path: str | os.PathLike[str], what: str = "") -> Path:
    """``path`` as a ``Path``, after checking that it names an existing folder (symlinks followed).

    Args:
        path: the folder the user gave.
        what: where it was given (``"--data"``), put before the message when not empty.

    Raises:
        InputError: it does not exist, cannot be looked at, or is a file, a FIFO, a socket or a device (named by
            its kind: ``--data: pipe: a FIFO (named pipe), not a folder``).
    """
    p = Path(path)
    where = f"{what}: {p}" if what else str(p)
    mode = _mode(p, f"{where}: folder not found", f"{where}: cannot read the folder")
    if stat.S_ISDIR(mode):
        return p
    if stat.S_ISREG(mode):
        raise InputError(f"{where}: not a folder (a file); give the labelled folder")
    raise InputError(f"{where}: {_kind(mode)}, not a folder")


def _mode(p: Path, missing: str, unreadable: str) -> int:
    """``os.stat(p).st_mode`` (symlinks followed), or the ``InputError`` saying why it cannot be had."""
    try:
        return os.stat(p).st_mode
    except FileNotFoundError:
        raise InputError(missing) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise InputError(f"{unreadable} ({getattr(exc, 'strerror', None) or exc})") from None


def read_bytes(path: str | os.PathLike[str], what: str = "input") -> bytes:
    """The bytes of a regular file, opened without blocking and checked on the open descriptor.

    Raises:
        InputError: as ``regular_file``, or the file cannot be read.
    """
    p = regular_file(path, what)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise InputError(f"{p}: cannot read the {what} file ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped between the check and the open
            raise _refuse(p, mode, what)
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            return f.read()
    except OSError as exc:
        raise InputError(f"{p}: cannot read the {what} file ({exc.strerror or exc})") from None
    finally:
        if fd >= 0:
            os.close(fd)


def read_text(path: str | os.PathLike[str], what: str = "input") -> str:
    """The UTF-8 text of a regular file (see ``read_bytes``).

    Raises:
        InputError: as ``read_bytes``, or the bytes are not UTF-8 (naming the first bad byte).
    """
    data = read_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: the {what} file is not UTF-8 text (byte {exc.start})") from None


def json_depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (a scalar: 0), computed without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))
    return deepest


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def bracket_depth(text: str) -> int:
    """How deeply the brackets of JSON ``text`` nest, strings skipped, without parsing it (no recursion).

    Checked before ``json.loads``: its C scanner recurses once per level, and where a caller has raised the
    recursion limit (torch does) 100,000 levels overflow the C stack and kill the process instead of raising.
    """
    depth = deepest = 0
    for ch in _JSON_STRING.sub("", text):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(text: str | bytes, where: Any, what: str = "input") -> Any:
    """``text`` parsed as JSON, or one ``InputError`` naming ``where``: not JSON, a number too long to convert,
    or nested deeper than ``MAX_JSON_DEPTH``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{where}: the {what} file is not UTF-8 text (byte {exc.start})") from None
    depth = bracket_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise InputError(f"{where}: the {what} file nests JSON {depth} levels deep (at most {MAX_JSON_DEPTH}): "
                         "not an edgekd file")
    try:
        value = json.loads(text)
    except RecursionError:
        raise InputError(f"{where}: the {what} file nests JSON too deeply to read (over {MAX_JSON_DEPTH} "
                         "levels)") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: the {what} file is not UTF-8 text (byte {exc.start})") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of more digits than Python converts
        raise InputError(f"{where}: the {what} file is not readable JSON ({exc})") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise InputError(f"{where}: the {what} file nests JSON {json_depth(value)} levels deep (at most "
                         f"{MAX_JSON_DEPTH}): not an edgekd file")
    return value


def read_json(path: str | os.PathLike[str], what: str = "input") -> Any:
    """A regular file's content parsed as JSON (see ``read_bytes`` and ``parse_json``)."""
    return parse_json(read_text(path, what), path, what)


def read_cache_json(path: str | os.PathLike[str], kind: type = dict) -> Any:
    """A cache entry edgekd wrote earlier, or ``None`` when it is missing, damaged (truncated by a kill, garbage)
    or not a ``kind``: a cache is recomputed, never trusted and never a traceback.

    >>> read_cache_json("/nonexistent/cache.json") is None
    True
    """
    try:
        value = read_json(path, "cache entry")
    except (InputError, OSError):
        return None
    return value if isinstance(value, kind) else None
