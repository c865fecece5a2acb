"""What is really inside an exported artifact (the ``edgekd inspect --json`` contract).

A converter can silently leave ops in float, add layout TRANSPOSEs or fall
back to per-tensor weights; this reads the file itself and reports it.

The dictionary returned by ``inspect_artifact``:

- ``artifact``, ``format`` (``"tflite"``/``"onnx"``), ``size_bytes``;
- ``params``: elements of the constant weight tensors (kernels, biases; not
  quantization scales/zero points, not shape constants);
- ``ops`` (``{op_type: count}``) and ``n_ops``;
- ``quantized``: some weight is int8/uint8/int4;
- ``fully_integer``: quantized and no op computes in float, except a Quantize
  of a graph input and a Dequantize into a graph output; for ONNX QDQ a compute
  node is integer when its float inputs come from DequantizeLinear and its float
  outputs go only to QuantizeLinear (a Conv/Gemm's float constant bias, and a Relu
  into a QuantizeLinear whose zero point is the type's minimum, are folded by ONNX
  Runtime's QDQ fusion, as in NNCF's graphs); in the QOperator form (QLinearConv, QGemm,
  QLinearMatMul, QLinear*), the float scales are quantization parameters, not float inputs;
- ``float_ops``: the ops that break that rule (empty for an unquantized graph),
  ONNX node names or ``"OP_TYPE#index"`` for TFLite;
- ``transposes``, ``quantize_ops``, ``dequantize_ops``;
- ``per_channel_weights`` / ``per_tensor_weights``: integer weight tensors
  with several scales / one scale;
- ``weight_dtypes``: ``{dtype: number of weight tensors}`` (float16 weights of an
  fp16 file, int4 ones of an int4-weights file, ...);
- ``input_dtypes``, ``output_dtypes``.

For an ExecuTorch ``.pte`` the ops are the XNNPACK delegate's nodes (``XNNConv2d``,
``XNNFullyConnected``, ...) and the ops left on ExecuTorch's portable CPU kernels
(``aten::mean.out``, ...); ``delegation`` says which is which: ``{"backend": "XnnpackBackend",
"delegate_calls", "delegated_ops", "delegated_op_types": {type: count}, "non_delegated_ops":
["aten::mean.out#3", ...]}``. XNNPACK's ``XNNConvert`` nodes are its quantize/dequantize; a
non-delegated op on float tensors, or a delegated node with a float output, is a float op.

This is host-side tooling: it may import onnx, ai-edge-litert and executorch (inside the functions).
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import numpy as np

from edgekd.errors import InputError

_INT8 = ("int8", "uint8", "int4", "uint4")  # integer weight types (int4: ONNX weight-only)


def inspect_artifact(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe the graph of a ``.tflite``, ``.onnx`` or ``.pte`` file.

    Args:
        path: the artifact.

    Returns:
        The dictionary described in the module docstring.

    Raises:
        InputError: unknown suffix, missing or unreadable file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".tflite", ".onnx", ".pte"):
        raise InputError(f"{path}: cannot inspect {suffix or 'a file without suffix'} (expected .tflite, .onnx or .pte)")
    if not path.is_file():
        if os.path.lexists(path):  # a FIFO, socket, device or folder: refused by kind, never opened
            from edgekd.inputfile import regular_file

            regular_file(path, "artifact")
        raise InputError(f"{path}: artifact not found")
    readers = {".tflite": (_load_tflite, _tflite_graph), ".onnx": (_load_onnx, _onnx_graph),
               ".pte": (_load_pte, _pte_graph)}
    load, describe = readers[suffix]
    quiet = contextlib.nullcontext()
    if suffix == ".pte":
        from edgekd.runtime.native_log import native_stderr

        quiet = native_stderr()  # torchao's import and executorch's C++ logs stay out of the output
    try:
        with quiet:
            if suffix == ".pte":
                _require_executorch(path)
            loaded = load(path)
            graph = describe(loaded) if suffix == ".pte" else None
    except InputError:
        raise
    except Exception as exc:  # the readers raise ValueError, RuntimeError, DecodeError, ...
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise InputError(f"{path}: not a readable {suffix[1:]} model ({reason})") from None
    if graph is None:
        graph = describe(loaded)
    return {"artifact": str(path), "format": suffix[1:], "size_bytes": path.stat().st_size, **graph}


def _summary(
    ops: list[str],
    weights: list[tuple[str, int, int]],
    float_ops: list[str],
    quantize: str,
    dequantize: str,
    transpose: str,
    inputs: list[str],
    outputs: list[str],
) -> dict[str, Any]:
    """Assemble the format-independent part of the report.

    Args:
        ops: the op type of every node.
        weights: ``(dtype, elements, number of scales)`` of every weight tensor.
        float_ops: the nodes computing in float, as if the graph were quantized.
        quantize, dequantize, transpose: this format's names of those ops.
        inputs, outputs: graph input / output dtypes.
    """
    quantized_weights = [w for w in weights if w[0] in _INT8]
    quantized = bool(quantized_weights)
    counts = Counter(ops)
    return {
        "params": sum(w[1] for w in weights),
        "ops": dict(sorted(counts.items())),
        "n_ops": len(ops),
        "quantized": quantized,
        "fully_integer": quantized and not float_ops,
        "float_ops": float_ops if quantized else [],
        "transposes": counts[transpose],
        "quantize_ops": counts[quantize],
        "dequantize_ops": counts[dequantize],
        "per_channel_weights": sum(1 for w in quantized_weights if w[2] > 1),
        "per_tensor_weights": sum(1 for w in quantized_weights if w[2] <= 1),
        "weight_dtypes": dict(sorted(Counter(w[0] for w in weights).items())),
        "input_dtypes": inputs,
        "output_dtypes": outputs,
    }


def _load_tflite(path: Path) -> Any:
    """Open a TFLite model in an interpreter without delegates (XNNPACK would hide the ops)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(
        model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )


