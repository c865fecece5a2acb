"""Output parity of one artifact between two builds of its runtime (aarch64 under qemu vs this x86 host).

The same inputs, already in the artifact's own dtype and layout, go through
both sides; the outputs are compared the way their precision demands:

* integer outputs (a fully-int8 TFLite): difference in quantization steps (LSB)
  of the raw outputs, allowed ``lsb`` (1 by default);
* float outputs of a quantized graph (ONNX QDQ ends in ``DequantizeLinear``):
  the difference divided by that node's scale is the LSB difference, allowed ``lsb``;
* other float outputs (fp32 graphs): max absolute difference, allowed ``atol``.

Inputs are deterministic: seeded random tensors over the input's whole range,
plus, when given, real feature windows (e.g. log-mel windows of a heart-sound
recording made with ``edgekd.runtime.frontend``) quantized like ``Artifact.predict`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from edgekd.runtime.artifact import Artifact, _quantize, channels_last
from edgekd.runtime.frontends import frontend_of_sidecar
from edgekd.runtime.latency import sample_input


def feature_windows(meta: dict[str, Any], path: str | Path, limit: int) -> np.ndarray:
    """Up to ``limit`` float channel-first model inputs of one file, made with the sidecar's own front-end.

    Args:
        meta: the artifact's sidecar (its ``frontend`` section).
        path: a file the front-end reads (a recording, a photo, an array).
        limit: most windows returned (evenly spread over the recording).
    """
    feats = frontend_of_sidecar(meta, path).load(path)
    pick = np.unique(np.linspace(0, len(feats) - 1, num=min(limit, len(feats))).round().astype(int))
    return feats[pick]



def parity_inputs(artifact: Artifact, n_random: int, windows: Optional[np.ndarray] = None,
                  seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Stack the parity inputs in the artifact's raw dtype and layout, batch 1 each.

    Args:
        artifact: the x86 side, loaded (gives the input description).
        n_random: seeded random inputs (seeds ``seed .. seed+n_random-1``) over the dtype's range.
        windows: optional float NCHW feature windows ``(n, C, H, W)``.
        seed: first seed.

    Returns:
        ``(inputs (k, *input shape), description)``.
    """
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in artifact.input["shape"]]
    items = [sample_input(artifact, seed=seed + i).reshape(shape) for i in range(n_random)]
    n_real = 0
    if windows is not None and len(windows):
        w = np.asarray(windows, dtype=np.float32)
        if channels_last(artifact.input.get("layout")) and w.ndim >= 3:
            w = np.moveaxis(w, 1, -1)
        raw = _quantize(w, artifact.input)
        items += [np.ascontiguousarray(r.reshape(shape)) for r in raw]
        n_real = len(raw)
    desc = {"random": n_random, "random_seed": seed, "real_windows": n_real}
    return np.stack(items), desc


def onnx_output_scale(path: str | Path) -> Optional[float]:
    """The scale of the ``DequantizeLinear`` that makes an ONNX graph's first output, if any.

    Host-side only (needs the ``onnx`` package); ``None`` for a float graph or without ``onnx``.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return None
    graph = onnx.load(str(path), load_external_data=False).graph
    producer = {out: node for node in graph.node for out in node.output}
    node = producer.get(graph.output[0].name)
    if node is None or node.op_type != "DequantizeLinear" or len(node.input) < 2:
        return None
    inits = {t.name: t for t in graph.initializer}
    scale = inits.get(node.input[1])
    if scale is None:
        return None
    values = numpy_helper.to_array(scale).ravel()
    return float(values[0]) if values.size == 1 else None


def compare_outputs(reference: np.ndarray, got: np.ndarray, *, output: dict[str, Any],
                    float_lsb: Optional[float], atol: float, lsb: int) -> dict[str, Any]:
    """Compare raw outputs of both sides; the parity record of the emulated result.

    Args:
        reference: x86 outputs, stacked.
        got: aarch64 outputs, stacked (same shape).
        output: the artifact's output description (dtype, quantization).
        float_lsb: one quantization step of a float output (ONNX QDQ), ``None`` for fp32 graphs.
        atol: allowed max |difference| of fp32 outputs.
        lsb: allowed difference of quantized outputs, in steps.

    Returns:
        ``{"n", "max_abs_diff", "tolerance", "tolerance_unit" ("LSB" or "abs"), "passed", "compared",
        "values_differing", "argmax_agree"}`` plus ``max_lsb_diff`` for quantized outputs.
    """
    if reference.shape != got.shape:
        return {"n": int(len(reference)), "passed": False, "compared": "shape",
                "error": f"output shapes differ: x86 {list(reference.shape)} vs aarch64 {list(got.shape)}"}
    integer = np.dtype(output["dtype"]).kind in "iu"
    diff = np.abs(reference.astype(np.float64) - got.astype(np.float64))
    record: dict[str, Any] = {"n": int(len(reference))}
    if integer:
        max_lsb = float(diff.max(initial=0.0))
        quant = output.get("quantization") or {}
        scale = float(quant["scale"][0]) if quant.get("scale") else 1.0
        record.update(max_abs_diff=max_lsb * scale, max_lsb_diff=int(max_lsb), tolerance=lsb, tolerance_unit="LSB",
                      passed=max_lsb <= lsb, compared="raw integer outputs")
    elif float_lsb:
        steps = float(np.round(diff / float_lsb).max(initial=0.0))
        record.update(max_abs_diff=float(diff.max(initial=0.0)), max_lsb_diff=int(steps), lsb=float_lsb,
                      tolerance=lsb, tolerance_unit="LSB", passed=steps <= lsb,
                      compared="dequantized outputs, in steps of the output DequantizeLinear scale")
    else:
        max_abs = float(diff.max(initial=0.0))
        record.update(max_abs_diff=max_abs, tolerance=atol, tolerance_unit="abs", passed=max_abs <= atol,
                      compared="float outputs")
    record["values_differing"] = f"{int(np.count_nonzero(diff))} of {diff.size}"
    record["argmax_agree"] = float(np.mean(reference.reshape(len(reference), -1).argmax(1)
                                           == got.reshape(len(got), -1).argmax(1)))
    return record
