"""int8 ONNX through NNCF: post-training quantization, and quantization with accuracy control.

The algorithm side of the ``nncf`` export backend (``edgekd.exporting.backends``); ``nncf`` and ``onnx`` are
imported inside the functions only, so ``import edgekd`` never loads them.

- ``quantize_nncf``: ``nncf.quantize`` on the fp32 ONNX file: QDQ, int8 per-channel weights, a preset
  (``performance``: symmetric activations; ``mixed``: asymmetric activations), Fast Bias Correction (or the
  slower full Bias Correction), activation ranges by ``mean_minmax`` (NNCF's default) or ``minmax``.
- ``quantize_nncf_ac``: ``nncf.quantize_with_accuracy_control``. It quantizes as above, measures the
  validation metric of the fp32 and int8 files, and while the drop exceeds ``max_drop_pp`` it reverts the
  operations whose quantizers cost most to float. The metric is edgekd's own: each candidate ONNX file is
  written and run by ``edgekd.runtime`` on the validation windows, window probabilities are combined per item
  (recording, photo) as the task does, and the selection metric (MAcc for two classes, else balanced accuracy)
  is taken over items. NNCF 3.4.0 ranks ONNX quantizers in its "metric mode" only (its output-distance ranking
  is OpenVINO-only), so the validation function also returns one value per item (the aggregated probability
  of the item's true class) and, on the ranking subsets, adds ``TIE_BREAK`` times their mean to the metric so
  that groups the coarse metric cannot tell apart are still ordered. The drop decision itself uses the plain
  metric on the whole validation split.

NNCF's result is an ``onnx.ModelProto`` without a report of what it reverted, so the operations kept in float
are found by comparing graphs (``quantized_ops``): an operation is quantized when one of its inputs comes from
a DequantizeLinear; the kept-float list is the operations quantized by plain PTQ with the same settings and
not quantized in the accuracy-controlled file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

import numpy as np

from edgekd.atomic import atomic_path, temp_dir
from edgekd.errors import InputError

PRESETS = ("performance", "mixed")
#: activation range estimators offered (the weights' ranges are always min/max, per channel)
CALIBRATION_METHODS = ("mean_minmax", "minmax")
#: on ranking subsets: weight of the mean true-class probability added to the metric (ties between groups)
TIE_BREAK = 0.01


@dataclass(frozen=True)
class NncfOptions:
    """NNCF's settings (the recipe's ``export.nncf``, ``edgekd.export(nncf=...)``).

    Attributes:
        preset: ``performance`` (symmetric weights and activations) or ``mixed`` (asymmetric activations).
        fast_bias_correction: Fast Bias Correction (default); ``False``: the slower full Bias Correction.
        subset_size: calibration inputs NNCF collects statistics on (at most the calibration set's size).
    """

    preset: str = "performance"
    fast_bias_correction: bool = True
    subset_size: int = 300

    @classmethod
    def of(cls, value: Any, where: str = "nncf") -> "NncfOptions":
        """Options from ``None``, a mapping or ``NncfOptions``.

        Raises:
            InputError: an unknown key, an unknown preset, a subset size below 1.
        """
        if value is None:
            return cls()
        if isinstance(value, NncfOptions):
            opts = value
        elif isinstance(value, Mapping):
            unknown = sorted(set(value) - {"preset", "fast_bias_correction", "subset_size"})
            if unknown:
                raise InputError(f"{where}: unknown option(s) {', '.join(unknown)} "
                                 "(known: preset, fast_bias_correction, subset_size)")
            opts = cls(**dict(value))
        else:
            raise InputError(f"{where}: a mapping {{preset, fast_bias_correction, subset_size}}, got {value!r}")
        if opts.preset not in PRESETS:
            raise InputError(f"{where}.preset: {opts.preset!r} is not one of {', '.join(PRESETS)}")
        if not isinstance(opts.fast_bias_correction, bool):
            raise InputError(f"{where}.fast_bias_correction: true or false, got {opts.fast_bias_correction!r}")
        if not isinstance(opts.subset_size, int) or isinstance(opts.subset_size, bool) or opts.subset_size < 1:
            raise InputError(f"{where}.subset_size: a positive integer, got {opts.subset_size!r}")
        return opts


def nncf_version() -> Optional[str]:
    """The installed nncf's version (``None`` when it is not installed); does not import nncf."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nncf")
    except PackageNotFoundError:
        return None


def quantizer_entry(options: NncfOptions, method: str, calibration: np.ndarray) -> dict[str, Any]:
    """The sidecar's ``quantizer``: which tool made the int8 file and how."""
    return {"name": "nncf", "version": nncf_version(), "preset": options.preset,
            "bias_correction": "fast" if options.fast_bias_correction else "full",
            "weights": "int8 symmetric, per channel", "activations_range": method,
            "subset_size": int(min(options.subset_size, len(calibration))), "form": "QDQ"}


def _require_nncf() -> Any:
    try:
        import nncf
    except ImportError as exc:
        raise InputError(f"the nncf export backend needs the nncf package ({exc}); install the main "
                         "environment's lock (requirements/main.lock) or use backend onnxruntime") from None
    return nncf


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """NNCF's INFO log lines and progress bars (both on stdout, where a ``--json`` output goes) and Python's warning
    about forking with JAX loaded held back, unless ``EDGEKD_VERBOSE=1``; NNCF's own warnings still show."""
    import io
    import logging
    import warnings

    from edgekd.runtime.native_log import verbose

    if verbose():
        yield
        return
    from nncf.common.logging import nncf_logger

    level = nncf_logger.level
    nncf_logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            # NNCF starts helper processes; with JAX loaded (litert-torch imports it) Python warns about every fork
            warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
            yield
    finally:
        nncf_logger.setLevel(level)


def _settings(nncf: Any, options: NncfOptions, method: str, calibration: np.ndarray) -> dict[str, Any]:
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    ranges = {"mean_minmax": RangeEstimatorParametersSet.MEAN_MINMAX, "minmax": RangeEstimatorParametersSet.MINMAX}
    if method not in ranges:
        raise InputError(f"export.calibration.method: nncf cannot calibrate with {method!r}; it offers "
                         f"{', '.join(CALIBRATION_METHODS)}")
    return {"preset": nncf.QuantizationPreset(options.preset), "fast_bias_correction": options.fast_bias_correction,
            "subset_size": int(min(options.subset_size, len(calibration))),
            "advanced": AdvancedQuantizationParameters(activations_range_estimator_params=ranges[method])}


def _dataset(nncf: Any, x: np.ndarray, input_name: str) -> Any:
    x = np.asarray(x, dtype=np.float32)
    return nncf.Dataset(range(len(x)), lambda i: {input_name: x[i:i + 1]})


def _check_calibration(calibration: Optional[np.ndarray]) -> np.ndarray:
    if calibration is None or len(calibration) == 0:
        raise InputError("nncf int8 export needs calibration inputs (calibration=)")
    return np.asarray(calibration, dtype=np.float32)


def quantize_nncf(fp32: str | os.PathLike[str], out: str | os.PathLike[str], calibration: np.ndarray, *,
                  options: NncfOptions = NncfOptions(), method: str = "mean_minmax") -> dict[str, Any]:
    """Write ``out``: the fp32 ONNX file ``fp32`` quantized by ``nncf.quantize``.

    Returns:
        The sidecar entries: ``{"quantizer": ...}`` (``quantizer_entry``).
    """
    import onnx

    nncf = _require_nncf()
    calibration = _check_calibration(calibration)
    model = onnx.load(str(fp32))
    s = _settings(nncf, options, method, calibration)
    with _quiet():
        quantized = nncf.quantize(model, _dataset(nncf, calibration, model.graph.input[0].name), preset=s["preset"],
                                  fast_bias_correction=s["fast_bias_correction"], subset_size=s["subset_size"],
                                  advanced_parameters=s["advanced"])
    _save(quantized, Path(out))
    return {"quantizer": quantizer_entry(options, method, calibration)}


def _save(model: Any, path: Path) -> None:
    import onnx

    with atomic_path(path) as tmp:
        onnx.save(model, str(tmp))


def quantized_ops(model: Any) -> list[str]:
    """Names of the compute nodes of an ONNX graph with an input from a DequantizeLinear (quantized ops).

    Quantize/Dequantize nodes themselves are not listed; nodes without a name are ``OP_TYPE#index``.
    """
    dq_outputs = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    return [n.name or f"{n.op_type}#{i}" for i, n in enumerate(model.graph.node)
            if n.op_type not in ("QuantizeLinear", "DequantizeLinear") and any(i in dq_outputs for i in n.input)]


@dataclass(frozen=True)
class ItemValidation:
    """What accuracy control validates on: windows and the item metric over any subset of items.

    Attributes:
        x: validation windows ``(N, *input_shape)`` (the validation split, never test).
        items: item index of each window.
        score: ``(logits of some windows, their item indices) -> (metric over those items,
            {item: aggregated probability of its true class})``.
    """

    x: np.ndarray
    items: np.ndarray
    score: Callable[[np.ndarray, np.ndarray], tuple[float, Mapping[int, float]]]


def _predictor(work: Path) -> Callable[[Any, np.ndarray], np.ndarray]:
    """``(ModelProto, windows) -> logits``: the candidate written to a file and run by ``edgekd.runtime``."""
    from edgekd.runtime.artifact import load_artifact

    count = iter(range(1 << 30))

    def run(model: Any, x: np.ndarray) -> np.ndarray:
        path = work / f"candidate-{next(count)}.onnx"
        _save(model, path)
        try:
            return load_artifact(path, threads=1).predict(x)
        finally:
            path.unlink(missing_ok=True)

    return run


def quantize_nncf_ac(fp32: str | os.PathLike[str], out: str | os.PathLike[str], calibration: np.ndarray, *,
                     validation: ItemValidation, max_drop_pp: float, options: NncfOptions = NncfOptions(),
                     method: str = "mean_minmax", log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Write ``out``: ``fp32`` quantized by ``nncf.quantize_with_accuracy_control`` within ``max_drop_pp``.

    Args:
        fp32: the fp32 ONNX file. out: the int8 file to write.
        calibration: calibration inputs (training split).
        validation: validation windows, their items and the item metric (``ItemValidation``).
        max_drop_pp: the largest validation drop allowed, in points of the metric (absolute).
        options, method: NNCF settings and the activation range estimator.
        log: progress lines.

    Returns:
        The sidecar entries: ``{"quantizer": ..., "accuracy_control": {"max_drop_pp", "validated_on",
        "fp32_score", "ptq_score", "score", "ptq_drop_pp", "drop_pp", "met", "quantized_ops", "kept_float"}}``.
    """
    import onnx

    nncf = _require_nncf()
    from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

    calibration = _check_calibration(calibration)
    if max_drop_pp is None or not np.isfinite(max_drop_pp) or max_drop_pp < 0:
        raise InputError(f"int8-ac: max_drop_pp must be a number >= 0, got {max_drop_pp!r}")
    model = onnx.load(str(fp32))
    s = _settings(nncf, options, method, calibration)
    cal = _dataset(nncf, calibration, model.graph.input[0].name)
    x, items = np.asarray(validation.x, dtype=np.float32), np.asarray(validation.items)
    item_ids = [int(i) for i in np.unique(items)]
    with temp_dir("nncf-ac") as tmp:
        predict = _predictor(Path(tmp))

        def measure(candidate: Any, chosen: list[int]) -> tuple[float, dict[int, float]]:
            mask = np.isin(items, chosen)
            metric, per_item = validation.score(predict(candidate, x[mask]), items[mask])
            return float(metric), {int(k): float(v) for k, v in per_item.items()}

        def validation_fn(candidate: Any, data: Any) -> tuple[float, list[float]]:
            chosen = [int(i) for i in data]
            metric, per_item = measure(candidate, chosen)
            values = [per_item[i] for i in chosen]
            if len(set(chosen)) < len(item_ids):  # a ranking subset: break the metric's ties
                metric += TIE_BREAK * float(np.mean(values))
            return metric, values

        with _quiet():
            plain = nncf.quantize(model, cal, preset=s["preset"], fast_bias_correction=s["fast_bias_correction"],
                                  subset_size=s["subset_size"], advanced_parameters=s["advanced"])
            result = nncf.quantize_with_accuracy_control(
                model, cal, nncf.Dataset(item_ids), validation_fn, max_drop=max_drop_pp / 100.0,
                drop_type=nncf.DropType.ABSOLUTE, preset=s["preset"], fast_bias_correction=s["fast_bias_correction"],
                subset_size=s["subset_size"], advanced_quantization_parameters=s["advanced"],
                # one ranking worker: the candidates run through edgekd.runtime one at a time, reproducibly
                advanced_accuracy_restorer_parameters=AdvancedAccuracyRestorerParameters(num_ranking_workers=1))
        fp32_score = measure(model, item_ids)[0]
        ptq_score = measure(plain, item_ids)[0]
        score = measure(result, item_ids)[0]
    _save(result, Path(out))
    before, after = quantized_ops(plain), set(quantized_ops(result))
    kept = [name for name in before if name not in after]
    drop = 100.0 * (fp32_score - score)
    details = {
        "max_drop_pp": float(max_drop_pp),
        "validated_on": f"validation split, {len(item_ids)} items ({len(x)} windows), by running each candidate file",
        "fp32_score": fp32_score, "ptq_score": ptq_score, "score": score,
        "ptq_drop_pp": 100.0 * (fp32_score - ptq_score), "drop_pp": drop,
        "met": bool(drop <= max_drop_pp + 1e-9),
        "quantized_ops": len(after), "kept_float": kept,
    }
    log(f"  nncf accuracy control: validation drop {details['ptq_drop_pp']:.2f} pp (plain PTQ) -> {drop:.2f} pp "
        f"(budget {max_drop_pp:g} pp), {len(kept)} op(s) kept in float" + (f": {', '.join(kept)}" if kept else ""))
    return {"quantizer": quantizer_entry(options, method, calibration), "accuracy_control": details}
