"""``edgekd.evaluate`` and ``edgekd.bench``: measure an artifact by running the file, the way the device will."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from edgekd.api.datasets import split_of
from edgekd.api.inputs import as_windows, is_folder, resolve_task, target_of
from edgekd.api.results import Benchmark, Evaluation
from edgekd.errors import InputError


def evaluate(artifact: Union[str, Path], data: Any, *, threads: Optional[int] = None, resample: bool = False,
             per_group: bool = True, items: bool = False,
             progress: Optional[Callable[[int, int], None]] = None) -> Evaluation:
    """Accuracy of an exported file on labelled data, by running it with the device-side code.

    ``data`` is what the file is scored on; a ``Prepared`` (``edgekd.prepare``) gives its test split (pass
    ``data.val`` to score on validation). A labelled folder goes through the front-end the sidecar describes (so
    it is scored exactly as on the device); arrays or a ``Dataset`` are taken as model inputs already. Windows are
    combined per item as the sidecar says, and a two-class screener applies the sidecar's decision threshold.

    Args:
        artifact: the ``.tflite``/``.onnx`` file (its ``.edgekd.json`` sidecar beside it).
        data: a labelled folder, ``(x, y)`` arrays (labels as indices or the sidecar's class names),
            a mapping with ``x``, ``y`` (and ``groups``, ``item``), a torch ``Dataset``, a ``WindowSet``, or a
            ``Prepared`` (its test split).
        threads: runtime threads. resample: audio at another sample rate is resampled, not refused.
        per_group: with in-memory data that names groups, add metrics per group.
        items: also list every item's prediction (``to_dict()["items"]``: file or index, label, predicted,
            probabilities), to compare with another implementation item by item.

    Returns:
        ``Evaluation``: typed fields (``n``, ``accuracy``, ``balanced_accuracy``, ``macc``, ``ci95``, ...);
        ``to_dict()`` is the ``eval --json`` object.

    Raises:
        InputError: a missing artifact or sidecar, data that does not fit the artifact.

    Example:
        >>> import tempfile, pathlib, numpy as np, torch, edgekd
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
        >>> art = edgekd.export(net, pathlib.Path(tempfile.mkdtemp()) / "net.onnx", example=torch.zeros(1, 1, 4, 4),
        ...                     log=lambda s: None)
        >>> x = np.random.default_rng(0).normal(size=(10, 1, 4, 4)).astype("float32")
        >>> edgekd.evaluate(art.path, (x, np.arange(10) % 2)).n          # or a labelled folder the sidecar's task reads
        10
    """
    from edgekd.runtime.artifact import load_artifact
    from edgekd.runtime.evaluate import evaluate_folder, evaluate_windows, sidecar_labels
    from edgekd.runtime.scoring import aggregation_name
    from edgekd.runtime.sidecar import read_sidecar

    path = Path(artifact)
    if not path.is_file():
        raise InputError(f"{path}: artifact not found")
    data = split_of(data, "test")
    if is_folder(data):
        return Evaluation.from_dict(evaluate_folder(path, data, threads=threads, resample=resample, items=items,
                                                    progress=progress))
    meta = read_sidecar(path)
    labels = sidecar_labels(meta, f"{path} (sidecar)")
    ws, _, _ = as_windows(data, resolve_task("tensor-classification"), labels, where="data")
    groups = ws.groups if per_group and set(ws.groups) != {"all"} else None
    art = load_artifact(path, threads=threads)
    result = evaluate_windows(art, ws.x, ws.rec, ws.y_rec, labels, meta.get("positive"), groups=groups,
                              threshold=(meta.get("decision") or {}).get("threshold"),
                              how=aggregation_name(meta.get("aggregation"), path),
                              item_names=[str(i) for i in range(len(ws.y_rec))] if items else None)
    result.update(artifact=str(path), runtime=art.runtime)
    return Evaluation.from_dict(result)


def bench(artifact: Union[str, Path], target: Any = None, *, runs: int = 200, warmup: int = 20,
          threads: Optional[int] = None, max_seconds: float = 30.0, cv_target: Optional[float] = None,
          timeout: float = 300.0, runner: Optional[str] = None, items: Optional[Sequence[Any]] = None,
          data: Any = None, calibration: Optional[Union[str, Path]] = None) -> Benchmark:
    """Latency of an artifact with the target's runner: here, on a device over SSH, emulated, or estimated.

    Only the runtime's invoke is timed, with the input already in the artifact's dtype and layout, after
    ``warmup`` runs, for ``runs`` runs (or until the coefficient of variation is below ``cv_target``);
    threads are always set explicitly. Every figure says how it was obtained (``runner``, ``estimated``,
    ``emulated``).

    The front-end (the sidecar's step list, file read included) is timed on its own, on the same runner, on real
    items: ``items`` (files), else the labelled folder ``data``, else the golden inputs beside the artifact
    (``NAME.golden/inputs/``); at most 50 of them. ``frontend`` gives it per window (``per_item``: per item), and
    ``end_to_end`` per item: front-end per item + model p50 x windows per item (p90 likewise), a sum of separately
    measured parts. Without items (or on the ``estimate`` runner) ``frontend`` is None and ``frontend_reason``
    says why.

    Args:
        artifact: the ``.tflite``/``.onnx`` file.
        target: a target profile (name, path or object); None: this machine, 1 thread unless ``threads``.
        runs, warmup, threads, max_seconds, cv_target, timeout: measurement settings (``BenchOptions``).
        runner: use this runner instead of the profile's, e.g. ``"estimate"`` for ``"rpi4"`` without the Pi
            (latency estimated from the profile's coefficients: ``estimated`` is true, ``runner`` is
            ``"estimate"``). An ssh target's key and known-hosts files are checked first; when they are
            missing the ``InputError`` says so and suggests ``runner="estimate"``.
        items: files the front-end reads (recordings, images, arrays), to time it on.
        data: a labelled folder whose files time the front-end (when ``items`` is not given).
        calibration: the ``estimate`` runner's calibration file (``edgekd targets calibrate``), instead of the one
            the profile names or that lies beside it. An estimate says which calibration it used (``calibration``)
            and flags one taken on another device (``calibration_mismatch``).

    Returns:
        ``Benchmark``: typed fields (``p50_ms``, ``p90_ms``, ``runner``, ``estimated``, ...); ``to_dict()`` is the
        ``bench --json`` object.

    Example:
        >>> import tempfile, pathlib, torch, edgekd
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
        >>> art = edgekd.export(net, pathlib.Path(tempfile.mkdtemp()) / "net.tflite", example=torch.zeros(1, 1, 4, 4),
        ...                     log=lambda s: None)
        >>> result = edgekd.bench(art.path, "x86_64", runs=20, warmup=2)   # "rpi4": over SSH on the Pi
        >>> result.p50_ms > 0, result.runner, result.estimated
        (True, 'local', False)
    """
    from edgekd.runners.frontend import frontend_job
    from edgekd.runners.options import BenchOptions
    from edgekd.runners.registry import run_bench

    from edgekd.api.checks import check_runner_ready

    path = Path(artifact)
    job, reason = frontend_job(path, items, data)  # a missing artifact: run_bench says so
    opts = BenchOptions(runs=runs, warmup=warmup, threads=threads, max_seconds=max_seconds, cv_target=cv_target,
                        timeout_s=timeout, frontend=job, calibration=None if calibration is None else str(calibration))
    profile = target_of(target)
    if calibration is not None and (runner or (profile.runner.kind if profile is not None else "local")) != "estimate":
        raise InputError(f"calibration {calibration}: a calibration is what the estimate runner estimates with; this "
                         "bench measures (give runner='estimate' / --runner estimate to use it)")
    if profile is not None and (runner or profile.runner.kind) == profile.runner.kind:
        check_runner_ready(profile, "target")
    return Benchmark.from_dict(run_bench(path, profile, opts, runner=runner, frontend_reason=reason))
