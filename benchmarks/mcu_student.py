"""The int8 heart student on a microcontroller: TFLM arena (RAM), flash, TFLM-vs-LiteRT outputs, Ethos-U55 estimates.

For the committed int8 student (tests/data) and, when present, the full heart run's
int8 TFLite student: the MCU runner (``edgekd.runners.mcu``) with the Cortex-M55 +
Ethos-U55 profile (targets/cortex-m55-ethos-u55.yaml when it exists, else the same
settings inline) measures the TFLM arena, checks TFLM's outputs against LiteRT's on
8 seeded random inputs + 16 real log-mel windows (2 from each of 8 recordings of
data/heart-sample), and compiles with Vela; then Vela is run again over a small sweep
of NPU sizes (ethos-u55-64/128/256) and Arm's two U55 reference systems (High-End
Embedded: 500 MHz, 4 GB/s SRAM; Deep Embedded: 200 MHz, 1.6 GB/s SRAM). Vela's
figures are a performance-model estimate, not a measurement.

Run:  .venv/bin/python benchmarks/mcu_student.py     (about 30 s)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from emulated_parity import RECORDINGS, distinct, real_windows  # noqa: E402  (the same inputs and de-duplication)

COMMAND = "python benchmarks/mcu_student.py"
ACCELERATORS = ["ethos-u55-64", "ethos-u55-128", "ethos-u55-256"]
SYSTEMS = ["Ethos_U55_High_End_Embedded", "Ethos_U55_Deep_Embedded"]
INLINE_BOARD = {
    "name": "cortex-m55-ethos-u55", "arch": "cortex-m", "cpu": "Cortex-M55", "formats": ["tflite"],
    "precisions": ["int8"], "runner": {"kind": "estimate", "mcu": {
        "accelerator": "ethos-u55-128", "system_config": "Ethos_U55_High_End_Embedded", "memory_mode": "Shared_Sram",
        "sram_kb": 512, "flash_kb": 2048}},
}


def artifacts() -> list[Path]:
    """The committed int8 student, then the full run's int8 TFLite student (from its report) when present."""
    found = [ROOT / "tests" / "data" / "heart-student-tflite-int8.tflite"]
    report = ROOT / "runs" / "heart-full" / "report.json"
    if report.is_file():
        doc = json.loads(report.read_text())
        found += [report.parent / a["path"] for a in doc["artifacts"]
                  if a.get("role") == "student" and a["format"] == "tflite" and a["precision"] == "int8"
                  and (report.parent / a["path"]).is_file()]
    return found


def board():
    """The repo's Cortex-M55 + Ethos-U55 profile, or the same settings inline when it is not there."""
    from edgekd.targets import TargetProfile, available_targets, load_target

    if "cortex-m55-ethos-u55" in available_targets():
        return load_target("cortex-m55-ethos-u55")
    return TargetProfile.model_validate(INLINE_BOARD)


