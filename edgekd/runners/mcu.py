"""The MCU analysis of an int8 TFLite model: RAM and flash for a Cortex-M build, and an Ethos-U NPU estimate.

What it gives, and how sure each figure is:

* ``arena_bytes`` (RAM): measured. The TFLM interpreter (``edgekd.runners.mcu_tflm``)
  runs the model and records the tensor arena it allocated; an interpreter with
  exactly that arena is built and run again to prove it suffices.
* ``flash_bytes``: the model file's bytes (the flatbuffer a firmware links in as a
  ``const`` array). Not counted: the TFLM interpreter and kernel code (tens of KiB,
  depending on which op resolvers are linked), the application, and, with an NPU,
  the Vela-compiled model (``vela.flash_bytes``) that replaces this one.
* ``tflm.output_matches_litert``: TFLM's outputs are bit-identical to LiteRT's builtin
  int8 kernels on the same inputs (seeded random + real feature windows when given);
  ``max_lsb_diff_vs_litert_xnnpack`` is the difference to LiteRT with XNNPACK (its own
  requantization rounding: up to one step on a few outputs).
* ``vela``: estimated. Vela's performance model for the profile's Ethos-U config
  (``edgekd.runners.mcu_vela``): cycles, inference time, SRAM, flash, ops left on the CPU.

The result also carries the ``bench --json`` keys where they mean something:
``p50_ms`` … ``mean_ms`` are Vela's single inference time (one figure, no spread),
with ``estimated: true``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from edgekd.runners.emulated_parity import parity_inputs
from edgekd.runners.mcu_tflm import tflm_run
from edgekd.runners.mcu_vela import vela_compile
from edgekd.runners.options import BenchOptions
from edgekd.errors import InputError
from edgekd.runtime.artifact import load_artifact

#: seeded random inputs compared between TFLM and LiteRT (real windows come on top)
RANDOM_INPUTS = 4
_SETTING_KEYS = ("accelerator", "system_config", "memory_mode", "config_file", "sram_kb", "flash_kb", "cpu_mhz")


def mcu_settings(profile: Any) -> dict[str, Any]:
    """The profile's MCU board settings (``runner.mcu``), as a dict with every key of ``_SETTING_KEYS``.

    A relative ``config_file`` is relative to the profile's own file.

    Raises:
        InputError: the profile has no ``runner.mcu`` section.
    """
    runner = getattr(profile, "runner", None)
    mcu = getattr(runner, "mcu", None)
    if mcu is None:
        raise InputError(
            f"target {getattr(profile, 'name', '?')!r} has no runner.mcu section (accelerator, system_config, "
            f"memory_mode, sram_kb, flash_kb): the MCU analysis needs one"
        )
    raw = mcu if isinstance(mcu, dict) else mcu.model_dump()
    settings = {key: raw.get(key) for key in _SETTING_KEYS}
    config = settings["config_file"]
    if config and not Path(config).expanduser().is_absolute() and getattr(profile, "source", ""):
        settings["config_file"] = str(Path(profile.source).parent / config)
    return settings


def check_int8_tflite(artifact: Path) -> dict[str, Any]:
    """Make sure ``artifact`` is a fully-int8 TFLite model; return its graph audit.

    Raises:
        InputError: not ``.tflite`` (ONNX has no MCU runtime here), or a graph that still
            computes in float or has float inputs/outputs (TFLM and Ethos-U run int8 only).
    """
    from edgekd.audit.inspect import inspect_artifact

    if artifact.suffix.lower() != ".tflite":
        raise InputError(f"{artifact}: the MCU runner takes an int8 .tflite model (TFLite Micro / Vela), "
                         f"not {artifact.suffix or 'a file without suffix'}")
    audit = inspect_artifact(artifact)
    io = audit["input_dtypes"] + audit["output_dtypes"]
    if not audit["fully_integer"] or any(d not in ("int8", "uint8") for d in io):
        why = (f"float ops {audit['float_ops'][:5]}" if audit["float_ops"]
               else "it is not quantized" if not audit["quantized"] else f"its inputs/outputs are {io}")
        raise InputError(f"{artifact}: the MCU runner needs a fully-int8 TFLite model with int8 inputs and "
                         f"outputs; {why} (export the int8 variant for this target)")
    return audit


def litert_builtin_outputs(artifact: Path, inputs: np.ndarray) -> np.ndarray:
    """LiteRT's outputs with its builtin int8 kernels only (no XNNPACK): the TFLite semantics TFLM implements.

    XNNPACK requantizes with its own rounding and may differ by one step on a few
    outputs, so the bit-exact check is against the builtin kernels; the XNNPACK
    difference is reported beside it.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(artifact), num_threads=1,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    src, dst = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    outputs = []
    for x in inputs:
        interpreter.set_tensor(src, np.ascontiguousarray(x))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(dst).copy())
    return np.stack(outputs)


def _max_lsb(a: np.ndarray, b: np.ndarray) -> Optional[int]:
    """Largest difference of two integer outputs, in quantization steps (``None`` when the shapes differ)."""
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max()) if a.shape == b.shape else None


