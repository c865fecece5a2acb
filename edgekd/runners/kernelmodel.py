"""A device's latency model from its calibration: per-kernel predictors, one set per runtime, fitted on timings.

Every op of a graph (``graph_costs``) falls in a group — a standard, depthwise, grouped or pointwise convolution
(ONNX Runtime's blocked NCHWc ones apart, see ``ortlayout``), a dense layer, max/average/mean pooling, a binary
op, a hard (piecewise-linear) or other activation, other elementwise work, (de)quantize, a copy, a layout reorder
ONNX Runtime inserts, or an op the runtime fuses into the one before it — at its precision (int8 or fp32). Each group predicts the op's time
as a non-negative linear function of its work (``feature_values``): a fixed cost per op, multiply-accumulates as
counted and as the kernel's tiles really do them (channels rounded up), window taps and output positions, bytes
read and written, and the bytes beyond 1 and 4 MB (data that no longer fits in a core's cache streams from
farther away). A graph's time is the runtime's fixed cost per invoke plus the sum over its ops.

The coefficients are fitted on a device's micro-benchmarks (``edgekd targets calibrate``), all of one runtime at
once: each suite file's measured time is the sum of its ops' predictions, so a file's extra ops (a PAD, a
boundary QUANTIZE) are accounted for by their own group instead of being subtracted by hand. The fit minimises
the relative error (non-negative least squares on rows divided by the measured time).

Example:
    >>> from edgekd.runners.opcost import OpCost
    >>> from edgekd.runners.kernelmodel import KernelModel
    >>> m = KernelModel(runtime="r", version="1", invoke_us=10.0,
    ...                 coef={"int8/conv-pw": {"ops": 2.0, "mmacs": 50.0}})
    >>> round(m.predict([OpCost("CONV_2D", "conv", "int8", 1_000_000, 0, "pw")])["latency_ms"], 4)
    0.062
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import numpy as np

from edgekd.runners.opcost import OpCost

_CONV = ("ops", "mmacs", "tile16", "tile64", "tilek64", "rem16", "kremc", "odd16", "orem16", "taps", "pixels", "in_mb",
         "w_mb", "out_mb", "over1_mb", "over4_mb")
_DW = ("ops", "mmacs", "tile16", "rem16", "rem8", "odd16", "orem16", "narrow", "taps", "pixels", "in_mb", "out_mb")
_SPILL = ("over1_mb", "over4_mb")
#: group → the features its predictor is linear in (see ``feature_values``)
FEATURES: dict[str, tuple[str, ...]] = {
    "conv-std": _CONV,
    "conv-pw": _CONV,
    "conv-dw": (*_DW, *_SPILL),
    "conv-dwm": ("ops", "mmacs", "taps", "pixels", "in_mb", "out_mb", *_SPILL),
    "conv-grp": _CONV,
    "conv-std-b": _CONV,
    "conv-pw-b": _CONV,
    "conv-dw-b": (*_DW, *_SPILL),
    "dense": ("ops", "mmacs", "tile16", "tile64", "tilek64", "rem16", "kremc", "w_mb", *_SPILL),
    "pool-max": ("ops", "in_mb", "out_mb", *_SPILL),
    "pool-avg": ("ops", "in_mb", "out_mb", *_SPILL),
    "pool-mean": ("ops", "in_mb", "out_mb", *_SPILL),
    "binary": ("ops", "mb", *_SPILL),
    "act": ("ops", "mb"),
    "act-hard": ("ops", "mb"),
    "eltwise": ("ops", "mb"),
    "convert": ("ops", "mb"),
    "copy": ("ops", "mb"),
    "reorder": ("ops", "mb", *_SPILL),
    "fused": ("ops", "mb"),
}
#: what an op of a group the calibration never saw is predicted with (recorded as ``borrowed``)
FALLBACK = {"conv-std": "conv-pw", "conv-pw": "conv-std", "conv-dw": "conv-std", "conv-dwm": "conv-dw",
            "conv-grp": "conv-std", "conv-std-b": "conv-std", "conv-pw-b": "conv-pw", "conv-dw-b": "conv-dw",
            "reorder": "copy", "act-hard": "act", "dense": "conv-pw",
            "pool-max": "pool-mean", "pool-avg": "pool-mean", "pool-mean": "eltwise", "binary": "eltwise",
            "act": "eltwise", "convert": "eltwise", "copy": "eltwise", "fused": "eltwise", "eltwise": "binary"}
#: an average pool reducing at least this many inputs per output is costed as a global mean (``pool-mean``)
GLOBAL = 16
_CONVERT = ("QUANTIZE", "DEQUANTIZE", "QuantizeLinear", "DequantizeLinear", "Cast", "CAST")
_MAX = ("MAX_POOL_2D", "MaxPool", "GlobalMaxPool", "REDUCE_MAX", "ReduceMax")
_AVG = ("AVERAGE_POOL_2D", "AveragePool")
_ACT = ("HARD_SWISH", "LOGISTIC", "TANH", "GELU", "EXP", "SOFTMAX", "LOG_SOFTMAX", "HardSwish", "HardSigmoid",
        "Sigmoid", "Tanh", "Gelu", "Erf", "Exp", "Softmax", "LogSoftmax")
#: piecewise-linear activations (hard-swish, hard-sigmoid): arithmetic, where sigmoid/tanh/exp are lookup tables
#: or polynomials in int8 kernels, so the two cost differently per value
_HARD = ("HARD_SWISH", "HardSwish", "HardSigmoid")
_BINARY = ("ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "Add", "Sub", "Mul", "Div",
           "Max", "Min")


def group_of(c: OpCost) -> Optional[str]:
    """The predictor group of an op (``None``: free, a view the runtime aliases)."""
    if c.kind == "view":
        return None
    if c.fused:
        return "fused"
    if c.layout == "inserted":
        return "reorder"
    if c.kind == "conv":
        blocked = "-b" if c.layout == "nchwc" and c.shape in ("std", "pw", "dw") else ""
        return f"conv-{c.shape or 'std'}{blocked}"
    if c.kind == "matmul":
        return "dense"
    if c.kind == "pool":  # an average pool over a whole map (window = the map) is a global mean
        return "pool-max" if c.op in _MAX else "pool-avg" if c.op in _AVG and c.window < GLOBAL else "pool-mean"
    if c.kind == "copy":
        return "copy"
    if c.op in _CONVERT:
        return "convert"
    if c.op in _HARD:
        return "act-hard"
    return "act" if c.op in _ACT else "binary" if c.op in _BINARY else "eltwise"


def _up(n: int, tile: int) -> int:
    return -(-max(n, 1) // tile) * tile


def feature_values(c: OpCost) -> dict[str, float]:
    """Every feature a predictor may use, for one op.

    ``mmacs``: millions of MACs; ``tile16``/``tile64``: MACs with the output channels rounded up to a 16- or
    64-wide kernel tile and the reduced channels to 4 (the work a SIMD/matrix kernel really does on odd channel
    counts); ``taps``: millions of output positions x window (indirection/im2col work, whatever the channels);
    ``pixels``: millions of output positions; ``*_mb``: megabytes read and written; ``orem16``: output values per
    position beyond a multiple of 16 channels (a kernel's scalar tail: requantizing an int8 output of 113 channels
    costs far more per value than of 112); ``rem8``: MACs on channels beyond a multiple of 8; ``narrow``: output
    positions of a layer under 16 channels wide (per-position overhead no SIMD lane amortizes).
    """
    taps = c.pixels * max(c.window, 1)
    mb = c.bytes / 1e6
    cin = max(c.cin, 1)
    return {"ops": 1.0, "over1_mb": max(0.0, mb - 1.0), "over4_mb": max(0.0, mb - 4.0), "mmacs": c.macs / 1e6,
            "tile16": taps * _up(c.cin, 4) * _up(c.cout, 16) / 1e6 if c.cout else c.macs / 1e6,
            "tile64": taps * _up(c.cin, 4) * _up(c.cout, 64) / 1e6 if c.cout else c.macs / 1e6,
            "tilek64": taps * _up(c.cin, 64) * _up(c.cout, 16) / 1e6 if c.cout else c.macs / 1e6,
            "rem16": taps * cin * (c.cout % 16) / 1e6, "kremc": taps * (c.cin % 16) * c.cout / 1e6,
            "odd16": c.macs / 1e6 if c.cout and (c.cout % 16 or (c.cin > 1 and c.cin % 16)) else 0.0,
            "orem16": c.pixels * (c.cout % 16) / 1e6, "rem8": taps * cin * (c.cout % 8) / 1e6,
            "narrow": c.pixels / 1e6 if 0 < c.cout < 16 else 0.0,
            "taps": taps / 1e6, "pixels": c.pixels / 1e6,
            "in_mb": c.in_bytes / 1e6, "w_mb": c.weight_bytes / 1e6, "out_mb": c.out_bytes / 1e6, "mb": c.bytes / 1e6}


def features(c: OpCost, group: str) -> np.ndarray:
    """The op's feature vector for ``group`` (``FEATURES[group]`` order)."""
    values = feature_values(c)
    return np.array([values[f] for f in FEATURES[group]], dtype=np.float64)