def main() -> int:
    from edgekd.atomic import write_json, write_text
    from edgekd.runners.mcu import mcu_report, mcu_settings
    from edgekd.runners.mcu_vela import vela_compile
    from edgekd.runtime.sidecar import read_sidecar

    profile = board()
    settings = mcu_settings(profile)
    rows, data_hash = [], None
    paths, copies = distinct(artifacts())
    for path in paths:
        windows, data_hash = real_windows(read_sidecar(path))
        report = mcu_report(path, profile, windows=windows)
        sweep = []
        for system in SYSTEMS:
            for accelerator in ACCELERATORS:
                v = vela_compile(path, accelerator=accelerator, system_config=system,
                                 memory_mode=settings["memory_mode"], config_file=settings["config_file"])
                sweep.append(v)
                print(f"  {path.name}: {accelerator:14s} {system:28s} {v['cycles']:8d} cycles "
                      f"{v['inference_ms']:.3f} ms  SRAM {v['sram_bytes']} B  flash {v['flash_bytes']} B  "
                      f"NPU ops {v['npu_ops']} CPU ops {v['cpu_ops']}", flush=True)
        t = report["tflm"]
        print(f"{path.relative_to(ROOT)}: arena {report['arena_bytes']} B (head {t['arena_head_bytes']}, tail "
              f"{t['arena_tail_bytes']}, verified {t['arena_verified']}), flash {report['flash_bytes']} B, "
              f"TFLM == LiteRT on {t['inputs']}: {t['output_matches_litert']}", flush=True)
        rows.append({"artifact": str(path.relative_to(ROOT)), "report": report, "vela_sweep": sweep})

    doc = {
        "command": COMMAND, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seed": 0,
        "profile": {"name": profile.name, "source": profile.source or "inline (targets/ has no such profile yet)",
                    "mcu": settings},
        "inputs": {"random": 4, "real_windows": 16, "recordings": RECORDINGS, "data": "data/heart-sample",
                   "data_sha256": data_hash},
        "rows": rows, "skipped_identical_copies": copies,
    }
    out = ROOT / "benchmarks" / "results"
    write_json(out / "mcu_student.json", doc)
    lines = [
        "# Heart int8 student on a Cortex-M55 + Ethos-U55: RAM, flash, TFLM parity, Vela estimate",
        "",
        f"Command: `{COMMAND}` ({doc['created']}). Profile: {doc['profile']['source']} "
        f"({settings['accelerator']}, {settings['system_config']}, {settings['memory_mode']}).",
        "",
        "| artifact | arena (RAM) B | arena head / tail B | arena verified | flash (model file) B | "
        "TFLM == LiteRT builtin kernels | max Δ vs LiteRT+XNNPACK | inputs | tflite-micro |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rep, t = r["report"], r["report"]["tflm"]
        lines.append(f"| {r['artifact']} | {rep['arena_bytes']} | {t['arena_head_bytes']} / {t['arena_tail_bytes']} | "
                     f"{t['arena_verified']} | {rep['flash_bytes']} | {t['output_matches_litert']} "
                     f"(max Δ {t['max_lsb_diff_vs_litert']} LSB) | {t['max_lsb_diff_vs_litert_xnnpack']} LSB | "
                     f"{t['inputs']['random']} random + "
                     f"{t['inputs']['real_windows']} real windows | {t['version']} |")
    if copies:
        lines += ["", "Not run again (byte-identical copies): "
                  + "; ".join(f"{a} = {b}" for a, b in copies.items()) + "."]
    lines += [
        "",
        "Arena: TFLM's RecordingMicroAllocator total on this 64-bit host (head = activation buffers planned by the "
        "memory planner, tail = persistent structs), verified by running an interpreter with exactly that arena; "
        "on a 32-bit Cortex-M the pointer-holding tail is somewhat smaller. Flash: the model flatbuffer only; the "
        "TFLM interpreter and kernel code and the application are not counted. TFLM runs TFLite's reference int8 "
        "semantics: bit-identical to LiteRT's builtin kernels; LiteRT with XNNPACK (its default on a CPU) rounds "
        "requantization its own way and differs by up to one step on a few outputs.",
        "",
        "## Ethos-U55 estimates (Vela performance model, not measured)",
        "",
        "| artifact | accelerator | system config (NPU clock) | cycles | inference ms | SRAM B | flash B | "
        "NPU ops | CPU ops |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for v in r["vela_sweep"]:
            lines.append(f"| {Path(r['artifact']).name} | {v['accelerator']} | {v['system_config']} "
                         f"({v['clock_mhz']:.0f} MHz) | {v['cycles']} | {v['inference_ms']:.3f} | {v['sram_bytes']} | "
                         f"{v['flash_bytes']} | {v['npu_ops']} | {v['cpu_ops']} |")
    lines += [
        "",
        f"Vela {rows[0]['report']['vela']['version'] if rows and rows[0]['report']['vela'] else '?'}, memory mode "
        f"{settings['memory_mode']}, Arm's reference system configs from Vela's own vela.ini. Vela flash = the "
        "NPU-compiled model (weights re-encoded for the NPU plus its command stream), which replaces the model file "
        "on an Ethos-U board. The inference time is Vela's estimate for the NPU part at the system's NPU clock; ops "
        "left on the CPU (none here when CPU ops = 0) and driver overhead are not in it.",
        "",
    ]
    write_text(out / "mcu_student.md", "\n".join(lines))
    print(f"wrote {out / 'mcu_student.json'} and .md")
    return 0 if all(r["report"]["tflm"]["output_matches_litert"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
