"""The four ONNX int8 routes on one model, side by side: ONNX Runtime static QDQ, NNCF PTQ, NNCF with accuracy
control, and (given a QAT model) quantization-aware training (issue 29, item 3 calls ``compare_quantizers``).

Every figure comes from running the written file with edgekd's device-side code: the test-split metric and its
paired drop against the fp32 ONNX twin (per-item flips, exact one-sided test: ``edgekd.report.paired``), the
validation drop accuracy control worked to (from the sidecar), file size, the audit (float ops, fully integer), the
ops accuracy control kept in float, and optionally the latency on a target's runner.

``compare_quantizers(model, data, out, max_drop_pp=...)`` is the building block: one model, one seed. The
benchmark of issue 29 loops it over the shipped heart and plant students, a teacher and seeds, and adds the
LiteRT files (``edgekd.export(..., "x.tflite", precision="int8")``) for the int8/fp32 latency on LiteRT.

Run (a smoke run on the bundled heart sample with a model fitted in seconds; not the benchmark's figures):
    taskset -c 0 .venv/bin/python benchmarks/nncf_compare.py --out runs/nncf-compare --max-drop-pp 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent

#: (row name, edgekd.export backend, precision)
ROUTES = (
    ("fp32", "onnxruntime", "fp32"),
    ("ort-int8", "onnxruntime", "int8"),
    ("nncf-int8", "nncf", "int8"),
    ("nncf-int8-ac", "nncf", "int8-ac"),
    ("qat-int8", "onnxruntime", "int8-qat"),
)


def compare_quantizers(model: Any, data: Any, out: str | Path, *, max_drop_pp: float, qat: Any = None,
                       nncf: Optional[dict] = None, bench_target: Any = None, bench_runs: int = 0,
                       log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> list[dict]:
    """Export ``model`` through each ONNX int8 route and measure every file.

    Args:
        model: the trained torch model (eval mode).
        data: a ``Prepared`` (``edgekd.prepare``): calibration from its train split, accuracy control and the
            decision threshold on its val split, the figures on its test split.
        out: folder for the files (``NAME.onnx`` and sidecars).
        max_drop_pp: ``int8-ac``'s validation drop limit (the target's ``accuracy_drop_pp``).
        qat: a ``QATModel`` (``edgekd.quantize.qat.qat_finetune``); None: the QAT row is left out.
        nncf: the nncf backend's options (``{"preset", "fast_bias_correction", "subset_size"}``).
        bench_target, bench_runs: with ``bench_runs > 0``, each file's p50/p90 on that target's runner
            (``edgekd.bench``; None: this machine).
        log: progress lines.

    Returns:
        One row per file: ``route``, ``backend``, ``precision``, ``path``, ``size_kb``, ``metric`` (name),
        ``test`` (the metric on test), ``test_ci95``, ``drop_pp`` and ``drop_lower_pp``/``p_value`` (paired, against
        the fp32 twin, on test), ``val_drop_pp`` (int8-ac: what accuracy control measured), ``kept_float``,
        ``float_ops``, ``fully_integer``, ``quantizer``, ``seconds`` (export), ``p50_ms``/``p90_ms`` when benched.
    """
    import time

    import edgekd

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, reference = [], None
    for route, backend, precision in ROUTES:
        if precision == "int8-qat" and qat is None:
            continue
        t0 = time.perf_counter()
        # each option only where it applies (edgekd.export refuses one that would be ignored)
        art = edgekd.export(model, out / f"{route}.onnx", precision=precision, backend=backend, calibration=data,
                            val=data, qat=qat if precision == "int8-qat" else None,
                            max_drop_pp=max_drop_pp if precision == "int8-ac" else None,
                            nncf=nncf if backend == "nncf" else None, log=log)
        seconds = time.perf_counter() - t0
        row, ev = measure_file(art, data, reference, route=route, backend=backend, precision=precision)
        row["seconds"] = seconds
        key = row["metric"]
        reference = reference or ev
        if bench_runs > 0:
            lat = edgekd.bench(art.path, bench_target, runs=bench_runs, warmup=min(20, bench_runs)).to_dict()
            row.update(p50_ms=lat.get("p50_ms"), p90_ms=lat.get("p90_ms"))
        log(f"  {route}: {key} {row['test']:.3f}, drop {row['drop_pp']:.2f} pp, {row['size_kb']:.1f} KiB")
        rows.append(row)
    return rows


def measure_file(art: Any, data: Any, reference: Optional[dict], **fields: Any) -> tuple[dict, dict]:
    """One exported file run on ``data``'s test split: its row (as ``compare_quantizers``' rows; ``drop_*`` against
    ``reference``, the fp32 twin's evaluation, or 0 when ``reference`` is None) and its evaluation."""
    import edgekd
    from edgekd.audit.inspect import inspect_artifact
    from edgekd.report.paired import paired_drop

    ev = edgekd.evaluate(art.path, data).to_dict()
    key = "macc" if ev.get("macc") is not None else "balanced_accuracy"
    audit = inspect_artifact(art.path)
    control = art.sidecar.get("accuracy_control") or {}
    row = {**fields, "path": str(art.path), "size_kb": art.size_bytes / 1024, "metric": key, "test": ev[key],
           "test_ci95": (ev.get("ci95") or {}).get(key), "accuracy": ev.get("accuracy"), "n": ev.get("n"),
           "val_drop_pp": control.get("drop_pp"), "val_ptq_drop_pp": control.get("ptq_drop_pp"),
           "kept_float": control.get("kept_float", []), "float_ops": len(audit["float_ops"]),
           "float_op_types": _op_types(art.path, audit["float_ops"]),
           "fully_integer": audit["fully_integer"], "quantizer": art.sidecar.get("quantizer")}
    if reference is None:
        row.update(drop_pp=0.0, drop_lower_pp=None, p_value=None, drop_ci95_pp=None, became_wrong=0, became_right=0)
    else:
        paired = paired_drop(reference, ev, key)
        row.update(drop_pp=paired.drop_pp, drop_lower_pp=paired.lower_pp, p_value=paired.p_value,
                   drop_ci95_pp=paired_bootstrap_ci(reference, ev, key), became_wrong=paired.became_wrong,
                   became_right=paired.became_right)
    return row, ev


