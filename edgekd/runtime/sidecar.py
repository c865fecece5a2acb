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
from edgekd.runtime.stepschema import IO_DTYPES, IO_LAYOUTS

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


def read_sidecar(artifact: str | os.PathLike[str], *, model: bool = True) -> dict[str, Any]:
    """Read and check the sidecar of ``artifact``: every field typed (``check_sidecar``) and, when a runtime here
    can load the artifact, the fields that describe the model equal to the model's own (``check_sidecar_fits``).

    Args:
        artifact: path of the artifact (not of the sidecar).
        model: also compare the sidecar with the model (its input, output and number of classes); an artifact no
            runtime here can load is not compared (its own load says why).

    Returns:
        The sidecar's JSON object, including its ``"schema"`` key.

    Raises:
        InputError: the artifact is not a regular file, the sidecar is missing, is not a JSON object, has
            another schema, has a field of the wrong type or out of range, or describes another model.
    """
    from edgekd.inputfile import read_json, regular_file

    if not Path(artifact).is_file():
        if os.path.lexists(artifact):  # a FIFO, socket, device or folder: refused by its kind, never opened
            regular_file(artifact, "artifact")
        raise InputError(f"{artifact}: artifact not found")

    path = sidecar_path(artifact)
    if not os.path.lexists(path):
        raise InputError(f"{path}: sidecar not found (every artifact needs one)")
    meta = read_json(path, "sidecar")  # a regular file of JSON nested no deeper than an edgekd file
    if not isinstance(meta, dict) or meta.get("schema") not in SCHEMAS:
        found = meta.get("schema") if isinstance(meta, dict) else type(meta).__name__
        raise InputError(f"{path}: sidecar schema is {found!r}; this edgekd reads {' and '.join(SCHEMAS)} "
                         "(a newer edgekd wrote it?)")
    check_sidecar(meta, path)
    if model:
        io = _model_io(Path(artifact))
        if io is not None:
            check_sidecar_fits(meta, io, path)
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
    kind = meta["frontend"].get("kind")
    if kind is not None and (not isinstance(kind, str) or not kind):
        raise bad("frontend.kind", f"must be the front-end's name, got {kind!r:.80}")
    steps = meta["frontend"].get("steps")
    if steps is not None:
        _check_steps(steps, kind, bad)
    if meta.get("aggregation") is not None and not isinstance(meta["aggregation"], str):
        raise bad("aggregation", f"must be a name, got {meta['aggregation']!r}")
    for key in ("input", "output"):
        if meta.get(key) is not None:
            _check_io(meta[key], key, bad)
    out = meta.get("output")
    if isinstance(out, dict):
        classes = (out.get("shape") or [None])[-1]
        if isinstance(classes, int) and classes != len(labels):
            raise bad("labels", f"names the wrong number of classes: the sidecar lists {len(labels)} labels "
                                f"({', '.join(labels)}) but its output.shape {out['shape']} has {classes} outputs")
        if "label_order" in out and out["label_order"] != labels:
            raise bad("output.label_order", f"is {out['label_order']!r:.120}, not the labels {labels}")
        if "positive_index" in out:
            want = labels.index(positive) if positive is not None else None
            if out["positive_index"] != want or isinstance(out["positive_index"], bool):
                raise bad("output.positive_index", f"is {out['positive_index']!r:.40}; the positive class "
                                                   f"{positive!r} is at index {want}")
    decision = meta.get("decision")
    if decision is not None:
        if not isinstance(decision, dict):
            raise bad("decision", f"must be a mapping, got {decision!r}")
        t = decision.get("threshold")
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0.0 <= t <= 1.0:
            raise bad("decision.threshold", f"must be a probability in [0, 1], got {t!r}")


#: dtype names a model's input or output may have (numeric: a device computes them)
_DTYPES = IO_DTYPES
_INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "uint16": (0, 65535),
               "int32": (-2**31, 2**31 - 1), "uint32": (0, 2**32 - 1)}
#: input layouts (channels first or last; ``null`` for other ranks)
_LAYOUTS = IO_LAYOUTS


