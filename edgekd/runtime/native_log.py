"""What native backends print straight to the process's stderr, kept out of the user's terminal.

LiteRT's interpreter ("INFO: Created TensorFlow Lite XNNPACK delegate"), the TFLite converter's absl logs,
torchao's import ("Failed to load ... .so") and ExecuTorch's C++ side write to file descriptor 2, below
Python's ``warnings`` and ``logging``. ``quiet_native()`` captures them around such a call and shows them only
when the call fails (so a failure keeps its reason) or when ``EDGEKD_VERBOSE=1`` (``edgekd --verbose``).
numpy-free and runtime-free: usable on the device.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from typing import Any, Iterator

VERBOSE_ENV = "EDGEKD_VERBOSE"
#: the backends whose Python-side notices (deprecations, "failed to load an optional kernel") are held back too
BACKEND_LOGGERS = ("torchao", "torch.onnx", "torch.utils._pytree", "torch._export", "absl", "tensorflow",
                   "onnxscript", "nncf", "litert_torch", "ai_edge_litert")
_BACKEND_MODULES = r"(torch|torchao|tensorflow|tf_keras|onnx|onnxscript|litert_torch|ai_edge_litert|nncf|" \
                   r"executorch|copyreg)(\.|$)"


class NativeLog:
    """What was written to stderr (descriptor 2 and ``sys.stderr``) while captured: ``text``."""

    text = ""


def verbose() -> bool:
    """True when backend output should be shown as it comes (``EDGEKD_VERBOSE=1``)."""
    return os.environ.get(VERBOSE_ENV) == "1"


@contextlib.contextmanager
def _descriptor_2_captured(python_to: Any) -> Iterator[NativeLog]:
    """Descriptor 2 into a temporary file while the block runs (``sys.stderr`` redirected to ``python_to`` unless
    None); the captured text is in the yielded log's ``text`` afterwards. Nothing to capture without a descriptor 2."""
    log = NativeLog()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no descriptor 2 (an embedding host)
        yield log
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stderr(python_to) if python_to is not None else contextlib.nullcontext():
                yield log
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            log.text = sink.read().decode("utf-8", "replace")


@contextlib.contextmanager
def native_stderr() -> Iterator[NativeLog]:
    """Capture descriptor 2 and ``sys.stderr``; the captured text is in the yielded log's ``text`` afterwards."""
    python_side = io.StringIO()
    with _descriptor_2_captured(python_side) as log:
        try:
            yield log
        finally:
            python_side.flush()
    log.text += python_side.getvalue()


@contextlib.contextmanager
def quiet_native() -> Iterator[None]:
    """Hide what native code writes to descriptor 2 around a call; on an exception, print it, then re-raise.

    Python's own ``sys.stderr`` (edgekd's progress lines) still reaches the terminal.

    Example:
        >>> with quiet_native():
        ...     print("kept on stdout")
        kept on stdout
    """
    if verbose():
        yield
        return
    with _python_notices_held():
        terminal = None
        try:  # Python's own stderr (edgekd's progress lines) stays on the terminal
            terminal = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace") \
                if sys.stderr is sys.__stderr__ else None
        except (OSError, ValueError):
            pass
        try:
            with _descriptor_2_captured(terminal) as log:
                yield
        except BaseException:
            if log.text.strip():  # what the backend said is the failure's reason
                sys.stderr.write(log.text if log.text.endswith("\n") else log.text + "\n")
            raise
        finally:
            if terminal is not None:
                terminal.close()


@contextlib.contextmanager
def _python_notices_held() -> Iterator[None]:
    """The backends' warnings and log records below ERROR, silenced for the call and restored afterwards."""
    import logging
    import warnings

    loggers = [logging.getLogger(n) for n in BACKEND_LOGGERS]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning, UserWarning):
            warnings.filterwarnings("ignore", category=category, module=_BACKEND_MODULES)
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)
