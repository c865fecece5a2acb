"""The sweep's front, re-measured on the device when trials were judged on an estimate and the device is at hand.

A sweep with ``runner: estimate`` judges every trial on the estimate (calibrated when the target has a
calibration, ``edgekd targets calibrate``; else the profile's roofline coefficients), labelled as such. At the end,
when the target's own runner measures (``local`` on a machine of the profile's architecture, or ``ssh`` to a
device that answers), each front trial's file is timed there: the row gets ``remeasured`` (p50/p90, the runner,
the estimate's error, and whether the measured p90 meets the latency budget). A device that is not attached
leaves the front estimated, and ``sweep.json`` says why.

Example:
    >>> from edgekd.sweep.remeasure import latency_basis
    >>> latency_basis({"estimated": False, "runner": "local"})
    {'model': 'measured', 'runner': 'local'}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

Log = Callable[[str], None]
REMEASURED = "remeasured.json"


def latency_basis(bench: dict) -> dict:
    """What a trial's latency figure is: measured, or an estimate from a calibration (named) or the roofline."""
    if not bench.get("estimated"):
        return {"model": "measured", "runner": bench.get("runner")}
    estimate = bench.get("estimate") or {}
    out = {"model": f"estimate ({estimate.get('model', 'roofline')})", "runner": "estimate"}
    cal = bench.get("calibration")
    if cal:
        out["calibration"] = {k: cal.get(k) for k in ("file", "sha256", "taken", "matches", "differences")}
        out["calibration"]["cpu"] = (cal.get("identity") or {}).get("cpu")
    return out


def device_runner(target: Any, sweep_runner: Optional[str]) -> tuple[Optional[str], str]:
    """The target's own measuring runner when the sweep judged on an estimate, else ``None`` and why not."""
    if sweep_runner != "estimate":
        return None, "trials were measured on the target's runner already"
    kind = target.runner.kind
    if kind == "local":
        from edgekd.runners.registry import host_arch

        if host_arch() != target.arch:
            return None, f"the target is {target.arch} and this machine {host_arch()}: no device attached"
        return "local", ""
    if kind == "ssh":
        return "ssh", ""
    return None, f"the target's runner is {kind!r}: there is no device to measure on"


def remeasure_front(rows: list[dict], target: Any, sweep_runner: Optional[str], bench_spec: Any, budgets: dict,
                    out: Path, log: Log = lambda s: None) -> dict:
    """Time each front row's artifact on the target's device (cached by file hash); set ``row["remeasured"]``.

    Returns:
        ``{"done": bool, "runner", "why"}`` for ``sweep.json``.
    """
    import edgekd
    from edgekd.atomic import write_json
    from edgekd.errors import EdgekdError
    from edgekd.hashing import file_sha256
    from edgekd.inputfile import read_cache_json

    runner, why = device_runner(target, sweep_runner)
    if runner is None:
        return {"done": False, "why": why}
    front = [r for r in rows if r.get("pareto") and r.get("figures")]
    cache_path = out / REMEASURED
    cache = read_cache_json(cache_path) or {}
    budget = budgets.get("latency_p90_ms")
    done = 0
    for r in front:
        f = r["figures"]
        path = Path(f["artifact"])
        if not path.is_file():
            r["remeasured"] = {"skipped": f"{path} not found here (trial run by {r.get('worker')})"}
            continue
        sha = file_sha256(path)
        if sha not in cache:
            try:
                b = edgekd.bench(path, target, runs=bench_spec.runs, warmup=bench_spec.warmup,
                                 max_seconds=bench_spec.max_seconds).to_dict()
            except EdgekdError as exc:  # the device went away, or was never there
                log(f"sweep: the front could not be re-measured on {target.name}'s {runner} runner: {exc}")
                write_json(cache_path, cache)
                return {"done": False, "runner": runner, "why": str(exc).splitlines()[0]}
            cache[sha] = {"p50_ms": b["p50_ms"], "p90_ms": b["p90_ms"], "runner": b.get("runner"),
                          "runtime": f"{b.get('runtime')} {b.get('runtime_version')}", "host": b.get("host"),
                          "sha256": sha}
        m = dict(cache[sha])
        m["estimate_error_pct"] = round(100.0 * (f["latency_p90_ms"] / m["p90_ms"] - 1.0), 1) if m["p90_ms"] > 0 else None
        m["meets_latency_budget"] = None if budget is None else bool(m["p90_ms"] <= budget)
        r["remeasured"] = m
        done += 1
        log(f"  trial {r['number']}: p90 {m['p90_ms']:.3f} ms measured on {runner} "
            f"(estimated {f['latency_p90_ms']:.3f} ms, {m['estimate_error_pct']:+.1f} %)")
    write_json(cache_path, cache)
    return {"done": True, "runner": runner, "trials": done,
            "why": "trials were judged on the estimate; the front was timed on the device at the end"}