def columns() -> list[str]:
    """The fit's parameter names: ``invoke``, ``PRECISION/GROUP/FEATURE`` (an op with its weights and the runtime
    hot in the caches), then ``ctx:invoke`` and ``ctx:PRECISION/GROUP/FEATURE`` (what a layer deep in a network that
    fills the cache pays on top)."""
    hot = ["invoke"] + [f"{p}/{g}/{f}" for p in ("int8", "fp32") for g, fs in FEATURES.items() for f in fs]
    return hot + [f"ctx:{name}" for name in hot]


def working_set_share(costs: Iterable[OpCost], cache_kb: float) -> float:
    """How much of the per-core cache (``cache_kb``, L2) a graph's working set fills, capped at 1: its weights plus
    every tensor it writes, per invoke. 0 for an unknown cache size (the hot context)."""
    if cache_kb <= 0:
        return 0.0
    ws = sum(c.weight_bytes + c.out_bytes for c in costs if c.kind != "view")
    return float(min(1.0, ws / (cache_kb * 1024.0)))


def design_row(costs: Iterable[OpCost], share: float = 0.0) -> np.ndarray:
    """One graph as a row of the fit: the sum of its ops' features in their groups' columns, and ``share`` times
    the same in the ``ctx:`` columns (µs = row · θ)."""
    names = columns()
    cols = {name: i for i, name in enumerate(names)}
    half = len(names) // 2
    row = np.zeros(len(names))
    row[0] = 1.0
    for c in costs:
        g = group_of(c)
        if g is None:
            continue
        for name, v in zip(FEATURES[g], features(c, g)):
            row[cols[f"{c.precision}/{g}/{name}"]] += v
    row[half:] = share * row[:half]
    return row


