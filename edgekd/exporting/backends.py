"""Export backends by name, what each produces, and which one a target profile gets.

=============  ======  =====================================================  ==============
backend        format  precisions                                             int8 graphs
=============  ======  =====================================================  ==============
litert-torch   tflite  fp32, fp16, int8-dynamic, int8, int8-qat              float residual ADD
onnx2tf        tflite  fp32, fp16, int8-dynamic, int8                          fully integer
onnxruntime    onnx    fp32, int8-dynamic, int8, int8-qat, int4-weights, mixed QDQ
nncf           onnx    fp32, int8, int8-ac                                    QDQ (int8-ac: some float)
executorch     pte     fp32, int8                                             XNNPACK int8
=============  ======  =====================================================  ==============

``int8-ac`` (int8 with accuracy control, ``nncf.quantize_with_accuracy_control``) keeps the operations whose
quantization costs most on the validation split in float until the drop is within the target's
``budgets.accuracy_drop_pp``; it is made by the ``nncf`` backend only.

A profile picks a backend per format with ``backends: {tflite: onnx2tf}``; with
``fully_integer: true`` and no pin, full-integer precisions go to a backend
whose int8 graphs are fully integer. Otherwise the format's default backend is
used, or the first backend that produces the precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from edgekd.atomic import temp_dir
from edgekd.errors import InputError
from edgekd.exporting.common import check_calibration
from edgekd.exporting.context import ExportContext, ExportOutput
from edgekd.registry import Registry

# (model, example, path, calibration, *, context: ExportContext | None = None) -> ExportOutput
Exporter = Callable[..., ExportOutput]

#: precisions whose every op should be integer (what ``fully_integer`` targets need)
INTEGER_PRECISIONS = ("int8", "int8-qat", "int8-ac")
DEFAULT_BACKENDS = {"tflite": "litert-torch", "onnx": "onnxruntime", "pte": "executorch"}


@dataclass(frozen=True)
class Backend:
    """One export toolchain.

    Attributes:
        name: registry key (what profiles and recipes name).
        format: ``tflite``, ``onnx`` or ``pte``.
        exporters: precision → exporter (returns an ``ExportOutput``).
        calibration_methods: int8 calibration methods it offers, default first.
        fully_integer: its int8 graphs have no float op (residual ADDs included).
        describe: one line for sidecars and reports.
    """

    name: str
    format: str
    exporters: dict[str, Exporter] = field(default_factory=dict)
    calibration_methods: tuple[str, ...] = ("minmax",)
    fully_integer: bool = False
    describe: str = ""

    @property
    def precisions(self) -> list[str]:
        return list(self.exporters)


BACKENDS: Registry[Backend] = Registry("export backend")


def producible(fmt: str, precision: str) -> bool:
    """Whether some registered backend exports ``fmt`` at ``precision``."""
    return any(BACKENDS.get(n).format == fmt and precision in BACKENDS.get(n).exporters for n in BACKENDS.names())


def choose_backend(fmt: str, precision: str, *, pinned: Optional[str] = None, fully_integer: bool = False,
                   where: str = "target") -> Backend:
    """The backend that exports ``fmt`` at ``precision`` for a profile.

    Args:
        fmt: ``tflite``, ``onnx`` or ``pte``.
        precision: a precision name.
        pinned: the backend the profile names for this format, if any.
        fully_integer: the profile needs fully integer graphs.
        where: the profile (name and file), for messages.

    Raises:
        InputError: the pinned backend is unknown, of another format or cannot produce
            ``precision``; or no backend can. The message names the backends that can.
    """
    able = [BACKENDS.get(n) for n in BACKENDS.names() if BACKENDS.get(n).format == fmt]
    can = [b.name for b in able if precision in b.exporters]
    if pinned is not None:
        backend = BACKENDS.get(pinned)
        if backend.format != fmt:
            raise InputError(f"{where}: backends.{fmt}: {pinned!r} exports {backend.format}, not {fmt}")
        if precision not in backend.exporters:
            others = f"; {', '.join(can)} can" if can else f"; no {fmt} backend can"
            raise InputError(
                f"{where}: backend {pinned!r} cannot produce {fmt} {precision} (it makes "
                f"{', '.join(backend.precisions)}){others}"
            )
        return backend
    if not can:
        offered = sorted({p for b in able for p in b.exporters})
        raise InputError(f"{where} asks for {fmt} {precision}, which no edgekd backend can produce; "
                         f"{fmt} precisions available: {', '.join(offered)}")
    if fully_integer and precision in INTEGER_PRECISIONS:
        integer = [n for n in can if BACKENDS.get(n).fully_integer]
        if integer:
            return BACKENDS.get(integer[0])
    default = DEFAULT_BACKENDS.get(fmt)
    return BACKENDS.get(default if default in can else can[0])


# ---------------------------------------------------------------- litert-torch
def _litert(precision: str) -> Exporter:
    def export(model: Any, example: Any, path: Path, calibration: Optional[np.ndarray] = None, *,
               context: Optional[ExportContext] = None) -> ExportOutput:
        from edgekd.exporting.litert_export import export_tflite
        from edgekd.exporting.tflite_strip import strip_debug_strings

        ctx = context or ExportContext()
        if precision in ("fp32", "int8"):
            method = ctx.method_for("litert-torch", ("histogram", "minmax"))
            export_tflite(model, example, path, precision=precision, calibration=calibration, calibration_method=method)
        elif precision == "int8-qat":
            from edgekd.exporting.litert_export import export_tflite_qat

            export_tflite_qat(ctx.require_qat(), path)
        else:  # fp16, int8-dynamic: AI Edge Quantizer on the fp32 file
            from edgekd.exporting.tflite_requant import requantize_tflite

            with temp_dir("litert") as tmp:
                fp32 = export_tflite(model, example, Path(tmp) / "fp32.tflite", precision="fp32")
                requantize_tflite(fp32, path, precision)
        strip_debug_strings(path)
        return ExportOutput(Path(path))

    export.__doc__ = f"{precision} TFLite through litert-torch (NHWC input, internal names stripped)."
    return export


# ---------------------------------------------------------------- onnx2tf
def _onnx2tf(precision: str) -> Exporter:
    def export(model: Any, example: Any, path: Path, calibration: Optional[np.ndarray] = None, *,
               context: Optional[ExportContext] = None) -> ExportOutput:
        from edgekd.exporting.onnx2tf_export import export_onnx2tf

        (context or ExportContext()).method_for("onnx2tf", ("minmax",))
        return ExportOutput(export_onnx2tf(model, example, path, precision=precision, calibration=calibration))

    export.__doc__ = f"{precision} TFLite through ONNX → onnx2tf → TFLite converter."
    return export


# ---------------------------------------------------------------- onnxruntime
def _ort(precision: str) -> Exporter:
    def export(model: Any, example: Any, path: Path, calibration: Optional[np.ndarray] = None, *,
               context: Optional[ExportContext] = None) -> ExportOutput:
        from edgekd.exporting.onnx_export import export_onnx
        from edgekd.exporting.ort_forms import quantize_fastest
        from edgekd.exporting.ort_quantize import quantize_onnx_dynamic

        ctx = context or ExportContext()
        name = type(model).__name__
        if precision == "fp32":
            return ExportOutput(export_onnx(model, example, path))
        if precision in ("int8", "int8-qat"):
            check_calibration(calibration, tuple(example.shape[1:]), name)
        source = model
        if precision == "int8-qat":
            source = ctx.require_qat().float_model
        with temp_dir("onnx") as tmp:
            fp32 = export_onnx(source, example, Path(tmp) / "fp32.onnx")
            if precision in ("int8", "int8-qat"):
                method = ctx.method_for("onnxruntime", ("minmax", "entropy", "percentile"))
                form = quantize_fastest(fp32, Path(path), calibration, method=method, probe=ctx.latency_probe,
                                        log=ctx.log)
                return ExportOutput(Path(path), {"ort_form": form, "quantizer": _ort_quantizer(form, method)})
            if precision == "int8-dynamic":
                return ExportOutput(quantize_onnx_dynamic(fp32, path))
            if precision == "int4-weights":
                from edgekd.exporting.onnx_weights import quantize_weights

                return ExportOutput(quantize_weights(fp32, path, 4))
            return _mixed(fp32, Path(path), ctx, name)

    export.__doc__ = f"{precision} ONNX (torch dynamo export, then ONNX Runtime / edgekd weight quantization)."
    return export


def _ort_quantizer(form: dict, method: str) -> dict:
    """The sidecar's ``quantizer`` for an ONNX Runtime int8 file (the ``nncf`` backend writes its own)."""
    import onnxruntime

    return {"name": "onnxruntime", "version": onnxruntime.__version__, "preset": form.get("chosen"),
            "bias_correction": "no", "weights": "int8 symmetric, per channel", "activations_range": method,
            "form": form.get("describe")}


