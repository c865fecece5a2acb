"""Run an exported ``.tflite`` / ``.onnx`` / ``.pte`` artifact with an on-device runtime.

This is what ``edgekd eval`` and ``edgekd bench`` use on the device, so it
imports only numpy and a runtime (ai-edge-litert, tflite-runtime or ONNX
Runtime), never torch, TensorFlow or onnx. The exception is ExecuTorch
(``.pte``, ``edgekd.runtime.pte``, imported only when a ``.pte`` is opened):
its Python runtime links libtorch, so ``.pte`` files run in the main
environment and their figures say so (``Artifact.runtime_env``). ``Artifact.predict`` hides the
differences between artifacts: it takes the float NCHW batches the model was
trained on and returns float logits, whatever layout, dtype and batch size the
artifact itself expects.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekd.errors import InputError

_FORMATS = {".tflite": "tflite", ".onnx": "onnx", ".pte": "pte"}
# runtime name (= pip package) → (format it runs, module to import)
_RUNTIMES = {
    "ai-edge-litert": ("tflite", "ai_edge_litert.interpreter"),
    "tflite-runtime": ("tflite", "tflite_runtime.interpreter"),
    "onnxruntime": ("onnx", "onnxruntime"),
    "executorch": ("pte", "executorch.runtime"),
}
_ORT_TYPES = {"float": "float32", "double": "float64"}


class Artifact:
    """A loaded artifact: its I/O description plus a callable that runs it.

    Attributes:
        path: the artifact file.
        format: ``"tflite"``, ``"onnx"`` or ``"pte"``.
        runtime: the runtime's pip name (``"ai-edge-litert"``, ``"tflite-runtime"``, ``"onnxruntime"``,
            ``"executorch"``).
        runtime_version: the runtime's version string.
        threads: CPU threads the runtime was given.
        input: ``{"name", "shape", "dtype", "layout", "quantization"}`` of the first input;
            ``shape`` has ``None`` for dynamic dims, ``layout`` is ``"NCHW"``/``"NHWC"``
            (``None`` unless 4-D), ``quantization`` is ``{"scale": [...], "zero_point": [...]}`` or ``None``.
        output: the same (without ``layout``) for the first output.
        runtime_env: where figures of this artifact are measured, when that is not the device
            environment (``.pte``: the main environment, torch present); ``None`` otherwise.
    """

    def __init__(
        self,
        path: Path,
        format: str,
        runtime: str,
        runtime_version: str,
        threads: int,
        input: dict[str, Any],
        output: dict[str, Any],
        run: Callable[[np.ndarray], np.ndarray],
        runtime_env: str | None = None,
    ) -> None:
        self.path = path
        self.format = format
        self.runtime = runtime
        self.runtime_version = runtime_version
        self.threads = threads
        self.input = input
        self.output = output
        self._run = run
        self.runtime_env = runtime_env

    def __repr__(self) -> str:
        return f"Artifact({str(self.path)!r}, {self.runtime} {self.runtime_version}, threads={self.threads})"

    def invoke_raw(self, x: np.ndarray) -> np.ndarray:
        """Run one input already in the artifact's own dtype, layout and batch size.

        No conversion happens here, so latency loops time the runtime alone.

        Args:
            x: an array matching ``self.input`` exactly.

        Returns:
            The raw first output (integer for an int8 output).
        """
        return self._run(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Run float channel-first batches and return float logits.

        Moves the channel axis last when the artifact's input is channel-last
        (``NHWC``, ``NWC``), quantizes to the input's int8/uint8 with its scale and
        zero point, runs the artifact in chunks of its fixed batch size (TFLite: 1)
        or in one call when the batch dim is dynamic (ONNX), and dequantizes an
        integer output.

        Args:
            x: float array ``(N, C, ...)`` as the model was trained on (``(N, C, H, W)`` for images
                and spectrograms).

        Returns:
            float32 array ``(N, classes)``.

        Raises:
            InputError: ``x`` does not fit the artifact's input shape.
        """
        x = np.asarray(x, dtype=np.float32)
        shape = self.input["shape"]
        if x.ndim != len(shape):
            raise InputError(f"{self.path}: predict takes batches of rank {len(shape)} (the model's input "
                             f"{shape}), got shape {list(x.shape)}")
        if channels_last(self.input.get("layout")) and x.ndim >= 3:
            x = np.moveaxis(x, 1, -1)
        batch = shape[0]
        fits = all(e is None or e == g for e, g in zip(shape[1:], x.shape[1:]))
        if not fits or not len(x) or (batch is not None and len(x) % batch):
            raise InputError(
                f"{self.path}: input is {shape} ({self.input['layout']}), "
                f"the batch has shape {list(x.shape)} in that layout"
            )
        xq = np.ascontiguousarray(_quantize(x, self.input))
        step = batch or len(xq)
        outs = [self._run(xq[i : i + step]) for i in range(0, len(xq), step)]
        return _dequantize(np.concatenate(outs), self.output)