def mcu_report(artifact: Path, profile: Any, *, windows: Optional[np.ndarray] = None,
               timeout_s: float = 300.0) -> dict[str, Any]:
    """RAM (TFLM arena), flash (model bytes), TFLM-vs-LiteRT output check and the Vela estimate.

    Args:
        artifact: an int8 ``.tflite`` file.
        profile: the target profile (its ``runner.mcu`` settings).
        windows: optional real float NCHW feature windows, run besides seeded random inputs.
        timeout_s: cap for the Vela compile.

    Returns:
        ``{"artifact", "runner": "mcu", "estimated": true, "arena_bytes", "flash_bytes", "tflm": {...},
        "vela": {...} or None, "fits": {...}, "notes": {...}}`` plus the ``bench --json`` keys
        (latency keys are Vela's estimate, or ``None`` without an accelerator).

    Raises:
        InputError: not an int8 TFLite, no MCU settings, missing packages, a bad Vela setting.
        BackendError: TFLM or Vela fails on the model.
    """
    artifact = Path(artifact)
    if not artifact.is_file():
        raise InputError(f"{artifact}: artifact not found")
    settings = mcu_settings(profile)
    check_int8_tflite(artifact)

    litert = load_artifact(artifact, threads=1, runtime="ai-edge-litert")  # XNNPACK on, as deployed on a CPU
    inputs, described = parity_inputs(litert, RANDOM_INPUTS, windows)
    expected = litert_builtin_outputs(artifact, inputs)
    xnnpack = np.stack([litert.invoke_raw(np.ascontiguousarray(x)) for x in inputs])
    tflm = tflm_run(artifact, inputs)
    got = tflm.pop("outputs")
    tflm.update(output_matches_litert=bool(got.shape == expected.shape and np.array_equal(got, expected)),
                max_lsb_diff_vs_litert=_max_lsb(got, expected), max_lsb_diff_vs_litert_xnnpack=_max_lsb(got, xnnpack),
                inputs=described, litert=f"{litert.runtime} {litert.runtime_version}, builtin kernels (XNNPACK off)")

    vela = None
    if settings["accelerator"]:
        vela = vela_compile(artifact, accelerator=settings["accelerator"], system_config=settings["system_config"],
                            memory_mode=settings["memory_mode"], config_file=settings["config_file"],
                            timeout_s=timeout_s)
    arena, flash = tflm["arena_bytes"], artifact.stat().st_size
    fits = {}
    if settings["sram_kb"]:
        fits["ram"] = arena <= settings["sram_kb"] * 1024
        if vela:
            fits["npu_sram"] = vela["sram_bytes"] <= settings["sram_kb"] * 1024
    if settings["flash_kb"]:
        fits["flash"] = flash <= settings["flash_kb"] * 1024
    latency = vela["inference_ms"] if vela else None
    return {
        "artifact": str(artifact),
        "runner": "mcu",
        "estimated": True,
        "emulated": False,
        "latency_meaningful": vela is not None,
        "runtime": "tflite-micro",
        "runtime_version": tflm["version"],
        "method": _method(arena, flash, tflm, vela),
        "threads": 1,
        "runs": 0,
        "warmup": 0,
        "p50_ms": latency,
        "p90_ms": latency,
        "p99_ms": latency,
        "mean_ms": latency,
        "cv": 0.0 if vela else None,
        "arena_bytes": arena,
        "flash_bytes": flash,
        "tflm": tflm,
        "vela": vela,
        "fits": fits,
        "host": {"machine": getattr(profile, "cpu", "") or "cortex-m", "emulated": False,
                 "estimated_by": "ethos-u-vela performance model" if vela else None,
                 "profile": getattr(profile, "name", None), "cpu_mhz": settings["cpu_mhz"]},
        "notes": {
            "arena_bytes": "measured: TFLM RecordingMicroAllocator total (head + tail) on this 64-bit host, "
                           "verified by running with exactly this arena; a 32-bit Cortex-M needs a little less tail",
            "flash_bytes": "the model file; not counted: TFLM interpreter and kernel code, the application",
            "latency": "Vela's performance-model estimate of one NPU inference (ops left on the CPU not timed); "
                       "not measured" if vela else "no NPU in the profile: no latency figure (TFLM on the host "
                                                    "says nothing about Cortex-M speed)",
        },
    }


def _method(arena: int, flash: int, tflm: dict[str, Any], vela: Optional[dict[str, Any]]) -> str:
    """One line saying how each figure was obtained (the CLI prints it)."""
    check = "bit-identical to" if tflm["output_matches_litert"] else "DIFFERENT from"
    text = (f"MCU analysis: tensor arena {arena} B measured in tflite-micro (outputs {check} LiteRT's builtin "
            f"kernels on {tflm['inputs']['random'] + tflm['inputs']['real_windows']} inputs), flash {flash} B = "
            f"the model file (interpreter code not counted)")
    if not vela:
        return text + "; no NPU in the profile, so no latency"
    return (text + f"; latency ESTIMATED by Vela {vela['version']} for {vela['accelerator']} / "
            f"{vela['system_config']} at {vela['clock_mhz']:g} MHz: {vela['cycles']} cycles, {vela['npu_ops']} ops "
            f"on the NPU, {vela['cpu_ops']} on the CPU (not timed), NPU SRAM {vela['sram_bytes']} B, "
            f"flash {vela['flash_bytes']} B")


def run_mcu(artifact: Path, profile: Any, opts: BenchOptions) -> dict[str, Any]:
    """The runner-signature wrapper of ``mcu_report`` (``opts.timeout_s`` caps the Vela compile)."""
    return mcu_report(Path(artifact), profile, timeout_s=opts.timeout_s)