def _mixed(fp32: Path, path: Path, ctx: ExportContext, name: str) -> ExportOutput:
    """Per-layer int4/int8/fp32 weights meeting ``ctx.mixed_size_kb`` (see ``edgekd.exporting.mixed``)."""
    from edgekd.exporting.mixed import export_mixed

    if ctx.mixed_size_kb is None:
        raise InputError("mixed precision needs a size budget: set export.mixed.size_kb (or the target's budgets.size_kb)")
    if ctx.validation is None:
        raise InputError("mixed precision needs validation data to measure per-layer sensitivity")
    details = export_mixed(fp32, path, x=ctx.validation.x, score=ctx.validation.score,
                           size_kb=ctx.mixed_size_kb, subject=name)
    ctx.log(f"  mixed precision for {name}: " + ", ".join(f"{k} {v}" for k, v in details["bits"].items())
            + f" ({details['bytes'] / 1024:.1f} KiB <= {details['size_kb']:g} KiB)")
    return ExportOutput(path, {"mixed": details})


# ---------------------------------------------------------------- nncf
def _nncf(precision: str) -> Exporter:
    def export(model: Any, example: Any, path: Path, calibration: Optional[np.ndarray] = None, *,
               context: Optional[ExportContext] = None) -> ExportOutput:
        from edgekd.exporting.nncf_quantize import CALIBRATION_METHODS, NncfOptions, quantize_nncf
        from edgekd.exporting.onnx_export import export_onnx

        if precision == "fp32":  # the same file as onnxruntime's, so that a profile pinning nncf still has fp32
            return ExportOutput(export_onnx(model, example, path))
        ctx = context or ExportContext()
        name = type(model).__name__
        check_calibration(calibration, tuple(example.shape[1:]), name)
        method = ctx.method_for("nncf", CALIBRATION_METHODS)
        options = NncfOptions.of(ctx.nncf, "export.nncf")
        with temp_dir("nncf") as tmp:
            fp32 = export_onnx(model, example, Path(tmp) / "fp32.onnx")
            if precision == "int8":
                return ExportOutput(Path(path), quantize_nncf(fp32, Path(path), calibration, options=options,
                                                              method=method))
            return _nncf_ac(fp32, Path(path), calibration, ctx, options, method, name)

    how = {"fp32": "torch dynamo export", "int8": "torch dynamo export, then NNCF post-training quantization",
           "int8-ac": "torch dynamo export, then NNCF quantization with accuracy control"}[precision]
    export.__doc__ = f"{precision} ONNX ({how})."
    return export