@dataclass
class KernelModel:
    """One runtime's fitted predictors: µs per invoke, per ``PRECISION/GROUP`` the coefficient of each feature when
    hot (``coef``) and the extra deep in a cache-filling network (``ctx``), the cache size that scales it, and the
    ONNX Runtime layout class its graphs were read with (``layout``; empty: as written)."""

    runtime: str
    version: str
    invoke_us: float
    coef: dict[str, dict[str, float]] = field(default_factory=dict)
    ctx_invoke_us: float = 0.0
    ctx: dict[str, dict[str, float]] = field(default_factory=dict)
    cache_kb: float = 0.0
    layout: str = ""

    def predict(self, costs: Sequence[OpCost]) -> dict:
        """Predicted latency of a graph: ``{"latency_ms", "invoke_ms", "groups": {key: ms}, "borrowed": [...],
        "cache_share"}``.

        Each op costs its hot prediction plus ``cache_share`` (``working_set_share``) times its context extra. An op
        whose group this runtime was not calibrated on is predicted with ``FALLBACK``'s group (or the other
        precision's), and listed in ``borrowed``.
        """
        share = working_set_share(costs, self.cache_kb)
        groups: dict[str, float] = {}
        borrowed: list[str] = []
        for c in costs:
            g = group_of(c)
            if g is None:
                continue
            key = self._key(c.precision, g)
            if key is None:
                borrowed.append(f"{c.op} ({c.precision}/{g}: no calibration of its own, not counted)")
                continue
            if key != f"{c.precision}/{g}":
                borrowed.append(f"{c.op} ({c.precision}/{g} predicted as {key})")
            group = key.split("/", 1)[1]
            values = features(c, group)
            hot, extra = self.coef[key], self.ctx.get(key, {})
            us = sum((hot.get(name, 0.0) + share * extra.get(name, 0.0)) * v for name, v in zip(FEATURES[group], values))
            groups[key] = groups.get(key, 0.0) + float(us) / 1e3
        invoke = (self.invoke_us + share * self.ctx_invoke_us) / 1e3
        return {"latency_ms": invoke + sum(groups.values()), "invoke_ms": invoke, "groups": groups,
                "borrowed": sorted(set(borrowed)), "cache_share": round(share, 4)}

    def _key(self, precision: str, group: str) -> Optional[str]:
        other = "fp32" if precision == "int8" else "int8"
        for key in (f"{precision}/{group}", f"{precision}/{FALLBACK[group]}", f"{other}/{group}"):
            if key in self.coef:
                return key
        return None

    def to_dict(self) -> dict:
        return {"runtime": self.runtime, "version": self.version, "invoke_us": self.invoke_us, "coef": self.coef,
                "ctx_invoke_us": self.ctx_invoke_us, "ctx": self.ctx, "cache_kb": self.cache_kb,
                "layout": self.layout}

    @classmethod
    def from_dict(cls, d: dict) -> "KernelModel":
        def table(t: dict) -> dict[str, dict[str, float]]:
            return {str(k): {str(f): float(v) for f, v in fs.items()} for k, fs in t.items()}

        return cls(runtime=str(d["runtime"]), version=str(d["version"]), invoke_us=float(d["invoke_us"]),
                   coef=table(d["coef"]), ctx_invoke_us=float(d.get("ctx_invoke_us", 0.0)),
                   ctx=table(d.get("ctx", {})), cache_kb=float(d.get("cache_kb", 0.0)),
                   layout=str(d.get("layout", "")))


