"""Which kernel layout ONNX Runtime's CPU optimizer gives each convolution, read from the graph it really runs.

ONNX Runtime does not run an ONNX file's graph as written. Its optimizer (level ``ALL``) rewrites it per CPU:

* on x86 with AVX2 or AVX-512, a float convolution becomes an ``nchwc`` blocked convolution when its channels
  fit the SIMD block (output channels are padded up; a depthwise one needs its channels a multiple of the block),
  which is much faster per MAC than the plain ``Conv``/``FusedConv`` a pruned odd channel count leaves it; it
  inserts ``ReorderInput``/``ReorderOutput`` where the graph goes in and out of the blocked layout;
* an int8 graph's convolutions become NHWC ``QLinearConv`` with ``Transpose`` at the layout's edges.

So two networks of the same MACs differ 2x in speed by their channel counts and neighbours. This module asks the
installed onnxruntime for the optimized graph (``optimized_model_filepath``) and reports, in terms of the
*original* graph's tensor names, which float convolutions stayed plain and which layout ops were inserted. The
cost model then gives blocked convolutions and reorders their own predictors (``kernelmodel``).

The answer depends on the CPU: ``layout_for`` names the layout class of a device (``ort-nchwc16`` for AVX-512,
``ort-nchwc8`` for AVX2, ``ort`` elsewhere: no blocked layout), and ``host_layout`` this machine's; the block
width itself is MLAS's choice for the CPU, so only a host of the device's class is asked. The blocked
transformer is switched off when the device has none, so an x86 host can answer for an Arm device; it cannot
answer for a wider block than its own (``can_reproduce``).

Example:
    >>> from edgekd.runners.ortlayout import layout_for
    >>> layout_for("x86_64", ["avx2", "fma", "avx512f"]), layout_for("aarch64", ["neon"])
    ('ort-nchwc16', 'ort')
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from edgekd.atomic import temp_dir

#: ONNX Runtime's inserted layout ops (costed as ``reorder``)
LAYOUT_OPS = ("ReorderInput", "ReorderOutput", "Transpose")


def layout_for(machine: str, isa: Sequence[str]) -> str:
    """The ONNX Runtime layout class of a device: its NCHWc block width (MLAS: 16 floats with AVX-512F, 8 with
    AVX2) or ``ort`` (no blocked layout: Arm, older x86)."""
    if machine not in ("x86_64", "AMD64", "i686", "x86"):
        return "ort"
    flags = set(isa)
    return "ort-nchwc16" if "avx512f" in flags else "ort-nchwc8" if "avx2" in flags else "ort"


def host_layout() -> str:
    """This machine's layout class (``layout_for`` of its machine and ISA flags)."""
    from edgekd.runtime.latency import host_info

    info = host_info()
    return layout_for(platform.machine(), info.get("isa") or [])


def can_reproduce(layout: str) -> bool:
    """Whether this machine's onnxruntime can show the graph a device of ``layout`` runs: onnxruntime and onnx are
    installed, and the device has the same blocked width or no blocked layout (the transformer is switched off)."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        return False  # nothing here can show the optimized graph: the file is read as written, and the estimate says so
    return layout == "ort" or layout == host_layout()


@dataclass
class OrtGraph:
    """What the optimizer did to a graph, by the original graph's names.

    Attributes:
        plain: names (weights and outputs) of the float convolutions left as plain ``Conv``/``FusedConv``.
        blocked: whether any convolution became an NCHWc one (if not, every convolution is plain).
        inserted: ``(op type, tensor name)`` of each layout op the optimizer added, with an original tensor it
            reads or writes (its size is that tensor's).
    """

    plain: set[str] = field(default_factory=set)
    blocked: bool = False
    inserted: list[tuple[str, str]] = field(default_factory=list)


def optimized_graph(path: str | os.PathLike[str], layout: str, original: Any) -> Optional[OrtGraph]:
    """Run ONNX Runtime's optimizer on ``path`` as a device of ``layout`` would, and compare with ``original``
    (the file's ``onnx.ModelProto``). ``None`` when onnxruntime is not installed or cannot load the file (the
    cost model then goes without layouts)."""
    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        return None
    with temp_dir("ortlayout") as tmp:
        out = Path(tmp) / "optimized.onnx"
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.optimized_model_filepath = str(out)
        so.intra_op_num_threads = 1
        so.log_severity_level = 3
        disabled = [] if layout.startswith("ort-nchwc") else ["NchwcTransformer"]
        try:
            ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)
            opt = onnx.load(str(out))
        except Exception:
            return None
    names = {n.name for n in original.graph.node}
    known = ({v.name for v in original.graph.value_info} | {v.name for v in original.graph.input}
             | {v.name for v in original.graph.output} | {o for n in original.graph.node for o in n.output})
    result = OrtGraph()
    for node in opt.graph.node:
        if node.domain == "com.microsoft.nchwc" and node.op_type == "Conv":
            result.blocked = True
        elif node.op_type in ("Conv", "FusedConv") and node.domain in ("", "com.microsoft"):
            result.plain.update(n for n in (*node.input[1:2], *node.output) if n)
        elif node.op_type in LAYOUT_OPS and node.name not in names:
            tensor = next((n for n in (*node.input[:1], *node.output) if n in known), None)
            if tensor is not None:
                result.inserted.append((node.op_type, tensor))
    return result