def _load_onnx(path: Path) -> Any:
    """Load an ONNX model (with its external data, if any)."""
    import onnx

    return onnx.load(str(path))


def _tflite_graph(interpreter: Any) -> dict[str, Any]:
    """Describe the main subgraph of a TFLite model from its interpreter.

    Constant tensors are those that feed an op, come from no op and are not graph
    inputs. Weights are the float/8-bit ones, plus int32 ones carrying scales
    (quantized biases).
    """
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    graph_in = {d["index"] for d in interpreter.get_input_details()}
    graph_out = {d["index"] for d in interpreter.get_output_details()}
    produced = {i for op in ops for i in op["outputs"]}
    const = {i for op in ops for i in op["inputs"] if i >= 0 and i not in produced and i not in graph_in}

    def dtype(i: int) -> str:
        return np.dtype(tensors[i]["dtype"]).name

    def n_scales(i: int) -> int:
        return len(tensors[i]["quantization_parameters"]["scales"])

    weights = [
        (dtype(i), int(np.prod(tensors[i]["shape"])), n_scales(i))
        for i in sorted(const)
        if dtype(i).startswith("float") or dtype(i) in _INT8 or (dtype(i) == "int32" and n_scales(i))
    ]
    float_ops = []
    for op in ops:
        name = op["op_name"]
        if name == "QUANTIZE" and set(op["inputs"]) <= graph_in:
            continue
        if name == "DEQUANTIZE" and set(op["outputs"]) <= graph_out:
            continue
        if any(dtype(i).startswith("float") for i in [*op["inputs"], *op["outputs"]] if i >= 0):
            float_ops.append(f"{name}#{op['index']}")
    return _summary(
        [op["op_name"] for op in ops],
        weights,
        float_ops,
        "QUANTIZE",
        "DEQUANTIZE",
        "TRANSPOSE",
        [dtype(i) for i in sorted(graph_in)],
        [dtype(i) for i in sorted(graph_out)],
    )


