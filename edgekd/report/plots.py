"""Pareto plots of a target's artifacts: selection metric vs file size and vs latency p90.

The Pareto front (``pareto_front``) is a pure function so it can be tested and
reused by the Markdown report without matplotlib. The drawing imports
matplotlib lazily with the Agg backend (no display, no GUI toolkit) so that
``import edgekd.report`` stays light and works on a device install.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from edgekd.report.budgets import metric_name, metric_value


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """Which points are on the front when minimising ``x`` and maximising ``y``.

    A point is off the front when another is at least as good on both axes and
    strictly better on one. Identical points do not dominate each other, so both
    stay on the front.

    Args:
        points: ``(x, y)`` pairs, e.g. ``(size_kb, macc)``.

    Returns:
        One bool per point, in the input order.
    """
    on = []
    for i, (xi, yi) in enumerate(points):
        dominated = any(
            xj <= xi and yj >= yi and (xj < xi or yj > yi)
            for j, (xj, yj) in enumerate(points) if j != i
        )
        on.append(not dominated)
    return on


def _label_points(ax: Any, labels: list[str], xs: list[float], ys: list[float]) -> None:
    """Annotate points, stacking labels that would overlap (greedy, in display pixels)."""
    placed: list[tuple[float, float]] = []
    right_edge = ax.get_window_extent().x1
    order = sorted(range(len(labels)), key=lambda i: (-ys[i], xs[i]))
    for i in order:
        px, py = ax.transData.transform((xs[i], ys[i]))
        left = px > right_edge - 7 * len(labels[i]) - 10  # would run past the frame: write it on the left
        anchor = px - 7 * len(labels[i]) if left else px
        dy = 5.0
        while any(abs(anchor - qx) < 120 and abs(py + dy - qy) < 10 for qx, qy in placed):
            dy -= 10.0
        placed.append((anchor, py + dy))
        points = 72 / ax.figure.dpi
        ax.annotate(labels[i], (xs[i], ys[i]), textcoords="offset points", xytext=(-6 if left else 6, dy * points),
                    ha="right" if left else "left", fontsize=7.5, color="#333333")


@dataclass(frozen=True)
class Axis:
    """One plot: which artifact figure goes on x, its label, and the budget key drawn as a limit line."""

    key: str
    label: str
    budget: str
    log: bool


AXES: dict[str, Axis] = {
    "size": Axis("size", "file size (KiB, log scale)", "size_kb", True),
    "latency": Axis("latency", "latency p90 (ms, log scale)", "latency_p90_ms", True),
}


def plot_name(target: str, axis: str) -> str:
    """File name of one plot under ``plots/``, e.g. ``x86_64-metric-vs-size.png``."""
    return f"{target}-metric-vs-{axis}.png"


def x_value(artifact: Mapping[str, Any], axis: str) -> Optional[float]:
    """The artifact's figure on ``axis`` (``size`` in KiB, ``latency`` p90 in ms), or None if not measured."""
    if axis == "size":
        return artifact["size_bytes"] / 1024
    p90 = (artifact.get("latency") or {}).get("p90_ms")
    return None if p90 is None else float(p90)


def front_of(artifacts: Sequence[Mapping[str, Any]], axis: str) -> dict[str, bool]:
    """Artifact name → on the metric-vs-``axis`` Pareto front (artifacts without a figure are left out)."""
    rows = [(a["name"], x_value(a, axis), metric_value(a["metrics"])) for a in artifacts]
    rows = [r for r in rows if r[1] is not None]
    flags = pareto_front([(x, y) for _, x, y in rows])
    return {name: flag for (name, _, _), flag in zip(rows, flags)}


def plot_png(artifacts: Sequence[Mapping[str, Any]], axis: str, title: str,
             budgets: Optional[Mapping[str, Any]] = None) -> bytes:
    """Draw metric vs ``axis`` for one target's artifacts as PNG bytes.

    Front points are filled and joined by a step line; the others are hollow.
    Teachers are grey, students blue; circles are TFLite, squares ONNX. The
    target's budget on this axis (and ``min_metric``) is a dashed red line.
    Estimated latencies are labelled "(est.)".
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    spec = AXES[axis]
    budgets = budgets or {}
    front = front_of(artifacts, axis)
    fig = Figure(figsize=(6.4, 4.2), dpi=110)
    ax = fig.add_subplot()
    shown = [a for a in artifacts if a["name"] in front]
    xs = [x_value(a, axis) for a in shown]
    ys = [metric_value(a["metrics"]) for a in shown]
    limit = budgets.get(spec.budget)
    if spec.log and shown:
        ax.set_xscale("log")
    if ys:
        ax.set_ylim(max(0.0, min(ys) - 0.08), min(1.0, max(ys) + 0.06))
    if xs:
        lo, hi = min(xs), max(xs + ([limit] if limit is not None else []))
        ax.set_xlim(lo / 1.6 if spec.log else lo * 0.9, hi * 2.2 if spec.log else hi * 1.15)
    metric = metric_name(shown[0]["metrics"]) if shown else "metric"
    ax.set_xlabel(spec.label)
    ax.set_ylabel(f"{metric} (test split, measured on the artifact)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()  # before the labels: their overlap is judged in final pixels
    for a, x, y in zip(shown, xs, ys):
        color = "#1f6fb4" if a.get("role", "student") == "student" else "#888888"
        marker = "o" if a.get("format") == "tflite" else "s"
        on = front[a["name"]]
        ax.scatter([x], [y], s=70 if on else 50, marker=marker, zorder=4 if on else 3, linewidths=1.5,
                   facecolors=color if on else "white", edgecolors=color)
    _label_points(ax, [a["name"] + (" (est.)" if axis == "latency" and (a.get("latency") or {}).get("estimated")
                                    else "") for a in shown], xs, ys)
    pts = sorted((x, y) for a, x, y in zip(shown, xs, ys) if front[a["name"]])
    if len(pts) > 1:
        ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", color="#1f6fb4", alpha=0.5, zorder=2,
                label="Pareto front")
    if limit is not None:
        ax.axvline(limit, color="#c0392b", linestyle="--", linewidth=1, label=f"budget {spec.budget} = {limit:g}")
    if budgets.get("min_metric") is not None:
        ax.axhline(budgets["min_metric"], color="#c0392b", linestyle=":", linewidth=1,
                   label=f"min_metric = {budgets['min_metric']:g}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=7.5)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