def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask under ``taskset``, a container's cpuset or a pinned test
    worker), not all the machine's: more runtime threads than that only wait on each other."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # macOS, Windows: no affinity call
        return os.cpu_count() or 1

def channels_last(layout: str | None) -> bool:
    """Whether a layout name (``NHWC``, ``NWC``, ``NCHW``, ...) puts the channels last."""
    return bool(layout) and len(layout) >= 3 and layout.endswith("C")


def load_artifact(
    path: str | os.PathLike[str], *, threads: int | None = None, runtime: str | None = None
) -> Artifact:
    """Load a ``.tflite``, ``.onnx`` or ``.pte`` file in a runtime, ready to run.

    Args:
        path: the artifact.
        threads: CPU threads for the runtime (default: all cores, passed explicitly).
        runtime: force ``"ai-edge-litert"``, ``"tflite-runtime"``, ``"onnxruntime"`` or ``"executorch"``;
            by default ``.tflite`` tries ai-edge-litert then tflite-runtime.

    Returns:
        The loaded ``Artifact``.

    Raises:
        InputError: unknown suffix, missing or corrupt file, a runtime that cannot
            run this format, or no runtime installed (the message names the pip package; for
            ``.pte`` without executorch/torch, the torch-free routes).
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown artifact type {path.suffix!r} (expected .tflite, .onnx or .pte)")
    if not path.is_file():
        if os.path.lexists(path):  # a FIFO, socket, device or folder: refused by kind, never opened
            from edgekd.inputfile import regular_file

            regular_file(path, "artifact")
        raise InputError(f"{path}: artifact not found")
    threads = threads or usable_cpus()
    if fmt == "pte":
        name, version, module = _import_pte(path, runtime)
    else:
        name, version, module = _import_runtime(fmt, runtime)
    try:
        if fmt == "tflite":
            return _load_tflite(path, module, name, version, threads)
        if fmt == "pte":
            return _load_pte(path, module, name, version, threads)
        return _load_onnx(path, module, name, version, threads)
    except InputError:
        raise
    except Exception as exc:  # runtimes raise ValueError, RuntimeError or their own types
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise InputError(f"{path}: {name} {version} cannot load it: {reason}") from None


def describe_io(path: str | os.PathLike[str], *, runtime: str | None = None) -> dict[str, Any]:
    """Describe an artifact's input and output as its runtime reports them (for sidecars).

    Args:
        path: the artifact.
        runtime: as in ``load_artifact``.

    Returns:
        ``{"input": {...}, "output": {...}}`` as in ``Artifact.input`` / ``Artifact.output``.
    """
    artifact = load_artifact(path, threads=1, runtime=runtime)
    return {"input": artifact.input, "output": artifact.output}


def _import_runtime(fmt: str, runtime: str | None) -> tuple[str, str, Any]:
    """Import the first available runtime for ``fmt`` (or the forced one).

    Returns:
        ``(pip name, version, imported module)``.
    """
    if runtime is not None and runtime not in _RUNTIMES:
        raise InputError(f"unknown runtime {runtime!r} (known: {', '.join(_RUNTIMES)})")
    if runtime is not None and _RUNTIMES[runtime][0] != fmt:
        raise InputError(f"runtime {runtime!r} cannot run .{fmt} files")
    names = [runtime] if runtime else [n for n, (f, _) in _RUNTIMES.items() if f == fmt]
    for name in names:
        try:
            module = importlib.import_module(_RUNTIMES[name][1])
        except ImportError:
            continue
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        return name, version, module
    raise InputError(f"no runtime for .{fmt} files is installed: pip install {' or '.join(names)}")


def _import_pte(path: Path, runtime: str | None) -> tuple[str, str, Any]:
    """Import ExecuTorch's runtime for a ``.pte`` (lazily: only here), or say why it cannot run here."""
    if runtime is not None and runtime not in _RUNTIMES:
        raise InputError(f"unknown runtime {runtime!r} (known: {', '.join(_RUNTIMES)})")
    if runtime is not None and _RUNTIMES[runtime][0] != "pte":
        raise InputError(f"runtime {runtime!r} cannot run .pte files")
    from edgekd.runtime.pte import import_executorch

    version, module = import_executorch(path)
    return "executorch", version, module


def _load_pte(path: Path, module: Any, name: str, version: str, threads: int) -> Artifact:
    """Build an ``Artifact`` around an ExecuTorch method (XNNPACK delegate, ``threads`` threads)."""
    from edgekd.runtime.pte import RUNTIME_ENV, load_pte

    io_in, io_out, run = load_pte(path, module, threads)
    io_in["layout"] = _layout(io_in["shape"], default="NCHW")
    return Artifact(path, "pte", name, version, threads, io_in, io_out, run, runtime_env=RUNTIME_ENV)