def _onnx_graph(model: Any) -> dict[str, Any]:
    """Describe an ONNX model's main graph (initializers and Constant nodes are the constants).

    Weights are float/8-bit constants that are not a Q/DQ scale or zero point,
    plus int32 constants dequantized by DequantizeLinear (quantized biases).
    """
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    try:
        types = _onnx_value_types(onnx.shape_inference.infer_shapes(model).graph)
    except Exception:  # shape inference is best effort; unknown values count as float
        types = _onnx_value_types(graph)
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    consumers: dict[str, list[onnx.NodeProto]] = {}
    producers: dict[str, onnx.NodeProto] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
        for name in node.output:
            producers[name] = node

    def scales_of(name: str) -> int:
        """Number of scales of constant ``name``: its DequantizeLinear's, the weight scale of a QOperator
        QLinearConv/QGemm/QLinearMatMul (1 for their int32 bias), or for the weight of a dynamic-range
        ConvInteger/MatMulInteger the size of its zero point (0 if none)."""
        for node in consumers.get(name, []):
            if node.op_type == "DequantizeLinear" and node.input[0] == name and node.input[1] in consts:
                return int(consts[node.input[1]].size)
            role = _qoperator_role(node, name)
            if role == "weight" and node.input[4] in consts:
                return int(consts[node.input[4]].size)
            if role == "bias":
                return 1
            if node.op_type in ("ConvInteger", "MatMulInteger") and len(node.input) > 3 and node.input[1] == name:
                zero_point = consts.get(node.input[3])
                return int(zero_point.size) if zero_point is not None else 1
        return 0

    def is_weight(name: str, kind: str) -> bool:
        """A float/8-bit constant that is not only a Q/DQ scale or zero point, or a quantized bias."""
        users = consumers.get(name, [])
        qdq_param = bool(users) and all(
            (n.op_type in ("QuantizeLinear", "DequantizeLinear") and list(n.input).index(name) > 0)
            or (n.op_type in ("ConvInteger", "MatMulInteger") and list(n.input).index(name) >= 2)  # zero points
            or _qoperator_role(n, name) == "param"
            for n in users
        )
        bias = kind == "int32" and scales_of(name) > 0
        return not qdq_param and (kind.startswith("float") or kind in _INT8 or bias)

    weights = [
        (value.dtype.name, int(value.size), scales_of(name))
        for name, value in consts.items()
        if is_weight(name, value.dtype.name)
    ]

    _complete_types(graph, types, consts)

    def is_float(name: str) -> bool:
        return types.get(name, "float32").startswith(("float", "bfloat"))

    def folds_into_quantize(node: Any) -> bool:
        """A Relu whose output goes only to QuantizeLinears with the zero point at the type's minimum: ONNX Runtime
        removes it (ReluQuantFusion: the clamp is the quantization's own), so Conv → Relu → Q runs as one
        integer op. NNCF's QDQ graphs quantize after the activation; ONNX Runtime's quantizer drops the Relu."""
        users = consumers.get(node.output[0], []) if node.op_type == "Relu" else []
        return bool(users) and all(
            n.op_type == "QuantizeLinear" and len(n.input) > 2 and n.input[2] in consts
            and consts[n.input[2]].dtype.name in ("uint8", "int8") and consts[n.input[2]].size == 1
            and int(consts[n.input[2]].ravel()[0]) == (0 if consts[n.input[2]].dtype.name == "uint8" else -128)
            for n in users)

    folded = {id(node) for node in graph.node if folds_into_quantize(node)}

    def to_quantize(node: Any) -> bool:
        return node.op_type == "QuantizeLinear" or id(node) in folded

    float_ops = []
    for i, node in enumerate(graph.node):
        if node.op_type in ("QuantizeLinear", "DequantizeLinear", "Constant") or id(node) in folded:
            continue
        bad_in = any(
            name and is_float(name) and getattr(producers.get(name), "op_type", None) != "DequantizeLinear"
            and _qoperator_role(node, name) != "param"
            # a float constant bias of a Conv/Gemm whose other inputs are dequantized (NNCF's QDQ graphs):
            # ONNX Runtime's QDQ fusion quantizes it to int32 itself (measured: DQ → Conv → Q became QLinearConv)
            and not (node.op_type in _FLOAT_BIAS_OK and k == 2 and name in consts)
            for k, name in enumerate(node.input)
            if name not in consts or consts[name].dtype.kind == "f"
        )
        bad_out = any(
            is_float(name)
            and (not consumers.get(name) or not all(to_quantize(n) for n in consumers[name]))
            for name in node.output
        )
        if node.op_type in _MOVES:  # no arithmetic: in float only if float leaves it for a compute op
            bad_in = False
        if bad_in or bad_out:
            float_ops.append(node.name or f"{node.op_type}#{i}")
    initializer_names = {t.name for t in graph.initializer}
    return _summary(
        [node.op_type for node in graph.node],
        weights,
        float_ops,
        "QuantizeLinear",
        "DequantizeLinear",
        "Transpose",
        [types.get(v.name, "unknown") for v in graph.input if v.name not in initializer_names],
        [types.get(v.name, "unknown") for v in graph.output],
    )