def _op_types(path: Path, names: list[str]) -> dict[str, int]:
    """How many of the float operations ``names`` are of each ONNX op type (``{}`` for other formats)."""
    from collections import Counter

    if Path(path).suffix != ".onnx" or not names:
        return {}
    import onnx

    kinds = {n.name: n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
    return dict(Counter(kinds.get(n, "?") for n in names))


def paired_bootstrap_ci(reference: dict, new: dict, key: str, draws: int = 2000, seed: int = 0) -> list[float]:
    """A two-sided 95 % interval of the drop (points) of ``new`` against ``reference`` on the same test items:
    percentile bootstrap over items, resampled within each true class (the class sizes stay as tested), both
    files' decisions on the same resampled items."""
    import numpy as np

    from edgekd.report.paired import read_per_item

    a, b = read_per_item(reference, "reference"), read_per_item(new, "new")
    ids = sorted(a)
    true = np.array([a[i][0] for i in ids])
    ra = np.array([a[i][0] == a[i][1] for i in ids], dtype=float)
    rb = np.array([b[i][0] == b[i][1] for i in ids], dtype=float)
    k = len(reference["labels"])
    classes = [np.flatnonzero(true == c) for c in range(k) if (true == c).any()]
    rng = np.random.default_rng(seed)
    out = np.empty(draws)
    for d in range(draws):
        diffs = []
        for idx in classes:  # mean of recalls (MAcc for two classes, balanced accuracy otherwise)
            pick = idx[rng.integers(0, len(idx), len(idx))]
            diffs.append(ra[pick].mean() - rb[pick].mean())
        out[d] = 100 * float(np.mean(diffs))
    return [float(np.percentile(out, 2.5)), float(np.percentile(out, 97.5))]


def render(rows: list[dict], title: str = "ONNX int8 routes") -> str:
    """A markdown table of ``compare_quantizers``' rows."""
    lines = [f"### {title}", "",
             "| route | size KiB | test metric [95 % CI] | drop vs fp32 pp (95 % lower, p) | val drop pp | "
             "kept float | float ops | fully int | p50 ms |",
             "|---|---:|---:|---:|---:|---|---:|---|---:|"]
    for r in rows:
        ci = r.get("test_ci95")
        ci_text = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if isinstance(ci, (list, tuple)) and len(ci) == 2 else ""
        paired = (f" ({r['drop_lower_pp']:.2f}, p={r['p_value']:.3f})" if r.get("p_value") is not None else "")
        val = f"{r['val_drop_pp']:.2f}" if r.get("val_drop_pp") is not None else "–"
        p50 = f"{r['p50_ms']:.3f}" if r.get("p50_ms") is not None else "–"
        lines.append(f"| {r['route']} | {r['size_kb']:.1f} | {r['metric']} {r['test']:.3f}{ci_text} | "
                     f"{r['drop_pp']:.2f}{paired} | {val} | {', '.join(r['kept_float']) or '–'} | {r['float_ops']} | "
                     f"{'yes' if r['fully_integer'] else 'no'} | {p50} |")
    return "\n".join(lines) + "\n"


def _smoke_model(data: Any) -> Any:
    """A small CNN fitted in seconds on ``data``'s train split (the smoke run's model, not a shipped student)."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    tr = data.windows["train"]
    x, y = torch.from_numpy(tr.x), torch.from_numpy(tr.y.astype(np.int64))
    nn = torch.nn
    net = nn.Sequential(nn.BatchNorm2d(x.shape[1]), nn.Conv2d(x.shape[1], 8, 3, stride=2), nn.ReLU(),
                        nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(8, len(data.classes)))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(40):
        batch = torch.randint(0, len(x), (256,))
        loss = nn.functional.cross_entropy(net(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def main(argv: Optional[list[str]] = None) -> int:
    import torch

    import edgekd
    from edgekd.atomic import write_text

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT / "data" / "heart-sample"))
    parser.add_argument("--task", default="audio-classification")
    parser.add_argument("--positive", default="abnormal")
    parser.add_argument("--out", default="runs/nncf-compare")
    parser.add_argument("--max-drop-pp", type=float, default=5.0)
    parser.add_argument("--bench-runs", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = edgekd.prepare(args.data, task=args.task, positive=args.positive)
    rows = compare_quantizers(_smoke_model(data), data, args.out, max_drop_pp=args.max_drop_pp,
                              bench_runs=args.bench_runs)
    text = render(rows, f"ONNX int8 routes, smoke model on {args.data}")
    write_text(Path(args.out) / "nncf_compare.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