def _nncf_ac(fp32: Path, path: Path, calibration: np.ndarray, ctx: ExportContext, options: Any, method: str,
             name: str) -> ExportOutput:
    """``int8-ac``: NNCF accuracy control within ``ctx.max_drop_pp`` on ``ctx.validation``; refused on a fully
    integer target when ops were kept in float."""
    from edgekd.exporting.nncf_quantize import ItemValidation, quantize_nncf_ac

    if ctx.max_drop_pp is None:
        raise InputError("int8-ac needs an accuracy budget: set the target's budgets.accuracy_drop_pp (a recipe: "
                         "export.budgets.TARGET.accuracy_drop_pp; the API: max_drop_pp=)")
    val = ctx.validation
    if val is None or val.items is None or val.item_score is None:
        raise InputError("int8-ac needs labelled validation data (val=) to measure the accuracy drop")
    details = quantize_nncf_ac(fp32, path, calibration, validation=ItemValidation(val.x, val.items, val.item_score),
                               max_drop_pp=ctx.max_drop_pp, options=options, method=method, log=ctx.log)
    kept = details["accuracy_control"]["kept_float"]
    if ctx.fully_integer:
        from edgekd.audit.inspect import inspect_artifact

        # the audit's float ops, not only what accuracy control reverted: NNCF leaves some ops (a reshape before a
        # dense layer, pooling) float even in plain PTQ, and the gate judges the file by the audit
        floats = list(dict.fromkeys([*kept, *inspect_artifact(path)["float_ops"]]))
        if floats:
            path.unlink(missing_ok=True)
            ac = details["accuracy_control"]
            raise InputError(
                f"int8-ac: the target needs fully integer graphs (fully_integer: true), but {name}'s accuracy-"
                f"controlled file has {len(floats)} float op(s) ({', '.join(floats[:6])}"
                f"{', ...' if len(floats) > 6 else ''}; {len(kept)} kept in float to hold the validation drop within "
                f"{ctx.max_drop_pp:g} pp; plain int8 drops {ac['ptq_drop_pp']:.2f} pp on validation): export int8 "
                "(ONNX Runtime) or int8-qat for this target, or allow a larger drop")
    return ExportOutput(path, details)


