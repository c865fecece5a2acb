"""NetAdapt's lookup table: the latency of a model with one layer narrowed, measured on the target's runner.

For every prunable group (a conv/linear layer and what is coupled to it) and a
grid of kept channel counts (multiples of ``round_to``), the model is copied
with only that group narrowed, exported in the target's deploy format and
precision (``deploy_exporter``: int8 when the target runs it, through the
backend the profile would get) and measured by the caller's ``measure``
function (in edgekd: ``edgekd.runners.registry.run_bench`` with the profile's
runner, so a ``local`` target is timed here and an ``ssh`` target on the device,
which receives the artifact file). The prediction for any combination of
channel counts is additive (Yang et al., NetAdapt, ECCV 2018):

    predicted = base + Σ over groups (table[group][kept] - base)

where ``base`` is the unpruned model's measured p50. It ignores the interaction
of neighbouring layers (a conv's cost scales with its input *and* output
channels, so narrowing two neighbours counts the layer between them twice):
it is optimistic when neighbours are both pruned. Hence two measured anchors:
the table also measures the *floor* (every group at its narrowest grid count),
which bounds any target from below, and ``edgekd.pruning.netadapt`` exports
and measures the model it chose, correcting the target by the measured error
(a few rounds) before settling. ``benchmarks/latency_prune.py`` measures the
additive model's error on random combinations.

Measurements are p50 of each artifact's timed invokes, taken in ``rounds``
interleaved passes over all artifacts (the median of the rounds), so a load
change on a shared machine hits every entry alike rather than a few.

The table depends on the architecture, not the weights: it is cached under
``cache_dir`` (default ``.cache/edgekd/latency-tables/``) keyed by a hash of the
architecture, the input shape, the grid, the target (name, runner settings,
threads, format, precision, backend, this host's CPU for ``local``) and the
versions of the toolchain. Every measurement is written as it finishes
(``<key>.partial.json``), so an interrupted build resumes where it stopped.

Example:
    >>> table = build_latency_table(model, (1, 32, 188), ["head.3"], export=export, measure=measure,
    ...                             identity={"target": "x86_64"}, round_to=16)   # doctest: +SKIP
    >>> table.predict(model) == table.base_ms   # the unpruned model                # doctest: +SKIP
    True
"""

from __future__ import annotations

import copy
import hashlib
import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from torch import nn

from edgekd.inputfile import read_cache_json

from edgekd.atomic import write_json
from edgekd.errors import InputError

DEFAULT_CACHE = Path(".cache") / "edgekd" / "latency-tables"
TABLE_VERSION = 2  # part of the cache key: a table of another layout is measured again
STATISTIC = "p50_ms"  # the figure every entry holds: median of the runner's timed invokes

ExportFn = Callable[[nn.Module, Path], Path]
MeasureFn = Callable[[Path], dict]


