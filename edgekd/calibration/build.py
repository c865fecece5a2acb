"""Export the calibration suite with edgekd's own exporters, once per suite and toolchain, into a cache folder.

The files are what the device times. They are built on the host (torch, the converters) and reused: the folder
is named by the suite's hash and the exporter versions, a file that exists with its sidecar is not built again,
so an interrupted build resumes and a second target reuses the first one's files.

Example:
    >>> from edgekd.calibration.build import suite_folder
    >>> suite_folder("quick", cache="/tmp/c").parent.name
    'c'
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from edgekd.calibration.suite import Case, suite, suite_hash

Log = Callable[[str], None]
PRECISIONS = ("fp32", "int8")


def default_cache() -> Path:
    """``$EDGEKD_CACHE/calibration-suite`` or ``~/.cache/edgekd/calibration-suite``."""
    base = os.environ.get("EDGEKD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgekd")
    return Path(base) / "calibration-suite"


def _toolchain() -> str:
    from importlib import metadata

    parts = []
    for dist in ("torch", "litert-torch", "onnx", "onnxruntime"):
        try:
            parts.append(f"{dist}{metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist}-none")
    import hashlib

    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


def suite_folder(name: str, cache: Optional[str | os.PathLike[str]] = None, seed: int = 0) -> Path:
    """Where suite ``name``'s files are (or will be) built: ``CACHE/NAME-SUITEHASH-TOOLCHAIN``."""
    root = Path(cache) if cache is not None else default_cache()
    return root / f"{name}-{suite_hash(suite(name, seed))}-{_toolchain()}"


def file_name(case: Case, fmt: str, precision: str) -> str:
    return f"{case.name}.{precision}.{fmt}"


def build_suite(cases: Sequence[Case], folder: Path, formats: Sequence[str], *,
                precisions: Sequence[str] = PRECISIONS, log: Optional[Log] = None) -> list[dict]:
    """Export every case in every format and precision into ``folder`` (skipping files already there).

    Returns:
        One entry per file: ``{"case", "kind", "format", "precision", "file"}`` (``file`` relative to ``folder``),
        or ``{"case", "format", "precision", "error"}`` when the exporter refused it.
    """
    import numpy as np
    import torch

    from edgekd.calibration.blocks import build_module
    from edgekd.errors import EdgekdError

    folder.mkdir(parents=True, exist_ok=True)
    made: list[dict] = []
    todo = [(c, f, p) for c in cases for f in formats for p in precisions]
    t0, built = time.perf_counter(), 0
    for i, (case, fmt, precision) in enumerate(todo, 1):
        name = file_name(case, fmt, precision)
        path = folder / name
        entry = {"case": case.name, "kind": case.kind, "format": fmt, "precision": precision}
        if not path.is_file():  # every writer below renames a finished file into place
            net = build_module(case, channels_last_output=fmt == "tflite")
            cal = np.random.default_rng(0).standard_normal((16, *case.input_shape)).astype(np.float32)
            try:
                _export(net, torch.zeros(1, *case.input_shape), path, fmt, precision, cal,
                        folder / file_name(case, fmt, "fp32"))
            except EdgekdError as exc:
                made.append({**entry, "error": str(exc).splitlines()[0][:300]})
                continue
            built += 1
            if log is not None and (built % 20 == 0 or i == len(todo)):
                log(f"calibrate: built {i}/{len(todo)} suite files ({time.perf_counter() - t0:.0f} s)")
        made.append({**entry, "file": name})
    return made


def _export(net: object, example: object, path: Path, fmt: str, precision: str, cal: object, fp32: Path) -> None:
    """One suite file through the backend edgekd exports that format with by default (no sidecar: the files are
    timed, never evaluated): litert-torch for TFLite (NHWC input, PT2E int8), ``torch.onnx`` then ONNX Runtime's
    static QDQ quantizer (U8S8, per-channel) for ONNX."""
    if fmt == "tflite":
        from edgekd.exporting.litert_export import export_tflite

        export_tflite(net, example, path, precision=precision, calibration=cal if precision == "int8" else None)
        return
    from edgekd.exporting.onnx_export import export_onnx

    if precision == "fp32":
        export_onnx(net, example, path)
        return
    from edgekd.exporting.ort_quantize import quantize_onnx_int8

    if not fp32.is_file():
        export_onnx(net, example, fp32)
    quantize_onnx_int8(fp32, path, cal)