# compute ops whose float constant bias ONNX Runtime quantizes when it fuses DQ → op → Q
_FLOAT_BIAS_OK = ("Conv", "ConvTranspose", "Gemm")
# ops that move or reshape data without arithmetic
_MOVES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity")
_TYPE_PRESERVING = _MOVES + ("MaxPool", "Concat", "Slice", "Split", "Pad")


def _complete_types(graph: Any, types: dict[str, str], consts: dict[str, Any]) -> None:
    """Fill in the element types ONNX shape inference leaves unknown after contrib QOperator ops
    (QLinearAveragePool, QGemm, ... in the com.microsoft domain): their output has the type of their
    output zero point, and a data-moving op's output has its input's type. In place, in graph order."""
    for node in graph.node:
        op = node.op_type
        for out in node.output:
            if not out or out in types:
                continue
            if op.startswith("QLinear") or op == "QGemm":
                at = _OUTPUT_ZERO_POINT.get(op, len(node.input) - 1)
                zp = consts.get(node.input[at]) if at < len(node.input) else None
                types[out] = zp.dtype.name if zp is not None and zp.dtype.kind in "iu" else "uint8"
            elif op in _TYPE_PRESERVING and node.input and node.input[0] in types:
                types[out] = types[node.input[0]]


# where a QOperator op's output zero point is (default: its last input)
_OUTPUT_ZERO_POINT = {"QLinearConv": 7, "QGemm": 8, "QLinearMatMul": 7, "QLinearAdd": 7, "QLinearMul": 7,
                      "QLinearAveragePool": 4, "QLinearGlobalAveragePool": 4}

# QOperator ops with a constant weight: (weight input, its scale, bias input or None)
_QOPERATOR_WEIGHTS = {"QLinearConv": (3, 4, 8), "QGemm": (3, 4, 6), "QLinearMatMul": (3, 4, None)}


def _qoperator_role(node: Any, name: str) -> str | None:
    """What input ``name`` is to a QOperator-form node: ``weight``, ``bias``, ``param`` (a scale or zero
    point) or ``None`` (data, or not a QOperator node)."""
    op = node.op_type
    if not (op.startswith("QLinear") or op == "QGemm") or name not in node.input:
        return None
    index = list(node.input).index(name)
    weight, _, bias = _QOPERATOR_WEIGHTS.get(op, (None, None, None))
    if index == weight:
        return "weight"
    if index == bias:
        return "bias"
    if op in _QOPERATOR_WEIGHTS:
        return None if index in (0, 3) else "param"
    # QLinearAdd/Mul (a, a_s, a_zp, b, b_s, b_zp, y_s, y_zp), pools (x, x_s, x_zp, y_s, y_zp), ...: data at
    # 0 (and 3 for the binary ops); every other input is a scale or zero point
    binary = op in ("QLinearAdd", "QLinearMul")
    return None if index == 0 or (binary and index == 3) else "param"


def _onnx_value_types(graph: Any) -> dict[str, str]:
    """Map every typed value of ``graph`` (inputs, outputs, value_info, initializers) to a numpy dtype name."""
    import onnx

    types = {t.name: onnx.helper.tensor_dtype_to_np_dtype(t.data_type).name for t in graph.initializer}
    for value in [*graph.input, *graph.output, *graph.value_info]:
        elem = value.type.tensor_type.elem_type
        if elem:
            types[value.name] = onnx.helper.tensor_dtype_to_np_dtype(elem).name
    return types


# ---------------------------------------------------------------- ExecuTorch .pte
# ExecuTorch ScalarType codes → numpy dtype names; XNNPACK datatypes → numpy dtype names
_ET_TYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16", 6: "float32", 7: "float64",
             11: "bool", 15: "bfloat16"}
