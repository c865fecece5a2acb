"""Compile an int8 TFLite model for an Arm Ethos-U NPU with Vela and read its performance estimate.

``ethos-u-vela`` rewrites the model so the NPU runs what it supports (the rest
stays on the Cortex-M CPU) and writes a summary CSV from its performance model:
cycles, inference time at the system config's NPU clock, SRAM and flash use.
These are a model-based estimate of the NPU, not a measurement: the CPU-side ops,
the driver and memory contention on a real board are not in them.

The system configs and memory modes come from a Vela ``.ini`` (by default the one
Vela ships, ``ethosu/config_files/Arm/vela.ini``: e.g. ``Ethos_U55_High_End_Embedded``
at 500 MHz with SRAM + off-chip flash, memory mode ``Shared_Sram``).
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from edgekd.errors import BackendError, InputError

_OPS = re.compile(r"^(CPU|NPU) operators = (\d+)", re.MULTILINE)


def vela_version() -> str:
    """Installed ``ethos-u-vela`` version."""
    try:
        return importlib.metadata.version("ethos-u-vela")
    except importlib.metadata.PackageNotFoundError:
        raise InputError("the MCU runner needs ethos-u-vela (pinned in requirements/extra.lock)") from None


def default_config() -> Path:
    """The ``vela.ini`` that ships with Vela (its Arm reference system configs and memory modes)."""
    spec = importlib.util.find_spec("ethosu")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the MCU runner needs ethos-u-vela (pinned in requirements/extra.lock)")
    return Path(list(spec.submodule_search_locations)[0]) / "config_files" / "Arm" / "vela.ini"


def vela_compile(path: str | Path, *, accelerator: str, system_config: str, memory_mode: str,
                 config_file: Optional[str | Path] = None, timeout_s: float = 300.0) -> dict[str, Any]:
    """Compile ``path`` with Vela into a temporary folder and summarise its estimate.

    Args:
        path: an int8 ``.tflite`` file.
        accelerator: Vela ``--accelerator-config`` (``ethos-u55-128``, ``ethos-u55-256``, ``ethos-u65-256``, ...).
        system_config: a ``[System_Config.NAME]`` of the config file.
        memory_mode: a ``[Memory_Mode.NAME]`` of the config file.
        config_file: a Vela ``.ini`` (default: Vela's own, ``default_config()``).
        timeout_s: cap for the compile.

    Returns:
        ``{"version", "accelerator", "system_config", "memory_mode", "config_file", "clock_mhz",
        "cycles", "npu_cycles", "inference_ms", "inferences_per_s", "sram_bytes", "flash_bytes",
        "macs", "npu_ops", "cpu_ops", "cpu_op_share", "estimated": True}``; SRAM and flash as Vela
        reports them (its KiB figures x 1024).

    Raises:
        InputError: Vela not installed, missing config file, or Vela rejects a setting (unknown
            accelerator, system config or memory mode).
        BackendError: the compile fails or times out, or writes no summary.
    """
    version = vela_version()
    config = Path(config_file) if config_file else default_config()
    if not config.is_file():
        raise InputError(f"{config}: Vela config file not found")
    with tempfile.TemporaryDirectory(prefix="edgekd-vela-") as out:
        cmd = [sys.executable, "-m", "ethosu.vela", str(path), "--accelerator-config", accelerator,
               "--config", str(config), "--system-config", system_config, "--memory-mode", memory_mode,
               "--output-dir", out]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise BackendError(f"{path}: vela timed out after {timeout_s:g} s") from None
        log = proc.stdout + proc.stderr
        if proc.returncode != 0:
            lines = log.strip().splitlines() or ["no output"]
            reason = next((ln.strip() for ln in reversed(lines) if "rror" in ln), lines[-1].strip())
            bad_setting = any(word in log for word in ("CliOptionError", "ConfigOptionError", "invalid choice"))
            cls = InputError if bad_setting else BackendError
            raise cls(f"{path}: vela {version} failed (exit {proc.returncode}) with accelerator {accelerator}, "
                      f"system config {system_config}, memory mode {memory_mode}: {reason}")
        summaries = sorted(Path(out).glob("*_summary_*.csv"))
        if not summaries:
            raise BackendError(f"{path}: vela wrote no summary CSV; its output ended with: {log.strip()[-300:]}")
        with open(summaries[0], newline="") as f:
            row = next(csv.DictReader(f))
    ops = {kind: int(n) for kind, n in _OPS.findall(log)}
    npu_ops, cpu_ops = ops.get("NPU"), ops.get("CPU")
    flash_kib = float(row.get("off_chip_flash_memory_used") or 0) + float(row.get("on_chip_flash_memory_used") or 0)
    total_ops = (npu_ops or 0) + (cpu_ops or 0)
    return {
        "version": version,
        "accelerator": accelerator,
        "system_config": row.get("system_config", system_config),
        "memory_mode": row.get("memory_mode", memory_mode),
        "config_file": str(config),
        "clock_mhz": float(row["core_clock"]) / 1e6,
        "cycles": int(float(row["cycles_total"])),
        "npu_cycles": int(float(row["cycles_npu"])),
        "inference_ms": float(row["inference_time"]) * 1e3,
        "inferences_per_s": float(row["inferences_per_second"]),
        "sram_bytes": int(round(float(row["sram_memory_used"]) * 1024)),
        "flash_bytes": int(round(flash_kib * 1024)),
        "macs": int(float(row["nn_macs"])),
        "npu_ops": npu_ops,
        "cpu_ops": cpu_ops,
        "cpu_op_share": (cpu_ops / total_ops) if total_ops else None,
        "estimated": True,
    }
