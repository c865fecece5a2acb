"""``edgekd targets calibrate``: time a micro-benchmark suite on a target's device, fit its latency model, store it
with the device's identity.

Stages, each a function with plain inputs and outputs:

1. ``suite.suite``: the cases (data); ``build.build_suite``: their files, exported by edgekd's own exporters
   (host side, cached and resumable);
2. ``edgekd.runners.suiterun.time_suite``: every file timed on the target's runner (here, or over ssh with the
   device's Python), interleaved rounds;
3. ``edgekd.runners.kernelmodel.fit``: per-kernel predictors per runtime, and ``cross_validated``: each case
   predicted by a fit without it (the error table);
4. ``calibrate`` writes ``targets/NAME.calibration.json`` (atomically), which the ``estimate`` runner then uses.

Example:
    >>> import edgekd
    >>> cal = edgekd.calibrate("x86_64", suite="quick")  # doctest: +SKIP
    >>> cal.path, cal.error["tflite"]["int8"]["mae_pct"]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from edgekd.errors import InputError

Log = Callable[[str], None]
CALIBRATED_FORMATS = ("tflite", "onnx")


@dataclass
class CalibrationResult:
    """What ``calibrate`` wrote: the file, and the leave-cases-out error per format and precision."""

    path: Path
    data: dict

    @property
    def error(self) -> dict:
        return self.data["error"]

    def to_dict(self) -> dict:
        return {"path": str(self.path), "target": self.data["target"], "identity": self.data["identity"],
                "suite": self.data["suite"], "error": self.data["error"], "runner": self.data["runner"]}


def error_stats(predicted: Sequence[float], measured: Sequence[float]) -> dict:
    """``n``, mean absolute % error, % of items within ±15 %, and the worst signed % error.

    >>> error_stats([1.1, 0.8], [1.0, 1.0])["within_15_pct"]
    50.0
    """
    import numpy as np

    p, m = np.asarray(predicted, float), np.asarray(measured, float)
    if len(m) == 0:
        return {"n": 0, "mae_pct": 0.0, "within_15_pct": 0.0, "worst_pct": 0.0}
    err = 100.0 * (p / m - 1.0)
    worst = float(err[np.argmax(np.abs(err))])
    return {"n": int(len(m)), "mae_pct": round(float(np.abs(err).mean()), 2),
            "within_15_pct": round(float(100.0 * (np.abs(err) <= 15.0).mean()), 1), "worst_pct": round(worst, 1)}


def cross_validated(rows: Sequence[dict], graphs: dict[str, Any], runtime: str, version: str,
                    folds: int = 5, cache_kb: float = 0.0) -> dict[str, tuple[float, float]]:
    """Each row's prediction by a fit on the other folds' cases (files of one case stay in one fold).

    Args:
        rows: ``{"file", "case", "ms", "ms_ctx"}`` of one format. graphs: file → its op costs.

    Returns:
        file → (predicted ms alone, predicted ms in a cache-filling network's context).
    """
    from edgekd.runners.kernelmodel import fit

    cases = sorted({r["case"] for r in rows})
    fold_of = {c: i % folds for i, c in enumerate(cases)}
    out: dict[str, float] = {}
    for k in range(folds):
        train = [r for r in rows if fold_of[r["case"]] != k]
        test = [r for r in rows if fold_of[r["case"]] == k]
        if not train or not test:
            continue
        model = fit([graphs[r["file"]] for r in train], [r["ms"] for r in train], runtime, version,
                    context_ms=_context(train), cache_kb=cache_kb)
        hot = replace(model, ctx={}, ctx_invoke_us=0.0, cache_kb=0.0)
        cold = replace(model, coef=_summed(model.coef, model.ctx), invoke_us=model.invoke_us + model.ctx_invoke_us,
                       ctx={}, ctx_invoke_us=0.0, cache_kb=0.0)
        for r in test:
            out[r["file"]] = (hot.predict(graphs[r["file"]])["latency_ms"],
                              cold.predict(graphs[r["file"]])["latency_ms"])
    return out


def _context(rows: Sequence[dict]) -> Optional[list[float]]:
    """The rows' in-context times, when every row has one."""
    return [r["ms_ctx"] for r in rows] if rows and all(r.get("ms_ctx") for r in rows) else None


def _summed(a: dict, b: dict) -> dict:
    return {k: {f: a.get(k, {}).get(f, 0.0) + b.get(k, {}).get(f, 0.0) for f in {*a.get(k, {}), *b.get(k, {})}}
            for k in {*a, *b}}


def fit_format(rows: Sequence[dict], folder: Path, runtime: dict, cache_kb: float,
               layout: str = "") -> tuple[dict, dict, list[dict]]:
    """One format's kernel model, its leave-cases-out error per precision, and its timings as the file keeps them.

    Args:
        rows: the format's timed suite files (``file``, ``case``, ``kind``, ``precision``, ``ms``, ``ms_ctx``,
            ``spread``). folder: where they are. runtime: ``{"runtime", "version"}``. cache_kb: the device's L2.
        layout: the device's ONNX Runtime layout class (``ortlayout.layout_for``) ONNX files are read with; empty:
            as written.
    """
    from edgekd.runners.graphcost import graph_costs
    from edgekd.runners.kernelmodel import fit

    graphs = {r["file"]: graph_costs(folder / r["file"], onnx_layout=layout) for r in rows}
    model = fit([graphs[r["file"]] for r in rows], [r["ms"] for r in rows], runtime["runtime"], runtime["version"],
                context_ms=_context(rows), cache_kb=cache_kb, layout=layout)
    held = cross_validated(rows, graphs, runtime["runtime"], runtime["version"], cache_kb=cache_kb)
    error = {}
    for precision in ("int8", "fp32"):
        sub = [r for r in rows if r["precision"] == precision and r["file"] in held]
        predicted = [held[r["file"]][0] for r in sub] + [held[r["file"]][1] for r in sub if r.get("ms_ctx")]
        measured = [r["ms"] for r in sub] + [r["ms_ctx"] for r in sub if r.get("ms_ctx")]
        error[precision] = error_stats(predicted, measured)
    timings = []
    for r in rows:
        cv = held.get(r["file"])
        timings.append({"file": r["file"], "case": r["case"], "kind": r["kind"], "format": Path(r["file"]).suffix[1:],
                        "precision": r["precision"], "ms": round(r["ms"], 6),
                        "ms_ctx": round(r["ms_ctx"], 6) if r.get("ms_ctx") else None, "spread": round(r["spread"], 4),
                        "cv_predicted_ms": None if cv is None else round(cv[0], 6),
                        "cv_predicted_ms_ctx": None if cv is None else round(cv[1], 6)})
    return model.to_dict(), error, timings


def _identity(timed: dict, threads: int, models: dict) -> dict:
    """The device identity a calibration is stored with, from what the device reported."""
    from edgekd.targets import arch_of

    host = timed["host"]
    return {"machine": arch_of(str(host.get("machine", ""))),
            "cpu": host.get("cpu", ""), "isa": host.get("isa", []), "threads": threads,
            "runtimes": {f: timed["runtimes"][f] for f in models}, "cores": host.get("cores"),
            "usable_cores": host.get("usable_cores"), "cache_kb": host.get("cache_kb"),
            "python": host.get("python"), "numpy": host.get("numpy")}


def _onnx_layout(host: dict, log: Log) -> str:
    """The device's ONNX Runtime layout class, when this machine's onnxruntime can show its optimized graphs."""
    from edgekd.runners.ortlayout import can_reproduce, layout_for
    from edgekd.targets import arch_of

    layout = layout_for(arch_of(str(host.get("machine", ""))), host.get("isa") or [])
    if can_reproduce(layout):
        return layout
    log(f"calibrate: the device's ONNX Runtime layout ({layout}) differs from this machine's, so ONNX files are "
        "costed as written, without ONNX Runtime's per-layer kernel choices")
    return ""


def calibrate(target: Any, *, suite: str = "standard", formats: Optional[Sequence[str]] = None,
              threads: Optional[int] = None, rounds: int = 5, out: Optional[str | Path] = None,
              cache: Optional[str | Path] = None, timeout_s: float = 7200.0, force: bool = False,
              log: Optional[Log] = None) -> CalibrationResult:
    """Calibrate ``target``'s latency model on its runner and write the calibration file.

    Args:
        target: a profile name, file or ``TargetProfile`` whose runner measures (``local`` on the device, ``ssh``).
        suite: ``standard`` (what a calibration needs) or ``quick`` (a smoke test: too few cases for a good fit).
        formats: the formats to calibrate (default: the profile's TFLite and ONNX).
        threads: runtime threads (default: the profile's); an estimate with another count is refused.
        rounds: interleaved timing rounds per file.
        out: the calibration file (default ``targets/NAME.calibration.json`` here, where estimates look).
        cache: where the suite's files are built (default ``~/.cache/edgekd/calibration-suite``).
        force: replace an existing calibration file (refused otherwise, before anything is timed).
        log: progress lines.

    Returns:
        ``CalibrationResult``.

    Raises:
        InputError: an unknown target, a runner that does not measure, a device of another architecture, no format
            to calibrate. BackendError: the device failed to time the suite.
    """
    from edgekd.atomic import write_json
    from edgekd.calibration.build import build_suite, suite_folder
    from edgekd.calibration.suite import suite as suite_cases, suite_hash
    from edgekd.runners.suiterun import check_can_time, time_suite
    from edgekd.targets import TargetProfile, load_target
    from edgekd.versions import versions

    log = log or (lambda line: None)
    profile = target if isinstance(target, TargetProfile) else load_target(target)
    wanted = [f for f in (formats or profile.formats) if f in CALIBRATED_FORMATS]
    bad = [f for f in (formats or ()) if f not in profile.formats or f not in CALIBRATED_FORMATS]
    if bad or not wanted:
        raise InputError(f"target {profile.name!r}: cannot calibrate format(s) {', '.join(bad or profile.formats)} "
                         f"(calibrated: {', '.join(CALIBRATED_FORMATS)} among the profile's {', '.join(profile.formats)})")
    threads = threads or profile.threads
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise InputError(f"calibrate --threads: {threads!r} is not a positive integer")
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        raise InputError(f"calibrate --rounds: {rounds!r} is not a positive integer")
    path = Path(out) if out is not None else Path("targets") / f"{profile.name}.calibration.json"
    if path.exists() and not force:
        raise InputError(f"{path}: exists (an earlier calibration?); give --force to replace it, or another --out")
    check_can_time(profile)
    if profile.runner.kind == "local":
        from edgekd.runners.registry import host_arch

        if host_arch() != profile.arch:
            raise InputError(f"target {profile.name!r} is {profile.arch} and its runner is local, but this machine is "
                             f"{host_arch()}: run calibrate on the device, or give the profile an ssh runner")
    cases = suite_cases(suite)
    if suite != "standard":
        log(f"calibrate: the {suite} suite checks the machinery; its fit is not fit for estimates (use the standard "
            "suite for that)")
    folder = suite_folder(suite, cache)
    log(f"calibrate: {len(cases)} cases x {len(wanted)} format(s) x 2 precisions, built in {folder}")
    made = build_suite(cases, folder, wanted, log=log)
    files = [m["file"] for m in made if "file" in m]
    timed = time_suite(folder, files, profile, threads=threads, rounds=rounds, timeout_s=timeout_s, log=log)
    results = timed["results"]
    cache_kb = float((timed["host"].get("cache_kb") or {}).get("L2", 0))
    layout = _onnx_layout(timed["host"], log) if "onnx" in wanted else ""
    measurements, models, error = [], {}, {}
    for fmt in wanted:
        rows = [{**m, "ms": results[m["file"]]["ms"], "ms_ctx": results[m["file"]].get("ms_ctx"),
                 "spread": results[m["file"]]["spread"]}
                for m in made if m.get("format") == fmt and "ms" in results.get(m.get("file", ""), {})]
        if rows:
            runtime = timed["runtimes"].get(fmt, {"runtime": "?", "version": "?"})
            models[fmt], error[fmt], timings = fit_format(rows, folder, runtime, cache_kb,
                                                          layout if fmt == "onnx" else "")
            measurements += timings
    if not models:
        raise InputError(f"target {profile.name!r}: no suite file could be timed on the device "
                         f"({sum(1 for r in results.values() if 'error' in r)} refused by its runtime)")
    identity = _identity(timed, threads, models)
    data = {
        "kind": "edgekd-calibration", "format_version": 1, "target": profile.name, "arch": profile.arch,
        "taken": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "runner": timed.get("runner", profile.runner.kind), "device": timed.get("device"),
        "identity": identity,
        "suite": {"name": suite, "hash": suite_hash(cases), "cases": len(cases), "files": len(files),
                  "rounds": rounds, "refused": {m["file"]: results[m["file"]]["error"] for m in made
                                                if "error" in results.get(m.get("file", ""), {})},
                  "not_built": [{k: m[k] for k in ("case", "format", "precision", "error")} for m in made
                                if "error" in m]},
        "models": models,
        "error": error,
        "error_method": "leave-cases-out: 5 folds over the suite's cases, each case predicted by a fit without it "
                        "(alone and in a network's context: n counts both)",
        "versions": versions(),
        "measurements": measurements,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, data)
    return CalibrationResult(path=path, data=data)
