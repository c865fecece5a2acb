"""The ``X.edgekd.json`` sidecar that travels with every artifact ``X.tflite`` / ``X.onnx``.

The sidecar is the device contract: complete enough for someone else to implement
the front-end and read the output in another language. Schema ``edgekd.artifact/2``
(published as ``sidecar.schema.json`` beside this module) carries the front-end as an
ordered list of named steps with every parameter (``frontend.steps``, executed by
``edgekd.runtime.steps``), the input quantization and its rounding rule, the output
semantics (logits, label order, positive class index, aggregation over windows,
decision threshold and its rule) and the versions that made it. Sidecars of schema
``edgekd.artifact/1`` (front-end settings only) are still read. Stdlib-only: it runs on
the device too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edgekd.atomic import write_text
from edgekd.errors import InputError

SCHEMA = "edgekd.artifact/2"
SCHEMAS = ("edgekd.artifact/1", "edgekd.artifact/2")  # what read_sidecar accepts
SCHEMA_FILE = Path(__file__).with_name("sidecar.schema.json")


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
    if not Path(artifact).is_file():
        raise InputError(f"{artifact}: artifact not found")
    path = sidecar_path(artifact)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: sidecar not found (every artifact needs one)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: sidecar is not readable JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("schema") not in SCHEMAS:
        found = meta.get("schema") if isinstance(meta, dict) else type(meta).__name__
        raise InputError(f"{path}: sidecar schema is {found!r}; this edgekd reads {' and '.join(SCHEMAS)} "
                         "(a newer edgekd wrote it?)")
    check_sidecar(meta, path)
    return meta


def check_sidecar(meta: dict[str, Any], where: Any) -> None:
    """The fields a device reads, typed and in range (one ``InputError`` naming the sidecar and the field).

    ``labels``: at least two distinct class names; ``positive``: one of them or null; ``frontend``: a
    mapping; ``aggregation``: a string or null; ``decision.threshold``: a probability in [0, 1].
    """
    import math

    def bad(field: str, why: str) -> InputError:
        return InputError(f"{where}: sidecar field '{field}' {why}")

    labels = meta.get("labels")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(v, str) and v for v in labels):
        raise bad("labels", f"must list at least two class names, got {labels!r}")
    if len(set(labels)) != len(labels):
        raise bad("labels", f"names a class twice: {labels}")
    positive = meta.get("positive")
    if positive is not None and positive not in labels:
        raise bad("positive", f"is {positive!r}, which is not one of the labels {labels}")
    for field in ("task", "name", "format", "precision", "target", "backend"):
        if meta.get(field) is not None and not isinstance(meta[field], str):
            raise bad(field, f"must be a name, got {meta[field]!r}")
    if not isinstance(meta.get("frontend"), dict):
        raise bad("frontend", "is missing or not a mapping: the device cannot compute the model's input")
    steps = meta["frontend"].get("steps")
    if steps is not None and (not isinstance(steps, list) or not all(
            isinstance(s, dict) and isinstance(s.get("step"), str) for s in steps)):
        raise bad("frontend.steps", "must be a list of {step: name, ...parameters}")
    if meta.get("aggregation") is not None and not isinstance(meta["aggregation"], str):
        raise bad("aggregation", f"must be a name, got {meta['aggregation']!r}")
    decision = meta.get("decision")
    if decision is not None:
        if not isinstance(decision, dict):
            raise bad("decision", f"must be a mapping, got {decision!r}")
        t = decision.get("threshold")
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0.0 <= t <= 1.0:
            raise bad("decision.threshold", f"must be a probability in [0, 1], got {t!r}")


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
