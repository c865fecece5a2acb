"""What "small enough" means: a budget on parameters, MACs, the int8 file's size or latency, and the cost model.

A budget is met by a ``Cost`` (parameters, multiply-accumulates, predicted int8
TFLite bytes). The int8 size is *predicted*, not exported at every trial:

    bytes ≈ fixed + Σ over conv/linear layers (weights · 1 B + out_channels · 12 B)
                  + Σ over distinct out_channels values (out_channels · 8 B)

(one int8 byte per weight; per output channel an int32 bias and the float32
scales of the weights and the bias; the int64 zero points, all 0, are one array
per distinct length because the writer stores equal arrays once,
``edgekd/exporting/tflite_write.py``; see ``benchmarks/results/student_size.md``). ``fixed`` (tensor/op tables,
signatures) does not depend on the channel counts; it is measured once by
exporting the unpruned model (``calibrate_int8_size``), so the prediction is
anchored on a real file. The pipeline then exports the pruned model and reports
the measured size beside the prediction.

A latency budget (``latency_p50_ms``) is met by the latency *predicted* from a
table measured on the target's runner (``edgekd.pruning.latency_table``); the
pruned model is then exported and measured (``edgekd.pruning.netadapt``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from edgekd.models.complexity import count_macs, count_params

BYTES_PER_OUT_CHANNEL = 4 + 2 * 4  # int32 bias + per-channel float32 scales of the weight and the bias
ZERO_POINT_BYTES = 8  # int64, one shared array per distinct channel count


@dataclass(frozen=True)
class Cost:
    """What a model costs: parameters, MACs per example, predicted int8 bytes (None without a size model) and
    predicted p50 latency in ms (None without a latency table)."""

    params: int
    macs: int
    int8_bytes: int | None = None
    latency_ms: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def variable_int8_bytes(model: nn.Module) -> int:
    """The channel-dependent part of an int8 TFLite file: weights plus per-output-channel arrays."""
    total, widths = 0, set()
    for m in model.modules():
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
            out = m.out_channels if isinstance(m, nn.modules.conv._ConvNd) else m.out_features
            total += m.weight.numel() + out * BYTES_PER_OUT_CHANNEL
            widths.add(out)
    return total + sum(widths) * ZERO_POINT_BYTES


@dataclass(frozen=True)
class Int8SizeModel:
    """Predicts an int8 TFLite file's bytes from a model's layers: ``fixed + variable_int8_bytes``.

    Args:
        fixed_bytes: the channel-independent part, measured by ``calibrate_int8_size``.
        reference_bytes: the measured size of the export it was calibrated on.
    """

    fixed_bytes: int
    reference_bytes: int

    def predict(self, model: nn.Module) -> int:
        return self.fixed_bytes + variable_int8_bytes(model)


@dataclass(frozen=True)
class Exporters:
    """What pruning needs of the export stage, passed in by its caller (the stages do not import each other).

    Attributes:
        int8_tflite: ``(model, example, path, calibration) -> result`` writing an int8 TFLite file (the size model).
        choose_backend: ``(fmt, precision, *, pinned, fully_integer, where) -> Backend`` (a latency table's
            deploy artifact, as ``edgekd.exporting.backends.choose_backend``).
    """

    int8_tflite: Callable[..., Any]
    choose_backend: Callable[..., Any]


def calibrate_int8_size(model: nn.Module, input_shape: tuple[int, ...], int8_tflite: Callable[..., Any]) -> Int8SizeModel:
    """Export ``model`` to int8 TFLite once (in a temp folder) and anchor the size prediction on it.

    The calibration data is random: the file's size does not depend on the
    quantization ranges, only on the tensors' shapes.
    """
    example = torch.zeros(1, *input_shape)
    calibration = np.random.default_rng(0).standard_normal((8, *input_shape)).astype(np.float32)
    from edgekd.atomic import temp_dir

    with temp_dir("prune-size") as tmp:
        path = Path(tmp) / "reference.tflite"
        int8_tflite(model, example, path, calibration)
        size = path.stat().st_size
    return Int8SizeModel(fixed_bytes=size - variable_int8_bytes(model), reference_bytes=size)


def measure_cost(model: nn.Module, input_shape: tuple[int, ...], size_model: Int8SizeModel | None = None,
                 latency_model=None) -> Cost:
    """Parameters, MACs, (with a size model) the predicted int8 bytes and (with a latency model, anything with
    ``predict(model) -> ms`` such as ``edgekd.pruning.latency_table.LatencyTable``) the predicted latency."""
    return Cost(
        params=count_params(model),
        macs=count_macs(model, input_shape),
        int8_bytes=size_model.predict(model) if size_model is not None else None,
        latency_ms=float(latency_model.predict(model)) if latency_model is not None else None,
    )


@dataclass(frozen=True)
class Budget:
    """An upper bound on one cost measure.

    Args:
        measure: ``params``, ``macs``, ``int8_bytes`` or ``latency_ms``.
        limit: the largest value that meets the budget.
        key: the recipe key it came from (for messages), e.g. ``prune.target.macs``.
        wanted: the value as the user wrote it, for messages.
    """

    measure: str
    limit: float
    key: str
    wanted: str

    def met(self, cost: Cost) -> bool:
        return self.value(cost) <= self.limit

    def value(self, cost: Cost) -> float:
        v = getattr(cost, self.measure)
        if v is None:
            raise ValueError(f"{self.key}: the cost has no {self.measure} (int8 size needs a size model, "
                             "latency a latency table)")
        return float(v)

    def describe(self, cost: Cost) -> str:
        """A cost in this budget's unit, e.g. ``'5.21 M MACs'``."""
        return self.describe_value(self.value(cost))

    def describe_value(self, v: float) -> str:
        """A value of this budget's measure with its unit (``describe_value(self.limit)``: the budget)."""
        if self.measure == "macs":
            return f"{v / 1e6:.2f} M MACs"
        if self.measure == "int8_bytes":
            return f"{v / 1024:.1f} KiB int8"
        if self.measure == "latency_ms":
            return f"{v:.4f} ms p50 (predicted)"
        return f"{int(v):,} parameters"

    def at_fraction(self, start: Cost, fraction: float) -> "Budget":
        """The budget a fraction of the way from ``start`` to this one (iterative schedules)."""
        v0 = self.value(start)
        limit = v0 - (v0 - self.limit) * fraction if v0 > self.limit else self.limit
        return Budget(self.measure, limit, self.key, f"{self.wanted} (step at {fraction:.0%})")


