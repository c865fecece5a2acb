"""``report.html``: one self-contained page a reviewer would rather look at than read.

Everything is inside the file: CSS inline, the Pareto plots as base64 PNG data
URIs, and a few lines of inline script that record, once the page has loaded,
each image's decoded size in ``data-natural-width`` / ``data-natural-height``
and its place on the page in ``data-rect`` (the browser test reads them back). A Content-Security-Policy forbids any
network fetch, so the page looks the same offline, in a CI artifact, or
attached to an e-mail. The plots are also written as ``plots/*.png``.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Mapping, Optional

from edgekd.atomic import write_bytes, write_text
from edgekd.report.budgets import metric_name, metric_value
from edgekd.report.flags import audit_flags, quantizer_text
from edgekd.report.plots import AXES, front_of, plot_name

#: Images by target, then axis (``size`` / ``latency``): PNG bytes.
Images = Mapping[str, Mapping[str, bytes]]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #dde1e6;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.meta{color:#56606b;margin:0 0 2px}.meta code{background:#eceff3;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;background:#fff;margin:6px 0 12px;font-size:13px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
th,td{padding:5px 9px;border-bottom:1px solid #e6e9ed;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
td code{white-space:nowrap}tr.fail td{background:#fdecea}tr.pass td{background:#eefaf0}tr.ref td{color:#6b7580}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600}
.b-pass{background:#d4f4dc;color:#17692e}.b-fail{background:#f9d3cf;color:#9b1c12}
.b-ref{background:#e6e9ed;color:#56606b}
.b-skip{background:#fff0c2;color:#7a5a00}
.flag{color:#9a5b00}.front{color:#1f6fb4;font-weight:700}
.plots{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;background:#fff;padding:8px;box-shadow:0 1px 2px rgba(0,0,0,.08);flex:1 1 520px;max-width:720px}
figure img{max-width:100%;height:auto;display:block}figcaption{font-size:12px;color:#56606b;margin-top:4px}
.note{color:#56606b;font-size:12.5px}
"""

_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('img'), ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    var img = imgs[i];
    img.setAttribute('data-natural-width', img.naturalWidth);
    img.setAttribute('data-natural-height', img.naturalHeight);
    var r = img.getBoundingClientRect();
    img.setAttribute('data-rect', [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]
      .map(Math.round).join(','));
    if (img.complete && img.naturalWidth > 0) ok++;
  }
  document.body.setAttribute('data-images-decoded', ok + '/' + imgs.length);
});
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def target_budgets(report: Mapping[str, Any], target: str) -> dict[str, Any]:
    """The budgets recorded in the report for ``target`` (empty when the report has none)."""
    for t in report.get("targets") or []:
        if t.get("name") == target:
            return dict(t.get("budgets") or {})
    return {}


def targets_of(report: Mapping[str, Any]) -> list[str]:
    """Target names in the report, in first-seen order."""
    return list(dict.fromkeys(a["target"] for a in report["artifacts"]))


def make_plots(report: Mapping[str, Any]) -> dict[str, dict[str, bytes]]:
    """Both Pareto plots for each target, as PNG bytes (needs matplotlib)."""
    from edgekd.report.plots import plot_png

    images: dict[str, dict[str, bytes]] = {}
    for target in targets_of(report):
        rows = [a for a in report["artifacts"] if a["target"] == target]
        budgets = target_budgets(report, target)
        images[target] = {
            axis: plot_png(rows, axis, f"{target}: {metric_name(rows[0]['metrics'])} vs {spec.label.split(' (')[0]}",
                           budgets)
            for axis, spec in AXES.items()
        }
    return images


def _verdict(a: Mapping[str, Any]) -> tuple[str, str]:
    """(row class, badge HTML) for an artifact's stored budget verdict."""
    b = a.get("budget") or {}
    if not b.get("checked"):
        return "ref", '<span class="badge b-ref">reference</span>'
    if b.get("passed"):
        skipped = b.get("skipped") or []
        extra = "".join(f'<br><span class="badge b-skip">{_e(s["budget"])} not checked</span> '
                        f'<span class="note">{_e(s["reason"])}</span>' for s in skipped)
        return "pass", '<span class="badge b-pass">pass</span>' + extra
    msgs = [v.get("message") or f"{v['budget']} {v['value']:.3g} > {v['limit']:g}" for v in b.get("violations", [])]
    return "fail", '<span class="badge b-fail">FAIL</span> ' + "<br>".join(_e(m) for m in msgs)


