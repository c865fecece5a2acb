"""A device's latency model from its calibration: per-kernel predictors, one set per runtime, fitted on timings.

Every op of a graph (``graph_costs``) falls in a group — a standard, depthwise or pointwise convolution, a dense
layer, pooling, elementwise, (de)quantize, a copy, or an op the runtime fuses into the one before it — at its
precision (int8 or fp32). Each group predicts the op's time as a non-negative linear function of its work:
a fixed cost per op, multiply-accumulates, and bytes read (activations, weights) and written. A graph's time is
the runtime's fixed cost per invoke plus the sum over its ops.

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

#: group → the features its predictor is linear in (ops: 1 per op; mmacs: millions of MACs; *_mb: megabytes)
FEATURES: dict[str, tuple[str, ...]] = {
    "conv-std": ("ops", "mmacs", "in_mb", "w_mb", "out_mb"),
    "conv-pw": ("ops", "mmacs", "in_mb", "w_mb", "out_mb"),
    "conv-dw": ("ops", "mmacs", "in_mb", "out_mb"),
    "dense": ("ops", "mmacs", "w_mb"),
    "pool": ("ops", "in_mb", "out_mb"),
    "eltwise": ("ops", "mb"),
    "convert": ("ops", "mb"),
    "copy": ("ops", "mb"),
    "fused": ("ops", "mb"),
}
#: what an op of a group the calibration never saw is predicted with (recorded as ``borrowed``)
FALLBACK = {"conv-std": "conv-pw", "conv-pw": "conv-std", "conv-dw": "conv-std", "dense": "conv-pw",
            "pool": "eltwise", "convert": "eltwise", "copy": "eltwise", "fused": "eltwise", "eltwise": "copy"}
_CONVERT = ("QUANTIZE", "DEQUANTIZE", "QuantizeLinear", "DequantizeLinear", "Cast", "CAST")


def group_of(c: OpCost) -> Optional[str]:
    """The predictor group of an op (``None``: free, a view the runtime aliases)."""
    if c.kind == "view":
        return None
    if c.fused:
        return "fused"
    if c.kind == "conv":
        return f"conv-{c.shape or 'std'}"
    if c.kind == "matmul":
        return "dense"
    if c.kind == "pool":
        return "pool"
    if c.kind == "copy":
        return "copy"
    if c.op in _CONVERT:
        return "convert"
    return "eltwise"


def features(c: OpCost, group: str) -> np.ndarray:
    """The op's feature vector for ``group`` (``FEATURES[group]`` order)."""
    values = {"ops": 1.0, "mmacs": c.macs / 1e6, "in_mb": c.in_bytes / 1e6, "w_mb": c.weight_bytes / 1e6,
              "out_mb": c.out_bytes / 1e6, "mb": c.bytes / 1e6}
    return np.array([values[f] for f in FEATURES[group]], dtype=np.float64)


def columns() -> list[str]:
    """The fit's parameter names: ``invoke`` then ``PRECISION/GROUP/FEATURE``."""
    return ["invoke"] + [f"{p}/{g}/{f}" for p in ("int8", "fp32") for g, fs in FEATURES.items() for f in fs]


def design_row(costs: Iterable[OpCost]) -> np.ndarray:
    """One graph as a row of the fit: the sum of its ops' features in their groups' columns (µs = row · θ)."""
    cols = {name: i for i, name in enumerate(columns())}
    row = np.zeros(len(cols))
    row[0] = 1.0
    for c in costs:
        g = group_of(c)
        if g is None:
            continue
        for name, v in zip(FEATURES[g], features(c, g)):
            row[cols[f"{c.precision}/{g}/{name}"]] += v
    return row


@dataclass
class KernelModel:
    """One runtime's fitted predictors: µs per invoke, and per ``PRECISION/GROUP`` the coefficient of each feature."""

    runtime: str
    version: str
    invoke_us: float
    coef: dict[str, dict[str, float]] = field(default_factory=dict)

    def has(self, key: str) -> bool:
        return key in self.coef

    def predict(self, costs: Sequence[OpCost]) -> dict:
        """Predicted latency of a graph: ``{"latency_ms", "invoke_ms", "groups": {key: ms}, "borrowed": [...]}``.

        An op whose group this runtime was not calibrated on is predicted with ``FALLBACK``'s group (or the other
        precision's), and listed in ``borrowed``.
        """
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
            coefs = self.coef[key]
            fs = FEATURES[key.split("/", 1)[1]]
            us = float(sum(coefs.get(name, 0.0) * v for name, v in zip(fs, features(c, key.split("/", 1)[1]))))
            groups[key] = groups.get(key, 0.0) + us / 1e3
        total = self.invoke_us / 1e3 + sum(groups.values())
        return {"latency_ms": total, "invoke_ms": self.invoke_us / 1e3, "groups": groups,
                "borrowed": sorted(set(borrowed))}

    def _key(self, precision: str, group: str) -> Optional[str]:
        other = "fp32" if precision == "int8" else "int8"
        for key in (f"{precision}/{group}", f"{precision}/{FALLBACK[group]}", f"{other}/{group}"):
            if key in self.coef:
                return key
        return None

    def to_dict(self) -> dict:
        return {"runtime": self.runtime, "version": self.version, "invoke_us": self.invoke_us, "coef": self.coef}

    @classmethod
    def from_dict(cls, d: dict) -> "KernelModel":
        return cls(runtime=str(d["runtime"]), version=str(d["version"]), invoke_us=float(d["invoke_us"]),
                   coef={str(k): {str(f): float(v) for f, v in fs.items()} for k, fs in d["coef"].items()})


def fit(graphs: Sequence[Sequence[OpCost]], measured_ms: Sequence[float], runtime: str, version: str) -> KernelModel:
    """Fit a runtime's predictors to graphs and their measured ms (relative-error NNLS).

    Only groups some graph uses get coefficients; a group never seen stays absent (``predict`` borrows).

    Raises:
        ValueError: no graphs, or a measured time that is not positive.
    """
    from scipy.optimize import nnls

    if not graphs:
        raise ValueError("no timed graphs to fit")
    y = np.asarray(measured_ms, dtype=np.float64) * 1e3
    if (y <= 0).any() or not np.isfinite(y).all():
        raise ValueError("every measured time must be positive and finite")
    x = np.stack([design_row(g) for g in graphs])
    used = np.flatnonzero(x.any(axis=0))
    scale = x[:, used].max(axis=0)  # columns of similar size, so NNLS is well conditioned
    theta_used, _ = nnls(x[:, used] / scale / y[:, None], np.ones(len(y)), maxiter=50 * len(used) + 500)
    theta = np.zeros(x.shape[1])
    theta[used] = theta_used / scale
    names = columns()
    coef: dict[str, dict[str, float]] = {}
    for i in used[used > 0]:
        precision, group, feature = names[i].split("/")
        coef.setdefault(f"{precision}/{group}", {})[feature] = float(theta[i])
    return KernelModel(runtime=runtime, version=version, invoke_us=float(theta[0]), coef=coef)
