"""Latency of one artifact on this machine: warm-up, then timed runs until a count, a CV target or a time limit.

Only the runtime's invoke is timed (input already in the artifact's dtype and
layout), with the thread count set explicitly, so the figure is the model's,
not Python's or the front-end's.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import Optional

import numpy as np

from edgekd.runtime.artifact import Artifact


def host_info() -> dict:
    """What machine a number was measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "machine": platform.machine(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": platform.system(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }


def sample_input(artifact: Artifact, seed: int = 0) -> np.ndarray:
    """A random input in the artifact's own shape and dtype (values do not change the op count)."""
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in artifact.input["shape"]]
    dtype = np.dtype(artifact.input["dtype"])
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def peak_rss_kb() -> int:
    """Peak resident memory of this process so far, in KiB (``getrusage``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak // 1024 if sys.platform == "darwin" else peak)


def measure_latency(
    artifact: Artifact,
    *,
    runs: int = 200,
    warmup: int = 20,
    max_seconds: float = 20.0,
    cv_target: Optional[float] = None,
    min_runs: int = 30,
    x: Optional[np.ndarray] = None,
) -> dict:
    """Time ``artifact.invoke_raw`` and summarise, as the ``bench --json`` contract.

    The thread count is the one the artifact was loaded with (set explicitly,
    reported as ``threads``). Timing stops at the first of: ``runs`` timed runs,
    ``max_seconds`` of timing, or — with ``cv_target`` — a coefficient of
    variation (std/mean) below the target once ``min_runs`` runs are in
    (checked every 10 runs). ``stopped`` says which.

    Args:
        artifact: loaded with the thread count to measure.
        runs: timed runs (at most).
        warmup: untimed runs first (allocations, caches, XNNPACK packing).
        max_seconds: stop timing after this long even if ``runs`` is not reached.
        cv_target: stop early once the timings' coefficient of variation is below this.
        min_runs: timed runs before the CV target may stop the loop (capped at ``runs``).
        x: the input; a random one of the right shape and dtype by default.

    Returns:
        ``artifact, runtime, runtime_version, threads, runs, warmup, p50_ms, p90_ms,
        p99_ms, mean_ms, min_ms, cv, runner, estimated, emulated, stopped,
        peak_rss_kb`` (the process's peak resident memory, KiB), ``host``; and ``runtime_env`` when
        the artifact is not run in the device environment (``.pte``: the main one, with torch).
    """
    x = sample_input(artifact) if x is None else x
    runs = max(1, int(runs))
    min_runs = max(2, min(int(min_runs), runs))
    for _ in range(warmup):
        artifact.invoke_raw(x)
    times: list[float] = []
    stopped = "runs"
    deadline = time.perf_counter() + max_seconds
    while len(times) < runs:
        if time.perf_counter() >= deadline and times:
            stopped = "max_seconds"
            break
        t0 = time.perf_counter()
        artifact.invoke_raw(x)
        times.append((time.perf_counter() - t0) * 1e3)
        n = len(times)
        if cv_target is not None and n >= min_runs and (n - min_runs) % 10 == 0:
            arr = np.asarray(times)
            if arr.std() / arr.mean() < cv_target:
                stopped = "cv_target"
                break
    arr = np.asarray(times)
    rss = peak_rss_kb()
    return {
        "artifact": str(artifact.path),
        "runtime": artifact.runtime,
        "runtime_version": artifact.runtime_version,
        "threads": artifact.threads,
        "runs": int(len(arr)),
        "warmup": int(warmup),
        "p50_ms": float(np.percentile(arr, 50)),
        "p90_ms": float(np.percentile(arr, 90)),
        "p99_ms": float(np.percentile(arr, 99)),
        "mean_ms": float(arr.mean()),
        "min_ms": float(arr.min()),
        "cv": float(arr.std() / arr.mean()) if arr.mean() > 0 else 0.0,
        "cv_target": cv_target,
        "stopped": stopped,
        "runner": "local",
        "estimated": False,
        "emulated": False,
        "peak_rss_kb": rss,
        "peak_rss_mb": rss / 1024.0,
        "host": host_info(),
        **({"runtime_env": artifact.runtime_env} if getattr(artifact, "runtime_env", None) else {}),
    }