_XNN_TYPES = {"xnn_datatype_fp32": "float32", "xnn_datatype_fp16": "float16", "xnn_datatype_qint8": "int8",
              "xnn_datatype_quint8": "uint8", "xnn_datatype_qint32": "int32", "xnn_datatype_qcint8": "int8",
              "xnn_datatype_qcint32": "int32", "xnn_datatype_qcint4": "int4", "xnn_datatype_qdint8": "int8",
              "xnn_datatype_qbint4": "int4", "xnn_datatype_qpint8": "int8", "xnn_datatype_int32": "int32",
              "xnn_datatype_bf16": "bfloat16"}


def _require_executorch(path: Path) -> None:
    """Reading a ``.pte`` needs executorch (its flatbuffer schemas and ``flatc``)."""
    try:
        import executorch.exir._serialize._program  # noqa: F401
    except (ImportError, OSError) as exc:
        raise InputError(f"{path}: inspecting a .pte needs executorch (and torch) installed: "
                         f"pip install executorch ({exc})") from None


def _load_pte(path: Path) -> Any:
    """Deserialize a ``.pte`` (delegate payloads inlined)."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    return deserialize_pte_binary(path.read_bytes()).program


def _xnn_graph(blob: bytes) -> dict[str, Any]:
    """Decode an XNNPACK delegate payload (header + XNNGraph flatbuffer) to a dict, with ExecuTorch's flatc."""
    import json
    import re
    import subprocess
    
    from executorch.backends.xnnpack.serialization.xnnpack_graph_serialize import XNNHeader, _get_schema_bytes
    from executorch.exir._serialize._flatbuffer import _get_flatc_path

    flatbuffer = blob
    if blob[XNNHeader.MAGIC_OFFSET] == XNNHeader.EXPECTED_MAGIC:
        header = XNNHeader.from_bytes(blob[: XNNHeader.EXPECTED_LENGTH])
        flatbuffer = blob[header.flatbuffer_offset : header.flatbuffer_offset + header.flatbuffer_size]
    from edgekd.atomic import temp_dir

    with temp_dir("xnn") as tmp:
        schema, data = Path(tmp) / "schema.fbs", Path(tmp) / "graph.bin"
        schema.write_bytes(_get_schema_bytes())
        data.write_bytes(flatbuffer)
        subprocess.run([_get_flatc_path(), "--json", "--strict-json", "--raw-binary", "--defaults-json", "-o", tmp,
                        str(schema), "--", str(data)], check=True, capture_output=True)
        text = (Path(tmp) / "graph.json").read_text()
    # flatc writes non-finite floats (clamp bounds) as inf / nan, which JSON spells Infinity / NaN
    text = re.sub(r"(:\s*-?)(inf|nan)\b", lambda m: m.group(1) + ("Infinity" if m.group(2) == "inf" else "NaN"), text)
    return json.loads(text)


def _xnn_value(value: dict[str, Any]) -> tuple[str, list[int], int, bool]:
    """``(dtype, dims, number of scales, constant)`` of one XNNGraph value."""
    kind, body = value.get("xvalue_union_type"), value.get("xvalue_union") or {}
    scales = 0
    if kind == "XNNQuantizedTensorValue":
        tensor = body.get("tensor_value") or {}
        params = body.get("quant_params") or {}
        quant = body.get("quant_params_type", "")
        scales = int(params.get("num_scales") or len(params.get("scale") or []) or 1) if "PerChannel" in quant or \
            "Block" in quant else 1
    else:
        tensor = body
    dtype = _XNN_TYPES.get(tensor.get("datatype", ""), str(tensor.get("datatype", "unknown")))
    constant = bool(tensor.get("constant_buffer_idx")) or bool(tensor.get("named_key"))
    return dtype, [int(d) for d in tensor.get("dims") or []], scales, constant


def _xnn_outputs(node: dict[str, Any]) -> list[int]:
    body = node.get("xnode_union") or {}
    return [int(v) for k, v in body.items() if k.startswith("output") and k.endswith("_id")]


