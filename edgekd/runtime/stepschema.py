"""The sidecar's JSON Schema and its step reference, generated from the registered steps.

Each step of ``edgekd.runtime.steps`` is published as a schema definition: its parameters (type, default,
the values implemented as ``enum``), the parameters it requires, and its docstring, which is the step's spec.
The generated files are committed; a test fails when they differ from what the code would generate, so the
published spec cannot drift from the code that runs it:

- ``edgekd/runtime/sidecar.schema.json`` (in the package) and ``docs/schemas/artifact-2.schema.json``;
- ``docs/sidecar-v2.md``: the same, as a reference to implement from.

Regenerate after changing a step: ``python -m edgekd.runtime.stepschema --write`` (``--check`` exits 1 when
a file is stale).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

#: dtype names a model's input or output may have (numeric: a device computes them); check_sidecar accepts these
IO_DTYPES = ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16", "float32",
             "float64")
#: input layouts (channels first or last; ``null`` for other ranks)
IO_LAYOUTS = ("NCHW", "NHWC", "NCW", "NWC")
PACKAGE_SCHEMA = Path(__file__).with_name("sidecar.schema.json")
ROOT = Path(__file__).resolve().parent.parent.parent
DOCS_SCHEMA = ROOT / "docs" / "schemas" / "artifact-2.schema.json"
DOCS_MARKDOWN = ROOT / "docs" / "sidecar-v2.md"

_JSON_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}


def _json_type(annotation: str) -> list[str]:
    optional = annotation.startswith("Optional[")
    inner = annotation[len("Optional["):-1] if optional else annotation
    if inner in _JSON_TYPES:
        kinds = [_JSON_TYPES[inner]]
    elif inner.startswith("Sequence"):
        kinds = ["array"]
    elif inner.startswith("Mapping"):
        kinds = ["object"]
    else:
        raise ValueError(f"no JSON type for the step parameter annotation {annotation!r}")
    return kinds + (["null"] if optional else [])


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def doc_of(fn: Any) -> str:
    """A step's docstring as one paragraph."""
    return " ".join(inspect.getdoc(fn).split())


def step_definition(name: str) -> dict[str, Any]:
    """The JSON Schema of one registered step."""
    from edgekd.runtime.steps import CHOICES, RUN_OPTIONS, STEPS

    fn = STEPS[name]
    props: dict[str, Any] = {"step": {"const": name}}
    required = ["step"]
    for pname, par in list(inspect.signature(fn).parameters.items())[1:]:  # the first is the step's input
        if pname in RUN_OPTIONS[name]:
            continue
        kinds = _json_type(str(par.annotation))
        prop: dict[str, Any] = {"type": kinds[0] if len(kinds) == 1 else kinds}
        if pname in CHOICES[name]:
            prop["enum"] = list(CHOICES[name][pname])
        if par.default is inspect.Parameter.empty:
            required.append(pname)
        else:
            prop["default"] = _jsonable(par.default)
        props[pname] = prop
    return {"type": "object", "description": doc_of(fn), "properties": props, "required": required,
            "additionalProperties": False}


def sidecar_schema() -> dict[str, Any]:
    """The sidecar schema with every built-in step's definition (a plugin's step is checked for its name only)."""
    from edgekd.runtime.steps import STEPS

    base = json.loads(PACKAGE_SCHEMA.read_text(encoding="utf-8"))
    defs = {k: v for k, v in base["$defs"].items() if not k.startswith("step_")}
    names = sorted(STEPS, key=list(STEPS).index)
    defs["step"] = {
        "type": "object", "required": ["step"], "properties": {"step": {"type": "string", "minLength": 1}},
        "description": "one front-end step: its name and every parameter that changes its output. A built-in "
                       "step must match its definition (step_NAME); a plugin's step is checked for its name only.",
        "allOf": [{"if": {"properties": {"step": {"const": n}}, "required": ["step"]},
                   "then": {"$ref": f"#/$defs/step_{n}"}} for n in names],
    }
    for n in names:
        defs[f"step_{n}"] = step_definition(n)
    for io in ("input", "output"):
        props = base.get("properties", {}).get(io, {}).get("properties", {})
        if "dtype" in props:
            props["dtype"] = {"type": "string", "enum": list(IO_DTYPES)}
        if "layout" in props:
            props["layout"] = {"type": ["string", "null"], "enum": [*IO_LAYOUTS, None]}
    return {**base, "$defs": defs}


def _param_row(pname: str, prop: dict[str, Any], required: list[str]) -> str:
    kind = prop["type"] if isinstance(prop["type"], str) else " or ".join(prop["type"])
    values = ", ".join(f"`{json.dumps(v)}`" for v in prop.get("enum", []))
    default = "required" if pname in required else f"default `{json.dumps(prop.get('default'))}`"
    return f"| `{pname}` | {kind} | {default} | {values or 'any'} |"


