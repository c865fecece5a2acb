"""Pick the int8 ONNX form that runs fastest on the target: measured there, kept only if its outputs agree.

ONNX Runtime's int8 speed depends on how the graph is written, and the best form is not the same for every
graph or CPU. Measured on this repo's x86 (AVX-512 VNNI), 1 thread (``benchmarks/results/latency_matrix.md``):
the QDQ U8S8 form is the fastest for the 2-D heart student and the teacher, the QOperator U8S8 form is
about 8 % faster for the temporal-convolution student, and QOperator with int8 activations is 5-10x slower
than fp32 everywhere (ONNX Runtime warns about it), so it is not a candidate. So the exporter writes each
candidate form, checks its outputs against the fp32 model on calibration inputs, times the agreeing ones on
the target's runner (local or ssh, interleaved rounds) and keeps the fastest; the default form stays unless
another is faster by ``MARGIN``, so timing noise does not flip the choice. The sidecar's ``ort_form`` says
what was measured and why the form was kept. The decision is cached by the fp32 graph, calibration, runner
and runtime version, so re-exporting the same model gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

import numpy as np

from edgekd.atomic import atomic_path, temp_dir, write_json

#: a candidate must be this much faster than the default form to replace it (timing noise is a few %)
MARGIN = 0.05
#: a candidate agrees when its top-1 agreement with the fp32 model is at most this much below the default's
AGREEMENT_SLACK = 0.02
ROUNDS = 3  # interleaved rounds of timing per candidate; the median of the rounds' p50 is kept
SAMPLES = 64  # calibration inputs the outputs are compared on


@dataclass(frozen=True)
class OrtForm:
    """One way of writing the int8 graph for ONNX Runtime."""

    name: str
    quant_format: str  # "QDQ" or "QOperator"
    activation_type: str  # "uint8" or "int8"
    describe: str


FORMS = (
    OrtForm("qdq-u8s8", "QDQ", "uint8", "QDQ, uint8 activations, int8 per-channel weights"),
    OrtForm("qdq-s8s8", "QDQ", "int8", "QDQ, int8 activations, int8 per-channel weights"),
    OrtForm("qoperator-u8s8", "QOperator", "uint8", "QLinearConv/QGemm, uint8 activations, int8 per-channel weights"),
)
DEFAULT = FORMS[0]


class LatencyProbe(Protocol):
    """What the exporter needs from a target's runner: where it measures and a file's p50 there.

    Built by the API layer from a target profile (``edgekd.runners.probe.latency_probe``); any object with
    these two attributes works.

    Attributes:
        where: the runner and machine, e.g. ``"local: x86_64 Intel(R) Xeon(R) ..."`` (part of the cache key).
        measure: ``path -> p50 latency in ms`` of that file on the runner.
    """

    where: str

    def measure(self, path: Path) -> float: ...


def form_by_name(name: str) -> OrtForm:
    """The candidate form called ``name`` (``KeyError`` if none)."""
    for form in FORMS:
        if form.name == name:
            return form
    raise KeyError(name)


def quantize_fastest(fp32: Path, out: Path, calibration: np.ndarray, *, method: str,
                     probe: Optional[LatencyProbe], cache_dir: Optional[Path] = None,
                     log: Callable[[str], None] = lambda s: None) -> dict:
    """Write ``out`` in the fastest agreeing int8 form; returns the sidecar's ``ort_form`` entry.

    Args:
        fp32: the fp32 ONNX model.
        out: the int8 ONNX file to write (atomically).
        calibration: calibration inputs (also the inputs the outputs are compared on).
        method: calibration method (``minmax``, ``entropy``, ``percentile``).
        probe: a ``LatencyProbe`` for the target's runner, or ``None`` (no measuring runner: the default form).
        cache_dir: where decisions are kept (default ``$EDGEKD_CACHE`` or ``.cache/edgekd``).
        log: progress lines.
    """
    from edgekd.exporting.ort_quantize import quantize_onnx_int8

    def write(form: OrtForm, path: Path) -> Path:
        return quantize_onnx_int8(fp32, path, calibration, calibrate_method=method,
                                  activation_type=form.activation_type, quant_format=form.quant_format)

    if probe is None:
        write(DEFAULT, out)
        return {"chosen": DEFAULT.name, "describe": DEFAULT.describe, "measured": False,
                "why": "the target's runner does not measure latency here: the default form"}
    key = _decision_key(fp32, calibration, method, probe.where)
    cache = Path(cache_dir or os.environ.get("EDGEKD_CACHE", ".cache/edgekd")) / "ort-forms" / f"{key}.json"
    if cache.is_file():
        try:
            decision = json.loads(cache.read_text(encoding="utf-8"))
            form = form_by_name(decision["chosen"])
        except (OSError, ValueError, KeyError, TypeError):
            decision = None
        if decision is not None:
            write(form, out)
            log(f"  onnx int8 form {form.name} (measured before on {probe.where}; {cache})")
            return decision
    with temp_dir("ortforms") as tmp:
        files = {f.name: write(f, Path(tmp) / f"{f.name}.onnx") for f in FORMS}
        agreement = _agreement(fp32, files, calibration[:SAMPLES])
        floor = agreement[DEFAULT.name]["top1_agreement_fp32"] - AGREEMENT_SLACK
        agreeing = [f for f in FORMS if agreement[f.name]["top1_agreement_fp32"] >= floor]
        rounds: dict[str, list[float]] = {f.name: [] for f in agreeing}
        try:
            for r in range(ROUNDS):
                for f in agreeing:
                    rounds[f.name].append(float(probe.measure(files[f.name])))
                log(f"  onnx int8 forms, round {r + 1}/{ROUNDS} on {probe.where}: "
                    + ", ".join(f"{n} {v[-1]:.3f} ms" for n, v in rounds.items()))
        except Exception as exc:  # an unreachable device must not fail the export: the bench stage reports it
            reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            with atomic_path(out) as tmp_out:
                shutil.copyfile(files[DEFAULT.name], tmp_out)
            log(f"  onnx int8 form {DEFAULT.name}: could not time the forms on {probe.where} ({reason})")
            return {"chosen": DEFAULT.name, "describe": DEFAULT.describe, "measured": False,
                    "why": f"could not time the forms on {probe.where} ({reason}): the default form"}
        p50 = {n: float(np.median(v)) for n, v in rounds.items()}
        fastest = min(p50, key=p50.__getitem__)
        chosen = fastest if p50[fastest] < (1 - MARGIN) * p50[DEFAULT.name] else DEFAULT.name
        if chosen == DEFAULT.name and fastest != DEFAULT.name:
            why = (f"{fastest} was {100 * (1 - p50[fastest] / p50[DEFAULT.name]):.1f} % faster, under the "
                   f"{100 * MARGIN:.0f} % margin: the default form kept")
        elif chosen == DEFAULT.name:
            why = "the default form was the fastest agreeing form"
        else:
            why = f"{chosen} ran {p50[DEFAULT.name] / p50[chosen]:.2f}x faster than the default {DEFAULT.name}"
        dropped = [f.name for f in FORMS if f not in agreeing]
        if dropped:
            why += f"; not timed (outputs disagree with fp32 more than the default's): {', '.join(dropped)}"
        with atomic_path(out) as tmp_out:
            shutil.copyfile(files[chosen], tmp_out)
    candidates = [{"form": f.name, "describe": f.describe, **agreement[f.name],
                   "agrees": f in agreeing, "p50_ms": p50.get(f.name), "p50_rounds_ms": rounds.get(f.name)}
                  for f in FORMS]
    decision = {"chosen": chosen, "describe": form_by_name(chosen).describe, "measured": True, "runner": probe.where,
                "why": why, "margin": MARGIN, "rounds": ROUNDS, "agreement_samples": int(min(SAMPLES, len(calibration))),
                "candidates": candidates}
    write_json(cache, decision)
    log(f"  onnx int8 form {chosen}: {why}")
    return decision


def _agreement(fp32: Path, files: dict[str, Path], x: np.ndarray) -> dict[str, dict]:
    """Top-1 agreement and max |Δ| of each file's outputs against the fp32 model's, on ``x``."""
    import onnxruntime as ort

    def run(path: Path) -> np.ndarray:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        return np.concatenate([sess.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])

    ref = run(fp32)
    out = {}
    for name, path in files.items():
        y = run(path)
        out[name] = {"top1_agreement_fp32": float(np.mean(y.argmax(1) == ref.argmax(1))),
                     "max_abs_diff_fp32": float(np.abs(y - ref).max())}
    return out


def _decision_key(fp32: Path, calibration: np.ndarray, method: str, where: str) -> str:
    import onnx
    import onnxruntime

    h = hashlib.sha256()
    # the graph without its producer metadata: the same model exported twice hashes the same
    model = onnx.load(str(fp32))
    h.update(model.graph.SerializeToString(deterministic=True))
    h.update(np.ascontiguousarray(calibration).tobytes())
    h.update(f"{method}|{where}|onnxruntime {onnxruntime.__version__}|{[f.name for f in FORMS]}|{MARGIN}".encode())
    return h.hexdigest()[:24]
