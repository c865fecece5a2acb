"""``sweep.json`` and ``report.html``: every trial, the feasible front, and the front's test scores.

Written after every trial (a killed sweep still has its results) by whichever worker finished one,
from the study itself, so every worker's file lists every trial. At the end the front's artifacts
are run on the test split (the only time the test split is read), each with n and its 95 % interval.
"""

from __future__ import annotations

import base64
import html
import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from edgekd.sweep.objectives import front
from edgekd.sweep.space import OBJECTIVES

Log = Callable[[str], None]
SCHEMA = "edgekd.sweep/1"
TEST_SCORES = "test_scores.json"


def trial_rows(study: Any) -> list[dict]:
    """One row per trial, from the study (any worker's)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        rows.append({
            "number": t.number, "state": t.state.name, "parameters": a.get("values"), "worker": a.get("worker"),
            "baseline": bool(a.get("baseline")), "retry_of": a.get("retry_of"),
            "figures": a.get("figures"), "constraints": a.get("constraints"), "feasible": a.get("feasible"),
            "gate": a.get("gate"), "gate_report": a.get("gate_report"),
            "curve": (a.get("figures") or {}).get("curve") or a.get("curve"), "error": a.get("error"),
            "seconds": a.get("seconds"),
        })
    return rows


def _dominates(a: Mapping, b: Mapping, objectives: list[str]) -> bool:
    better = False
    for o in objectives:
        x, y = float(a[o]), float(b[o])
        if OBJECTIVES[o] == "minimize":
            x, y = -x, -y
        if x < y:
            return False
        better = better or x > y
    return better


def baseline_verdict(rows: list[dict], on_front: list[int], objectives: list[str]) -> Optional[dict]:
    """Does a feasible front trial beat the recipe's own values (trial marked baseline) on one objective
    without losing on any?"""
    base = next((r for r in rows if r["baseline"] and r["state"] == "COMPLETE"), None)
    if base is None:
        return None
    winners = [r["number"] for r in rows if r["number"] in on_front and r["number"] != base["number"]
               and _dominates(r["figures"], base["figures"], objectives)]
    return {"trial": base["number"], "feasible": base["feasible"], "dominated_by": winners,
            "beaten": bool(winners), "on_front": base["number"] in on_front}


def _test_scores(rows: list[dict], worker: Any, out: Path, log: Log) -> dict:
    """The front's artifacts on the test split (cached by artifact hash in ``out/test_scores.json``)."""
    import edgekd
    from edgekd.atomic import write_json
    from edgekd.hashing import file_sha256
    from edgekd.inputfile import read_cache_json
    from edgekd.recipe import recipe_from_tree
    from edgekd.sweep.trial import objective_score, trial_tree

    cache_path = out / TEST_SCORES
    cache = read_cache_json(cache_path) or {}  # damaged (a killed writer): scored again
    scores = {}
    for r in rows:
        path = Path(r["figures"]["artifact"])
        if not path.is_file():
            scores[r["number"]] = {"skipped": f"{path} not found here (trial run by {r['worker']})"}
            continue
        sha = file_sha256(path)
        if sha not in cache:
            recipe = recipe_from_tree(trial_tree(worker.base, r["parameters"], worker.source), worker.source)
            data = worker.data_for(recipe)
            m = edgekd.evaluate(path, data.test).to_dict()
            cache[sha] = {"metric": objective_score(m, recipe.student.train.select),
                          **{k: m.get(k) for k in ("n", "macc", "balanced_accuracy", "accuracy", "ci95", "per_group")
                             if m.get(k) is not None}, "sha256": sha}
            log(f"  trial {r['number']}: test {cache[sha]['metric']:.3f} (n={m.get('n')}) on {path.name}")
        scores[r["number"]] = cache[sha]
    write_json(cache_path, cache)
    return scores


