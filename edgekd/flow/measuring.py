"""Measure one exported artifact the way the report needs it: test metrics, latency, audit, parity.

Every figure comes from running the file: accuracy on the test split (windows
aggregated per item, the sidecar's decision threshold applied), latency with the
target's runner (and, when the test items are files, the front-end's step list
timed on them on the same runner, with the per-item end-to-end sum), the graph
audit, and parity with the torch model it came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np


def measure_artifact(
    record: Any,
    *,
    role: str,
    name: str,
    target: Any,
    test: Any,
    classes: list[str],
    positive: Optional[str],
    aggregation: str,
    bench: Any,
    out: Path,
    reference_logits: Optional[np.ndarray] = None,
    extra: Optional[dict] = None,
    log: Callable[[str], None] = print,
) -> dict:
    """The report row of one artifact (schema ``edgekd.report/1``).

    Args:
        record: the export stage's ``ExportRecord``.
        role, name: ``student``/``teacher``/``student-unpruned`` and the artifact's name.
        target: the ``TargetProfile`` it was made for (threads, runner).
        test: the test ``WindowSet``; classes, positive, aggregation: how it is scored.
        bench: the ``BenchSpec`` (runs, warm-up, time cap).
        out: the run folder (paths in the row are relative to it).
        reference_logits: the torch model's test logits, for ``parity``.
        extra: more keys for the row (backend, mixed, qat, ...).
        log: one summary line.
    """
    from edgekd.audit import inspect_artifact
    from edgekd.audit.parity import parity
    from edgekd.report.record import artifact_record
    from edgekd.runtime.artifact import load_artifact
    from edgekd.runtime.evaluate import evaluate_windows

    path = record.path
    art = load_artifact(path, threads=target.threads)
    groups = [r.group for r in test.recordings]
    metrics = evaluate_windows(art, test.x, test.rec, test.y_rec, classes, positive, groups, record.threshold,
                               how=aggregation)
    rel = str(path.relative_to(out)) if path.is_relative_to(out) else str(path)
    metrics["artifact"] = rel
    latency = _latency(art, path, target, bench, test)
    latency["artifact"] = rel
    row = artifact_record(name=name, role=role, target=target.name, format=record.format, precision=record.precision,
                          path=path, shown_path=rel, metrics=metrics, latency=latency, audit=inspect_artifact(path),
                          # .pte: main environment, torch present
                          **({"runtime_env": art.runtime_env} if art.runtime_env else {}), **(extra or {}))
    if reference_logits is not None:
        row["parity"] = parity(reference_logits, art.predict(test.x))
    key = "macc" if "macc" in metrics else "balanced_accuracy"
    lo, hi = (metrics.get("ci95") or {}).get(key) or (None, None)
    interval = f" [95 % CI {lo:.3f}-{hi:.3f}, n={metrics['n']}]" if lo is not None and hi is not None else ""
    log(f"  {target.name}/{path.name:22s} {row['size_bytes'] / 1024:8.1f} KiB  "
        f"{'MAcc' if key == 'macc' else 'bal. acc'} {metrics[key]:.3f}{interval}  p50 {latency['p50_ms']:.3f} ms"
        + (" ESTIMATED" if latency.get("estimated") else " EMULATED" if latency.get("emulated") else "") + "  "
        f"({art.runtime}{', ' + art.runtime_env + ' environment' if art.runtime_env else ''})")
    return row


def _latency(art: Any, path: Path, target: Any, bench: Any, test: Any) -> dict:
    """The model's latency on the target's runner, with the front-end timed beside it on the test items' files."""
    import dataclasses

    from edgekd.runners.frontend import finish, frontend_job, time_here

    from edgekd.errors import InputError

    files = [r.path for r in getattr(test, "recordings", []) if getattr(r, "path", None) is not None]
    files = [f for f in files if Path(f).is_file()]
    try:
        job, reason = frontend_job(path, items=files, source="test split") if files else (
            None, "not timed: the run has no test items as files (in-memory arrays, or moved)")
    except InputError as exc:  # the front-end's timing never stops a run
        job, reason = None, f"not timed: {exc}"
    opts = dataclasses.replace(bench.options(), frontend=job)
    if target.runner.kind == "local":
        from edgekd.runtime.latency import measure_latency

        latency = measure_latency(art, runs=bench.runs, warmup=bench.warmup, max_seconds=bench.max_seconds)
        if job is not None:
            latency.update(time_here(job, opts))
        return finish(latency, path, job, reason)
    # the target's own runner (ssh device, emulated, estimate): labelled by it, never passed as local
    from edgekd.runners.registry import run_bench

    return run_bench(path, target, opts, frontend_reason=reason)
