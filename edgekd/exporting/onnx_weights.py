"""Weight-only quantization of an ONNX model, layer by layer: int8, int4 or fp32 weights.

Each Conv / Gemm / MatMul weight chosen for ``b`` bits is stored as a signed
``b``-bit initializer (int4 packs two values per byte) with one float32 scale
per output channel, and a ``DequantizeLinear`` (opset 21, which accepts int4
and per-axis scales) turns it back into float in front of the layer;
activations stay float. ONNX Runtime 1.31 runs int4 ``DequantizeLinear`` on the
CPU, so this is the int4-weights artifact and the vehicle of mixed precision
(a bit-width per layer).

Why not ONNX Runtime's own quantizers: ``MatMulNBitsQuantizer`` (int4) handles
MatMul and Gather only (no Conv, no Gemm), and ``quantize_static`` with
``QInt4`` weights also quantizes every activation; here only the weights move.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from edgekd.atomic import atomic_path
from edgekd.errors import InputError

BITS = (32, 8, 4)  # fp32 (untouched), int8, int4
_OPSET = 21  # DequantizeLinear with int4 inputs


@dataclass(frozen=True)
class WeightLayer:
    """A layer whose weight can be quantized.

    Attributes:
        name: the node name (stable key of a bit-width assignment).
        op: ``Conv``, ``Gemm`` or ``MatMul``.
        weight: the weight initializer's name.
        shape: the weight's shape.
        axis: the output-channel axis of the weight (per-channel scales run along it).
    """

    name: str
    op: str
    weight: str
    shape: tuple[int, ...]
    axis: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def weight_bytes(self, bits: int) -> int:
        """Bytes of the stored weight at ``bits`` (scales included for 8 and 4 bits)."""
        if bits == 32:
            return 4 * self.size
        return -(-self.size * bits // 8) + 4 * self.shape[self.axis]


def weight_layers(model: Any) -> list[WeightLayer]:
    """The Conv / Gemm / MatMul nodes of ``model`` (an ``onnx.ModelProto``) with a float constant weight."""
    from onnx import TensorProto

    inits = {t.name: t for t in model.graph.initializer}
    out = []
    for i, node in enumerate(model.graph.node):
        if node.op_type not in ("Conv", "Gemm", "MatMul") or len(node.input) < 2:
            continue
        w = inits.get(node.input[1])
        if w is None or w.data_type != TensorProto.FLOAT or len(w.dims) < 2:
            continue
        if node.op_type == "Gemm":
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            axis = 0 if trans_b else 1
        elif node.op_type == "MatMul":
            axis = len(w.dims) - 1
        else:
            axis = 0
        out.append(WeightLayer(node.name or f"{node.op_type}#{i}", node.op_type, w.name, tuple(w.dims), axis))
    return out


def quantize_weight(w: np.ndarray, bits: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-channel quantization of ``w`` along ``axis``.

    Returns:
        ``(q, scale)``: integer values in ``[-(2^(b-1)-1), 2^(b-1)-1]`` (int8 array) and float32 scales.
    """
    qmax = 2 ** (bits - 1) - 1
    moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    scale = np.abs(moved).max(axis=1) / qmax
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -qmax, qmax).astype(np.int8)
    return q, scale


def quantize_weights(
    fp32_path: str | os.PathLike[str], out_path: str | os.PathLike[str], bits: Mapping[str, int] | int
) -> Path:
    """Write a copy of an fp32 ONNX model with the chosen layers' weights in int8 / int4.

    Args:
        fp32_path: the fp32 ``.onnx``.
        out_path: the file to write (atomically).
        bits: one bit-width for every layer, or ``{layer name: 32 | 8 | 4}`` (missing layers stay fp32).

    Returns:
        ``out_path``.

    Raises:
        InputError: a bit-width other than 32/8/4 or a layer name the model does not have.
    """
    import ml_dtypes
    import onnx
    from onnx import helper, numpy_helper, version_converter

    model = onnx.load(str(fp32_path))
    layers = weight_layers(model)
    chosen = {layer.name: bits for layer in layers} if isinstance(bits, int) else dict(bits)
    unknown = sorted(set(chosen) - {layer.name for layer in layers})
    if unknown:
        raise InputError(f"{fp32_path}: no quantizable layer named {', '.join(unknown)} "
                         f"(layers: {', '.join(layer.name for layer in layers)})")
    bad = sorted({b for b in chosen.values() if b not in BITS})
    if bad:
        raise InputError(f"weight bit-widths must be among {BITS}, got {bad}")
    if model.opset_import and max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) < _OPSET:
        model = version_converter.convert_version(model, _OPSET)
    inits = {t.name: t for t in model.graph.initializer}
    dequant_nodes = []
    for layer in layers:
        b = chosen.get(layer.name, 32)
        if b == 32:
            continue
        w = numpy_helper.to_array(inits[layer.weight])
        q, scale = quantize_weight(w, b, layer.axis)
        stored = q.astype(ml_dtypes.int4) if b == 4 else q
        qname, sname = f"{layer.weight}_q{b}", f"{layer.weight}_scale"
        model.graph.initializer.remove(inits[layer.weight])
        model.graph.initializer.extend([numpy_helper.from_array(stored, qname), numpy_helper.from_array(scale, sname)])
        dequant_nodes.append(
            helper.make_node("DequantizeLinear", [qname, sname], [layer.weight], name=f"{layer.name}_dq", axis=layer.axis)
        )
    # a DequantizeLinear must come before the node that reads its output (graphs are topologically sorted)
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(dequant_nodes + nodes)
    onnx.checker.check_model(model)
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        onnx.save(model, str(tmp))
    return out_path