def write_results(study: Any, space: Any, plan: Any, out: Path, context: dict, *, worker: Any = None,
                  log: Log = lambda s: None) -> dict:
    """Write ``out/sweep.json`` and ``out/report.html``; with ``worker``, score the front on the test split first."""
    from edgekd.atomic import write_json
    from edgekd.sweep.storage import dashboard_command, redact
    from edgekd.versions import versions

    rows = trial_rows(study)
    objectives = list(space.objectives)
    on_front = front(rows, objectives)
    for r in rows:
        r["pareto"] = r["number"] in on_front  # on the feasible front
    remeasured = None
    if worker is not None:
        scores = _test_scores([r for r in rows if r["pareto"]], worker, out, log)
        for r in rows:
            if r["number"] in scores:
                r["test"] = scores[r["number"]]
        from edgekd.sweep.remeasure import remeasure_front

        remeasured = remeasure_front(rows, plan.target, space.runner, plan.recipe.bench, plan.budgets, out, log)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    storage = context.get("storage")
    summary = {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "study": context["study"],
        "storage": redact(storage) if storage else str(out / "sweep.journal"),
        "dashboard": dashboard_command(storage, out),
        "recipe": {"path": context["recipe"], "name": plan.recipe.name, "base": plan.base, "seed": plan.recipe.seed},
        "space": {"path": context["space"], "digest": space.digest(), **space.model_dump(mode="json")},
        "target": {"name": plan.target.name, "format": plan.format, "runner": space.runner or plan.target.runner.kind,
                   "budgets": plan.budgets},
        "objectives": [{"name": o, "direction": OBJECTIVES[o]} for o in objectives],
        "measured_on": "validation split, by running each trial's exported file; the front also on the test split",
        "latency": _latency_summary(rows, space, plan, remeasured),
        "counts": counts,
        "front": on_front,
        "baseline": baseline_verdict(rows, on_front, objectives),
        "final": worker is not None,
        "versions": versions(),
        "trials": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "sweep.json", summary)
    _write_html(summary, out)
    return summary


def _latency_summary(rows: list[dict], space: Any, plan: Any, remeasured: Optional[dict]) -> dict:
    """How the trials' latency was judged (measured, or which estimate), and whether the front was re-measured."""
    bases = [(r.get("figures") or {}).get("latency_basis") for r in rows]
    bases = [b for b in bases if b]
    judged = bases[-1] if bases else {"model": "estimate" if space.runner == "estimate" else "measured"}
    return {"judged_on": judged, "front_remeasured": remeasured or {"done": False, "why": "not final yet"}}


