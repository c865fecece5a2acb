"""The export stage: one artifact and its complete sidecar, written once; and what to export per target.

``write_artifact`` runs the backend's exporter, then (for a two-class screener
given validation data) chooses the decision threshold **by running the written
file** on the validation split, and writes the sidecar with everything the
device needs: task, front-end, labels, aggregation, I/O, calibration, decision.
No later stage rewrites it. ``export_plan`` and ``check_export_plan`` say which
(format, precision) pairs a target gets and refuse impossible ones before any work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from edgekd.errors import InputError
from edgekd.exporting.backends import INTEGER_PRECISIONS, Backend, choose_backend, producible
from edgekd.exporting.context import ExportContext

#: file suffix → format
FORMATS = {".tflite": "tflite", ".onnx": "onnx", ".pte": "pte"}


@dataclass(frozen=True)
class ThresholdData:
    """Validation windows for choosing a two-class artifact's decision threshold (never the test split).

    Attributes:
        x: model inputs (n_windows, *input_shape); rec: item index per window; y_item: class per item.
    """

    x: np.ndarray
    rec: np.ndarray
    y_item: np.ndarray


@dataclass(frozen=True)
class ExportRecord:
    """What the export stage wrote.

    Attributes:
        path: the artifact; sidecar: its ``.edgekd.json`` (the dict written, and ``sidecar_path``).
        format, precision, backend, target: what it is and what made it.
        size_bytes: the file's size. threshold: the decision threshold chosen on validation, or None.
        details: facts the exporter reported (mixed assignment, QAT fine-tuning).
        seconds: how long the export took.
    """

    path: Path
    sidecar_path: Path
    sidecar: dict
    format: str
    precision: str
    backend: str
    target: Optional[str]
    size_bytes: int
    threshold: Optional[float] = None
    details: dict = field(default_factory=dict)
    seconds: float = 0.0


def format_of(path: Path, fmt: Optional[str] = None) -> str:
    """The artifact format: ``fmt`` if given (checked against the suffix), else from the suffix.

    Raises:
        InputError: an unknown suffix, or a suffix that contradicts ``fmt``.
    """
    by_suffix = FORMATS.get(path.suffix.lower())
    if fmt is None:
        if by_suffix is None:
            raise InputError(f"{path}: cannot tell the format from the suffix {path.suffix!r} "
                             f"(use .tflite, .onnx or .pte, or pass format=)")
        return by_suffix
    if fmt not in FORMATS.values():
        raise InputError(f"format {fmt!r} is not one edgekd exports ({', '.join(FORMATS.values())})")
    if by_suffix is not None and by_suffix != fmt:
        raise InputError(f"{path}: the suffix says {by_suffix}, format= says {fmt}")
    return fmt


def export_plan(formats: Sequence[str], precisions: Sequence[str]) -> list[tuple[str, str]]:
    """(format, precision) pairs for a target's formats and the wanted precisions.

    A precision only one of the formats has (``fp16``: TFLite; ``int4-weights``, ``mixed``: ONNX)
    is planned for that format only; one that none of them has stays in the plan, so that
    ``check_export_plan`` refuses it with the list of what is possible.
    """
    return [(f, p) for f in formats for p in precisions
            if producible(f, p) or not any(producible(g, p) for g in formats)]


def target_backend(target: Any, fmt: str, precision: str) -> Backend:
    """The export backend of one (format, precision) on ``target`` (its ``backends`` pin, ``fully_integer``)."""
    if target is None:
        return choose_backend(fmt, precision)
    return choose_backend(fmt, precision, pinned=target.backends.get(fmt), fully_integer=target.fully_integer,
                          where=f"target {target.name!r} ({target.source})")


def check_export_plan(targets: Sequence[Any], precisions: Optional[Sequence[str]],
                      calibration_method: Any, mixed_kb: Callable[[Any], Optional[float]],
                      accuracy_drop: Optional[Callable[[Any], Optional[float]]] = None) -> None:
    """Before any work: every (format, precision) has a backend, calibration methods exist, mixed has a budget,
    ``int8-ac`` has an accuracy budget (``accuracy_drop``: target -> its ``accuracy_drop_pp``; default: the profile's).

    Raises:
        InputError: naming the target and what is possible.
    """
    from edgekd.exporting.backends import BACKENDS

    if isinstance(calibration_method, Mapping):  # {backend: method}: a misspelt backend would be silently ignored
        unknown = sorted(str(k) for k in calibration_method if k not in BACKENDS)
        if unknown:
            raise InputError(f"export.calibration.method: unknown backend(s) {', '.join(unknown)} (known: "
                             f"{', '.join(sorted(BACKENDS))})")
    ctx = ExportContext(calibration_method=calibration_method)
    for target in targets:
        for fmt, precision in export_plan(target.formats, precisions or target.precisions):
            backend = target_backend(target, fmt, precision)
            if precision in INTEGER_PRECISIONS:
                ctx.method_for(backend.name, backend.calibration_methods)
            if precision == "mixed" and mixed_kb(target) is None:
                raise InputError(f"target {target.name!r} asks for mixed precision, which needs a size budget: "
                                 "set export.mixed.size_kb or the target's budgets.size_kb")
            drop = accuracy_drop(target) if accuracy_drop is not None else target.budgets.accuracy_drop_pp
            if precision == "int8-ac" and drop is None:
                raise InputError(f"target {target.name!r} asks for int8-ac (int8 with accuracy control), which needs "
                                 "an accuracy budget: set export.budgets.<target>.accuracy_drop_pp or the target's "
                                 "budgets.accuracy_drop_pp")


def choose_decision(path: Path, data: ThresholdData, labels: Sequence[str], positive: str,
                    aggregation: str, threads: Optional[int] = None) -> dict[str, Any]:
    """The sidecar's ``decision``: the threshold that maximises MAcc on validation, by running ``path``."""
    from edgekd.runtime.artifact import load_artifact
    from edgekd.runtime.evaluate import recording_probabilities
    from edgekd.runtime.threshold import choose_threshold

    pos = list(labels).index(positive)
    art = load_artifact(path, threads=threads)
    ids, probs = recording_probabilities(art, data.x, data.rec, aggregation)
    threshold = choose_threshold(probs[:, pos], data.y_item[ids] == pos)
    return {
        "positive": positive,
        "threshold": threshold,
        "rule": f"an item is positive when its {aggregation} window probability of the positive class >= threshold",
        "chosen_on": f"validation split ({len(ids)} items), max MAcc, by running this artifact",
    }


def check_sidecar_free(path: Path, fmt: str) -> None:
    """Refuse an export whose sidecar (``NAME.edgekd.json``) belongs to another file of the same name: ``NAME.tflite``
    and ``NAME.onnx`` would share it, and the second export would silently break the first file.

    Raises:
        InputError: ``NAME.edgekd.json`` describes another format and that format's ``NAME`` file is there.
    """
    sidecar = path.with_suffix(".edgekd.json")
    if not sidecar.is_file():
        return
    from edgekd.inputfile import read_cache_json

    other = (read_cache_json(sidecar) or {}).get("format")
    suffix = {"tflite": ".tflite", "onnx": ".onnx", "pte": ".pte"}.get(str(other))
    if other != fmt and suffix is not None and path.with_suffix(suffix).is_file():
        raise InputError(f"{path}: its sidecar {sidecar.name} is the sidecar of {path.with_suffix(suffix).name}, and "
                         f"a .{fmt} file of the same name would replace it: give this file another name "
                         f"(e.g. {path.stem}-{fmt}{path.suffix})")


def write_artifact(
    model: Any,
    path: Path,
    *,
    precision: str,
    backend: Backend,
    example: Any,
    calibration: Optional[np.ndarray],
    context: ExportContext,
    describe: Mapping[str, Any],
    threshold_data: Optional[ThresholdData] = None,
    threads: Optional[int] = None,
    target: Optional[str] = None,
    reuse: Optional[ExportRecord] = None,
) -> ExportRecord:
    """Export ``model`` to ``path`` and write its complete sidecar.

    Args:
        model: the torch model (eval mode).
        path: the artifact's path (its suffix says the format).
        precision, backend: what to make and with which toolchain (``target_backend``).
        example: one input batch ``(1, *input_shape)`` (a torch tensor).
        calibration: representative inputs for integer precisions.
        context: calibration method, validation data (mixed), QAT model (int8-qat).
        describe: the sidecar's description of the model and its data: ``task``, ``frontend``,
            ``aggregation``, ``labels``, ``positive``, ``name``, ``model`` (and anything else to record).
        threshold_data: validation windows; for two classes with a positive class the decision
            threshold is chosen on them by running the written file.
        threads: runtime threads for that run.
        target: the target profile's name, recorded.
        reuse: an identical export made for another target: its file is copied instead of exported
            again (the sidecar is this target's, the threshold chosen again by running the copy).

    Returns:
        The ``ExportRecord``.
    """
    from edgekd.runtime.artifact import describe_io
    from edgekd.runtime.sidecar import SCHEMA as SIDECAR_SCHEMA
    from edgekd.runtime.sidecar import write_sidecar
    from edgekd.versions import versions

    fmt = format_of(path)
    check_sidecar_free(path, fmt)
    t0 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    if reuse is not None:
        import shutil

        from edgekd.atomic import atomic_path

        with atomic_path(path) as tmp:
            shutil.copyfile(reuse.path, tmp)
        details = {k: v for k, v in reuse.details.items() if k != "qat"}
    else:
        from edgekd.runtime.native_log import quiet_native

        with quiet_native():  # the converters' absl logs and torchao's import chatter; shown if the export fails
            details = dict(backend.exporters[precision](model, example, path, calibration, context=context).details)
    if precision == "int8-qat" and context.qat_model is not None:
        qat = context.qat_model.result
        details["qat"] = {"epochs_run": qat.epochs_run, "best_epoch": qat.best_epoch, "best_val_score": qat.best_score,
                          **getattr(context.qat_model, "settings", {})}
    labels, positive = list(describe["labels"]), describe.get("positive")
    decision = None
    try:
        if threshold_data is not None and positive is not None and len(labels) == 2:
            decision = choose_decision(path, threshold_data, labels, positive, describe.get("aggregation", "mean"),
                                       threads)
        io = describe_io(path)
    except BaseException:
        path.unlink(missing_ok=True)  # no artifact without its sidecar
        raise
    calibrated = precision in INTEGER_PRECISIONS
    from edgekd.runtime.sidecar import contract_io

    io = contract_io(io, labels, positive)
    meta = {
        **describe,
        "format": fmt,
        "precision": precision,
        "target": target,
        "backend": backend.name,
        "calibration": {
            "windows": int(len(calibration)) if calibration is not None else 0,
            "method": context.method_for(backend.name, backend.calibration_methods),
            "source": describe.get("calibration_source", "training split, round-robin over items"),
        } if calibrated else None,
        **details,
        "input": io["input"],
        "output": io["output"],
        **({"decision": decision} if decision is not None else {}),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
    }
    meta.pop("calibration_source", None)
    meta = {"schema": SIDECAR_SCHEMA, **meta}
    sidecar = write_sidecar(path, meta)
    return ExportRecord(path=path, sidecar_path=sidecar, sidecar=meta, format=fmt, precision=precision,
                        backend=backend.name, target=target, size_bytes=path.stat().st_size,
                        threshold=None if decision is None else decision["threshold"], details=details,
                        seconds=time.perf_counter() - t0)