def _load_tflite(path: Path, module: Any, name: str, version: str, threads: int) -> Artifact:
    """Build an ``Artifact`` around a TFLite interpreter (XNNPACK on, ``threads`` threads)."""
    from edgekd.runtime.native_log import quiet_native

    with quiet_native():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." and the like
        interpreter = module.Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
        interpreter.invoke()  # the delegate is applied (and logs) on the first invoke with some runtimes
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    in_index, out_index = inp["index"], out["index"]

    def run(x: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(in_index, x)
        interpreter.invoke()
        return interpreter.get_tensor(out_index)

    io_in = _tflite_io(inp)
    io_in["layout"] = _layout(io_in["shape"], default="NHWC")
    return Artifact(path, "tflite", name, version, threads, io_in, _tflite_io(out), run)


def _tflite_io(detail: dict[str, Any]) -> dict[str, Any]:
    """Turn one TFLite tensor detail into the artifact I/O description."""
    signature = detail.get("shape_signature", detail["shape"])
    qp = detail["quantization_parameters"]
    quant = None
    if len(qp["scales"]):
        quant = {"scale": [float(s) for s in qp["scales"]], "zero_point": [int(z) for z in qp["zero_points"]]}
    return {
        "name": detail["name"],
        "shape": [int(d) if d >= 0 else None for d in signature],
        "dtype": np.dtype(detail["dtype"]).name,
        "quantization": quant,
    }


def _load_onnx(path: Path, ort: Any, name: str, version: str, threads: int) -> Artifact:
    """Build an ``Artifact`` around an ONNX Runtime CPU session (all graph optimizations on)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # sequential execution: one op at a time, each on `threads`
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    inp, out = session.get_inputs()[0], session.get_outputs()[0]
    in_name, out_name = inp.name, out.name

    def run(x: np.ndarray) -> np.ndarray:
        return session.run([out_name], {in_name: x})[0]

    io_in = _onnx_io(inp)
    io_in["layout"] = _layout(io_in["shape"], default="NCHW")
    return Artifact(path, "onnx", name, version, threads, io_in, _onnx_io(out), run)


def _onnx_io(arg: Any) -> dict[str, Any]:
    """Turn one ONNX Runtime ``NodeArg`` into the artifact I/O description.

    QDQ models keep float I/O, so ``quantization`` is always ``None`` here.
    """
    elem = arg.type.removeprefix("tensor(").removesuffix(")")
    return {
        "name": arg.name,
        "shape": [d if isinstance(d, int) and d >= 0 else None for d in arg.shape],
        "dtype": _ORT_TYPES.get(elem, elem),
        "quantization": None,
    }


def _layout(shape: list[int | None], default: str) -> str | None:
    """Guess a 3-D or 4-D input's layout: the channel dim is the smaller of dim 1 and the last dim.

    Spectrogram inputs have 1 channel against 32+ mel bins and photos 3 against 96+
    pixels, so the guess is safe; ties and dynamic dims fall back to the format's usual
    layout (``NHWC``/``NWC`` for TFLite, ``NCHW``/``NCW`` for ONNX).
    """
    names = {4: ("NCHW", "NHWC"), 3: ("NCW", "NWC")}.get(len(shape))
    if names is None:
        return None
    first, last = names
    default = last if channels_last(default) else first
    second, final = shape[1], shape[-1]
    if second is None or final is None or second == final:
        return default
    return last if final < second else first


def _quantize(x: np.ndarray, io: dict[str, Any]) -> np.ndarray:
    """Cast float ``x`` to the input dtype, quantizing (round, clip) an integer input."""
    dtype = np.dtype(io["dtype"])
    quant = io["quantization"]
    if dtype.kind not in "iu" or quant is None:
        return x.astype(dtype, copy=False)
    if len(quant["scale"]) != 1:
        raise InputError("per-channel quantized model inputs are not supported")
    info = np.iinfo(dtype)
    # float32 throughout, as the spec says: float64 moves values that sit within 1e-7 of a rounding boundary
    x = np.asarray(x, dtype=np.float32)
    q = np.round(x / np.float32(quant["scale"][0]) + np.float32(quant["zero_point"][0]))  # half to even
    return np.clip(q, info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, io: dict[str, Any]) -> np.ndarray:
    """Return ``y`` as float32, dequantizing an integer output with its scale and zero point."""
    quant = io["quantization"]
    if np.dtype(io["dtype"]).kind not in "iu" or quant is None:
        return y.astype(np.float32, copy=False)
    scale = np.float32(quant["scale"][0])
    return (y.astype(np.float32) - np.float32(quant["zero_point"][0])) * scale