def _number(v: Any) -> bool:
    import math

    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_io(io: Any, key: str, bad: Any) -> None:
    """``input`` / ``output``: a shape of positive sizes (null: dynamic), a numeric dtype, the input's layout, and a
    quantization of positive finite scales with whole zero points in the dtype's range (or null)."""
    if not isinstance(io, dict):
        raise bad(key, f"must be a mapping (name, shape, dtype, quantization), got {io!r:.80}")
    shape = io.get("shape")
    if not isinstance(shape, list) or not shape or not all(d is None or (_whole(d) and d > 0) for d in shape):
        raise bad(f"{key}.shape", f"must list the tensor's sizes (positive whole numbers, null for a dynamic one), "
                                  f"got {shape!r:.80}")
    dtype = io.get("dtype")
    if dtype not in _DTYPES:
        raise bad(f"{key}.dtype", f"is {dtype!r:.80}, not a dtype a model takes ({', '.join(_DTYPES)})")
    if key == "input" and "layout" in io:
        layout = io["layout"]
        if layout is not None and layout not in _LAYOUTS:
            raise bad(f"{key}.layout", f"is {layout!r:.80}, not a layout (one of {', '.join(_LAYOUTS)}, or null)")
        if layout is not None and len(layout) != len(shape):
            raise bad(f"{key}.shape", f"is {shape!r:.80} ({len(shape)} dimensions), but {key}.layout {layout!r} "
                                      f"names {len(layout)}")
    q = io.get("quantization")
    if q is None:
        return
    if not isinstance(q, dict):
        raise bad(f"{key}.quantization", f"must be a mapping of scale and zero_point, or null, got {q!r:.80}")
    scale, zero = q.get("scale"), q.get("zero_point")
    if not isinstance(scale, list) or not scale or not all(_number(v) and v > 0 for v in scale):
        raise bad(f"{key}.quantization.scale", f"must list positive finite numbers, got {scale!r:.80}")
    if not isinstance(zero, list) or len(zero) != len(scale) or not all(_whole(v) for v in zero):
        raise bad(f"{key}.quantization.zero_point", f"must list {len(scale)} whole number(s), one per scale, got "
                                                    f"{zero!r:.80}")
    lo, hi = _INT_RANGES.get(dtype, (None, None))
    for name in ("qmin", "qmax"):
        if name in q and not _whole(q[name]):
            raise bad(f"{key}.quantization.{name}", f"must be a whole number, got {q[name]!r:.80}")
    if lo is not None:
        if q.get("qmin", lo) != lo or q.get("qmax", hi) != hi:
            raise bad(f"{key}.quantization", f"has qmin {q.get('qmin')!r:.20} and qmax {q.get('qmax')!r:.20}; "
                                             f"{dtype} holds {lo} to {hi}")
        if not all(lo <= v <= hi for v in zero):
            raise bad(f"{key}.quantization.zero_point", f"is {zero!r:.80}, outside {dtype}'s range {lo} to {hi}")


def _param_fits(value: Any, prop: dict) -> bool:
    kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    tests = {"integer": _whole, "number": _number, "string": lambda v: isinstance(v, str),
             "boolean": lambda v: isinstance(v, bool), "array": lambda v: isinstance(v, list),
             "object": lambda v: isinstance(v, dict), "null": lambda v: v is None}
    return any(tests[k](value) for k in kinds)


def _check_steps(steps: Any, kind: Any, bad: Any) -> None:
    """``frontend.steps``: null (a plugin's front-end without steps) or at least one step, each a registered step
    with its parameters typed, required ones present and no other (the published ``step_NAME`` definitions); a
    step this runtime does not know only in a plugin's front-end (``_builtin_kind``)."""
    from edgekd.runtime.stepschema import step_definition
    from edgekd.runtime.steps import CHOICES, RUN_OPTIONS, STEPS

    if not isinstance(steps, list) or not all(isinstance(s, dict) and isinstance(s.get("step"), str) for s in steps):
        raise bad("frontend.steps", "must be a list of {step: name, ...parameters}")
    if not steps:
        raise bad("frontend.steps", "is empty: list the front-end's steps (or null for a plugin's front-end that "
                                    "has none)")
    for i, st in enumerate(steps):
        name = st["step"]
        if name not in STEPS and _builtin_kind(kind):
            raise bad(f"frontend.steps[{i}]", f"uses step {name!r:.80}, which this runtime does not know (it knows "
                                              f"{', '.join(sorted(STEPS))}); a newer edgekd or the plugin that adds "
                                              "it can run it")
        if name not in STEPS:
            continue
        definition = step_definition(name)
        props, required = definition["properties"], definition["required"]
        for pname, value in st.items():
            if pname == "step" or pname in RUN_OPTIONS[name]:
                continue
            if pname not in props:
                raise bad(f"frontend.steps[{i}].{pname}", f"is not a parameter of step '{name}' (it takes "
                                                          f"{', '.join(k for k in props if k != 'step') or 'none'})")
            allowed = CHOICES[name].get(pname)
            if allowed is not None and not any(value == a and type(value) is type(a) for a in allowed):
                raise bad(f"frontend.steps[{i}].{pname}", f"of step '{name}': {pname} {value!r:.80} is not "
                                                          f"implemented here (this runtime does "
                                                          f"{', '.join(map(repr, allowed))})")
            if not _param_fits(value, props[pname]):
                raise bad(f"frontend.steps[{i}].{pname}", f"of step '{name}' must be {props[pname]['type']}, got "
                                                          f"{value!r:.80}")
        missing = [k for k in required if k not in st]
        if missing:
            raise bad(f"frontend.steps[{i}]", f"(step '{name}') lacks its parameter {missing[0]!r}")