# ---------------------------------------------------------------- executorch
def _executorch(precision: str) -> Exporter:
    def export(model: Any, example: Any, path: Path, calibration: Optional[np.ndarray] = None, *,
               context: Optional[ExportContext] = None) -> ExportOutput:
        from edgekd.exporting.pte_export import RUNTIME_ENV, export_pte, executorch_version

        method = (context or ExportContext()).method_for("executorch", ("histogram", "minmax"))
        export_pte(model, example, path, precision=precision, calibration=calibration, calibration_method=method)
        return ExportOutput(Path(path), {"executorch": {"version": executorch_version(), "delegate": "XnnpackBackend",
                                                        "runtime_env": RUNTIME_ENV}})

    export.__doc__ = f"{precision} ExecuTorch .pte (torch.export → XNNPACK partitioner; int8 via XNNPACKQuantizer PT2E)."
    return export


def _register(backend: Backend) -> None:
    BACKENDS.register(backend.name)(backend)


_register(Backend(
    "litert-torch", "tflite",
    {p: _litert(p) for p in ("fp32", "fp16", "int8-dynamic", "int8", "int8-qat")},
    calibration_methods=("histogram", "minmax"),
    fully_integer=False,
    describe="litert-torch (PT2E int8; AI Edge Quantizer for fp16 and dynamic int8)",
))
_register(Backend(
    "onnx2tf", "tflite",
    {p: _onnx2tf(p) for p in ("fp32", "fp16", "int8-dynamic", "int8")},
    calibration_methods=("minmax",),
    fully_integer=True,
    describe="torch.onnx → onnx2tf → TFLiteConverter",
))
_register(Backend(
    "onnxruntime", "onnx",
    {p: _ort(p) for p in ("fp32", "int8-dynamic", "int8", "int8-qat", "int4-weights", "mixed")},
    calibration_methods=("minmax", "entropy", "percentile"),
    fully_integer=False,
    describe="torch.onnx (dynamo) + onnxruntime.quantization / edgekd weight quantization",
))
_register(Backend(
    "nncf", "onnx",
    {p: _nncf(p) for p in ("fp32", "int8", "int8-ac")},
    calibration_methods=("mean_minmax", "minmax"),
    fully_integer=False,
    describe="torch.onnx (dynamo) + NNCF (nncf.quantize: per-channel, bias correction; "
             "int8-ac: nncf.quantize_with_accuracy_control)",
))
_register(Backend(
    "executorch", "pte",
    {p: _executorch(p) for p in ("fp32", "int8")},
    calibration_methods=("histogram", "minmax"),
    fully_integer=False,
    describe="torch.export → ExecuTorch, lowered to XNNPACK (int8: XNNPACKQuantizer PT2E, per-channel symmetric)",
))


def _path_only(export: Exporter) -> Callable[..., Path]:
    def run(*args: Any, **kwargs: Any) -> Path:
        return export(*args, **kwargs).path

    run.__doc__ = export.__doc__
    return run


#: ``{format}-{precision}`` → the exporter of that format's default backend for it, returning the written
#: path (``choose_backend`` picks among backends per target profile).
EXPORTERS: Registry[Callable[..., Path]] = Registry("exporter")
for _fmt in ("tflite", "onnx", "pte"):
    for _backend in (BACKENDS.get(n) for n in BACKENDS.names()):
        for _precision, _export in _backend.exporters.items():
            key = f"{_fmt}-{_precision}"
            if _backend.format == _fmt and key not in EXPORTERS and choose_backend(_fmt, _precision).name == _backend.name:
                EXPORTERS.register(key)(_path_only(_export))
