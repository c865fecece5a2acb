"""``report.md``: the report as tables a reviewer can read in a pull request."""

from __future__ import annotations

from edgekd.report.flags import audit_flags, quantizer_text
from edgekd.report.plots import AXES, front_of, plot_name
from edgekd.runtime.sidecar import item_noun


def _how(lat: dict) -> str:
    """`` ESTIMATED`` / `` EMULATED`` beside a latency that was not measured on the device."""
    return " ESTIMATED" if lat.get("estimated") else " EMULATED" if lat.get("emulated") else ""


def _verdict(b: dict) -> str:
    """An artifact's stored budget verdict as one table cell."""
    if not b.get("checked"):
        return "– (reference)"
    if b["passed"]:
        skipped = b.get("skipped") or []
        return "pass" + (" (not checked: " + ", ".join(s["budget"] for s in skipped) + ")" if skipped else "")
    return "FAIL: " + ", ".join(
        v.get("message") or f"{v['budget']} {v['value']:.3g} > {v['limit']:g}" for v in b["violations"])


def _frontend_table(rows: list, target: str) -> list[str]:
    """Front-end and model side by side, per window and per item, with the end-to-end sum (when any was timed)."""
    timed = [a for a in rows if (a.get("latency") or {}).get("frontend")]
    if not timed:
        reasons = sorted({(a.get("latency") or {}).get("frontend_reason") for a in rows} - {None})
        return ["", f"Front-end latency (`{target}`): {'; '.join(reasons)}."] if reasons else []
    lines = ["", f"### Latency: front-end and model (`{target}`)", "",
             "The front-end is the sidecar's step list (file read included) timed on test items on the target's "
             "runner; end-to-end per item = front-end per item + model x invokes per item, a sum of separately "
             "measured parts (p50 with the median item's windows, p90 with the 90th percentile's).", "",
             "| artifact | front-end ms/window p50 / p90 | model ms/invoke p50 / p90 | front-end ms/item p50 / p90 | "
             "windows/item p50 / p90 | end-to-end ms/item p50 / p90 |",
             "|---|---:|---:|---:|---:|---:|"]
    for a in rows:
        lat = a.get("latency") or {}
        fe, e2e = lat.get("frontend"), lat.get("end_to_end")
        name = f"`{a['path'].split('/')[-1]}`"
        if not fe:
            model = " / ".join("–" if lat.get(k) is None else f"{lat[k]:.3f}" for k in ("p50_ms", "p90_ms"))
            lines.append(f"| {name} | – | {model}{_how(lat)} | – | – | – ({lat.get('frontend_reason') or 'not timed'}) |")
            continue
        item, w = fe["per_item"], fe["windows_per_item"]
        how = " EMULATED" if fe.get("emulated") else ""
        lines.append(f"| {name} | {fe['p50_ms']:.3f} / {fe['p90_ms']:.3f}{how} | {lat['p50_ms']:.3f} / "
                     f"{lat['p90_ms']:.3f}{_how(lat)} | {item['p50_ms']:.2f} / {item['p90_ms']:.2f}{how} | "
                     f"{w['p50']:g} / {w['p90']:g} | "
                     + (f"{e2e['p50_ms']:.2f} / {e2e['p90_ms']:.2f}{_how(lat)} |" if e2e else "– |"))
    return lines


def _score(m: dict) -> float:
    return m.get("macc", m["balanced_accuracy"])


def _ci(m: dict, key: str) -> str:
    """`` [lo, hi]``: the 95 % interval a metrics dict carries for ``key`` (empty for older reports)."""
    pair = (m.get("ci95") or {}).get(key)
    if not pair or None in pair:
        return ""
    return f" [{pair[0]:.2f}, {pair[1]:.2f}]"


def _fmt_metrics(m: dict) -> str:
    """MAcc (else balanced accuracy), sensitivity, specificity, accuracy, each with its 95 % interval."""
    if "macc" in m:
        return (f"{m['macc']:.3f}{_ci(m, 'macc')} | {m['sensitivity']:.3f}{_ci(m, 'sensitivity')} | "
                f"{m['specificity']:.3f}{_ci(m, 'specificity')} | {m['accuracy']:.3f}{_ci(m, 'accuracy')}")
    return f"{m['balanced_accuracy']:.3f}{_ci(m, 'balanced_accuracy')} | – | – | {m['accuracy']:.3f}{_ci(m, 'accuracy')}"