def markdown(schema: dict[str, Any]) -> str:
    """``docs/sidecar-v2.md``: the steps as a reference to implement from."""
    from edgekd.runtime.steps import STEPS

    out = ["# Sidecar schema `edgekd.artifact/2`: the front-end steps",
           "",
           "<!-- generated by `python -m edgekd.runtime.stepschema --write` from edgekd/runtime/steps.py; "
           "do not edit -->",
           "",
           "Every artifact `NAME.tflite` / `NAME.onnx` has a sidecar `NAME.edgekd.json`. Its `frontend.steps` is "
           "the ordered list of steps that turn a file into the model input; each step names every parameter that "
           "changes its output. Implement each step below in order, then the model side "
           "([after the steps](#after-the-steps-quantize-run-decide)): quantize, run, dequantize, softmax, "
           "aggregate, decide. Where a step says float64 or float32, that is the arithmetic the reference uses; "
           "another precision moves results by the amounts the golden tolerances allow, and can move an int8 "
           "input value that sits on a rounding boundary.",
           "",
           "Then prove it: `edgekd bundle` writes golden vectors (every step's expected output for real inputs in "
           "the forms devices meet: phone-sized, thumbnail, odd-sized, EXIF-rotated and transparent photos; PCM "
           "16/24-bit and float WAVs with extensible headers and extra chunks), and `edgekd conformance "
           "NAME.tflite --features yours.npy` (or a folder of per-step outputs, `--inputs`, `--outputs`) checks "
           "yours and names the first step that diverges. The committed artifacts in "
           "`benchmarks/results/artifacts/` carry golden vectors too. The JSON Schema is "
           "[`schemas/artifact-2.schema.json`](schemas/artifact-2.schema.json) (also "
           "`edgekd/runtime/sidecar.schema.json` in the package).",
           ""]
    for n in STEPS:
        d = schema["$defs"][f"step_{n}"]
        out += [f"## `{n}`", "", d["description"], ""]
        params = [(k, v) for k, v in d["properties"].items() if k != "step"]
        if params:
            out += ["| parameter | type | | implemented values |", "|---|---|---|---|"]
            out += [_param_row(k, v, d["required"]) for k, v in params]
            out.append("")
    return "\n".join(out + AFTER_STEPS)


#: the model side of the contract: what follows the last step (hand-written; the numbers are measured)
AFTER_STEPS = [
    "## After the steps: quantize, run, decide",
    "",
    "1. **Layout.** The last step gives `(windows, *input_shape)` float32, channel first. When the sidecar's "
    "`input.layout` is `NHWC` (TFLite files), move axis 1 last: `np.moveaxis(x, 1, -1)`.",
    "2. **Quantize** (an integer `input.dtype`), in **float32**: `q = clip(round_half_to_even(float32(x) / "
    "float32(scale) + float32(zero_point)), qmin, qmax)`: the division and the addition each rounded to float32, "
    "ties to even (`np.round`; C `nearbyintf` in the default rounding mode, not `roundf`, which rounds ties away "
    "from zero). float64 arithmetic moves the few values that sit within ~1e-7 of a rounding boundary: on the 1,084 "
    "heart recordings, 191 of 73.4 million int8 input values (no prediction changed); `edgekd conformance --inputs` "
    "requires the exact tensor. A float input (`fp32` files) takes `x` as it is.",
    "3. **Run** the model once per window (a file whose batch axis is 1) or on all windows at once (a dynamic "
    "batch axis). The reference outputs (golden vectors, `edgekd eval`) come from the runtime and version the "
    "sidecar's `versions` names: LiteRT (`ai-edge-litert`) with its default XNNPACK delegate and `num_threads` 1 "
    "for `.tflite`; ONNX Runtime's CPU execution provider with `graph_optimization_level` ORT_ENABLE_ALL, "
    "`intra_op_num_threads` 1, `inter_op_num_threads` 1 for `.onnx`. Other kernels (LiteRT's built-in or "
    "reference kernels, tflite-runtime on a Raspberry Pi, an NPU, CMSIS-NN) compute the same integer graph with "
    "their own rounding inside each requantization, and the differences add up layer after layer. Measured on the "
    "full data sets (`benchmarks/results/conformance_spread.md`): on the heart student at most **1 LSB** of an "
    "int8 output on 7 % of the windows, no prediction changed; on the 60-layer plant student **up to 15 LSB** on "
    "every photo, 2 of 543 predictions changed (LiteRT's built-in and reference kernels and tflite-runtime 2.14 all "
    "agree with each other there; XNNPACK is the one that differs). The golden vectors record this spread for "
    "their inputs (`reference_kernels`) and take it as the output tolerance.",
    "4. **Dequantize** an integer output in float32: `logits = (float32(q) - float32(zero_point)) * "
    "float32(scale)`.",
    "5. **Softmax** per window in float64 (`z = logits - max(logits)`; `exp(z) / sum(exp(z))`), then rounded to "
    "float32.",
    "6. **Aggregate** the windows of one item (`aggregation`): `mean`: the float64 sum of the float32 window "
    "probabilities divided by the window count, rounded to float32; `vote`: the share of windows whose argmax is "
    "each class (the same argmax rule as below).",
    "7. **Decide.** With a `decision` (two classes): the positive class (`output.positive_index`) when "
    "`p[positive] >= decision.threshold` (the float32 probability compared with the threshold as a float64 "
    "number), else the other class. Without one: the argmax of the item probabilities; **ties go to the lowest "
    "class index** (the first maximum, as `np.argmax`); `labels` names the classes in index order.",
    "",
    "An implementation that follows this page and the same runtime agrees with `edgekd eval --items` on every "
    "item; `edgekd conformance` checks each layer at its own tolerance: the step outputs within the `atol`/`rtol` "
    "each golden step records, the quantized input **exactly**, the raw outputs within 1 LSB (it reports how many "
    "item predictions differ, which 1 LSB can do for an item that sits on its decision threshold).",
    "",
]


def _files() -> dict[Path, str]:
    schema = sidecar_schema()
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return {PACKAGE_SCHEMA: text, DOCS_SCHEMA: text, DOCS_MARKDOWN: markdown(schema)}


def stale_files() -> list[Path]:
    """Generated files that differ from what the code generates now."""
    return [p for p, text in _files().items() if not p.is_file() or p.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgekd.runtime.stepschema", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the generated files")
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale")
    args = parser.parse_args(argv)
    if args.write:
        for path, text in _files().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            print(path)
        return 0
    stale = stale_files()
    for path in stale:
        print(f"{path}: stale; run python -m edgekd.runtime.stepschema --write", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
