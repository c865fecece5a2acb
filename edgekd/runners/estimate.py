"""The ``estimate`` runner: latency of an artifact on a device that is not at hand, from its graph and the
profile's throughput coefficients. Labelled ``"estimated": true`` — a gate uses it only where the profile allows.

Model (per invoke, in µs)::

    invoke_overhead + sum over ops of [ op_overhead + MACs / (GMAC/s(precision) x speed-up) + bytes / bandwidth ]
    speed-up = 1 + (min(threads, cores) - 1) x thread_efficiency

A deliberately simple additive roofline: compute and memory are not overlapped,
every op pays a dispatch cost. Its error on this machine's own CPU, against the
local runner, is measured by ``benchmarks/estimator_error.py``.

With a calibration (``edgekd targets calibrate``; ``edgekd.runners.calibrated``) the estimate comes from the
device's fitted per-kernel model instead, labelled with the calibration it used; a calibration from another
device identity is refused or flagged there.

A microcontroller profile (``runner.mcu`` set) is handed to the MCU analysis
(``edgekd.runners.mcu.run_mcu``: tensor arena, flash and an Ethos-U compile).
"""

from __future__ import annotations

import importlib
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from edgekd.runners.graphcost import graph_costs
from edgekd.runners.opcost import OpCost
from edgekd.runners.options import BenchOptions
from edgekd.errors import InputError
from edgekd.targets import EstimateCoefficients, TargetProfile

if TYPE_CHECKING:
    from edgekd.runners.calibrated import Calibration
    from edgekd.runners.kernelmodel import KernelModel


def estimate_ms(costs: Sequence[OpCost], coeffs: EstimateCoefficients, threads: int) -> dict:
    """Estimated latency of one invoke and its parts.

    Args:
        costs: the graph's ops (``graph_costs``).
        coeffs: the device's coefficients.
        threads: runtime threads.

    Returns:
        ``{"latency_ms", "compute_ms", "memory_ms", "overhead_ms", "macs", "bytes", "ops", "speedup"}``.
    """
    speedup = 1.0 + (min(max(threads, 1), coeffs.cores) - 1) * coeffs.thread_efficiency
    gmacs = {"int8": coeffs.int8_gmacs, "fp32": coeffs.fp32_gmacs}
    compute_us = sum(c.macs / (gmacs[c.precision] * 1e3 * speedup) for c in costs)
    memory_us = sum(c.bytes / (coeffs.mem_gbps * 1e3) for c in costs)
    overhead_us = coeffs.invoke_overhead_us + coeffs.op_overhead_us * sum(1 for c in costs if c.kind != "view")
    total = compute_us + memory_us + overhead_us
    return {
        "latency_ms": total / 1e3,
        "compute_ms": compute_us / 1e3,
        "memory_ms": memory_us / 1e3,
        "overhead_ms": overhead_us / 1e3,
        "macs": int(sum(c.macs for c in costs if c.kind in ("conv", "matmul"))),
        "bytes": int(sum(c.bytes for c in costs)),
        "ops": len(costs),
        "speedup": speedup,
    }


def run_estimate(artifact: Path, profile: TargetProfile, opts: BenchOptions) -> dict:
    """Estimate the artifact's latency on ``profile``'s device (the ``bench --json`` keys, ``estimated: true``).

    Raises:
        InputError: the profile has no ``estimate`` coefficients (and is not an MCU board), or the graph
            cannot be read.
    """
    mcu = getattr(profile.runner, "mcu", None)
    if mcu is not None and profile.estimate is None:
        return _run_mcu(artifact, profile, opts)
    from edgekd.runners.calibrated import find_calibration

    threads = opts.threads or profile.threads
    fmt = artifact.suffix.lstrip(".").lower()
    calibration = find_calibration(profile, opts.calibration)
    if calibration is None and profile.estimate is None:
        raise InputError(f"{profile.source or profile.name}: the estimate runner needs a calibration (edgekd targets "
                         f"calibrate {profile.name} on the device) or an 'estimate' section (int8_gmacs, fp32_gmacs, "
                         "mem_gbps, op_overhead_us, sources) in the profile")
    use = calibration is not None and (fmt in calibration.data.models or profile.estimate is None)
    layout = _layout(calibration.model(fmt)) if use and fmt == "onnx" else ""
    costs = graph_costs(artifact, onnx_layout=layout)
    base = {
        "artifact": str(artifact),
        "runtime": profile.runtime.get(fmt, "any"),
        "runtime_version": "n/a (not run)",
        "threads": threads,
        "runs": 0,
        "warmup": 0,
        "runner": "estimate",
        "estimated": True,
        "emulated": False,
        "host": {"machine": profile.arch, "cpu": profile.cpu, "profile": profile.name,
                 "estimated_on": platform.machine()},
    }
    macs = int(sum(c.macs for c in costs if c.kind in ("conv", "matmul")))
    if use:
        return {**base, **_calibrated(calibration, costs, profile, fmt, threads, macs)}
    parts = estimate_ms(costs, profile.estimate, threads)
    ms = parts["latency_ms"]
    why = (f"; {calibration.path} has no {fmt} model" if calibration is not None else
           "; no calibration of this target (edgekd targets calibrate)")
    return {
        **base,
        **_spread(ms),
        "method": (f"estimated, not measured: {parts['ops']} ops, {parts['macs'] / 1e6:.2f} M MACs, "
                   f"{parts['bytes'] / 1024:.0f} KiB moved, with the roofline coefficients of profile "
                   f"{profile.name!r}{why}; no spread (p50 = p90 = p99)"),
        "estimate": {"model": "roofline", **{k: v for k, v in parts.items() if k != "latency_ms"}},
        "coefficients": profile.estimate.model_dump(),
    }


