"""Which ARM CPU qemu emulates for a profile, and the /proc and /sys files that let the runtimes see it.

The runtimes pick their kernels from the CPU they detect (the ``cpuinfo`` library
reads ``/proc/cpuinfo`` and ``/sys/devices/system/cpu/{possible,present}``; the ISA
features come from the auxiliary vector, which qemu fills for the ``-cpu`` model).
In a bare chroot those files are missing, detection fails and LiteRT runs without
XNNPACK, i.e. not the kernels a device would use. Bind-mounting the host's /proc
and /sys crashed LiteRT and ONNX Runtime, so small files describing the emulated
CPU are written into the root instead.

The model is taken from the profile's ``cpu`` (``Cortex-A72`` → ``cortex-a72``).
qemu 7.2 (Debian bookworm) knows cortex-a35/a53/a57/a72/a76, neoverse-n1 and a64fx;
a newer Cortex-A7x/X core maps to cortex-a76 (ARMv8.2 + dot product, the nearest),
anything else to cortex-a72 (the Raspberry Pi 4 core). qemu's ``max`` model is never
used: with it, XNNPACK picked kernels that produced wrong int8 outputs under qemu 7.2
(the heart student's logits [84, -49] instead of [93, -89]).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from edgekd.errors import BackendError

# qemu -cpu name → (MIDR implementer, part, /proc/cpuinfo "Features" as Linux prints them)
_V80 = "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"
_V82 = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
CPUS: dict[str, tuple[int, int, str]] = {
    "cortex-a35": (0x41, 0xD04, _V80),
    "cortex-a53": (0x41, 0xD03, _V80),
    "cortex-a57": (0x41, 0xD07, _V80),
    "cortex-a72": (0x41, 0xD08, _V80),
    "cortex-a76": (0x41, 0xD0B, _V82),
    "neoverse-n1": (0x41, 0xD0C, _V82),
    "a64fx": (0x46, 0x001, _V82 + " sve"),
}
DEFAULT = "cortex-a72"
NEWER = "cortex-a76"


def qemu_cpu(profile_cpu: str) -> tuple[str, str]:
    """The qemu ``-cpu`` model for a profile's ``cpu`` text, and why it was chosen.

    Args:
        profile_cpu: free text such as ``"Cortex-A72 (BCM2711), 4 cores @ 1.8 GHz"``.

    Returns:
        ``(model, reason)``.
    """
    text = (profile_cpu or "").lower()
    for name in CPUS:
        if re.search(rf"\b{re.escape(name)}\b", text):
            return name, f"the profile's CPU ({name})"
    newer = re.search(r"cortex-(a7[7-9]\d?|a7\d\d|x\d+)", text)
    if newer:
        return NEWER, f"nearest qemu 7.2 model to the profile's {newer.group(0)} (ARMv8.2 + dot product)"
    return DEFAULT, f"no qemu model for the profile's CPU {profile_cpu!r}: default {DEFAULT}"


def cpuinfo_text(model: str, cores: int) -> str:
    """``/proc/cpuinfo`` as an arm64 Linux kernel prints it for ``cores`` cores of ``model``."""
    implementer, part, features = CPUS[model]
    block = (f"BogoMIPS\t: 108.00\nFeatures\t: {features}\nCPU implementer\t: 0x{implementer:02x}\n"
             f"CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0x{part:03x}\nCPU revision\t: 0\n\n")
    return "".join(f"processor\t: {i}\n{block}" for i in range(cores))


def write_cpu_files(root: Path, model: str, cores: int) -> None:
    """Write ``/proc/cpuinfo`` and ``/sys/devices/system/cpu/{possible,present,online}`` into ``root``.

    Each file is written to a temp name and renamed, so a reader never sees half a file.

    Raises:
        BackendError: the root's /proc or /sys is a mount point.
    """
    for mounted in ("proc", "sys"):
        if os.path.ismount(root / mounted):
            raise BackendError(f"{root / mounted} is a mount point: unmount it (the emulated runner writes small "
                               f"CPU description files there; the host's /{mounted} crashed the runtimes)")
    cores = max(1, int(cores))
    span = "0" if cores == 1 else f"0-{cores - 1}"
    files = {root / "proc" / "cpuinfo": cpuinfo_text(model, cores)}
    for name in ("possible", "present", "online"):
        files[root / "sys" / "devices" / "system" / "cpu" / name] = span + "\n"
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
