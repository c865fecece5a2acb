"""Run an ExecuTorch ``.pte`` program with ExecuTorch's Python runtime (``executorch.runtime``).

Imported only when a ``.pte`` is opened (``edgekd.runtime.artifact.load_artifact``).
Unlike LiteRT and ONNX Runtime, ExecuTorch's Python runtime is not torch-free: its
extension (``_C.so``) links libtorch and its ``Method.execute`` takes and returns
torch tensors. So a ``.pte`` runs in the main environment (torch present), and
every figure measured here is labelled with ``RUNTIME_ENV``. The numpy-only
device environment gets one ``InputError`` naming the torch-free routes instead
(ExecuTorch's C++ runner, or the third-party ``executorch-numpy-runtime`` on
Python >= 3.12).

torch is never imported by this module's own code: it is the module
``executorch.runtime`` itself loads (``sys.modules``), used to wrap numpy arrays.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from edgekd.errors import InputError
from edgekd.runtime.native_log import NativeLog as _NativeLog
from edgekd.runtime.native_log import native_stderr as _native_stderr

#: where every figure of a ``.pte`` is measured
RUNTIME_ENV = "main (executorch's Python runtime links libtorch)"
#: what the device environment gets instead of a traceback
TORCH_FREE_ROUTE = (
    "ExecuTorch's Python runtime links libtorch, so .pte files run in the main environment (torch + "
    "executorch installed); on a torch-free device use ExecuTorch's C++ runner (executor_runner or the "
    "Module C++ API with the XNNPACK backend, built with CMake) or the third-party executorch-numpy-runtime "
    "(Python >= 3.12); see docs/precisions.md, 'ExecuTorch (.pte)'"
)
# ExecuTorch ScalarType codes (schema/scalar_type.fbs) → numpy dtype names
_SCALAR_TYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16", 6: "float32",
                 7: "float64", 11: "bool"}


class NativeLog(_NativeLog):
    """What ExecuTorch's C++ side (and torchao's import) wrote to the process's stderr while captured."""

    def last_error(self) -> str:
        """The last ``[file.cpp:N] message`` line, without its location (the reason a load failed), or ``""``."""
        lines = [m.group(1).strip() for m in re.finditer(r"^\[[\w.]+:\d+\]\s*(.+)$", self.text, re.M)]
        useful = [line for line in lines if "threadpool" not in line.lower() and "midr" not in line.lower()]
        return useful[-1] if useful else ""


@contextlib.contextmanager
def native_stderr() -> Iterator[NativeLog]:
    """``edgekd.runtime.native_log.native_stderr`` with ExecuTorch's ``last_error`` reading of the text."""
    log = NativeLog()
    try:
        with _native_stderr() as captured:
            yield log
    finally:
        log.text = captured.text if "captured" in locals() else ""


def import_executorch(path: Path) -> tuple[str, Any]:
    """Import ``executorch.runtime`` (and the pybindings for the thread pool).

    Returns:
        ``(version, executorch.runtime module)``.

    Raises:
        InputError: executorch or torch is missing (the device environment): one message with the
            torch-free routes.
    """
    try:
        with native_stderr():
            runtime = importlib.import_module("executorch.runtime")
    except (ImportError, OSError) as exc:
        missing = getattr(exc, "name", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}: cannot run a .pte here ({missing} is not importable): {TORCH_FREE_ROUTE}") from None
    try:
        version = importlib.metadata.version("executorch")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return version, runtime


def set_threads(threads: int) -> None:
    """Give ExecuTorch's (process-wide) CPU thread pool, which XNNPACK uses, ``threads`` threads."""
    portable_lib = importlib.import_module("executorch.extension.pybindings.portable_lib")  # only with a .pte open
    portable_lib._unsafe_reset_threadpool(int(threads))


def load_pte(path: Path, runtime: Any, threads: int) -> tuple[dict[str, Any], dict[str, Any], Callable]:
    """Load the ``forward`` method of a ``.pte`` and describe its first input and output.

    Returns:
        ``(input description, output description, run)``; ``run`` takes a numpy array matching
        the input exactly and returns the first output as a numpy array (a copy).
    """
    failure: Exception | None = None
    with native_stderr() as log:
        try:
            set_threads(threads)
            program = runtime.Runtime.get().load_program(str(path),
                                                         verification=runtime.Verification.InternalConsistency)
            names = set(program.method_names)
            method = program.load_method("forward") if "forward" in names else None
        except Exception as exc:  # the pybindings raise RuntimeError with an error code; the reason went to stderr
            failure = exc
    if failure is not None:
        raise RuntimeError(log.last_error() or str(failure)) from failure
    if method is None:
        raise InputError(f"{path}: the program has no 'forward' method (it has {', '.join(sorted(names)) or 'none'})")
    meta = method.metadata
    if meta.num_inputs() < 1 or meta.num_outputs() < 1:
        raise InputError(f"{path}: 'forward' has {meta.num_inputs()} inputs and {meta.num_outputs()} outputs")
    torch = sys.modules["torch"]  # loaded by executorch.runtime (its extension links libtorch)

    def run(x: np.ndarray) -> np.ndarray:
        out = method.execute([torch.from_numpy(x)])
        return out[0].numpy().copy()  # the output may live in the method's planned memory

    return _io(meta.input_tensor_meta(0), "input_0"), _io(meta.output_tensor_meta(0), "output_0"), run


def _io(info: Any, name: str) -> dict[str, Any]:
    """One ExecuTorch ``TensorInfo`` as the artifact I/O description (float I/O: no quantization)."""
    code = int(info.dtype())
    return {
        "name": name,
        "shape": [int(d) for d in info.sizes()],
        "dtype": _SCALAR_TYPES.get(code, f"scalar_type_{code}"),
        "quantization": None,
    }
