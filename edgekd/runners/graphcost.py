"""Per-op costs of an artifact's graph, read from the file: TFLite through the runtime, ONNX through ``onnx``.

TFLite is read with the interpreter of whichever runtime is installed
(ai-edge-litert or tflite-runtime, default delegates off so the real ops are
listed), so this works on a device with numpy + a runtime and no TensorFlow.
ONNX needs the ``onnx`` package (host side); ONNX Runtime does not expose the graph.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edgekd.runners.opcost import OpCost, Tensor, op_cost
from edgekd.errors import InputError

_INT8 = ("int8", "uint8", "int16")
_INT8_TYPES = (2, 3, 5)  # onnx.TensorProto UINT8, INT8, INT16
_FUSED_ACTIVATIONS = ("Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid")


def graph_costs(path: str | os.PathLike[str], *, onnx_layout: str = "") -> list[OpCost]:
    """The cost of every op of a ``.tflite`` or ``.onnx`` file's main graph, in order.

    ``onnx_layout``: for an ``.onnx`` file, the ONNX Runtime layout class of the device (``ortlayout.layout_for``):
    the file is run through this machine's onnxruntime optimizer as that device would, float convolutions it
    blocks get ``layout="nchwc"`` and the layout ops it inserts are added (``layout="inserted"``). Empty: the
    graph as written.

    Raises:
        InputError: unknown suffix, missing or unreadable file, ``onnx`` not installed for an ``.onnx``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".tflite", ".onnx"):
        raise InputError(f"{path}: cannot estimate {suffix or 'a file without suffix'} (expected .tflite or .onnx)")
    if not path.is_file():
        raise InputError(f"{path}: artifact not found")
    return _tflite_costs(path) if suffix == ".tflite" else _onnx_costs(path, onnx_layout)


