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
    * the ops an ``int8-ac`` artifact kept in float (NNCF accuracy control) and its validation drop;
    * a quantized artifact with float ops on a target that needs fully integer graphs;
    * parity: the artifact's top-1 class differs from the fp32 torch model's on more than 1 % of test windows;
    * layout transposes left in the graph;
    * ops an ExecuTorch ``.pte`` left on the portable CPU kernels (not delegated to XNNPACK);
    * figures measured in the main environment with torch (``runtime_env``: ExecuTorch's Python runtime);
    * a latency that was estimated or emulated rather than measured on the device, or is noisy.
    """
    audit = artifact.get("audit") or {}
    lat = artifact.get("latency") or {}
    flags: list[str] = []
    float_ops = audit.get("float_ops") or []
    if float_ops and artifact.get("precision") != "fp32":
        names = ", ".join(map(str, float_ops[:4])) + (", …" if len(float_ops) > 4 else "")
        flags.append(f"{len(float_ops)} float op(s) in the quantized graph ({names})")
    elif artifact.get("precision") in ("int8", "int8-qat", "int8-ac") and audit.get("fully_integer") is False:
        flags.append("int8 but not fully integer")
    ac = artifact.get("accuracy_control")
    if isinstance(ac, Mapping):
        kept = ac.get("kept_float") or []
        names = ", ".join(map(str, kept[:4])) + (", …" if len(kept) > 4 else "")
        try:
            drops = f"validation drop {float(ac['ptq_drop_pp']):.2f} pp plain int8 → {float(ac['drop_pp']):.2f} pp"
        except (KeyError, TypeError, ValueError):
            drops = "validation drop not recorded"
        flags.append(f"accuracy control kept {len(kept)} op(s) in float{f' ({names})' if kept else ''}: {drops} "
                     f"(budget {ac.get('max_drop_pp')} pp{'' if ac.get('met') else ', not met'})")
    if artifact.get("fully_integer_required") and audit.get("quantized") and not audit.get("fully_integer"):
        flags.append("the target needs a fully integer graph and this one is not")
    par = artifact.get("parity") or {}
    if par and par.get("top1_agreement", 1.0) < 0.99:
        flags.append(f"top-1 agrees with the fp32 torch model on {par['top1_agreement']:.1%} of test windows "
                     f"(max |Δlogit| {par['max_abs_dlogit']:.2f})")
    if audit.get("transposes"):
        flags.append(f"{audit['transposes']} transpose(s)")
    left = (audit.get("delegation") or {}).get("non_delegated_ops") or []
    if left:
        names = ", ".join(map(str, left[:4])) + (", …" if len(left) > 4 else "")
        flags.append(f"{len(left)} op(s) not delegated to XNNPACK, on ExecuTorch's portable CPU kernels ({names})")
    if lat.get("runtime_env"):
        flags.append(f"measured in the {lat['runtime_env']} environment")
    if lat.get("estimated"):
        flags.append("latency estimated, not measured")
    if lat.get("emulated"):
        flags.append("latency measured under emulation")
    if (lat.get("cv") or 0) > NOISY_CV:
        flags.append(f"noisy latency (cv {lat['cv']:.2f})")
    return flags


def quantizer_text(artifact: Mapping[str, Any]) -> str:
    """``nncf 3.4.0, performance, fast bias correction`` when the sidecar named the quantizer, else ``""``."""
    q = artifact.get("quantizer")
    if not isinstance(q, Mapping):
        return ""
    return f"{q.get('name')} {q.get('version')}, {q.get('preset')}, {q.get('bias_correction')} bias correction"