def fit(graphs: Sequence[Sequence[OpCost]], measured_ms: Sequence[float], runtime: str, version: str, *,
        context_ms: Optional[Sequence[float]] = None, cache_kb: float = 0.0, layout: str = "") -> KernelModel:
    """Fit a runtime's predictors to graphs and their measured ms (relative-error NNLS).

    Args:
        graphs, measured_ms: each graph's ops and its time alone (hot).
        context_ms: each graph's time after other graphs ran (``suitebench``'s ``ms_ctx``): fits the ``ctx`` extra
            (a graph timed so counts as filling the cache). None: a hot-only model.
        cache_kb: the device's per-core (L2) cache, which a network's working set is compared with.
        layout: the ONNX Runtime layout class ``graphs`` were read with (kept, so estimates read files the same way).

    Only groups some graph uses get coefficients; a group never seen stays absent (``predict`` borrows).

    Raises:
        ValueError: no graphs, or a measured time that is not positive.
    """
    from scipy.optimize import nnls

    if not graphs:
        raise ValueError("no timed graphs to fit")
    rows = [design_row(g, 0.0) for g in graphs]
    times = list(measured_ms)
    if context_ms is not None:
        rows += [design_row(g, 1.0) for g in graphs]
        times += list(context_ms)
    y = np.asarray(times, dtype=np.float64) * 1e3
    if (y <= 0).any() or not np.isfinite(y).all():
        raise ValueError("every measured time must be positive and finite")
    x = np.stack(rows)
    used = np.flatnonzero(x.any(axis=0))
    scale = x[:, used].max(axis=0)  # columns of similar size, so NNLS is well conditioned
    a = x[:, used] / scale / y[:, None]
    b = np.ones(len(y))
    theta_used, _ = nnls(a, b, maxiter=50 * len(used) + 500)
    theta = np.zeros(x.shape[1])
    theta[used] = theta_used / scale
    names = columns()
    half = len(names) // 2
    coef: dict[str, dict[str, float]] = {}
    ctx: dict[str, dict[str, float]] = {}
    for i in used:
        if i in (0, half):
            continue
        table, name = (ctx, names[i][4:]) if i > half else (coef, names[i])
        precision, group, feature = name.split("/")
        table.setdefault(f"{precision}/{group}", {})[feature] = float(theta[i])
    for key in ctx:  # a group with a context extra has its hot predictor too (the two share their columns)
        coef.setdefault(key, {})
    return KernelModel(runtime=runtime, version=version, invoke_us=float(theta[0]), coef=coef,
                       ctx_invoke_us=float(theta[half]), ctx=ctx, cache_kb=float(cache_kb), layout=layout)