def _num(x: Optional[float], fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def _ci(m: Mapping[str, Any], key: str) -> str:
    """`` <small>[lo, hi]</small>``: the 95 % interval the metrics carry for ``key`` (empty for older reports)."""
    pair = (m.get("ci95") or {}).get(key)
    if not pair or None in pair:
        return ""
    return f' <small class="ci">[{pair[0]:.2f}, {pair[1]:.2f}]</small>'


def _target_section(report: Mapping[str, Any], target: str, images: Optional[Mapping[str, bytes]]) -> list[str]:
    rows = [a for a in report["artifacts"] if a["target"] == target]
    budgets = target_budgets(report, target)
    fronts = {axis: front_of(rows, axis) for axis in AXES}
    mname = metric_name(rows[0]["metrics"])
    out = [f'<section id="target-{_e(target)}">', f"<h2>Target <code>{_e(target)}</code></h2>"]
    shown = {k: v for k, v in budgets.items() if v is not None and k not in ("allow_estimated_latency", "allow_unmeasured")}
    listed = ", ".join(f"<code>{_e(k)} = {_e(format(v, 'g') if isinstance(v, float) else v)}</code>"
                       for k, v in shown.items())
    out.append(f'<p class="meta">Budgets: {listed or "none"}</p>')
    out.append("<table><thead><tr><th>artifact</th><th>role</th><th>format</th><th>precision</th><th>size KiB</th>"
               f"<th>{_e(mname)}</th><th>sens</th><th>spec</th><th>acc</th><th>p50 ms</th><th>p90 ms</th>"
               "<th>runtime (threads)</th><th>Pareto front</th><th>audit flags</th><th>budget</th></tr></thead><tbody>")
    for a in rows:
        m, lat = a["metrics"], a.get("latency") or {}
        cls, verdict = _verdict(a)
        on = [axis for axis in AXES if fronts[axis].get(a["name"])]
        front = ", ".join(f'<span class="front">★ {axis}</span>' for axis in on) or "–"
        flags = "<br>".join(f'<span class="flag">⚠ {_e(f)}</span>' for f in audit_flags(a)) or "–"
        est = " (est.)" if lat.get("estimated") else ""
        out.append(
            f'<tr class="{cls}"><td><code>{_e(a["name"])}</code></td><td>{_e(a.get("role", ""))}</td>'
            f'<td>{_e(a["format"])}</td><td>{_e(a["precision"])}'
            + (f'<br><small>{_e(quantizer_text(a))}</small>' if quantizer_text(a) else "") + '</td>'
            f'<td class="n">{a["size_bytes"] / 1024:.1f}</td>'
            f'<td class="n">{metric_value(m):.3f}{_ci(m, "macc" if "macc" in m else "balanced_accuracy")}</td>'
            f'<td class="n">{_num(m.get("sensitivity"), ".3f")}{_ci(m, "sensitivity")}</td>'
            f'<td class="n">{_num(m.get("specificity"), ".3f")}{_ci(m, "specificity")}</td>'
            f'<td class="n">{_num(m.get("accuracy"), ".3f")}{_ci(m, "accuracy")}</td>'
            f'<td class="n">{_num(lat.get("p50_ms"), ".3f")}</td>'
            f'<td class="n">{_num(lat.get("p90_ms"), ".3f")}{est}</td>'
            f'<td>{_e(lat.get("runtime", "–"))} ({_e(lat.get("threads", "–"))})'
            + (f'<br><small>{_e(lat["runtime_env"])} environment</small>' if lat.get("runtime_env") else "")
            + '</td>'
            f"<td>{front}</td><td>{flags}</td><td>{verdict}</td></tr>"
        )
    out.append("</tbody></table>")
    n_test = rows[0]["metrics"].get("n", "?")
    out.append(f'<p class="note">{_e(mname)} per recording on the test split (n = {n_test}), measured by running each '
               "exported file; brackets: 95 % intervals (Wilson for proportions; for MAcc and balanced accuracy, MOVER over "
               "the class recalls' Wilson intervals); sizes in KiB (1024 bytes). "
               "★ marks the Pareto front: no other artifact of this target is both at least as small (or fast) "
               f"and at least as accurate, and strictly better on one.</p>")
    out.append("<h3>Pareto plots</h3>")
    if images:
        out.append('<div class="plots">')
        for axis, spec in AXES.items():
            if axis not in images:
                continue
            data = base64.b64encode(images[axis]).decode("ascii")
            members = ", ".join(n for n, on in fronts[axis].items() if on)
            out.append(
                f'<figure><img id="plot-{_e(target)}-{axis}" class="plot" '
                f'alt="{_e(mname)} vs {_e(spec.label)} for {_e(target)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{_e(mname)} vs {_e(spec.label)}. On the front: {_e(members)}. "
                f"Also <code>plots/{_e(plot_name(target, axis))}</code>.</figcaption></figure>"
            )
        out.append("</div>")
    else:
        out.append('<p class="note">Plots not drawn: matplotlib is not installed in this environment.</p>')
    out.append("</section>")
    return out


def build_html(report: Mapping[str, Any], images: Optional[Images] = None) -> str:
    """The whole page as a string (pure: no file or network access).

    Args:
        report: a report dict (schema ``edgekd.report/1``).
        images: PNG bytes by target and axis; None leaves the plots out with a note.
    """
    d = report.get("data") or {}
    name = (report.get("recipe") or {}).get("name", "run")
    splits = d.get("splits") or {}
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>edgekd report: {_e(name)}</title>", f"<style>{_CSS}</style>",
        f"<script>{_SCRIPT}</script>", "</head><body><main>",
        f"<h1>edgekd report: {_e(name)}</h1>",
        f'<p class="meta">Created {_e(report.get("created", "?"))} in {float(report.get("seconds", 0)):.0f} s · '
        f'seed <code>{_e(report.get("seed"))}</code> · schema <code>{_e(report.get("schema"))}</code></p>',
        f'<p class="meta">Data <code>{_e(d.get("name", "?"))}</code> '
        f'({_e(", ".join(d.get("classes", [])))}; positive: {_e(d.get("positive"))}) · '
        f'data hash <code>{_e(d.get("hash", "?"))}</code></p>',
    ]
    if splits:
        parts.append('<p class="meta">Splits (record-wise): ' + " · ".join(
            f'{_e(k)} {_e(v.get("recordings", "?"))} recordings / {_e(v.get("windows", "?"))} windows'
            for k, v in splits.items()) + "</p>")
    for target in targets_of(report):
        parts += _target_section(report, target, (images or {}).get(target))
    models = report.get("models") or []
    if models:
        parts.append("<h2>Models (torch-side, for reference)</h2><table><thead><tr><th>model</th><th>role</th>"
                     "<th>params</th><th>MACs</th><th>loss</th><th>torch test metric</th></tr></thead><tbody>")
        for m in models:
            loss = ", ".join(f"{k}={v}" for k, v in (m.get("loss") or {}).items() if k != "class_weights")
            mt = m.get("metrics_torch")
            score = f"{metric_value(mt):.3f} ({metric_name(mt)})" if mt else "–"
            parts.append(f'<tr><td><code>{_e(m["name"])}</code></td><td>{_e(m.get("role", ""))}</td>'
                         f'<td class="n">{m.get("params", 0):,}</td><td class="n">{m.get("macs", 0) / 1e6:.2f} M</td>'
                         f"<td>{_e(loss)}</td><td>{_e(score)}</td></tr>")
        parts.append("</tbody></table>")
    versions = report.get("versions") or {}
    parts.append("<h2>Versions</h2><table><tbody>" + "".join(
        f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>" for k, v in versions.items()) + "</tbody></table>")
    parts.append('<p class="note">Self-contained page: no network access is needed (or allowed) to view it.</p>')
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def render_html(report: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/plots/<target>-metric-vs-{size,latency}.png``.

    Without matplotlib the page is still written, with a note in place of the plots.

    Returns:
        The path of ``report.html``.
    """
    out_dir = Path(out_dir)
    try:
        images: Optional[dict[str, dict[str, bytes]]] = make_plots(report)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "matplotlib":
            raise
        images = None
    for target, by_axis in (images or {}).items():
        for axis, png in by_axis.items():
            write_bytes(out_dir / "plots" / plot_name(target, axis), png)
    path = out_dir / "report.html"
    write_text(path, build_html(report, images))
    return path
