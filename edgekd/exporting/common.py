"""Helpers every exporter module shares: one-line backend errors, calibration checks, eval mode.

They keep the error messages and the calibration checks identical across
backends. Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgekd.errors import BackendError, InputError

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CLASS_PREFIX = re.compile(r"^<class '([\w.]+)'>:\s*")
_OP = re.compile(r"\b(aten\.\w+|torch\.ops\.[\w.]+|tfl\.\w+|stablehlo\.\w+)")
_CALL = re.compile(r'The following call raised this error:\s*File "([^"]+)", line (\d+)')


def backend_error(stage: str, subject: str, exc: BaseException) -> BackendError:
    """Condense a backend exception into a one-line ``BackendError``.

    The torch exporters raise pages of advice; their own summary line (after
    ``## Exception summary``) or the first line of the message is kept, with the
    operator it names and the model source line it blames, if any.

    Args:
        stage: what failed, e.g. ``"ONNX export"``.
        subject: the model class or file name.
        exc: the backend's exception.

    Returns:
        The error to raise (``raise backend_error(...) from exc``).
    """
    text = _ANSI.sub("", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "## Exception summary" in lines:
        lines = lines[lines.index("## Exception summary") + 1 :]
    first = lines[0] if lines else ""
    cause = _CLASS_PREFIX.match(first)
    kind = cause.group(1).rsplit(".", 1)[-1] if cause else type(exc).__name__
    reason = _CLASS_PREFIX.sub("", first)
    reason = f"{kind}: {reason}" if reason else kind
    if len(reason) > 300:
        reason = reason[:297] + "..."
    where = subject
    op, call = _OP.search(text), _CALL.search(text)
    if op:
        where += f", op {op.group(1)}"
    if call:
        where += f", at {Path(call.group(1)).name}:{call.group(2)}"
    return BackendError(f"{stage} failed for {where}: {reason}")


def check_calibration(calibration: Any, expected: tuple[int | None, ...], subject: str) -> np.ndarray:
    """Check int8 calibration data against the model's input shape.

    Args:
        calibration: array ``(N, C, H, W)`` of representative inputs (windows of the training set).
        expected: the input shape without the batch dim; ``None`` matches any size.
        subject: the model or file name, for the message.

    Returns:
        The data as a float32 array.

    Raises:
        InputError: no data, or a shape other than ``(N, *expected)``.
    """
    want = "(N, " + ", ".join("?" if d is None else str(d) for d in expected) + ")"
    if calibration is None:
        raise InputError(f"int8 export of {subject} needs calibration data of shape {want}")
    data = np.asarray(calibration, dtype=np.float32)
    fits = data.ndim == len(expected) + 1 and all(e is None or e == g for e, g in zip(expected, data.shape[1:]))
    if not fits or len(data) == 0:
        raise InputError(
            f"calibration data for {subject} must have shape {want}, got {tuple(data.shape)}"
        )
    return data


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[Any]:
    """Put a torch module in eval mode for an export, then restore its mode."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def with_minmax_activations(config: Any) -> Any:
    """The same PT2E quantization config with min/max activation observers instead of histograms
    (the ``minmax`` calibration method of the litert-torch and ExecuTorch backends)."""
    import dataclasses

    from torchao.quantization.pt2e.observer import MinMaxObserver

    def swap(spec: Any) -> Any:
        if spec is None:
            return None
        return dataclasses.replace(spec, observer_or_fake_quant_ctr=MinMaxObserver.with_args(eps=2**-12))

    return dataclasses.replace(
        config, input_activation=swap(config.input_activation), output_activation=swap(config.output_activation)
    )
