"""The ``local`` runner: the artifact measured on this machine with the device runtime's latency loop."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from edgekd.runners.options import BenchOptions
from edgekd.targets import TargetProfile


def run_local(artifact: Path, profile: Optional[TargetProfile], opts: BenchOptions) -> dict:
    """Load the artifact here with an explicit thread count and time it (``edgekd.runtime.latency``).

    Args:
        artifact: ``.tflite``, ``.onnx`` or ``.pte`` file (a ``.pte`` runs with ExecuTorch's Python
            runtime, in this, the main, environment: the result has ``runtime_env``).
        profile: supplies ``threads`` when ``opts.threads`` is not set (``None``: one thread).
        opts: runs, warm-up, CV target, time cap.

    Returns:
        The ``bench --json`` dict, ``runner: "local"``, with ``peak_rss_kb`` and ``method``; with
        ``opts.frontend``, ``frontend`` too (timed here after the model).
    """
    from edgekd.runtime.artifact import load_artifact
    from edgekd.runtime.latency import measure_latency

    threads = opts.threads or (profile.threads if profile is not None else 1)
    art = load_artifact(artifact, threads=threads)
    result = measure_latency(
        art, runs=opts.runs, warmup=opts.warmup, max_seconds=opts.max_seconds,
        cv_target=opts.cv_target, min_runs=opts.min_runs,
    )
    result["method"] = (
        f"measured on this machine: {result['runs']} timed invokes after {result['warmup']} warm-up, "
        f"{threads} thread(s), input already in the artifact's dtype and layout; stopped by {result['stopped']}"
        + (f"; in the {art.runtime_env} environment" if art.runtime_env else "")
    )
    if opts.frontend is not None:  # the front-end's step list on real items, here too
        from edgekd.runners.frontend import time_here

        result.update(time_here(opts.frontend, opts))
    return result