def _pte_graph(program: Any) -> dict[str, Any]:
    """Describe the ``forward`` plan of an ExecuTorch program: delegated XNNPACK nodes and portable kernels."""
    plans = {p.name: p for p in program.execution_plan}
    plan = plans.get("forward") or program.execution_plan[0]
    values = plan.values

    def tensor_dtype(i: int) -> Optional[str]:
        val = getattr(values[i], "val", None) if 0 <= i < len(values) else None
        kind = getattr(val, "scalar_type", None)
        return None if kind is None else _ET_TYPES.get(int(kind), str(kind))

    ops: list[str] = []
    weights: list[tuple[str, int, int]] = []
    float_ops: list[str] = []
    non_delegated: list[str] = []
    delegated: Counter[str] = Counter()
    delegate_calls, backends = 0, set()
    for chain in plan.chains:
        for index, instruction in enumerate(chain.instructions):
            call = instruction.instr_args
            kind = type(call).__name__
            if kind == "KernelCall":
                op = plan.operators[call.op_index]
                name = op.name + (f".{op.overload}" if op.overload else "")
                ops.append(name)
                non_delegated.append(f"{name}#{index}")
                if any((tensor_dtype(a) or "").startswith(("float", "bfloat")) for a in call.args):
                    float_ops.append(f"{name}#{index}")
            elif kind == "DelegateCall":
                delegate_calls += 1
                delegate = plan.delegates[call.delegate_index]
                backends.add(delegate.id)
                if delegate.id != "XnnpackBackend":
                    ops.append(f"{delegate.id}#{index}")
                    continue
                graph = _xnn_graph(bytes(program.backend_delegate_data[delegate.processed.index].data))
                xvalues = [_xnn_value(v) for v in graph.get("xvalues", [])]
                by_id = {}
                for v, raw in zip(xvalues, graph.get("xvalues", [])):
                    body = raw.get("xvalue_union") or {}
                    by_id[int((body.get("tensor_value") or body).get("id_out", len(by_id)))] = v
                for dtype, dims, scales, constant in xvalues:
                    if constant and (dtype.startswith(("float", "bfloat")) or dtype in _INT8 or
                                     (dtype == "int32" and scales)):
                        weights.append((dtype, int(np.prod(dims)) if dims else 1, scales))
                for n, node in enumerate(graph.get("xnodes", [])):
                    op_type = node.get("xnode_union_type", "unknown")
                    ops.append(op_type)
                    delegated[op_type] += 1
                    if op_type == "XNNConvert":
                        continue
                    outs = [by_id[i][0] for i in _xnn_outputs(node) if i in by_id]
                    if any(d.startswith(("float", "bfloat")) for d in outs):
                        float_ops.append(f"{op_type}#{call.delegate_index}.{n}")
    for v in values:  # constants of the non-delegated part (memory-planned tensors have allocation_info)
        val = getattr(v, "val", None)
        if getattr(val, "scalar_type", None) is None or getattr(val, "allocation_info", None) is not None:
            continue
        if getattr(val, "data_buffer_idx", 0) > 0 and val.sizes:
            dtype = _ET_TYPES.get(int(val.scalar_type), str(val.scalar_type))
            if dtype.startswith("float") or dtype in _INT8:
                weights.append((dtype, int(np.prod(val.sizes)), 0))
    converts = [op for op in ops if op == "XNNConvert"]
    summary = _summary(ops, weights, float_ops, "XNNConvert", "", "XNNStaticTranspose",
                       [tensor_dtype(i) or "unknown" for i in plan.inputs],
                       [tensor_dtype(i) or "unknown" for i in plan.outputs])
    # XNNPACK has one convert op for both directions; quantize_ops counts them all, dequantize_ops none
    summary["quantize_ops"], summary["dequantize_ops"] = len(converts), 0
    summary["transposes"] += sum(1 for op in ops if op.startswith("aten::permute"))
    summary["delegation"] = {
        "backend": ", ".join(sorted(backends)) or None,
        "delegate_calls": delegate_calls,
        "delegated_ops": sum(delegated.values()),
        "delegated_op_types": dict(sorted(delegated.items())),
        "non_delegated_ops": non_delegated,
    }
    return summary