def _layout(model: Optional[KernelModel]) -> str:
    """The ONNX Runtime layout class to read an ONNX file with: the calibration's, when this machine can show it
    (``ortlayout.can_reproduce``); else the graph as written (the estimate's ``onnx_layout`` says which)."""
    from edgekd.runners.ortlayout import can_reproduce

    if model is None or not model.layout:
        return ""
    return model.layout if can_reproduce(model.layout) else ""


def _spread(ms: float) -> dict:
    return {"p50_ms": ms, "p90_ms": ms, "p99_ms": ms, "mean_ms": ms, "cv": 0.0}


def _calibrated(cal: "Calibration", costs: Sequence[OpCost], profile: TargetProfile, fmt: str, threads: int,
                macs: int) -> dict:
    """The estimate from a calibration's kernel model, with the calibration it came from and any flag."""
    from edgekd.runners.calibrated import check_use

    differences = check_use(cal, profile, fmt, threads)
    model = cal.model(fmt)
    parts = model.predict(costs)
    ms = parts["latency_ms"]
    summary = cal.summary(fmt)
    checked = "this machine" if profile.runner.kind == "local" else "the profile's runtime (the device is not at hand)"
    summary.update(matches=not differences, checked_against=checked, differences=differences)
    flag = (f"; FLAGGED: the calibration is not this device's ({'; '.join(differences)})" if differences else "")
    out = {
        **_spread(ms),
        "method": (f"estimated, not measured: {len(costs)} ops, {macs / 1e6:.2f} M MACs, with the kernel model of "
                   f"{cal.path.name} (target {cal.data.target!r} calibrated on "
                   f"{cal.data.identity.cpu or cal.data.identity.machine}, {model.runtime} {model.version}, "
                   f"{cal.data.taken}, {cal.data.suite.get('name', '?')} suite){flag}; no spread (p50 = p90 = p99)"),
        "estimate": {"model": "calibrated", "invoke_ms": parts["invoke_ms"], "groups_ms": parts["groups"],
                     "borrowed": parts["borrowed"], "macs": macs, "ops": len(costs),
                     "onnx_layout": _layout_note(model, costs) if fmt == "onnx" else None},
        "calibration": summary,
    }
    if differences:
        out["calibration_mismatch"] = differences
    return out


def _layout_note(model: KernelModel, costs: Sequence[OpCost]) -> str:
    """How the ONNX graph was read: with ONNX Runtime's per-layer kernel choices, or as written (and why)."""
    if not model.layout:
        return "as written (the calibration predates ONNX Runtime layouts)"
    if not any(c.layout for c in costs) and _layout(model) != model.layout:
        return (f"as written: the calibration's device runs ONNX Runtime layout {model.layout}, which this machine's "
                "onnxruntime cannot show; convolutions are not split into blocked and plain ones")
    blocked = sum(1 for c in costs if c.layout == "nchwc")
    inserted = sum(1 for c in costs if c.layout == "inserted")
    return (f"{model.layout}: read through this machine's onnxruntime optimizer as the device runs it "
            f"({blocked} blocked convolutions, {inserted} inserted layout ops)")


def _run_mcu(artifact: Path, profile: TargetProfile, opts: BenchOptions) -> dict:
    """Hand a microcontroller profile to the MCU analysis (tflite-micro arena, Ethos-U compile)."""
    try:
        module = importlib.import_module("edgekd.runners.mcu")
    except ModuleNotFoundError as exc:
        if exc.name not in ("edgekd.runners.mcu",):
            raise
        raise InputError(f"profile {profile.name!r} is a microcontroller board, and this edgekd has no MCU "
                         "analysis (edgekd.runners.mcu is missing)") from None
    run_mcu: Optional[object] = getattr(module, "run_mcu", None)
    if not callable(run_mcu):
        raise InputError(f"profile {profile.name!r}: edgekd.runners.mcu has no run_mcu(artifact, profile, opts)")
    return run_mcu(artifact, profile, opts)