def render_markdown(report: dict) -> str:
    """Render a report dict (schema ``edgekd.report/1``) as Markdown."""
    d = report["data"]
    noun = item_noun((report.get("frontend") or {}).get("kind"))
    one = {"recordings": "recording", "photos": "photo", "arrays": "array"}.get(noun, "item")
    metric = "MAcc" if d.get("positive") else "balanced accuracy"
    lines = [
        f"# edgekd report: {report['recipe']['name']}",
        "",
        f"Created {report['created']} in {report.get('seconds', 0):.0f} s · seed {report['seed']} · "
        f"data `{d['name']}` ({', '.join(d['classes'])}; positive: {d.get('positive')}) · data hash `{d['hash'][:12]}`",
        "",
        "Every artifact figure below was measured by running the exported file on the test split "
        f"({noun} never seen in training); predictions are per {one} (mean of window probabilities). "
        "Brackets: 95 % intervals (Wilson for proportions; for MAcc and balanced accuracy, MOVER over the class "
        "recalls' Wilson intervals); sizes in KiB (1024 bytes); n is in the splits table.",
        "",
        f"## Splits ({one}-wise, stratified by label and group)",
        "",
        f"| split | {noun} | windows | by group |",
        "|---|---:|---:|---|",
    ]
    for split, s in d["splits"].items():
        by = "; ".join(f"{g}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())) for g, c in sorted(s["by_group"].items()))
        lines.append(f"| {split} | {s['recordings']} | {s['windows']} | {by} |")
    lines += ["", "## Models (torch-side, for reference)", "",
              f"| model | role | params | MACs | loss | best epoch | torch test {metric} | sens | spec | acc |",
              "|---|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for m in report["models"]:
        loss = ", ".join(f"{k}={v}" for k, v in m["loss"].items() if k != "class_weights")
        lines.append(
            f"| {m['name']} | {m['role']} | {m['params']:,} | {m['macs'] / 1e6:.2f} M | {loss} | "
            f"{m['train']['best_epoch']} | {_fmt_metrics(m['metrics_torch'])} |"
        )
    for m in report["models"]:
        p = m.get("pretrained")
        if isinstance(p, dict):
            lines.append(f"\nThe {m['role']} started from pretrained weights `{p.get('key')}` "
                         f"(`{p.get('distribution')}=={p.get('version')}`, licence {p.get('licence')}, file SHA-256 "
                         f"`{str(p.get('sha256'))[:16]}…`).")
    targets = sorted({a["target"] for a in report["artifacts"]})
    for target in targets:
        rows = [a for a in report["artifacts"] if a["target"] == target]
        lines += ["", f"## Target `{target}`: artifacts measured on the test split", "",
                  f"| artifact | size KiB | {metric} | sens | spec | acc | p50 ms | p90 ms | runtime (threads) | fully int | budget |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
        for a in rows:
            lat, au, b = a["latency"], a["audit"], a["budget"]
            verdict = _verdict(b)
            lines.append(
                f"| `{a['path'].split('/')[-1]}` | {a['size_bytes'] / 1024:.1f} | {_fmt_metrics(a['metrics'])} | "
                f"{lat['p50_ms']:.3f}{_how(lat)} | {lat['p90_ms']:.3f}{_how(lat)} | {lat['runtime']} ({lat['threads']}){_env(lat)} | "
                f"{'yes' if au.get('fully_integer') else 'no'} | {verdict} |"
            )
        lines += _frontend_table(rows, target)
        lines += ["", f"### Pareto front and plots (`{target}`)", ""]
        for axis, spec in AXES.items():
            on = [name for name, flag in front_of(rows, axis).items() if flag]
            lines.append(f"- metric vs {spec.label.split(' (')[0]}: " + ", ".join(f"`{n}`" for n in on))
        lines += [""] + [f"![metric vs {axis}](plots/{plot_name(target, axis)})" for axis in AXES]
        lines += ["", f"### Quantization audit and parity with the fp32 torch model (`{target}`)", "",
                  "| artifact | backend | Q/DQ | transposes | weights per-channel/per-tensor | I/O dtypes | "
                  "top-1 agree | max abs Δlogit | mean abs Δlogit |",
                  "|---|---|---:|---:|---:|---|---:|---:|---:|"]
        for a in rows:
            au, par = a["audit"], a.get("parity") or {}
            lines.append(
                f"| `{a['path'].split('/')[-1]}` | {a.get('backend', '–')}{f' ({quantizer_text(a)})' if quantizer_text(a) else ''} | "
                f"{au.get('quantize_ops', 0)}/{au.get('dequantize_ops', 0)} | {au.get('transposes', 0)} | "
                f"{au.get('per_channel_weights', 0)}/{au.get('per_tensor_weights', 0)} | "
                f"{','.join(au.get('input_dtypes', []))}→{','.join(au.get('output_dtypes', []))} | "
                + (f"{par['top1_agreement']:.4f} | {par['max_abs_dlogit']:.3f} | {par['mean_abs_dlogit']:.4f} |"
                   if par else "– | – | – |")
            )
        flagged = [(a["name"], audit_flags(a)) for a in rows]
        flagged = [(n, f) for n, f in flagged if f]
        lines += ["", f"### Audit flags (`{target}`)", ""]
        lines += [f"- `{n}`: " + "; ".join(f) for n, f in flagged] or ["None."]
        groups = sorted({g for a in rows for g in a["metrics"].get("per_group", {})})
        if groups:
            lines += ["", f"### Per group ({metric} on the test split, `{target}`)", "",
                      "| artifact | " + " | ".join(groups) + " |", "|---|" + "---:|" * len(groups)]
            for a in rows:
                pg = a["metrics"]["per_group"]
                cells = [f"{_score(pg[g]):.3f}{_ci(pg[g], 'macc' if 'macc' in pg[g] else 'balanced_accuracy')} "
                         f"(n={pg[g]['n']})" if g in pg else "–" for g in groups]
                lines.append(f"| `{a['path'].split('/')[-1]}` | " + " | ".join(cells) + " |")
    from edgekd.report.pruning import render_pruning

    lines += render_pruning(report)  # before/after figures when the run pruned the student
    lines += ["", "## Versions", "", ", ".join(f"{k} {v}" for k, v in report["versions"].items()), ""]
    return "\n".join(lines)


def _env(lat: dict) -> str:
    """Where the figures were measured, when not in the device environment (``.pte``: the main one, torch present)."""
    return f", {lat['runtime_env']} environment" if lat.get("runtime_env") else ""
