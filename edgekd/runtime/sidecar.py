"""The ``X.edgekd.json`` sidecar that travels with every artifact ``X.tflite`` / ``X.onnx``.

The sidecar records what the artifact is (recipe, precision, I/O description,
label names, ...) so a device can evaluate or benchmark it without the training
toolchain. This module is stdlib-only: it runs on the device too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edgekd.atomic import write_text
from edgekd.errors import InputError

SCHEMA = "edgekd.artifact/1"


def sidecar_path(artifact: str | os.PathLike[str]) -> Path:
    """Return the sidecar path of ``artifact``: ``model.tflite`` → ``model.edgekd.json``.

    Args:
        artifact: path of the ``.tflite`` / ``.onnx`` file (need not exist).

    Returns:
        The sidecar's path, in the artifact's folder.
    """
    return Path(artifact).with_suffix(".edgekd.json")


def read_sidecar(artifact: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check the sidecar of ``artifact``.

    Args:
        artifact: path of the artifact (not of the sidecar).

    Returns:
        The sidecar's JSON object, including its ``"schema"`` key.

    Raises:
        InputError: the sidecar is missing, is not a JSON object, or has another schema.
    """
    path = sidecar_path(artifact)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: sidecar not found (every artifact needs one)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: sidecar is not readable JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        found = meta.get("schema") if isinstance(meta, dict) else type(meta).__name__
        raise InputError(f"{path}: sidecar schema is {found!r}, expected {SCHEMA!r}")
    return meta


def write_sidecar(artifact: str | os.PathLike[str], meta: dict[str, Any]) -> Path:
    """Write the sidecar of ``artifact`` atomically (temp file + rename).

    ``edgekd.atomic`` is not used on purpose: ``edgekd.runtime`` depends only on
    the stdlib, numpy and ``edgekd.errors``.

    Args:
        artifact: path of the artifact the sidecar describes.
        meta: JSON-serialisable metadata; ``"schema"`` is set to ``SCHEMA``.

    Returns:
        The sidecar's path.
    """
    path = sidecar_path(artifact)
    doc = {"schema": SCHEMA, **{k: v for k, v in meta.items() if k != "schema"}}
    text = json.dumps(doc, indent=2) + "\n"
    write_text(path, text)
    return path
