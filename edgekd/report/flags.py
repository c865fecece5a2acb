"""Audit flags: the things in an artifact's audit and latency a reviewer should look at twice.

Pure functions of one report artifact, shared by ``report.md`` and ``report.html``.
"""

from __future__ import annotations

from typing import Any, Mapping

#: A coefficient of variation above this makes a latency figure noisy enough to say so.
NOISY_CV = 0.25


def audit_flags(artifact: Mapping[str, Any]) -> list[str]:
    """Short warnings for one artifact (empty when nothing stands out).

    * an int8 artifact that is not fully integer, or has float ops inside the quantized graph;
    * layout transposes left in the graph;
    * a latency that was estimated or emulated rather than measured on the device, or is noisy.
    """
    audit = artifact.get("audit") or {}
    lat = artifact.get("latency") or {}
    flags: list[str] = []
    float_ops = audit.get("float_ops") or []
    if float_ops and artifact.get("precision") != "fp32":
        names = ", ".join(map(str, float_ops[:4])) + (", …" if len(float_ops) > 4 else "")
        flags.append(f"{len(float_ops)} float op(s) in the quantized graph ({names})")
    elif artifact.get("precision") == "int8" and audit.get("fully_integer") is False:
        flags.append("int8 but not fully integer")
    if audit.get("transposes"):
        flags.append(f"{audit['transposes']} transpose(s)")
    if lat.get("estimated"):
        flags.append("latency estimated, not measured")
    if lat.get("emulated"):
        flags.append("latency measured under emulation")
    if (lat.get("cv") or 0) > NOISY_CV:
        flags.append(f"noisy latency (cv {lat['cv']:.2f})")
    return flags
