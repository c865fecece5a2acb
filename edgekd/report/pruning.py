"""The report's pruning section: the same figures before and after pruning, measured on the exported files.

Users' top complaint about pruning tools is that the pruned model is not
actually smaller or faster (TF-MOT#760, Torch-Pruning#33). So the section
pairs every artifact of the pruned student with its unpruned twin (role
``student-unpruned``, same target, format and precision) and lists
parameters, MACs, file size, latency p50 and the metric of both.
"""

from __future__ import annotations


def _score(m: dict) -> float | None:
    return m.get("macc", m.get("balanced_accuracy")) if m else None


def pruning_section(pruning: dict, artifacts: list[dict]) -> dict:
    """``report["pruning"]``: the prune stage's summary plus before/after pairs of measured artifacts."""
    by_key = {(a["role"], a["target"], a["format"], a["precision"]): a for a in artifacts}
    pairs = []
    for (role, target, fmt, precision), after in by_key.items():
        before = by_key.get(("student-unpruned", target, fmt, precision))
        if role != "student" or before is None:
            continue
        side = {}
        for label, a in (("before", before), ("after", after)):
            side[label] = {"artifact": a["path"], "size_bytes": a["size_bytes"], "p50_ms": a["latency"]["p50_ms"],
                           "metric": _score(a["metrics"])}
        pairs.append({"target": target, "format": fmt, "precision": precision, **side,
                      "size_ratio": after["size_bytes"] / before["size_bytes"],
                      "latency_ratio": after["latency"]["p50_ms"] / max(before["latency"]["p50_ms"], 1e-9)})
    return {**pruning, "artifacts": pairs}


def render_pruning(report: dict) -> list[str]:
    """Markdown lines for ``report["pruning"]`` (none when the run did not prune)."""
    p = report.get("pruning")
    if not p:
        return []
    b, a = p["before"], p["after"]
    steps = p["schedule"]["steps"]
    lines = [
        "", "## Pruning: before and after (same target, measured on the exported files)", "",
        f"Order `{p['order']}`, importance `{p['importance']}` ({p['scope']}), target "
        + ", ".join(f"{k} {v}" for k, v in p["target"].items())
        + f", {p['schedule']['kind']} ({steps} step{'s' if steps != 1 else ''}); layers kept whole: "
        + ", ".join(f"`{n}`" for n in p["ignored"]) + ".",
        "",
        f"Parameters {b['params']:,} → {a['params']:,} ({a['params'] / b['params']:.2f}x); "
        f"MACs {b['macs'] / 1e6:.2f} M → {a['macs'] / 1e6:.2f} M ({b['macs'] / max(a['macs'], 1):.2f}x fewer).",
    ]
    if a.get("int8_bytes") is not None:
        lines[-1] += f" Predicted int8 size {b['int8_bytes'] / 1024:.1f} KiB → {a['int8_bytes'] / 1024:.1f} KiB."
    if p.get("round_to"):
        lines[-1] += f" Kept channel counts are multiples of {p['round_to']} ({p.get('round_to_from') or 'prune.round_to'})."
    lat = p.get("latency")
    if lat:
        lines.append("")
        lines.append(
            f"Latency target on `{lat['target']}`: {lat['target_ms']:.4f} ms p50 ({lat['format']} {lat['precision']}, "
            f"{lat['runner']} runner); unpruned {lat['unpruned_measured_ms']:.4f} ms, predicted by the latency table "
            f"{lat['predicted_ms']:.4f} ms, measured on the pruned export {lat['measured_p50_ms']:.4f} ms "
            f"({'met' if lat['met'] else 'missed by ' + format(lat['off_target_pct'], '.1f') + ' %'}; prediction "
            f"{lat['prediction_error_pct']:+.1f} %).")
    if not p.get("reference_trained", True):
        lines.append("The unpruned reference was never trained (order prune-distill): compare its size and latency only.")
    lines += ["", "| target | artifact (before → after) | size KiB before | after | p50 ms before | after | MAcc before | after |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for pair in p["artifacts"]:
        bb, aa = pair["before"], pair["after"]
        lines.append(
            f"| {pair['target']} | `{bb['artifact'].split('/')[-1]}` → `{aa['artifact'].split('/')[-1]}` | "
            f"{bb['size_bytes'] / 1024:.1f} | {aa['size_bytes'] / 1024:.1f} | {bb['p50_ms']:.3f} | {aa['p50_ms']:.3f} | "
            f"{bb['metric']:.3f} | {aa['metric']:.3f} |"
        )
    for s in p.get("steps", []):
        rec = s.get("recovery")
        ch = ", ".join(f"{n} {x}→{y}" for n, (x, y) in s["outcome"]["channels"].items() if x != y)
        lines.append(f"\nStep {s['step']}: channels {ch}" + (
            f"; recovered with `{rec['loss']}` for {rec['epochs_run']} epoch{'s' if rec['epochs_run'] != 1 else ''} "
            f"(best val {rec['best_val_score']:.3f})" if rec else ""))
    return lines
