"""``edgekd.export``: write your model as a TFLite or ONNX artifact at a precision, with its sidecar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from edgekd.api.checks import keeps_torch_threads
from edgekd.api.datasets import split_of, with_prepared
from edgekd.api.inputs import (as_windows, calibration_of, check_module, check_output, example_of, renamed,
                               resolve_task, target_of)
from edgekd.api.results import Exported
from edgekd.errors import InputError


@keeps_torch_threads
def export(model: Any, path: Union[str, Path], *, format: Optional[str] = None, precision: str = "fp32",
           example: Any = None, calibration: Any = None, val: Any = None, target: Any = None, task: Any = None,
           classes: Optional[Sequence[str]] = None, positive: Optional[str] = None, backend: Optional[str] = None,
           calibration_method: Union[None, str, dict] = None, mixed_size_kb: Optional[float] = None, qat: Any = None,
           name: Optional[str] = None, describe: Optional[dict] = None, log: Optional[Callable[[str], None]] = None,
           validation: Any = None, max_drop_pp: Optional[float] = None, nncf: Optional[dict] = None) -> Exported:
    """Export ``model`` to ``path`` and write the sidecar ``NAME.edgekd.json`` beside it.

    API rules: the model first, everything else by keyword; ``model`` is not changed; validation data is ``val=``
    (``validation=`` still works, with a DeprecationWarning); a ``Prepared`` (``edgekd.prepare``) as
    ``calibration=`` gives its train split, as ``val=`` its val split, and either gives the task, classes and
    positive class; ``target`` is a device profile. One artifact per call. The backend is the target's (its
    ``backends`` pin, ``fully_integer``) or the format's default: litert-torch for TFLite (NHWC input; int8 through
    PT2E, per-channel), ONNX Runtime for ONNX (int8 QDQ U8S8, per-channel; ``nncf`` when pinned, and for ``int8-ac``),
    ``onnx2tf`` for fully integer TFLite, ExecuTorch for ``.pte`` (XNNPACK). The sidecar records the front-end, class
    names (output order), I/O, quantization, versions and, with ``val`` and a ``positive`` class, the threshold.

    Args:
        model: an ``nn.Module`` in eval mode on the CPU. path: ``NAME.tflite``, ``NAME.onnx`` or ``NAME.pte``.
        format: ``tflite``, ``onnx`` or ``pte`` (default: the suffix).
        precision: ``fp32``, ``fp16``, ``int8``, ``int8-dynamic``, ``int8-qat`` (needs ``qat``), ``int8-ac`` (ONNX,
            NNCF accuracy control: needs ``val``), ``int4-weights`` or ``mixed`` (needs ``val`` and a size budget).
        example: a batch of one input ``(1, *input_shape)``; default: a zero example of the task's input shape,
            or the first val/calibration example.
        calibration: inputs for integer precisions: an array ``(N, *input_shape)``, or any data ``edgekd.distill``
            takes (then 256 examples round-robin over items); a ``Prepared``: its train split.
        val: held-out data (never test), any form; a ``Prepared``: its val split. It chooses the decision
            threshold and mixed-precision sensitivity. validation: the deprecated name of ``val``.
        target: a device profile (name, path or ``TargetProfile``): checked to run this format and precision,
            recorded in the sidecar.
        task, classes, positive: the task (its front-end goes into the sidecar; default: the ``Prepared``'s, else
            ``tensor-classification``), class names in output order (default: the data's, else ``"0"``, ...), the
            positive class of a two-class screener.
        backend: force ``litert-torch``, ``onnx2tf``, ``onnxruntime``, ``nncf`` or ``executorch``. calibration_method:
            a method name, or ``{backend: method}``. mixed_size_kb: ``mixed``'s file-size budget in KiB (default: the
            target's ``size_kb``). qat: the ``QATModel`` (``edgekd.quantize.qat.qat_finetune``) for ``int8-qat``.
            name: the artifact's name (default: the file stem). describe: more sidecar entries. log: progress lines.
            max_drop_pp: ``int8-ac``'s validation drop limit in points (default: the target's ``accuracy_drop_pp``).
            nncf: ``{"preset": "performance"|"mixed", "fast_bias_correction": True, "subset_size": 300}``.

    Returns:
        ``Exported``: the paths, size, backend and the sidecar written.

    Raises:
        InputError: a model in training mode or on another device, an ``example`` the model cannot run, a format
            or precision no backend (or the target) offers, calibration data of the wrong shape, an ``int8-ac`` file
            with float ops for a ``fully_integer`` target. BackendError: the converter failed on this model.

    Example:
        >>> import tempfile, pathlib, torch, edgekd
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
        ...                           torch.nn.Linear(4 * 6 * 6, 2)).eval()
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "net.onnx"
        >>> art = edgekd.export(net, out, example=torch.zeros(1, 1, 8, 8), classes=["no", "yes"])
        >>> art.sidecar_path.name, art.sidecar["labels"]
        ('net.edgekd.json', ['no', 'yes'])
    """
    from edgekd.exporting.stage import format_of

    val = renamed("validation", "val", validation, val, verb="export")
    task, classes, positive = with_prepared(val, calibration, task=task, classes=classes, positive=positive)
    calibration, val = split_of(calibration, "train"), split_of(val, "val")
    path = Path(path)
    fmt = format_of(path, format)
    check_module(model, "model", eval_mode=True)
    profile = _checked_target(target, fmt, precision)
    task_obj = resolve_task(task)
    shape, example_t = example_of(example, task_obj, val, calibration)
    task_obj = task_obj.for_input(shape, "example")
    outputs = _run_example(model, example_t, "example" if example is not None else
                           "the input shape (from task=, val= or calibration=)")
    val_ws, task_obj, names = _val_windows(val, task_obj, classes, int(outputs.shape[-1]))
    check_output(model, "model", shape, len(names))
    if positive is not None and positive not in names:
        raise InputError(f"positive: {positive!r} is not one of the classes ({', '.join(names)})")
    info = {"name": name or path.stem, **task_obj.sidecar(), "labels": names, "positive": positive,
            "model": _model_info(model, shape), **(describe or {})}
    return _write(model, path, fmt, precision, example=example_t, calibration=calibration, val_ws=val_ws, task=task_obj,
                  names=names, positive=positive, profile=profile, backend=backend, qat=qat, info=info, log=log,
                  calibration_method=calibration_method, mixed_size_kb=mixed_size_kb, max_drop_pp=max_drop_pp, nncf=nncf)


def _check_quantizer_options(precision: str, max_drop_pp: Any) -> None:
    """Before the export: ``max_drop_pp`` is a number >= 0 and only for ``int8-ac`` (never silently ignored)."""
    import math
    import numbers

    if max_drop_pp is not None:
        if isinstance(max_drop_pp, bool) or not isinstance(max_drop_pp, numbers.Real) or not math.isfinite(
                max_drop_pp) or max_drop_pp < 0:
            raise InputError(f"max_drop_pp: expected a number of points >= 0 (e.g. 2.0), got {max_drop_pp!r}")
        if precision != "int8-ac":
            raise InputError(f"max_drop_pp applies to precision='int8-ac' only (accuracy control), not "
                             f"{precision!r}: drop it, or export int8-ac")


#: what a precision's file asks of the device's kernels (int8-ac: int8 kernels, with the ops it kept in float)
RUNS_AS = {"int8-qat": "int8", "int8-ac": "int8", "int8-dynamic": "fp32", "int4-weights": "fp32", "mixed": "fp32"}


def _checked_target(target: Any, fmt: str, precision: str) -> Any:
    """The target profile (or None), refused when it does not run this format and precision."""
    profile = target_of(target)
    if profile is not None:
        if fmt not in profile.formats:
            raise InputError(f"target {profile.name!r} runs {', '.join(profile.formats)}, not {fmt}")
        runs = RUNS_AS.get(precision, precision)  # a QAT int8 file runs as int8; weight-only ones as float compute
        if runs not in profile.precisions:
            raise InputError(f"target {profile.name!r} runs {', '.join(profile.precisions)}, not {precision}")
    return profile


def _val_windows(val: Any, task: Any, classes: Optional[list[str]], outputs: int) -> tuple[Any, Any, list[str]]:
    """``(val windows or None, task, class names)``: names from ``classes``, the val data, else ``"0"``, ..."""
    val_ws = None
    if val is not None:
        val_ws, task, classes = as_windows(val, task, classes, where="val")
    return val_ws, task, list(classes) if classes else [str(i) for i in range(outputs)]


def _model_info(model: Any, shape: tuple[int, ...]) -> dict:
    from edgekd.models.complexity import count_macs, count_params

    return {"name": type(model).__name__, "params": count_params(model), "macs": count_macs(model, shape)}


def _write(model: Any, path: Path, fmt: str, precision: str, *, example: Any, calibration: Any, val_ws: Any,
           task: Any, names: list[str], positive: Optional[str], profile: Any, backend: Optional[str],
           calibration_method: Any, mixed_size_kb: Optional[float], qat: Any, info: dict,
           log: Optional[Callable[[str], None]], max_drop_pp: Optional[float] = None,
           nncf: Optional[dict] = None) -> Exported:
    """Choose the backend, write the file and its sidecar (threshold chosen on ``val_ws`` by running the file);
    ``calibration`` is any data form, turned into inputs here."""
    from edgekd.exporting.backends import choose_backend
    from edgekd.exporting.context import ExportContext, Validation
    from edgekd.exporting.stage import ThresholdData, target_backend, write_artifact
    from edgekd.runners.probe import latency_probe

    _check_quantizer_options(precision, max_drop_pp)
    chosen = (choose_backend(fmt, precision, pinned=backend) if backend is not None
              else target_backend(profile, fmt, precision))
    if nncf is not None and chosen.name != "nncf":  # an option that would be silently ignored
        raise InputError(f"nncf= options apply where NNCF quantizes (backend='nncf', or precision='int8-ac'); this "
                         f"{fmt} {precision} export is made by {chosen.name}: add backend='nncf', or drop nncf=")
    calibration = calibration_of(calibration, task, names, precision)
    validation_ctx = None
    if val_ws is not None:
        from edgekd.training.trainer import recording_metrics
        from edgekd.runtime.scoring import score_of

        def score(logits: np.ndarray) -> float:
            return score_of(recording_metrics(logits, val_ws, names, positive, task.aggregation))

        validation_ctx = Validation(val_ws.x, score, items=val_ws.rec,
                                    item_score=_item_score(val_ws, names, positive, task.aggregation))
    budget = mixed_size_kb or (profile.budgets.size_kb if profile is not None else None)
    if max_drop_pp is None and profile is not None:
        max_drop_pp = profile.budgets.accuracy_drop_pp
    context = ExportContext(calibration_method=calibration_method, validation=validation_ctx, mixed_size_kb=budget,
                            qat_model=qat, max_drop_pp=max_drop_pp, nncf=nncf,
                            fully_integer=bool(profile is not None and profile.fully_integer),
                            latency_probe=latency_probe(profile),
                            log=log or (lambda s: print(s, file=sys.stderr, flush=True)))
    threshold = ThresholdData(val_ws.x, val_ws.rec, val_ws.y_rec) if val_ws is not None else None
    record = write_artifact(model, path, precision=precision, backend=chosen, example=example, calibration=calibration,
                            context=context, describe=info, threshold_data=threshold,
                            threads=profile.threads if profile is not None else None,
                            target=profile.name if profile is not None else None)
    return Exported.from_record(record)


def _item_score(val_ws: Any, names: list[str], positive: Optional[str], aggregation: str) -> Callable:
    """``(logits of some windows, their items) -> (metric over those items, {item: probability of its true class})``:
    the validation metric of ``int8-ac``, aggregated per item as the task does."""
    from edgekd.runtime.metrics import softmax
    from edgekd.runtime.scoring import aggregate, item_metrics, score_of

    def item_score(logits: np.ndarray, items: np.ndarray) -> tuple[float, dict[int, float]]:
        metric = score_of(item_metrics(logits, items, val_ws.y_rec, names, positive, how=aggregation))
        ids, probs = aggregate(softmax(np.asarray(logits)), items, aggregation)
        true = np.asarray(val_ws.y_rec)[ids]
        return metric, {int(i): float(p[t]) for i, p, t in zip(ids, probs, true)}

    return item_score


def _run_example(model: Any, example: Any, where: str) -> Any:
    """The model's output on the example, or an ``InputError`` naming ``where`` when it cannot run on it."""
    import torch

    try:
        with torch.no_grad():
            out = model(example)
    except Exception as exc:  # the user's module: any error means the input does not fit it
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{where}: the model cannot run on an input of shape {list(example.shape)} ({first}); "
                         "give example= as a batch of one input the model takes, (1, *input_shape)") from None
    if not hasattr(out, "shape") or out.ndim != 2:
        shape = list(out.shape) if hasattr(out, "shape") else type(out).__name__
        raise InputError(f"model: its output is {shape} for one example; edgekd exports classifiers giving "
                         "(1, classes) logits")
    return out