def budget_from_target(target, reference: Cost, where: str = "prune.target") -> Budget:
    """Turn the recipe's target (exactly one of params_ratio, macs, macs_ratio, int8_kb, latency_p50_ms) into a
    ``Budget``.

    Args:
        target: the recipe's ``PruneTargetSpec`` (or any object with those attributes).
        reference: the unpruned model's cost (ratios are relative to it).
        where: the recipe key, for messages.
    """
    if target.params_ratio is not None:
        return Budget("params", math.floor(reference.params * target.params_ratio), f"{where}.params_ratio",
                      f"params_ratio {target.params_ratio:g}")
    if target.macs_ratio is not None:
        return Budget("macs", math.floor(reference.macs * target.macs_ratio), f"{where}.macs_ratio",
                      f"macs_ratio {target.macs_ratio:g}")
    if target.macs is not None:
        return Budget("macs", float(target.macs), f"{where}.macs", f"macs {target.macs:g}")
    if getattr(target, "latency_p50_ms", None) is not None:
        return Budget("latency_ms", float(target.latency_p50_ms), f"{where}.latency_p50_ms",
                      f"latency_p50_ms {target.latency_p50_ms:g}")
    return Budget("int8_bytes", target.int8_kb * 1024, f"{where}.int8_kb", f"int8_kb {target.int8_kb:g}")