def _builtin_kind(kind: Any) -> bool:
    """Whether ``kind`` names a built-in front-end (or none: the task's), whose steps are all built-in steps. A
    plugin's front-end may list its own steps: the plugin runs them, and where it is not installed
    ``frontend_of_sidecar`` refuses them by name."""
    from edgekd.runtime.frontend import AudioFrontend
    from edgekd.runtime.image import ImageFrontend
    from edgekd.runtime.tensor import TensorFrontend

    return not isinstance(kind, str) or kind in (AudioFrontend.kind, ImageFrontend.kind, TensorFrontend.kind)


#: the artifacts' I/O already read here: (path, device, inode, size, mtime) -> {"input", "output"}
_IO_CACHE: dict[tuple, dict[str, Any]] = {}


def _model_io(artifact: Path) -> Optional[dict[str, Any]]:
    """The model's own input and output (as ``Artifact.input`` / ``.output``), or None when no runtime here loads
    it (its own load, later, says why)."""
    try:
        st = artifact.stat()
    except OSError:
        return None
    key = (str(artifact.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _IO_CACHE:
        from edgekd.runtime.artifact import load_artifact

        try:
            art = load_artifact(artifact, threads=1)
        except InputError:
            return None
        _IO_CACHE.clear()  # one at a time is what a command reads again
        _IO_CACHE[key] = {"input": dict(art.input), "output": dict(art.output)}
    return _IO_CACHE[key]


def check_sidecar_fits(meta: dict[str, Any], io: Mapping[str, Any], where: Any) -> None:
    """The sidecar describes this model: its ``input`` / ``output`` (shape, dtype, layout, quantization) are the
    model's own, and ``labels`` names one class per output.

    Why: a device computes the model input from the sidecar alone; a sidecar that says another shape, dtype, layout
    or scale makes it feed the model something else, and another label count names the wrong classes.

    Args:
        meta: a sidecar that passed ``check_sidecar``.
        io: ``{"input": Artifact.input, "output": Artifact.output}`` of the loaded artifact.
        where: the sidecar, for the message.

    Raises:
        InputError: naming the sidecar and the first field that differs from the model.
    """
    def bad(field: str, why: str) -> InputError:
        return InputError(f"{where}: sidecar field '{field}' {why}: the sidecar does not describe this model")

    labels = meta["labels"]
    classes = (io["output"].get("shape") or [None])[-1]
    if isinstance(classes, int) and classes != len(labels):
        raise bad("labels", f"names the wrong number of classes: the sidecar lists {len(labels)} labels "
                            f"({', '.join(labels)}) but the model has {classes} outputs")
    for key in ("input", "output"):
        mine, model = meta.get(key), io[key]
        if not isinstance(mine, dict):
            continue  # schema 1 without it: nothing to compare
        for field in ("shape", "dtype") + (("layout",) if key == "input" else ()):
            if field in mine and mine[field] != model.get(field):
                raise bad(f"{key}.{field}", f"is {mine[field]!r:.80}; the model's is {model.get(field)!r}")
        if "quantization" in mine and not _same_quantization(mine["quantization"], model.get("quantization")):
            got = None if mine["quantization"] is None else {k: mine["quantization"].get(k)
                                                              for k in ("scale", "zero_point")}
            raise bad(f"{key}.quantization", f"is {got!r:.120}; the model's is {model.get('quantization')!r:.120}")


def _same_quantization(mine: Any, model: Any) -> bool:
    if mine is None or model is None:
        return mine is None and model is None
    scale, zero = mine["scale"], mine["zero_point"]
    return (len(scale) == len(model["scale"]) and list(zero) == list(model["zero_point"])
            and all(abs(a - b) <= 1e-6 * abs(b) for a, b in zip(scale, model["scale"])))


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
