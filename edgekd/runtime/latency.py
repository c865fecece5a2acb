"""Latency of one artifact on this machine: warm-up, then timed runs until a count, a CV target or a time limit.

Only the runtime's invoke is timed (input already in the artifact's dtype and
layout), with the thread count set explicitly, so the figure is the model's,
not Python's or the front-end's. The front-end is timed on its own
(``measure_frontend``: the sidecar's step list on real items, per window and per
item), and ``end_to_end`` adds the two measured parts up per item.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from edgekd.runtime.artifact import Artifact, usable_cpus


#: CPU features that change int8/fp32 kernel speed several-fold (x86: VNNI, AMX; Arm: dot product, i8mm, SVE):
#: the same int8 file ran 3.7x faster than fp32 on an AMD EPYC and 4.4-7.7x on an Intel Xeon with AMX, so a
#: timing without them cannot be compared with another.
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni",
               "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "asimdhp", "i8mm", "bf16", "sve", "sve2")


def host_info() -> dict:
    """What machine a number was measured on: CPU model, the speed-relevant ISA flags it reports
    (``SPEED_FLAGS``), all cores and the ones this process may use (its affinity)."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key = line.split(":", 1)[0].strip().lower()
                if key in ("model name", "hardware", "cpu model") and not model:
                    model = line.split(":", 1)[1].strip()
                elif key in ("flags", "features") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    cpu = model or platform.processor() or ""
    return {
        "cache_kb": cache_sizes_kb(),
        "machine": platform.machine(),
        "cpu": cpu,
        "isa": [f for f in SPEED_FLAGS if f in flags],
        "cores": os.cpu_count(),
        "usable_cores": usable_cpus(),
        "system": platform.system(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }


def cache_sizes_kb() -> dict[str, int]:
    """CPU 0's data/unified cache sizes in KiB by level (``{"L1": 48, "L2": 2048, "L3": 491520}``), from sysfs;
    empty where the system does not say (macOS, some containers)."""
    out: dict[str, int] = {}
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return out
    for entry in entries:
        if not entry.startswith("index"):
            continue
        try:
            with open(f"{base}/{entry}/level") as f:
                level = f.read().strip()
            with open(f"{base}/{entry}/type") as f:
                kind = f.read().strip()
            with open(f"{base}/{entry}/size") as f:
                size = f.read().strip().upper()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        factor = 1024 if size.endswith("M") else 1
        try:
            out[f"L{level}"] = int(size.rstrip("KM")) * factor
        except ValueError:
            continue
    return out


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


#: what ``end_to_end`` says about how its figure was obtained
END_TO_END_HOW = ("a sum of separately measured parts, not one timed run: the front-end per item (its step list "
                  "run on real items) + the model per invoke x invokes per item (windows per item / windows per "
                  "invoke); p50 with the median item's windows, p90 with the 90th percentile's")


def _percentiles(ms: Sequence[float], per: str) -> dict:
    a = np.asarray(ms, dtype=np.float64)
    return {"p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)), "per": per,
            "mean_ms": float(a.mean()), "min_ms": float(a.min())}


def _warm(steps: Sequence[Mapping[str, Any]], items: Sequence[Any], passes: int) -> tuple[list, list, list]:
    """Run every item ``passes`` times untimed; ``(usable items, their windows, refusals)``."""
    from edgekd.errors import InputError
    from edgekd.runtime.steps import run_file, where_of

    usable, windows, refused = [], [], []
    for item in items:
        try:
            out = run_file(steps, item)
        except InputError as exc:  # a degenerate recording is refused on the device too: not timed, counted
            refused.append({"item": os.path.basename(where_of(item)), "reason": str(exc)})
            continue
        if len(out) == 0:
            refused.append({"item": os.path.basename(where_of(item)), "reason": "the front-end gave no window"})
            continue
        usable.append(item)
        windows.append(int(len(out)))
    for _ in range(max(0, passes - 1)):
        for item in usable:
            run_file(steps, item)
    return usable, windows, refused


def measure_frontend(steps: Sequence[Mapping[str, Any]], items: Sequence[Any], *, runs: int = 200,
                     warmup: int = 1, max_seconds: float = 20.0) -> dict:
    """Time the front-end's step list (``edgekd.runtime.steps.run_file``) on real items, file read included.

    Every item is run ``warmup`` times untimed first (at least once: that pass also finds the items the front-end
    refuses, which are counted, not timed); then the items are timed in turn, ``runs`` runs in all but every item
    at least once, until ``max_seconds``. A run of an item giving ``w`` windows gives one per-item figure, its
    time, and one per-window figure, ``time / w``.

    Returns:
        ``p50_ms, p90_ms, per: "window", mean_ms, min_ms`` (per window), ``per_item`` (the same, ``per: "item"``),
        ``windows_per_item`` (``p50, p90, min, max`` over the timed runs), ``runs``, ``items`` (timed),
        ``refused`` (count) with ``refusals`` (the first five: item and reason), ``stopped``.

    Raises:
        InputError: no items, or every item refused (naming the first refusal).
    """
    from edgekd.errors import InputError

    if not items:
        raise InputError("no items to time the front-end on")
    usable, windows, refused = _warm(steps, items, max(1, int(warmup)))
    if not usable:
        raise InputError(f"the front-end refused all {len(items)} item(s), first {refused[0]['item']}: "
                         f"{refused[0]['reason']}")
    from edgekd.runtime.steps import run_file

    per_item: list[float] = []
    per_window: list[float] = []
    counts: list[int] = []
    stopped = "runs"
    total = max(int(runs), len(usable))
    deadline = time.perf_counter() + max_seconds
    while len(per_item) < total:
        if per_item and time.perf_counter() >= deadline:
            stopped = "max_seconds"
            break
        k = len(per_item) % len(usable)
        t0 = time.perf_counter()
        run_file(steps, usable[k])
        ms = (time.perf_counter() - t0) * 1e3
        per_item.append(ms)
        counts.append(windows[k])
        per_window.append(ms / windows[k])
    w = np.asarray(counts, dtype=np.float64)
    return {
        **_percentiles(per_window, "window"),
        "per_item": _percentiles(per_item, "item"),
        "windows_per_item": {"p50": float(np.percentile(w, 50)), "p90": float(np.percentile(w, 90)),
                             "min": int(w.min()), "max": int(w.max())},
        "runs": len(per_item),
        "items": len(usable),
        "refused": len(refused),
        "refusals": refused[:5],
        "stopped": stopped,
    }


def windows_per_invoke(input_spec: Optional[Mapping[str, Any]]) -> int:
    """Windows one invoke takes: the model input's fixed batch (a dynamic batch is timed with one window)."""
    shape = (input_spec or {}).get("shape") or [1]
    first = shape[0] if shape else 1
    return int(first) if isinstance(first, int) and not isinstance(first, bool) and first > 0 else 1


def end_to_end(model: Mapping[str, Any], frontend: Optional[Mapping[str, Any]], per_invoke: int = 1) -> Optional[dict]:
    """Per item, the front-end plus the model: ``frontend.per_item.pXX_ms + model pXX_ms x invokes per item``.

    Invokes per item are ``windows_per_item.pXX / per_invoke`` (p50 with the median item's windows, p90 with
    the 90th percentile's). None when the front-end was not timed or the model has no figure. Labelled as a sum
    of separately measured parts (``how``), never a timed run.
    """
    if not frontend or model.get("p50_ms") is None or model.get("p90_ms") is None:
        return None
    item, w = frontend["per_item"], frontend["windows_per_item"]
    invokes = {q: w[q] / per_invoke for q in ("p50", "p90")}
    return {
        "per": "item",
        "p50_ms": item["p50_ms"] + model["p50_ms"] * invokes["p50"],
        "p90_ms": item["p90_ms"] + model["p90_ms"] * invokes["p90"],
        "frontend_p50_ms": item["p50_ms"],
        "frontend_p90_ms": item["p90_ms"],
        "model_p50_ms": model["p50_ms"],
        "model_p90_ms": model["p90_ms"],
        "windows_per_item_p50": w["p50"],
        "windows_per_item_p90": w["p90"],
        "windows_per_invoke": per_invoke,
        "invokes_per_item_p50": invokes["p50"],
        "invokes_per_item_p90": invokes["p90"],
        "estimated": bool(model.get("estimated")),
        "emulated": bool(model.get("emulated")),
        "how": END_TO_END_HOW,
    }
