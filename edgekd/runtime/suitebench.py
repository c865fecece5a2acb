"""Time many small artifacts in one process, interleaved: the device side of ``edgekd targets calibrate``.

``python -m edgekd.runtime.suitebench LIST.json [--threads N] [--rounds R]`` prints one JSON object. ``LIST.json``
is ``{"files": [paths relative to it]}``. Every file is loaded once, then timed in ``rounds`` rounds; each round
visits the files in a new shuffled order and times one batch per file (a few untimed invokes, then invokes until
both ``min_invokes`` and ``batch_ms`` are reached), keeping the batch's median. A file's figure is the median of
its round medians, and ``spread`` the range of the round medians over that: interleaving puts a burst of load
from another process into one round of every file instead of all rounds of a few.

Each file is timed in two contexts. ``ms``: alone, invoke after invoke, its weights and the runtime's code hot in
the caches (how a small network runs: all of it fits). ``ms_ctx``: each timed invoke follows a few untimed invokes
of other files of the same format, so its weights, the runtime's structures and the branch predictors start where
a layer deep in a larger network finds them (evicted by the layers before). A network's time lies between the
two, by how much of the cache its working set fills (``edgekd.runners.kernelmodel``).

Needs numpy and a runtime only (shipped to a device with ``benchmain.SHIPPED_FILES``).

Example:
    >>> import json, pathlib, tempfile
    >>> from edgekd.runtime.suitebench import time_files
    >>> time_files([], threads=1)["results"]
    {}
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from typing import Any, Optional, Sequence

import numpy as np

from edgekd.errors import EdgekdError
from edgekd.runtime.artifact import load_artifact
from edgekd.runtime.latency import host_info, sample_input


def _batch(invoke: Any, x: np.ndarray, warm: int, min_invokes: int, batch_ms: float,
           between: Sequence[tuple[Any, np.ndarray]] = ()) -> float:
    """The median ms of one batch of invokes after ``warm`` untimed ones (each after the ``between`` invokes)."""
    for _ in range(warm):
        invoke(x)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_invokes or (time.perf_counter() - start) * 1e3 < batch_ms:
        for other, y in between:
            other(y)
        t0 = time.perf_counter()
        invoke(x)
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= 10000:
            break
    return float(np.median(times))


def time_files(paths: Sequence[str], *, threads: int = 1, rounds: int = 5, warm: int = 3, min_invokes: int = 15,
               batch_ms: float = 25.0, seed: int = 0, neighbours: int = 3, progress: Optional[Any] = None) -> dict:
    """Median invoke time of each file, from interleaved rounds.

    Args:
        paths: ``.tflite`` / ``.onnx`` files. threads: runtime threads. rounds: interleaved rounds.
        warm, min_invokes, batch_ms: one batch: untimed invokes, then at least this many and this long.
        neighbours: untimed invokes of other files before each timed one in the ``ms_ctx`` context (drawn from
            the quicker half of the same format's files, so the context costs little time).
        progress: called with a line after each round.

    Returns:
        ``{"host", "threads", "rounds", "runtimes": {format: {"runtime", "version"}}, "results": {path:
        {"ms", "spread", "rounds_ms"} or {"error"}}}``.
    """
    loaded: dict[str, Any] = {}
    results: dict[str, dict] = {}
    runtimes: dict[str, dict] = {}
    for p in paths:
        try:
            art = load_artifact(p, threads=threads)
            x = sample_input(art)
            art.invoke_raw(x)
        except (EdgekdError, RuntimeError, ValueError) as exc:
            results[p] = {"error": (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]}
            continue
        loaded[p] = (art, x)
        fmt = os.path.splitext(p)[1].lstrip(".").lower()
        runtimes.setdefault(fmt, {"runtime": art.runtime, "version": art.runtime_version})
    per: dict[str, list[float]] = {p: [] for p in loaded}
    ctx: dict[str, list[float]] = {p: [] for p in loaded}
    order = list(loaded)
    rng = random.Random(seed)
    quick: dict[str, list[str]] = {}
    for r in range(rounds):
        rng.shuffle(order)
        t0 = time.perf_counter()
        for p in order:
            art, x = loaded[p]
            per[p].append(_batch(art.invoke_raw, x, warm, min_invokes, batch_ms))
        if not quick:  # after the first round: the quicker half of each format's files are the neighbours
            for p in sorted(loaded, key=lambda q: per[q][0]):
                quick.setdefault(os.path.splitext(p)[1], []).append(p)
            quick = {k: v[: max(1, len(v) // 2)] for k, v in quick.items()}
        for p in order:
            art, x = loaded[p]
            pool = [q for q in quick[os.path.splitext(p)[1]] if q != p] or [p]
            between = [(loaded[q][0].invoke_raw, loaded[q][1]) for q in rng.sample(pool, min(neighbours, len(pool)))]
            ctx[p].append(_batch(art.invoke_raw, x, 1, min_invokes, batch_ms / 2, between))
        if progress is not None:
            progress(f"round {r + 1}/{rounds}: {len(order)} files in {time.perf_counter() - t0:.1f} s")
    for p, ms in per.items():
        med = float(np.median(ms))
        results[p] = {"ms": med, "spread": float((max(ms) - min(ms)) / med) if med > 0 else 0.0,
                      "ms_ctx": float(np.median(ctx[p])), "rounds_ms": [round(v, 6) for v in ms],
                      "rounds_ms_ctx": [round(v, 6) for v in ctx[p]]}
    return {"host": host_info(), "threads": threads, "rounds": rounds, "runtimes": runtimes, "results": results}


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edgekd.runtime.suitebench", description=__doc__.splitlines()[0])
    p.add_argument("list", help='a JSON file {"files": [paths relative to it]}')
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batch-ms", type=float, default=25.0)
    args = p.parse_args(argv)
    try:
        with open(args.list) as f:
            files = json.load(f)["files"]
        base = os.path.dirname(os.path.abspath(args.list))
        paths = [os.path.join(base, name) for name in files]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: {args.list}: not a suite list ({exc})", file=sys.stderr)
        return 2
    out = time_files(paths, threads=args.threads, rounds=args.rounds, batch_ms=args.batch_ms,
                     progress=lambda line: print(line, file=sys.stderr, flush=True))
    out["results"] = {os.path.relpath(k, base): v for k, v in out["results"].items()}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
