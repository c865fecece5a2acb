"""Cost of one graph op: multiply-accumulates and bytes moved, from tensor shapes alone (numpy only).

The estimate runner adds these up with a device's throughput coefficients. Costs
follow the usual counting (one MAC = one multiply + one add):

* ``conv`` (regular, grouped and depthwise): output elements x weights per output
  channel — the same formula covers TFLite ``CONV_2D`` ``[Cout, kh, kw, Cin]``,
  ``DEPTHWISE_CONV_2D`` ``[1, kh, kw, C]`` (per output element: kh x kw) and ONNX
  ``Conv`` ``[Cout, Cin/group, kh, kw]``;
* ``matmul`` (fully connected, Gemm, MatMul): output elements x the reduced dim;
* ``pool`` / ``reduce``: one op per input element;
* ``elementwise`` (add, mul, activations, softmax, (de)quantize): one op per output element;
* ``copy`` (transpose, concat, pad, slice): no arithmetic, bytes only;
* ``view`` (reshape, squeeze, flatten): free — runtimes alias the buffer.

Bytes are every input (weights included) and output of the op, at the op's
compute precision: an int8 op reads and writes 1-byte elements even when the
graph spells its tensors in float (ONNX QDQ, whose Q/DQ pairs ONNX Runtime fuses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

# Op type (TFLite builtin name or ONNX op_type) → cost kind.
KINDS: dict[str, str] = {
    # TFLite
    "CONV_2D": "conv", "DEPTHWISE_CONV_2D": "conv", "TRANSPOSE_CONV": "conv", "CONV_3D": "conv",
    "FULLY_CONNECTED": "matmul", "BATCH_MATMUL": "matmul",
    "MAX_POOL_2D": "pool", "AVERAGE_POOL_2D": "pool", "L2_POOL_2D": "pool", "MEAN": "pool", "SUM": "pool",
    "REDUCE_MAX": "pool", "REDUCE_MIN": "pool",
    "ADD": "elementwise", "SUB": "elementwise", "MUL": "elementwise", "DIV": "elementwise",
    "RELU": "elementwise", "RELU6": "elementwise", "RELU_N1_TO_1": "elementwise", "LEAKY_RELU": "elementwise",
    "PRELU": "elementwise", "LOGISTIC": "elementwise", "TANH": "elementwise", "HARD_SWISH": "elementwise",
    "SOFTMAX": "elementwise", "LOG_SOFTMAX": "elementwise", "QUANTIZE": "elementwise", "DEQUANTIZE": "elementwise",
    "MAXIMUM": "elementwise", "MINIMUM": "elementwise", "EXP": "elementwise", "SQRT": "elementwise",
    "RSQRT": "elementwise", "SQUARED_DIFFERENCE": "elementwise", "ABS": "elementwise", "GELU": "elementwise",
    "TRANSPOSE": "copy", "CONCATENATION": "copy", "PAD": "copy", "PADV2": "copy", "SLICE": "copy",
    "STRIDED_SLICE": "copy", "SPLIT": "copy", "SPLIT_V": "copy", "PACK": "copy", "UNPACK": "copy",
    "GATHER": "copy", "TILE": "copy", "RESIZE_BILINEAR": "copy", "RESIZE_NEAREST_NEIGHBOR": "copy",
    "RESHAPE": "view", "SQUEEZE": "view", "EXPAND_DIMS": "view",
    # ONNX
    "Conv": "conv", "ConvTranspose": "conv", "ConvInteger": "conv", "QLinearConv": "conv",
    "Gemm": "matmul", "MatMul": "matmul", "MatMulInteger": "matmul", "QLinearMatMul": "matmul",
    "MaxPool": "pool", "AveragePool": "pool", "GlobalAveragePool": "pool", "GlobalMaxPool": "pool",
    "ReduceMean": "pool", "ReduceSum": "pool", "ReduceMax": "pool",
    "Add": "elementwise", "Sub": "elementwise", "Mul": "elementwise", "Div": "elementwise",
    "Relu": "elementwise", "LeakyRelu": "elementwise", "PRelu": "elementwise", "Clip": "elementwise",
    "Sigmoid": "elementwise", "Tanh": "elementwise", "HardSwish": "elementwise", "HardSigmoid": "elementwise",
    "Softmax": "elementwise", "LogSoftmax": "elementwise", "QuantizeLinear": "elementwise",
    "DequantizeLinear": "elementwise", "BatchNormalization": "elementwise", "Max": "elementwise",
    "Min": "elementwise", "Exp": "elementwise", "Sqrt": "elementwise", "Erf": "elementwise", "Gelu": "elementwise",
    "Transpose": "copy", "Concat": "copy", "Pad": "copy", "Slice": "copy", "Split": "copy", "Gather": "copy",
    "Tile": "copy", "Resize": "copy",
    "Reshape": "view", "Squeeze": "view", "Unsqueeze": "view", "Flatten": "view", "Identity": "view",
    "Shape": "view", "Constant": "view",
}


@dataclass(frozen=True)
class Tensor:
    """What the cost model needs of a tensor: its shape (dynamic dims as 1) and whether it is a constant."""

    shape: tuple[int, ...]
    const: bool = False

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass(frozen=True)
class OpCost:
    """One op's cost.

    Attributes:
        op: the op type as the file spells it.
        kind: the cost kind (``conv``, ``matmul``, ``pool``, ``elementwise``, ``copy``, ``view``, ``other``).
        precision: ``int8`` or ``fp32`` — which throughput coefficient applies.
        macs: multiply-accumulates (one op per element for non-MAC kinds).
        bytes: bytes read and written.
        shape: ``conv`` ops: ``dw`` (depthwise), ``dwm`` (depthwise with a depth multiplier: TFLite's form of a
            convolution of a 1-channel input), ``grp`` (grouped, more than one input channel per group), ``pw``
            (1x1) or ``std``; empty for other kinds.
        in_bytes, weight_bytes, out_bytes: ``bytes`` split into activations read, constants read, output written.
        fused: the runtime folds this op into the one before it (ONNX Runtime fuses an activation or batch norm
            into the convolution it follows), so it costs nothing of its own.
        cin, cout, window, pixels: ``conv`` and ``matmul`` ops: input channels reduced per output (per group),
            output channels, kernel window (kh x kw; 1 for matmul) and output positions (outputs / cout), which
            set how well the runtime's tiles are filled; ``pool`` ops: ``window`` is inputs per output; 0 for
            other kinds.
        layout: the kernel layout the runtime runs the op in when it chooses one per op (``nchwc``: ONNX Runtime's
            blocked x86 convolution; see ``ortlayout``); empty when unknown or the runtime has one.
    """

    op: str
    kind: str
    precision: str
    macs: int
    bytes: int
    shape: str = ""
    in_bytes: int = 0
    weight_bytes: int = 0
    out_bytes: int = 0
    fused: bool = False
    cin: int = 0
    cout: int = 0
    window: int = 0
    pixels: int = 0
    layout: str = ""


def op_cost(op: str, inputs: Sequence[Optional[Tensor]], outputs: Sequence[Tensor], precision: str) -> OpCost:
    """Cost of one op from its tensors.

    Args:
        op: TFLite builtin name or ONNX op type.
        inputs: the op's inputs in order (``None`` for an absent optional input);
            for conv/matmul, input 1 is the weight.
        outputs: the op's outputs.
        precision: ``"int8"`` or ``"fp32"``.

    Returns:
        The op's ``OpCost``; an op the table does not know costs one op per output
        element (kind ``other``).
    """
    kind = KINDS.get(op, "other")
    ins = [t for t in inputs if t is not None]
    shape = ""
    cin = cout = window = 0
    out_elems = sum(t.elements for t in outputs)
    if kind == "conv" and len(inputs) > 1 and inputs[1] is not None:
        w = inputs[1].shape
        if op == "DEPTHWISE_CONV_2D":  # [1, kh, kw, C]: kh x kw per output element
            per_out = int(np.prod(w[1:3]))
            x = inputs[0].shape if inputs[0] is not None else ()
            shape = "dwm" if x and int(x[-1]) != int(w[-1]) else "dw"  # dwm: a depth multiplier (C_in -> k x C_in)
            cin, cout, window = 1, int(w[-1]), per_out
        elif op == "TRANSPOSE_CONV":  # inputs: output_shape, weights [Cout, kh, kw, Cin], input
            per_out = int(np.prod(w[1:]))
            ins = ins[1:]
            cin, cout, window = int(w[-1]), int(w[0]), int(np.prod(w[1:-1]))
        else:  # [Cout, ...reduced dims...] in both formats
            per_out = int(np.prod(w[1:])) if len(w) > 1 else 1
            shape = _conv_shape(op, w, inputs[0].shape if inputs[0] is not None else ())
            cout = int(w[0])
            if op.startswith("CONV"):  # TFLite [Cout, kh, kw, Cin]
                cin, window = int(w[-1]) if len(w) > 1 else 1, int(np.prod(w[1:-1])) if len(w) > 2 else 1
            else:  # ONNX [Cout, Cin/group, kh, kw]
                cin, window = int(w[1]) if len(w) > 1 else 1, int(np.prod(w[2:])) if len(w) > 2 else 1
            if shape == "dw":
                cin = 1
        macs = out_elems * per_out
    elif kind == "matmul" and len(ins) >= 2:
        a, b = ins[0].shape, ins[1].shape
        if op == "FULLY_CONNECTED":
            reduced = b[-1] if b else 1  # weights [units, in]
        else:
            reduced = a[-1] if a else 1  # A [.., M, K]: K (Gemm transA is rare in exported models)
        macs = out_elems * int(reduced)
        out_shape = outputs[0].shape if outputs else ()
        cin, cout, window = int(reduced), int(out_shape[-1]) if out_shape else 1, 1
    elif kind == "pool":
        macs = ins[0].elements if ins else out_elems
        window = max(1, macs // max(out_elems, 1))  # inputs per output: a global pool reduces a whole map
    elif kind in ("copy", "view"):
        macs = 0
    else:
        macs = out_elems
    if kind == "view":
        return OpCost(op, kind, precision, 0, 0)
    itemsize = 1 if precision == "int8" else 4
    acts = sum(t.elements for t in ins if not t.const) * itemsize
    weights = sum(t.elements for t in ins if t.const) * itemsize
    out = out_elems * itemsize
    pixels = out_elems // cout if cout else 0
    return OpCost(op, kind, precision, int(macs), int(acts + weights + out), shape, int(acts), int(weights), int(out),
                  cin=cin, cout=cout, window=window, pixels=int(pixels))


def _conv_shape(op: str, w: tuple[int, ...], x: tuple[int, ...]) -> str:
    """``dw``, ``grp``, ``pw`` or ``std`` for a convolution from its weight (and input) shape.

    TFLite ``CONV_2D`` weights are ``[Cout, kh, kw, Cin]``; ONNX ``Conv`` weights ``[Cout, Cin/group, kh, kw]``,
    depthwise when ``Cin/group`` is 1 and the input has ``Cout`` channels.
    """
    if op.startswith("CONV") or op == "TRANSPOSE_CONV":
        spatial = w[1:-1]
        if op == "CONV_2D" and len(w) == 4 and len(x) == 4 and int(x[-1]) != int(w[-1]):
            return "grp"  # [Cout, kh, kw, Cin/groups] on an input of Cin channels
    else:
        if len(w) >= 2 and w[1] == 1 and len(x) >= 2 and x[1] == w[0] and w[0] > 1:
            return "dw"
        if len(w) >= 2 and len(x) >= 2 and int(x[1]) != int(w[1]):
            return "grp"  # [Cout, Cin/group, kh, kw]
        spatial = w[2:]
    return "pw" if spatial and all(int(d) == 1 for d in spatial) else "std"
