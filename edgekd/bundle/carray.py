"""A ``.tflite`` file as a C array (for TensorFlow Lite Micro) and a header of the front-end constants.

The array is a 16-byte aligned ``const unsigned char`` (GCC/Clang/Arm Compiler attribute): TFLM reads the
flatbuffer in place, and 16-byte alignment is what its schema needs. The constants header gives the device code everything numeric in the sidecar:
the front-end's parameters, the input and output quantization, the labels, the decision threshold and the
tensor arena size measured by TFLM.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Optional


def _ident(name: str) -> str:
    ident = re.sub(r"[^0-9A-Za-z_]", "_", name)
    return ident if not ident[:1].isdigit() else "_" + ident


def c_array(tflite: Path, symbol: str) -> tuple[str, str]:
    """(header, source) defining ``symbol`` (the bytes) and ``symbol_len`` for ``tflite``."""
    data = Path(tflite).read_bytes()
    sym = _ident(symbol)
    guard = f"EDGEKD_{sym.upper()}_H_"
    header = (f"// {Path(tflite).name} as a C array (edgekd bundle). {len(data)} bytes.\n"
              f"#ifndef {guard}\n#define {guard}\n\n#ifdef __cplusplus\nextern \"C\" {{\n#endif\n\n"
              f"extern const unsigned char {sym}[];\nextern const unsigned int {sym}_len;\n\n"
              f"#ifdef __cplusplus\n}}\n#endif\n\n#endif  // {guard}\n")
    rows = [", ".join(f"0x{b:02x}" for b in data[i:i + 12]) for i in range(0, len(data), 12)]
    source = (f"// {Path(tflite).name} as a C array (edgekd bundle). {len(data)} bytes.\n"
              f"#include \"{sym}.h\"\n\n"
              f"const unsigned char {sym}[] __attribute__((aligned(16))) = {{\n  " + ",\n  ".join(rows) + "\n};\n"
              f"const unsigned int {sym}_len = {len(data)};\n")
    return header, source


def _define(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"#define {name} {int(value)}"
    if isinstance(value, int):
        return f"#define {name} {value}"
    if isinstance(value, float):
        return f"#define {name} {value!r}f"
    return f"#define {name} \"{value}\""


def _constants(name: str, value: Any) -> list[str]:
    """A scalar as a ``#define``; a mapping as one per key (``NAME_KEY``); a list of numbers as a const array."""
    if isinstance(value, (int, float, str, bool)):
        return [_define(name, value)]
    if isinstance(value, Mapping):
        return [line for k, v in value.items() for line in _constants(f"{name}_{_ident(str(k)).upper()}", v)]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                          for v in value):
        kind = "int" if all(isinstance(v, int) for v in value) else "float"
        items = ", ".join(str(v) if kind == "int" else f"{float(v)!r}f" for v in value)
        return [f"static const {kind} {name}[{len(value)}] = {{{items}}};"]
    return []


def constants_header(meta: Mapping[str, Any], arena_bytes: Optional[int],
                     frontend: Optional[Mapping[str, Any]] = None) -> str:
    """``#define``s of the sidecar's numbers: front-end step parameters, quantization, labels, threshold, arena;
    with ``frontend`` (the C front-end's bundle entry), its maximum length and working buffer."""
    lines = [f"// Constants of {meta.get('name')} (from its sidecar, schema {meta.get('schema')}); edgekd bundle.",
             "// The front-end steps, in order, are listed in the sidecar; each parameter below is STEP_PARAM.",
             "#ifndef EDGEKD_MODEL_CONSTANTS_H_", "#define EDGEKD_MODEL_CONSTANTS_H_", ""]
    for i, step in enumerate((meta.get("frontend") or {}).get("steps") or []):
        prefix = f"EDGEKD_STEP{i}_{_ident(step['step']).upper()}"
        lines.append(f"// step {i}: {step['step']}")
        for key, value in step.items():
            if key != "step":
                lines += _constants(f"{prefix}_{_ident(key).upper()}", value)
    for side in ("input", "output"):
        io = meta.get(side) or {}
        q = io.get("quantization") or {}
        shape = [d if isinstance(d, int) else 1 for d in io.get("shape") or []]
        lines.append(f"// model {side}: {io.get('dtype')} {shape} {io.get('layout') or ''}".rstrip())
        for k, d in enumerate(shape):
            lines.append(_define(f"EDGEKD_{side.upper()}_DIM{k}", int(d)))
        if q:
            lines += [_define(f"EDGEKD_{side.upper()}_SCALE", float(q["scale"][0])),
                      _define(f"EDGEKD_{side.upper()}_ZERO_POINT", int(q["zero_point"][0]))]
    labels = list(meta.get("labels") or [])
    lines.append(_define("EDGEKD_NUM_CLASSES", len(labels)))
    lines.append("static const char* const EDGEKD_LABELS[] = {" + ", ".join(f"\"{v}\"" for v in labels) + "};")
    positive = (meta.get("output") or {}).get("positive_index")
    lines.append(_define("EDGEKD_POSITIVE_INDEX", -1 if positive is None else int(positive)))
    threshold = (meta.get("decision") or {}).get("threshold")
    if threshold is not None:
        lines.append(_define("EDGEKD_DECISION_THRESHOLD", float(threshold)))
    if arena_bytes is not None:
        lines.append(f"// tensor arena measured by TFLM on a 64-bit host (a little less on a 32-bit Cortex-M)")
        lines.append(_define("EDGEKD_ARENA_BYTES", int(arena_bytes)))
    if frontend is not None:
        lines += [f"// C front-end ({frontend['readme']}): {frontend['api']}",
                  f"// its working buffer EDGEKD_FE_WORK_BYTES for recordings of up to {frontend['max_seconds']:g} s: "
                  f"the bytes below in float32, {frontend['work_bytes_double']} with -DEDGEKD_FE_DOUBLE",
                  _define("EDGEKD_FRONTEND_MAX_SAMPLES", int(frontend["max_samples"])),
                  _define("EDGEKD_FRONTEND_WORK_BYTES", int(frontend["work_bytes"]))]
    lines += ["", "#endif  // EDGEKD_MODEL_CONSTANTS_H_", ""]
    return "\n".join(lines)