def _tflite_costs(path: Path) -> list[OpCost]:
    """Op costs of a TFLite file from its interpreter's op and tensor details."""
    from edgekd.runtime.artifact import _import_runtime

    name, version, module = _import_runtime("tflite", None)
    try:
        interpreter = module.Interpreter(
            model_path=str(path),
            experimental_op_resolver_type=module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        ops = interpreter._get_ops_details()
        tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    except Exception as exc:  # the runtimes raise ValueError/RuntimeError on a bad file
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise InputError(f"{path}: {name} {version} cannot read it: {reason}") from None
    graph_in = {d["index"] for d in interpreter.get_input_details()}
    produced = {i for op in ops for i in op["outputs"]}

    def tensor(i: int) -> Tensor | None:
        if i < 0 or i not in tensors:
            return None
        shape = tuple(max(int(d), 1) for d in tensors[i]["shape"])
        return Tensor(shape, const=i not in produced and i not in graph_in)

    def kind(i: int) -> str:
        return np.dtype(tensors[i]["dtype"]).name

    costs = []
    for op in ops:
        ins = [tensor(i) for i in op["inputs"]]
        outs = [t for t in (tensor(i) for i in op["outputs"]) if t is not None]
        if op["op_name"] == "DEQUANTIZE" and all(t is None or t.const for t in ins):
            continue  # fp16/int8 weights dequantized once when the interpreter prepares
        activations = [i for i, t in zip(op["inputs"], ins) if t is not None and not t.const]
        first = activations[0] if activations else op["outputs"][0]
        precision = "int8" if kind(first) in _INT8 else "fp32"
        costs.append(op_cost(op["op_name"], ins, outs, precision))
    return costs


def _onnx_costs(path: Path, layout: str = "") -> list[OpCost]:
    """Op costs of an ONNX file; QDQ pairs are folded into the int8 op they surround, as ONNX Runtime does."""
    try:
        import onnx
    except ImportError:
        raise InputError(f"{path}: estimating an .onnx file needs the onnx package (pip install onnx)") from None
    try:
        model = onnx.load(str(path))
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception as exc:
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise InputError(f"{path}: not a readable onnx model ({reason})") from None
    graph = inferred.graph
    shapes: dict[str, tuple[int, ...]] = {}
    for v in [*graph.input, *graph.output, *graph.value_info]:
        dims = v.type.tensor_type.shape.dim
        shapes[v.name] = tuple(d.dim_value if d.dim_value > 0 else 1 for d in dims)
    consts = {t.name for t in graph.initializer}
    for t in graph.initializer:
        shapes[t.name] = tuple(int(d) for d in t.dims)
    producers: dict[str, Any] = {}
    for node in graph.node:
        for out in node.output:
            producers[out] = node
        if node.op_type == "Constant":
            consts.update(node.output)
            for attr in node.attribute:
                if attr.name == "value":
                    shapes[node.output[0]] = tuple(int(d) for d in attr.t.dims)
    graph_inputs = {v.name for v in graph.input} - consts
    graph_outputs = {v.name for v in graph.output}

    def from_const(name: str) -> bool:
        """A constant, or a constant through DequantizeLinear (a QDQ weight)."""
        if name in consts:
            return True
        node = producers.get(name)
        return node is not None and node.op_type == "DequantizeLinear" and node.input[0] in consts

    def tensor(name: str) -> Tensor | None:
        if not name:
            return None
        return Tensor(shapes.get(name, (1,)), const=from_const(name))

    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1

    def fused_into_producer(node: Any) -> bool:
        """ONNX Runtime's graph optimizer folds this op into the convolution or Gemm before it (Conv+BatchNorm,
        Conv/Gemm+activation, Conv+constant Add/Mul) when that op feeds it alone."""
        if not node.input or consumers.get(node.input[0], 0) != 1:
            return False
        producer = producers.get(node.input[0])
        kind = getattr(producer, "op_type", "")
        if node.op_type in _FUSED_ACTIVATIONS:
            return kind in ("Conv", "Gemm", "FusedConv")
        if node.op_type == "BatchNormalization" or (node.op_type in ("Add", "Mul") and len(node.input) == 2
                                                    and from_const(node.input[1])):
            return kind in ("Conv", "ConvTranspose")
        return False

    first_reader = {}
    for n in reversed(graph.node):
        if n.input:
            first_reader[n.input[0]] = n

    def fused_outputs(node: Any) -> list[str]:
        """Outputs of the ops fused into ``node`` (Conv + BatchNorm + activation), which the fused op writes."""
        out: list[str] = []
        while node.output and consumers.get(node.output[0], 0) == 1:
            nxt = first_reader.get(node.output[0])
            if nxt is None or not fused_into_producer(nxt):
                break
            out += list(nxt.output)
            node = nxt
        return out

    ort = None
    if layout:
        from edgekd.runners.ortlayout import optimized_graph

        ort = optimized_graph(path, layout, inferred)
    types = {v.name: v.type.tensor_type.elem_type for v in [*graph.input, *graph.output, *graph.value_info]}
    costs = []
    for node in graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            # Weight DQ is folded, activation Q/DQ fuse into the QLinear op; only the graph-boundary ones run.
            boundary = node.input[0] in graph_inputs or any(o in graph_outputs for o in node.output)
            if not boundary:
                continue
        if node.op_type == "Constant":
            continue
        ins = [tensor(n) for n in node.input]
        outs = [t for t in (tensor(n) for n in node.output) if t is not None]
        quantized = any(
            getattr(producers.get(n), "op_type", None) == "DequantizeLinear" and not from_const(n)
            for n in node.input
        ) or node.op_type.startswith("QLinear") or node.op_type.endswith("Integer")
        cost = op_cost(node.op_type, ins, outs, "int8" if quantized else "fp32")
        if not quantized and fused_into_producer(node):
            cost = replace(cost, fused=True)
        elif ort is not None and not quantized and cost.kind == "conv" and ort.blocked and not (
                {*node.input[1:2], *node.output, *fused_outputs(node)} & ort.plain):
            cost = replace(cost, layout="nchwc")
        costs.append(cost)
    for op, name in ort.inserted if ort is not None else ():
        t = Tensor(shapes.get(name, (1,)))
        precision = "int8" if types.get(name) in _INT8_TYPES else "fp32"
        costs.append(replace(op_cost("Transpose", [t], [t], precision), op=op, layout="inserted"))
    return costs