def layer_grid(width: int, round_to: Optional[int], min_channels: int = 1, max_points: int = 8) -> list[int]:
    """Kept channel counts a group of ``width`` is measured at, widest first, ``width`` itself excluded.

    With ``round_to``: its multiples below ``width`` (none when the group is no wider
    than ``round_to``: it is never pruned). Without: about ``max_points`` evenly spaced counts.
    Counts below ``min_channels`` are left out.

    Example:
        >>> layer_grid(40, 16), layer_grid(16, 16), layer_grid(40, None, max_points=4)
        ([32, 16], [], [30, 20, 10])
    """
    if round_to and round_to > 1:
        if width <= round_to:
            return []
        counts = [k for k in range(round_to * ((width - 1) // round_to), 0, -round_to)]
    else:
        step = max(1, -(-width // max_points))
        counts = list(range(width - step, 0, -step))
    return [k for k in counts if k >= min_channels]


@dataclass(frozen=True)
class LatencyTable:
    """Measured latencies (ms, p50) of the unpruned model and of one-group-narrowed copies.

    Attributes:
        base_ms: the unpruned model's measured p50.
        widths: each prunable group's unpruned width (keyed by its root layer's name).
        entries: group → kept channels → measured p50 of the model with only that group narrowed.
        key: the cache key (architecture, target, toolchain).
        meta: how it was measured (target, runner, format, precision, runtime, rounds, ...).
    """

    base_ms: float
    widths: dict[str, int]
    entries: dict[str, dict[int, float]]
    key: str = ""
    meta: dict = field(default_factory=dict)
    floor_measured_ms: Optional[float] = None  # every group at its narrowest grid count, measured

    def latency(self, group: str, kept: int) -> float:
        """Predicted p50 of the model with only ``group`` at ``kept`` channels (linear between grid points)."""
        width = self.widths[group]
        if kept >= width:
            return self.base_ms
        points = sorted({**self.entries.get(group, {}), width: self.base_ms}.items())
        if kept <= points[0][0]:
            return points[0][1]
        for (k0, v0), (k1, v1) in zip(points, points[1:]):
            if k0 <= kept <= k1:
                return v0 + (v1 - v0) * (kept - k0) / (k1 - k0)
        return self.base_ms  # unreachable: kept < width lies between two points

    def predict_counts(self, counts: dict[str, int]) -> float:
        """Predicted p50 for kept channel counts per group (groups not given: unpruned): the unpruned latency plus
        each group's measured change, never below the measured floor (nothing narrower was measured)."""
        additive = self.base_ms + sum(self.latency(g, counts.get(g, w)) - self.base_ms for g, w in self.widths.items())
        return max(additive, self.floor_measured_ms) if self.floor_measured_ms is not None else additive

    def predict(self, model: nn.Module) -> float:
        """Predicted p50 of ``model`` (a pruned copy of the architecture the table was measured on)."""
        from edgekd.pruning.prune import channel_counts

        counts = channel_counts(model)
        return self.predict_counts({g: counts[g] for g in self.widths if g in counts})

    def floor_ms(self) -> float:
        """The fastest the model gets: the measured latency with every group at its narrowest grid count (the
        additive prediction of that, when the floor was not measured)."""
        if self.floor_measured_ms is not None:
            return min(self.floor_measured_ms, self.base_ms)
        return self.predict_counts({g: min(e) for g, e in self.entries.items() if e})

    def floor_counts(self) -> dict[str, int]:
        """The narrowest grid count of every group (its width when it has no grid)."""
        return {g: min(self.entries.get(g) or {w: 0}) for g, w in self.widths.items()}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["entries"] = {g: {str(k): v for k, v in e.items()} for g, e in self.entries.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "LatencyTable":
        return cls(base_ms=float(d["base_ms"]), widths={g: int(w) for g, w in d["widths"].items()},
                   entries={g: {int(k): float(v) for k, v in e.items()} for g, e in d["entries"].items()},
                   key=d.get("key", ""), meta=d.get("meta", {}), floor_measured_ms=d.get("floor_measured_ms"))


def architecture_key(model: nn.Module, input_shape: tuple[int, ...], ignored: list[str], grid: dict[str, list[int]],
                     identity: dict[str, Any]) -> str:
    """The cache key: the model's structure (its ``repr`` and channel attributes, not its weights), input shape,
    ignored layers, grid and the target/toolchain ``identity``."""
    from edgekd.pruning.state import architecture_of

    blob = json.dumps({"class": f"{type(model).__module__}.{type(model).__qualname__}", "repr": repr(model),
                       "architecture": architecture_of(model), "input_shape": list(input_shape),
                       "ignored": sorted(ignored), "grid": grid, "identity": identity, "version": TABLE_VERSION},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def narrowed_to(model: nn.Module, input_shape: tuple[int, ...], ignored: list[str], counts: dict[str, int]) -> nn.Module:
    """A copy of ``model`` with each group in ``counts`` cut to its first ``counts[group]`` channels (which ones
    does not change the latency)."""
    from edgekd.pruning.prune import apply_removal

    trial = copy.deepcopy(model).eval()
    widths = _widths(trial, input_shape, ignored)
    apply_removal(trial, input_shape, ignored, [(g, i) for g, k in counts.items() for i in range(k, widths[g])])
    return trial


def _widths(model: nn.Module, input_shape: tuple[int, ...], ignored: list[str]) -> dict[str, int]:
    from edgekd.pruning.prune import _graph

    _, groups = _graph(model, input_shape, ignored)
    return {name: len(group[0].idxs) for name, group in groups.items()}


def build_latency_table(
    model: nn.Module,
    input_shape: tuple[int, ...],
    ignored: list[str],
    *,
    export: ExportFn,
    measure: MeasureFn,
    identity: dict[str, Any],
    round_to: Optional[int] = None,
    min_channels: int = 1,
    max_points: int = 8,
    rounds: int = 3,
    cache_dir: Optional[Path] = None,
    log: Callable[[str], None] = print,
) -> LatencyTable:
    """Measure (or read from the cache) the latency table of ``model`` on one target.

    Args:
        model: the unpruned architecture (its weights do not matter; it is not modified).
        input_shape: one example's shape.
        ignored: layers never pruned (``resolve_ignored``: the classifier included); they get no entries.
        export: ``export(model, path) -> path`` writing the deploy artifact (``deploy_exporter``).
        measure: ``measure(path) -> bench dict`` with ``p50_ms`` (the profile's runner, ``run_bench``).
        identity: what else the latency depends on (target, runner, threads, format, precision, versions):
            part of the cache key and recorded in ``meta``.
        round_to: measured counts are its multiples (``layer_grid``).
        min_channels: no count below it.
        max_points: grid size per group without ``round_to``.
        rounds: interleaved passes over all artifacts; each entry is the median of its rounds.
        cache_dir: where tables are kept (default ``.cache/edgekd/latency-tables``).
        log: progress lines.

    Returns:
        The table (``meta["cached"]`` says whether it was read from the cache).

    Raises:
        InputError: the model has no prunable group.
    """
    widths = _widths(model, input_shape, ignored)
    if not widths:
        raise InputError(f"{type(model).__name__} has no prunable layer to build a latency table for")
    grid = {g: layer_grid(w, round_to, min_channels, max_points) for g, w in widths.items()}
    key = architecture_key(model, input_shape, ignored, grid, identity)
    cache = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE
    done, partial = cache / f"{key}.json", cache / f"{key}.partial.json"
    cached = read_cache_json(done) if done.is_file() else None
    table = None
    if cached is not None:
        try:
            table = LatencyTable.from_dict(cached)
        except (KeyError, TypeError, ValueError):
            table = None
    if done.is_file() and table is None:
        log(f"latency table: {done} is damaged; measuring again")
    if table is not None:
        log(f"latency table: read from cache {done} (base {table.base_ms:.4f} ms p50, "
            f"{sum(len(e) for e in table.entries.values())} entries)")
        return LatencyTable(table.base_ms, table.widths, table.entries, table.key,
                            {**table.meta, "cached": True, "path": str(done)}, table.floor_measured_ms)
    # ("", 0): the unpruned model; ("*", 0): the floor, every group at its narrowest grid count
    jobs = [("", 0)] + [(g, k) for g in grid for k in grid[g]] + ([("*", 0)] if any(grid.values()) else [])
    floor = {g: min(c) for g, c in grid.items() if c}
    state = read_cache_json(partial) or {} if partial.is_file() else {}
    if partial.is_file() and not state:
        log(f"latency table: {partial} is damaged; starting the table over")
    runs: dict[str, list[float]] = state.get("runs", {}) if isinstance(state.get("runs"), dict) else {}
    extra: dict = state.get("runtime", {}) if isinstance(state.get("runtime"), dict) else {}
    art_dir = cache / key
    art_dir.mkdir(parents=True, exist_ok=True)
    name = {job: ("base" if not job[0] else "floor" if job[0] == "*" else f"{job[0]}-{job[1]}") for job in jobs}
    if runs:
        log(f"latency table: resuming {partial} ({sum(len(v) for v in runs.values())} of {len(jobs) * rounds} "
            "measurements done)")
    total, n = len(jobs) * rounds, sum(len(v) for v in runs.values())
    for r in range(rounds):
        for job in jobs:
            label = name[job]
            if len(runs.get(label, [])) > r:
                continue
            stem = art_dir / label.replace(".", "_").replace("/", "_")
            exported = [p for p in sorted(art_dir.glob(f"{stem.name}.*")) if not p.name.endswith((".json", ".tmp"))]
            if exported:  # exported before an interruption
                artifact = exported[0]
            else:
                if not job[0]:
                    trial = copy.deepcopy(model).eval()
                elif job[0] == "*":
                    trial = narrowed_to(model, input_shape, ignored, floor)
                else:
                    trial = narrowed_to(model, input_shape, ignored, {job[0]: job[1]})
                artifact = export(trial, stem)
            result = measure(artifact)
            runs.setdefault(label, []).append(float(result[STATISTIC]))
            extra = {k: result.get(k) for k in ("runner", "runtime", "runtime_version", "threads", "estimated",
                                                  "emulated")}
            n += 1
            write_json(partial, {"key": key, "runs": runs, "runtime": extra})
            what = ("unpruned" if not job[0] else "floor (every group at its narrowest)" if job[0] == "*"
                    else f"{job[0]} at {job[1]}/{widths[job[0]]} channels")
            log(f"latency table [{n}/{total}] round {r + 1}/{rounds}: {what}: {result[STATISTIC]:.4f} ms p50")
    med = {label: statistics.median(v) for label, v in runs.items()}
    table = LatencyTable(
        base_ms=med["base"], widths=widths,
        entries={g: {k: med[f"{g}-{k}"] for k in grid[g]} for g in grid},
        key=key, floor_measured_ms=med.get("floor"),
        meta={"identity": identity, "round_to": round_to, "rounds": rounds, "statistic": STATISTIC,
              "grid": grid, "measured_by": extra, "runs_ms": runs},
    )
    write_json(done, table.to_dict())
    partial.unlink(missing_ok=True)
    for p in art_dir.iterdir():
        p.unlink()
    art_dir.rmdir()
    log(f"latency table: {sum(len(c) for c in grid.values())} entries, the unpruned model and the floor measured "
        f"({rounds} rounds), saved to {done}")
    return LatencyTable(table.base_ms, table.widths, table.entries, key, {**table.meta, "cached": False,
                                                                          "path": str(done)}, table.floor_measured_ms)


def deploy_exporter(profile: Any, input_shape: tuple[int, ...], choose_backend: Callable[..., Any]) -> tuple[ExportFn, dict]:
    """The exporter of the artifact the profile deploys (its first format; int8 when it runs int8, else its
    first precision; the backend ``choose_backend`` gives it) and what identifies it.

    Calibration data is random: quantization ranges do not change which kernels run.

    Returns:
        ``(export(model, stem) -> path, {"format", "precision", "backend"})``.
    """
    import numpy as np
    import torch

    fmt = profile.formats[0]
    precision = "int8" if "int8" in profile.precisions else profile.precisions[0]
    backend = choose_backend(fmt, precision, pinned=profile.backends.get(fmt), fully_integer=profile.fully_integer,
                             where=f"target {profile.name!r}")
    exporter = backend.exporters[precision]
    calibration = np.random.default_rng(0).standard_normal((8, *input_shape)).astype(np.float32)

    def export(model: nn.Module, stem: Path) -> Path:
        path = Path(f"{stem}.{fmt}")
        with torch.no_grad():
            return exporter(model.eval(), torch.zeros(1, *input_shape), path, calibration).path

    return export, {"format": fmt, "precision": precision, "backend": backend.name}


def temporary_export(export: ExportFn, model: nn.Module, measure: MeasureFn) -> dict:
    """Export ``model`` into a temporary folder and measure it (the pruned model's check)."""
    from edgekd.atomic import temp_dir

    with temp_dir("latency") as tmp:
        return measure(export(model, Path(tmp) / "pruned"))
