"""Mixed precision under a size budget: per-layer sensitivity, then the bit-widths that lose least.

1. Sensitivity: for every weight layer and every lower bit-width (int8, int4),
   the ONNX file with only that layer quantized is built and run with ONNX
   Runtime on validation windows; its cost is the drop of the validation metric
   against the fp32 file, plus a small tie-breaker (1 % of the mean |Δlogit|) so
   that layers the coarse metric cannot tell apart are still ordered.
2. Assignment: the file size of a bit-width assignment is the fp32 file's plus
   each layer's measured size change, so choosing one option per layer under a
   size budget with the least total cost is a multiple-choice knapsack, solved
   exactly over the Pareto front of (size, cost) partial assignments.
3. The chosen file is built and its real size checked against the budget (the
   budget shrinks by the overshoot and the choice is repeated if it is over).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekd.atomic import temp_dir
from edgekd.errors import InputError
from edgekd.exporting.onnx_weights import quantize_weights, weight_layers

LOWER_BITS = (8, 4)
TIE_BREAK = 0.01  # weight of the mean |Δlogit| in a layer's cost


@dataclass(frozen=True)
class Option:
    """One layer at one bit-width: its measured size change and cost."""

    layer: str
    bits: int
    size_delta: int
    cost: float


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    from edgekd.runtime.artifact import load_artifact

    return load_artifact(path, threads=1).predict(x)


def layer_sensitivity(
    fp32_path: str | os.PathLike[str], x: np.ndarray, score: Callable[[np.ndarray], float], work_dir: Path
) -> dict[str, Any]:
    """Measure every layer's cost at every lower bit-width by running single-layer variants.

    Args:
        fp32_path: the fp32 ONNX file.
        x: validation windows ``(N, C, H, W)``.
        score: logits → validation metric.
        work_dir: scratch folder for the variants.

    Returns:
        ``{"fp32_size", "fp32_score", "layers": [{"name", "op", "params", "options": {bits: {...}}}]}``.
    """
    import onnx

    fp32_path = Path(fp32_path)
    base = _run(fp32_path, x)
    base_score = float(score(base))
    # the size every variant starts from: the fp32 graph as this module re-saves it (opset 21, no
    # exporter metadata), so the per-layer size changes add up
    base_size = quantize_weights(fp32_path, work_dir / "base.onnx", {}).stat().st_size
    layers = []
    for layer in weight_layers(onnx.load(str(fp32_path))):
        options = {}
        for bits in LOWER_BITS:
            variant = quantize_weights(fp32_path, work_dir / f"{layer.name}-{bits}.onnx", {layer.name: bits})
            logits = _run(variant, x)
            s = float(score(logits))
            dlogit = float(np.abs(logits - base).mean())
            options[bits] = {
                "score": s,
                "drop": base_score - s,
                "mean_abs_dlogit": dlogit,
                "size_delta": variant.stat().st_size - base_size,
                "cost": max(base_score - s, 0.0) + TIE_BREAK * dlogit,
            }
            variant.unlink()
        layers.append({"name": layer.name, "op": layer.op, "params": layer.size, "options": options})
    return {"fp32_size": base_size, "fp32_score": base_score, "layers": layers}


def choose_bits(sensitivity: dict[str, Any], budget_bytes: float) -> dict[str, int] | None:
    """The assignment with the least total cost whose estimated size fits ``budget_bytes`` (None if none fits)."""
    front: list[tuple[int, float, dict[str, int]]] = [(sensitivity["fp32_size"], 0.0, {})]
    for layer in sensitivity["layers"]:
        choices = [Option(layer["name"], 32, 0, 0.0)] + [
            Option(layer["name"], b, o["size_delta"], o["cost"]) for b, o in layer["options"].items()
        ]
        grown = [(size + c.size_delta, cost + c.cost, {**bits, c.layer: c.bits}) for size, cost, bits in front for c in choices]
        grown.sort(key=lambda s: (s[0], s[1]))
        front, best = [], float("inf")
        for state in grown:  # keep the Pareto front: each larger size must cost strictly less
            if state[1] < best - 1e-12:
                front.append(state)
                best = state[1]
    fitting = [s for s in front if s[0] <= budget_bytes]
    if not fitting:
        return None
    return min(fitting, key=lambda s: (s[1], s[0]))[2]


def export_mixed(
    fp32_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    x: np.ndarray,
    score: Callable[[np.ndarray], float],
    size_kb: float,
    subject: str = "model",
) -> dict[str, Any]:
    """Build the mixed-precision ONNX file that meets ``size_kb`` with the least validation loss.

    Args:
        fp32_path: the fp32 ONNX file.
        out_path: the mixed file to write.
        x, score: validation windows and metric (sensitivity).
        size_kb: the file-size budget in KiB (1024 bytes).
        subject: the model name, for messages.

    Returns:
        Details for the sidecar/report: ``bits`` per layer, ``size_kb`` budget,
        ``estimated_bytes``, ``sensitivity``.

    Raises:
        InputError: no assignment meets the budget (the message gives the smallest possible size).
    """
    out_path = Path(out_path)
    budget = size_kb * 1024
    with temp_dir("mixed") as tmp:
        sens = layer_sensitivity(fp32_path, x, score, Path(tmp))
        floor = quantize_weights(fp32_path, Path(tmp) / "all-int4.onnx", min(LOWER_BITS)).stat().st_size
    if floor > budget:
        raise InputError(
            f"mixed precision: no bit-width assignment of {subject} fits export.mixed.size_kb = {size_kb:g} KiB; "
            f"the smallest possible file (every layer int4 weights) is {floor / 1024:.1f} KiB"
        )
    limit = budget
    for _ in range(8):
        bits = choose_bits(sens, limit)
        if bits is None:
            break
        quantize_weights(fp32_path, out_path, bits)
        actual = out_path.stat().st_size
        if actual <= budget:
            return {
                "size_kb": size_kb,
                "bytes": actual,
                "bits": {name: bits.get(name, 32) for name in (layer["name"] for layer in sens["layers"])},
                "sensitivity": sens,
            }
        limit -= actual - budget  # the additive size estimate was optimistic: aim lower
    quantize_weights(fp32_path, out_path, min(LOWER_BITS))  # the floor fits (checked above)
    return {"size_kb": size_kb, "bytes": out_path.stat().st_size,
            "bits": {layer["name"]: min(LOWER_BITS) for layer in sens["layers"]}, "sensitivity": sens}
