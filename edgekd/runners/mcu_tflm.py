"""An int8 TFLite model in the TensorFlow Lite for Microcontrollers interpreter: its arena (RAM) and its outputs.

The ``tflite-micro`` wheel is the TFLM C++ interpreter with its reference int8
kernels, the ones a Cortex-M build uses without CMSIS-NN. Its
``RecordingMicroAllocator`` prints (on the C side, so the file descriptors are
captured, not ``sys.stdout``) how much of the tensor arena the model took:
``head`` (the activation buffers, planned by the memory planner) and ``tail``
(persistent tensor structs, node structs, kernel scratch). The total is what a
firmware's ``tensor_arena[]`` must hold; it is then checked by building a second
interpreter with exactly that arena and running it.

Measured on this 64-bit host: the ``tail`` structs contain pointers, so on a
32-bit Cortex-M the tail is somewhat smaller; the head does not change.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgekd.errors import BackendError, InputError

_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_HEAD = re.compile(r"Arena allocation head (\d+) bytes")
_TAIL = re.compile(r"Arena allocation tail (\d+) bytes")
_MAX_ARENA = 64 << 20  # give up above 64 MiB: no microcontroller has that much SRAM


@contextlib.contextmanager
def captured_fds() -> Iterator[list[str]]:
    """Capture what C code writes to file descriptors 1 and 2; the list gets the text on exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    text: list[str] = []
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield text
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            text.append(sink.read().decode("utf-8", "replace"))


def tflm_version() -> str:
    """Installed ``tflite-micro`` version (its wheels are nightly builds: the version is a date)."""
    return importlib.metadata.version("tflite-micro")


def _runtime() -> Any:
    try:
        from tflite_micro import runtime
    except ImportError:
        raise InputError("the MCU runner needs the tflite-micro package (pinned in requirements/extra.lock)") from None
    return runtime


def _interpreter(runtime: Any, model: bytes, arena: int) -> Any:
    """A TFLM interpreter over ``model`` with an ``arena``-byte tensor arena (allocation happens here)."""
    with captured_fds():  # allocation failures print to the C streams; the exception carries the reason
        return runtime.Interpreter.from_bytes(model, arena_size=arena)


def _invoke(interpreter: Any, x: np.ndarray) -> np.ndarray:
    interpreter.set_input(np.ascontiguousarray(x), 0)
    interpreter.invoke()
    return np.array(interpreter.get_output(0), copy=True)


def tflm_run(path: str | Path, inputs: np.ndarray) -> dict[str, Any]:
    """Run every input through TFLM; measure the arena the model needs and check it suffices.

    The first interpreter gets a generous arena (10x the model, doubled until the
    model fits), runs the inputs and prints its allocations; a second one is built
    with exactly the recorded total and must run the first input to the same output.

    Args:
        path: an int8 ``.tflite`` file.
        inputs: ``(k, *input shape)`` in the model's input dtype.

    Returns:
        ``{"version", "outputs" (k, *output shape), "arena_bytes", "arena_head_bytes",
        "arena_tail_bytes", "arena_verified"}``.

    Raises:
        InputError: tflite-micro is not installed.
        BackendError: TFLM cannot run the model (an op it lacks, an arena above 64 MiB).
    """
    runtime = _runtime()
    model = Path(path).read_bytes()
    arena = max(len(model) * 10, 16 << 10)
    while True:
        try:
            interpreter = _interpreter(runtime, model, arena)
            break
        except RuntimeError as exc:
            if arena >= _MAX_ARENA:
                raise BackendError(f"{path}: tflite-micro cannot allocate the model: {exc}") from None
            arena *= 2
    try:
        outputs = np.stack([_invoke(interpreter, x) for x in inputs])
    except RuntimeError as exc:
        raise BackendError(f"{path}: tflite-micro failed to run the model: {exc}") from None
    with captured_fds() as printed:
        interpreter.print_allocations()
    log = "".join(printed)
    total, head, tail = (_TOTAL.search(log), _HEAD.search(log), _TAIL.search(log))
    if total is None:
        raise BackendError(f"{path}: tflite-micro printed no arena total; its output was: {log[:300]!r}")
    arena_bytes = int(total.group(1))
    try:
        exact = _interpreter(runtime, model, arena_bytes)
        verified = bool(np.array_equal(_invoke(exact, inputs[0]), outputs[0]))
    except RuntimeError:
        verified = False
    return {
        "version": tflm_version(),
        "outputs": outputs,
        "arena_bytes": arena_bytes,
        "arena_head_bytes": int(head.group(1)) if head else None,
        "arena_tail_bytes": int(tail.group(1)) if tail else None,
        "arena_verified": verified,
    }
