"""SHA-256 of files: what data hashes, reports (the file measured) and golden vectors (the file they belong to)
record. Standard library only, so the device runtime and the light core use it too."""

from __future__ import annotations

import hashlib
import os

from edgekd.errors import InputError


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks.

    Raises:
        InputError: the file cannot be read (missing, permissions, a folder), naming it.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile(delete=False) as f:
        ...     _ = f.write(b"abc")
        >>> file_sha256(f.name)[:16]
        'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise InputError(f"{os.fspath(path)}: cannot read the file ({exc.strerror or exc})") from None
    return h.hexdigest()
