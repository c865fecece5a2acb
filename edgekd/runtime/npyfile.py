"""Reading a user's ``.npy`` file: one plain numeric array, or one ``InputError`` naming the file.

Why: ``np.load`` turns a malformed file into many exception types (``EOFError`` for an empty file, a
tokenizer error for a garbage header, ``MemoryError`` for a header declaring 10^12 elements, ``ValueError``
for a header too long to parse safely), and some of them escaped as internal errors (exit 3). Here the header
is read and checked first (format version, dtype without Python objects, a shape whose bytes the file really
holds), then the data is loaded without unpickling anything. A FIFO or device is refused before it is opened.

numpy only: it runs on the device too.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from edgekd.errors import InputError
from edgekd.inputfile import regular_file


def _header(f: Any) -> tuple[tuple, Any, int]:
    """``(shape, dtype, data offset)`` of an open ``.npy`` file; any malformation raises (caught by the caller)."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(f)
    else:
        raise ValueError(f"format version {version[0]}.{version[1]} (this edgekd reads 1.0 and 2.0)")
    return shape, dtype, f.tell()


def read_npy(path: str | os.PathLike[str], what: str = "array") -> np.ndarray:
    """The one array of the ``.npy`` file ``path``, checked before its data is read.

    Args:
        path: the file.
        what: what it is, for the message (``"--features"``, ``"golden file"``).

    Raises:
        InputError: naming the file, when it is no regular file, is empty, is not a ``.npy`` (an ``.npz``
            archive, another format), has a malformed or oversized header, holds Python objects, or is
            shorter than its header's shape says.
    """
    p = regular_file(path, what)
    size = p.stat().st_size
    if size == 0:
        raise InputError(f"{p}: the {what} file is empty (0 bytes), not a .npy array")
    try:
        with open(p, "rb") as f:
            head = f.read(6)
            f.seek(0)
            if head[:2] == b"PK":
                raise InputError(f"{p}: {what} must be one array (.npy), got an archive of several (.npz)")
            shape, dtype, offset = _header(f)
    except InputError:
        raise
    except OSError as exc:
        raise InputError(f"{p}: cannot read the {what} file ({exc.strerror or exc})") from None
    except Exception as exc:  # noqa: BLE001 - numpy's header parser raises many types on garbage; all are bad input
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"{p}: the {what} file is not a plain .npy array (malformed header: {reason})") from None
    if dtype.hasobject:
        raise InputError(f"{p}: the {what} file holds Python objects (dtype {dtype}), not numbers; edgekd never "
                         "unpickles a file")
    if any(int(d) < 0 for d in shape):
        raise InputError(f"{p}: the {what} file's header has a negative dimension in shape {list(shape)}")
    need = math.prod(int(d) for d in shape) * dtype.itemsize
    if need > size - offset:
        raise InputError(f"{p}: the {what} file is truncated: its header declares shape {list(shape)} "
                         f"({need} bytes of {dtype}) but it holds {size - offset} bytes of data")
    try:
        array = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError, MemoryError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"{p}: the {what} file is not a plain numeric .npy array ({reason})") from None
    if not isinstance(array, np.ndarray):
        raise InputError(f"{p}: {what} must be one array (.npy), got an archive of several (.npz)")
    return array