def _plot(summary: dict, axis: str) -> bytes:
    """Validation metric vs ``axis`` (size_kb or latency_p90_ms): all trials, the feasible region shaded."""
    import io

    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    budgets = summary["target"]["budgets"]
    done = [r for r in summary["trials"] if r["state"] == "COMPLETE" and r.get("figures")]
    fig = Figure(figsize=(6.4, 4.2), dpi=110)
    ax = fig.add_subplot()
    xs_all = [r["figures"][axis] for r in done]
    ys_all = [r["figures"]["metric"] for r in done]
    limit, floor = budgets.get(axis), budgets.get("min_metric")
    if xs_all:
        x_hi = max(xs_all + ([limit] if limit else [])) * 1.15
        y_lo, y_hi = min(ys_all + ([floor] if floor else [])) - 0.05, min(1.0, max(ys_all) + 0.05)
        ax.set_xlim(0, x_hi)
        ax.set_ylim(y_lo, y_hi)
        ax.axvspan(0, limit if limit else x_hi, ymin=0, ymax=1, color="#2ca02c", alpha=0.08, lw=0,
                   label="within budgets" if limit or floor else None)
        if limit:
            ax.axvline(limit, color="#d62728", ls="--", lw=1, label=f"budget {limit:g}")
        if floor:
            ax.axhspan(y_lo, floor, color="white", alpha=0.9, lw=0)
            ax.axhline(floor, color="#d62728", ls=":", lw=1, label=f"min metric {floor:g}")
    for kind, color, marker in (("infeasible", "#999999", "x"), ("feasible", "#1f6fb4", "o"), ("front", "#d62728", "o")):
        pick = [r for r in done if (kind == "front" and r["pareto"]) or
                (kind == "feasible" and r.get("feasible") and not r["pareto"]) or
                (kind == "infeasible" and not r.get("feasible"))]
        if pick:
            ax.scatter([r["figures"][axis] for r in pick], [r["figures"]["metric"] for r in pick], c=color,
                       marker=marker, s=36 if kind != "front" else 52, label=kind, zorder=3)
    base = next((r for r in done if r["baseline"]), None)
    if base is not None:
        ax.scatter([base["figures"][axis]], [base["figures"]["metric"]], marker="*", s=180, facecolors="none",
                   edgecolors="black", label="recipe's own values", zorder=4)
    for r in done:
        if r["pareto"]:
            ax.annotate(str(r["number"]), (r["figures"][axis], r["figures"]["metric"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)
    metric = done[0]["figures"]["metric_name"] if done else "metric"
    ax.set_xlabel({"size_kb": "file size (KiB)", "latency_p90_ms": "latency p90 (ms)"}[axis]
                  + (" (estimated)" if axis == "latency_p90_ms" and done and done[0]["figures"]["latency_estimated"]
                     else ""))
    ax.set_ylabel(f"{metric} (validation, on the artifact)")
    ax.set_title(f"{summary['recipe']['name']}: {len(done)} trials, front of {len(summary['front'])}", fontsize=10)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _fmt_ci(m: Mapping[str, Any]) -> str:
    ci = (m.get("ci95") or {}).get("macc" if "macc" in m else "balanced_accuracy")
    text = f"{m['metric']:.3f}"
    if ci:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text + f" (n={m.get('n', '?')})"


def _fmt_remeasured(m: Optional[Mapping[str, Any]]) -> str:
    if not m:
        return "–"
    if "p90_ms" not in m:
        return html.escape(str(m.get("skipped", "–")))
    verdict = {True: "", False: " over budget", None: ""}[m.get("meets_latency_budget")]
    return f"{m['p90_ms']:.3f} ({m['estimate_error_pct']:+.0f} % est.){verdict}"


def _write_html(summary: dict, out: Path) -> None:
    from edgekd.atomic import write_bytes, write_text

    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
             "style-src 'unsafe-inline'\">",
             f"<title>edgekd sweep: {e(summary['recipe']['name'])}</title>",
             "<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}td.n{text-align:right}"
             ".meta{color:#555}</style></head><body>",
             f"<h1>edgekd sweep: {e(summary['recipe']['name'])}</h1>",
             f"<p class=\"meta\">study <code>{e(summary['study'])}</code> in <code>{e(summary['storage'])}</code> · "
             f"target {e(summary['target']['name'])} ({e(summary['target']['format'])}, latency by "
             f"{e(str(summary['target']['runner']))}) · budgets <code>{e(json.dumps(summary['target']['budgets']))}"
             f"</code> · trials {e(json.dumps(summary['counts']))}</p>",
             f"<p>{e(summary['measured_on'])}. Infeasible trials (outside a budget) are never on the front.</p>"]
    plots = out / "plots"
    try:
        for axis in ("size_kb", "latency_p90_ms"):
            png = _plot(summary, axis)
            plots.mkdir(parents=True, exist_ok=True)
            write_bytes(plots / f"sweep-metric-vs-{axis}.png", png)
            parts.append(f'<img alt="metric vs {axis}" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    except ModuleNotFoundError:
        parts.append("<p>(matplotlib is not installed: no plots)</p>")
    parts.append("<h2>The front (feasible, non-dominated)</h2><table><tr><th>trial</th><th>values</th>"
                 "<th>validation metric</th><th>size KiB</th><th>p90 ms</th><th>p90 ms on the device</th>"
                 "<th>test metric</th></tr>")
    for r in summary["trials"]:
        if not r["pareto"]:
            continue
        f = r["figures"]
        test = r.get("test") or {}
        parts.append(f"<tr><td>{r['number']}{' (recipe)' if r['baseline'] else ''}</td>"
                     f"<td><code>{e(json.dumps(r['parameters']))}</code></td>"
                     f"<td>{e(_fmt_ci({**f['val'], 'metric': f['metric']}))}</td><td class=n>{f['size_kb']:.1f}</td>"
                     f"<td class=n>{f['latency_p90_ms']:.3f}{' (est.)' if f.get('latency_estimated') else ''}</td>"
                     f"<td class=n>{_fmt_remeasured(r.get('remeasured'))}</td>"
                     f"<td>{e(_fmt_ci(test) if 'metric' in test else test.get('skipped', 'not scored yet'))}</td></tr>")
    parts.append("</table><h2>Every trial</h2><table><tr><th>trial</th><th>state</th><th>values</th><th>metric</th>"
                 "<th>size KiB</th><th>p90 ms</th><th>budgets</th><th>note</th></tr>")
    for r in summary["trials"]:
        f = r.get("figures") or {}
        note = r.get("error") or ("baseline: the recipe's own values" if r["baseline"] else "")
        parts.append(f"<tr><td>{r['number']}</td><td>{e(r['state'])}</td><td><code>{e(json.dumps(r['parameters']))}</code>"
                     f"</td><td class=n>{f.get('metric', float('nan')):.3f}</td>"
                     f"<td class=n>{f.get('size_kb', float('nan')):.1f}</td>"
                     f"<td class=n>{f.get('latency_p90_ms', float('nan')):.3f}</td>"
                     f"<td>{'' if not f else ('met' if r.get('feasible') else 'not met')}</td><td>{e(str(note))}</td></tr>")
    parts.append(f"</table><p class=\"meta\">Watch it live: <code>{e(summary['dashboard'])}</code></p></body></html>")
    write_text(out / "report.html", "\n".join(parts) + "\n")
