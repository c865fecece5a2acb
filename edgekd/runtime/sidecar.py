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
from typing import Any, Mapping, Optional, Sequence

from edgekd.atomic import write_text
from edgekd.errors import InputError

SCHEMA = "edgekd.artifact/2"
SCHEMAS = ("edgekd.artifact/1", "edgekd.artifact/2")  # what read_sidecar accepts
SCHEMA_FILE = Path(__file__).with_name("sidecar.schema.json")
#: what one item of a task is called in messages and reports (anything else: "items")
ITEM_NOUNS = {"audio-classification": "recordings", "image-classification": "photos",
              "tensor-classification": "arrays", "logmel": "recordings", "image": "photos", "tensor": "arrays"}


def item_noun(task: Optional[str]) -> str:
    """``recordings`` for audio, ``photos`` for images, ``arrays`` for tensors, else ``items`` (a task name or a
    front-end kind)."""
    return ITEM_NOUNS.get(task or "", "items")


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
    from edgekd.inputfile import read_json

    path = sidecar_path(artifact)
    if not os.path.lexists(path):
        raise InputError(f"{path}: sidecar not found (every artifact needs one)")
    meta = read_json(path, "sidecar")  # a regular file of JSON nested no deeper than an edgekd file
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


def _quant_rule(q: Optional[dict], dtype: str, direction: str) -> Optional[dict]:
    if not q:
        return None
    import numpy as np

    info = np.iinfo(np.dtype(dtype)) if np.dtype(dtype).kind in "iu" else None
    rule = ("q = clip(round_half_to_even(x / scale + zero_point), qmin, qmax)" if direction == "in"
            else "x = (q - zero_point) * scale")
    return {**q, **({"qmin": int(info.min), "qmax": int(info.max)} if info is not None else {}), "rule": rule}


def contract_io(io: Mapping[str, Any], labels: Sequence[str], positive: Optional[str]) -> dict[str, Any]:
    """The sidecar's ``input``/``output``: the runtime's I/O description plus the rules a device implements.

    Input: its quantization with ``qmin``/``qmax`` and the rounding rule (float models: none). Output: it is
    **logits** (a softmax over the last axis gives probabilities), in the order of ``labels``, with the
    positive class's index, and the dequantization rule of an integer output.
    """
    inp, out = dict(io["input"]), dict(io["output"])
    inp["quantization"] = _quant_rule(inp.get("quantization"), inp["dtype"], "in")
    out["quantization"] = _quant_rule(out.get("quantization"), out["dtype"], "out")
    out.update(semantics="logits", to_probabilities="softmax over the last axis", label_order=list(labels),
               positive_index=list(labels).index(positive) if positive in labels else None)
    return {"input": inp, "output": out}


def _check_v1_io(io: Any, key: str, where: Any) -> None:
    """A schema-1 sidecar's ``input`` / ``output``: what the upgrade turns into the device's I/O rules.

    Why: schema 2 states the quantization rule with the dtype's range; without a described tensor there is
    nothing to state it from, so the sidecar is refused naming the field (exit 2), never a ``KeyError``.
    """
    import numpy as np

    def bad(why: str) -> InputError:
        return InputError(f"{where}: sidecar field '{key}' {why}; a schema-1 sidecar needs the model's {key} "
                          "(name, shape, dtype, quantization) to be upgraded: re-export the artifact")

    if io is None:
        raise bad("is missing")
    if not isinstance(io, dict):
        raise bad(f"must be a mapping, got {io!r:.80}")
    dtype = io.get("dtype")
    try:
        ok = isinstance(dtype, str) and np.dtype(dtype).kind in "biuf"
    except TypeError:
        ok = False
    if not ok:
        raise bad(f"has dtype {dtype!r:.80}, not a numeric dtype name (int8, uint8, float32, ...)")
    q = io.get("quantization")
    if q is not None and (not isinstance(q, dict) or not {"scale", "zero_point"} <= set(q)):
        raise bad(f"has quantization {q!r:.80}, not a mapping of scale and zero_point")


def upgrade_sidecar(meta: dict[str, Any], artifact: Any) -> dict[str, Any]:
    """A sidecar of schema 1 as schema 2: the front-end's step list from its settings, the I/O rules, the output
    semantics and the aggregation rule added; everything else kept. A schema-2 sidecar is returned as it is.

    Raises:
        InputError: the schema-1 front-end cannot be built (an unknown kind or setting), or its ``input`` /
            ``output`` is missing or malformed (naming the sidecar and the field).
    """
    from edgekd.runtime.frontends import frontend_of_sidecar
    from edgekd.runtime.scoring import aggregation_name

    if meta.get("schema") == SCHEMA:
        return meta
    check_sidecar(meta, artifact)
    for key in ("input", "output"):
        _check_v1_io(meta.get(key), key, sidecar_path(artifact))
    fe = frontend_of_sidecar(meta, artifact)
    how = aggregation_name(meta.get("aggregation"), artifact)
    io = contract_io({"input": meta.get("input") or {}, "output": meta.get("output") or {}}, meta["labels"],
                     meta.get("positive"))
    return {**meta, "schema": SCHEMA,
            "frontend": {"kind": fe.kind, "settings": fe.to_dict(), "steps": fe.steps() if hasattr(fe, "steps") else None},
            "aggregation": how,
            "aggregation_rule": f"an item's class probabilities are the {how} over its windows of softmax(model output)",
            **io, "upgraded_from": meta.get("schema")}
