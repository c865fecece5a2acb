"""Is the calibrated latency estimate right on networks it never saw? A zoo of real architectures, measured
against the estimate, on this machine through the local runner and through the loopback ssh runner.

1. **Calibrate** each runner's target with ``edgekd.calibration.calibrate`` (the standard micro-benchmark suite:
   one-kernel models only, no zoo network): ``x86_64`` (local runner, ai-edge-litert + onnxruntime of the main
   env) and ``loopback`` (ssh to 127.0.0.1, the device venv: tflite-runtime 2.14 + onnxruntime).
2. **Measure** every zoo file (``benchmarks/zoo_build.py``: >= 30 networks x TFLite/ONNX x fp32/int8) with the
   same runner ``edgekd bench`` uses: ``--passes`` interleaved passes of ``--runs`` timed invokes, the median of
   the passes' p50s.
3. **Estimate** every file with the ``estimate`` runner and that calibration, and with the profile's old roofline
   coefficients for comparison.

The fit never sees a zoo network (leave-models-out by construction: the suite is the only training data), so
every zoo row is held out. Writes ``benchmarks/results/latency_zoo.{json,md}``: per file estimate, measured,
error; per runner x format x precision: n, mean absolute % error, share within ±15 %.

Run:  .venv/bin/python benchmarks/zoo_build.py && .venv/bin/python benchmarks/latency_zoo.py
      (``--runners local`` or ``ssh`` for one; ``--work`` keeps calibrations and measurements, so a rerun resumes)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import edgekd  # noqa: E402,F401
from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.calibration import calibrate, error_stats  # noqa: E402
from edgekd.runners.estimate import estimate_ms, run_estimate  # noqa: E402
from edgekd.runners.graphcost import graph_costs  # noqa: E402
from edgekd.runners.options import BenchOptions  # noqa: E402
from edgekd.runners.registry import RUNNERS  # noqa: E402
from edgekd.runtime.latency import host_info  # noqa: E402
from edgekd.targets import load_target  # noqa: E402
from edgekd.versions import versions  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def zoo_files(zoo: Path, label: str = "zoo") -> list[dict]:
    """Every exported file of a zoo folder (``zoo.json``); ``path`` is ``LABEL/relative path`` (unique across sets),
    ``file`` the file itself."""
    manifest = json.loads((zoo / "zoo.json").read_text())
    out = []
    for m in manifest["models"]:
        for f in m["files"]:
            if "error" not in f and (zoo / f["path"]).is_file():
                out.append({"set": label, "model": m["name"], "family": m["family"], "macs": m.get("macs"),
                            "format": f["format"], "precision": f["precision"], "path": f"{label}/{f['path']}",
                            "file": str(zoo / f["path"]), "size_bytes": f.get("size_bytes")})
    return out


def measure(files: list[dict], profile, store: Path, passes: int, runs: int) -> dict:
    """file → {"p50_ms" (median of passes), "passes": [...], "runtime"}; saved after every pass (resumable)."""
    done = json.loads(store.read_text()) if store.is_file() else {}
    run = RUNNERS.get(profile.runner.kind)
    opts = BenchOptions(runs=runs, warmup=max(5, runs // 10), threads=profile.threads, max_seconds=20.0)
    rng = random.Random(0)
    where = {f["path"]: Path(f["file"]) for f in files}
    for k in range(passes):
        order = [f["path"] for f in files if len(done.get(f["path"], {}).get("passes", [])) <= k]
        rng.shuffle(order)
        for i, rel in enumerate(order, 1):
            r = run(where[rel], profile, opts)
            entry = done.setdefault(rel, {"passes": []})
            entry["passes"].append(round(float(r["p50_ms"]), 6))
            entry.update(runtime=f"{r.get('runtime')} {r.get('runtime_version')}")
            if i % 40 == 0:
                print(f"  {profile.name} pass {k + 1}/{passes}: {i}/{len(order)}", flush=True)
                write_json(store, done)
        write_json(store, done)
    for entry in done.values():
        entry["p50_ms"] = float(np.median(entry["passes"]))
        entry["pass_spread"] = float((max(entry["passes"]) - min(entry["passes"])) / entry["p50_ms"])
    return done


def estimate_all(files: list[dict], profile, calibration: Path, roofline) -> dict:
    out = {}
    for f in files:
        r = run_estimate(Path(f["file"]), profile, BenchOptions(threads=profile.threads, calibration=str(calibration)))
        row = {"calibrated_ms": r["p50_ms"], "borrowed": r["estimate"].get("borrowed", []),
               "flagged": r.get("calibration_mismatch", [])}
        if roofline is not None:
            row["roofline_ms"] = estimate_ms(graph_costs(Path(f["file"])), roofline, profile.threads)["latency_ms"]
        out[f["path"]] = row
    return out


def summarize(rows: list[dict], key: str) -> dict:
    """Per format/precision (and ``all``), per zoo set when there are several."""
    cells: dict[str, dict] = {}
    sets = sorted({r["set"] for r in rows})
    if len(sets) > 1:
        for name in sets:
            for cell, stats in summarize([r for r in rows if r["set"] == name], key).items():
                cells[f"{name}: {cell}"] = stats
        return cells
    for fmt in ("tflite", "onnx"):
        for precision in ("int8", "fp32"):
            sub = [r for r in rows if r["format"] == fmt and r["precision"] == precision and r.get(key) is not None]
            cells[f"{fmt}/{precision}"] = error_stats([r[key] for r in sub], [r["measured_ms"] for r in sub])
    cells["all"] = error_stats([r[key] for r in rows if r.get(key) is not None],
                               [r["measured_ms"] for r in rows if r.get(key) is not None])
    for cell, stats in cells.items():  # the measurement's own noise: how far apart its passes were
        fmt, _, precision = cell.partition("/")
        sub = [r for r in rows if cell == "all" or (r["format"] == fmt and r["precision"] == precision)]
        stats["pass_spread_median_pct"] = round(100 * float(np.median([r["pass_spread"] for r in sub])), 1) if sub else 0.0
    return cells


def run_one(kind: str, files: list[dict], work: Path, args, stack: contextlib.ExitStack) -> dict:
    if kind == "local":
        profile = load_target("x86_64")
    else:
        from loopback import loopback_profile

        profile = load_target(str(stack.enter_context(loopback_profile(Path(tempfile.mkdtemp(prefix="zoo-ssh-"))))))
    cal = work / f"{profile.name}.calibration.json"
    if not cal.is_file():
        print(f"{kind}: calibrating {profile.name} ({args.suite} suite)", flush=True)
        calibrate(profile, suite=args.suite, rounds=args.rounds, out=cal, log=lambda s: print(s, flush=True))
    cal_data = json.loads(cal.read_text())
    print(f"{kind}: measuring {len(files)} zoo files", flush=True)
    measured = measure(files, profile, work / f"measured-{kind}.json", args.passes, args.runs)
    estimated = estimate_all(files, profile, cal, load_target("x86_64").estimate)
    rows = []
    for f in files:
        m, e = measured[f["path"]], estimated[f["path"]]
        rows.append({**{k: v for k, v in f.items() if k != "file"}, "measured_ms": m["p50_ms"], "pass_spread": round(m["pass_spread"], 4),
                     "runtime": m["runtime"], **e,
                     "error_pct": round(100 * (e["calibrated_ms"] / m["p50_ms"] - 1), 1),
                     "roofline_error_pct": round(100 * (e["roofline_ms"] / m["p50_ms"] - 1), 1)
                     if "roofline_ms" in e else None})
    return {"runner": kind, "target": profile.name, "calibration": {
        "file": str(cal.relative_to(ROOT)) if cal.is_relative_to(ROOT) else str(cal),
        "taken": cal_data["taken"], "identity": cal_data["identity"], "suite": {
            k: cal_data["suite"][k] for k in ("name", "hash", "cases", "files", "rounds")},
        "suite_error": cal_data["error"]},
        "summary": summarize(rows, "calibrated_ms"), "roofline_summary": summarize(rows, "roofline_ms"),
        "rows": rows}


#: what the per-file rows show (read from them and from ONNX Runtime's per-node profiles; kept with the table)
KNOWN = [
    "What the model knows now, and what the misses are (2026-12-06, Intel Xeon with AMX):",
    "",
    "- **ONNX Runtime's per-layer layout is read, not guessed**: every ONNX file is run through this machine's "
    "onnxruntime optimizer as the device runs it (`edgekd/runners/ortlayout.py`), so blocked NCHWc convolutions, "
    "plain ones (a pruned depthwise layer of 30 channels) and the reorders between them are costed apart. This "
    "took the pruned MobileNetV2 fp32 files from -54/-57 % to about -20 %, RegNetX fp32 from -46 % to -20 %.",
    "- **Grouped convolutions** (RegNetX) have their own group and 16 suite cases (-46 to -65 % before); "
    "**global average pools** written as AveragePool (MobileNetV3's squeeze-excite) are costed as global means "
    "(a 28x28 pool had been predicted 20x too slow); **hard activations** are apart from sigmoid/SiLU (which "
    "the suite now times too); **few-channel layers on large maps** (28 suite cases) and the output-channel "
    "tail of a kernel (`orem16`) have features.",
    "- **Tiny graphs** (under ~0.1 ms: the MLPs, the keyword-spotting CNNs, conv1d): the per-invoke and per-op "
    "costs of each runtime path dominate and the fit's fixed costs are averages: +20 to +110 %.",
    "- **ONNX Runtime int8 on pruned odd-channel networks**: its NHWC QLinearConv path runs odd channel counts "
    "2-3x slower per MAC than the suite's cases teach (-17 to -31 % on the pruned plant students and MobileNetV2).",
    "- **The calibration itself moves**: a calibration of nearly the same suite an hour earlier gave a zoo-wide "
    "local MAE of 8.6 % (within ±15 %: 84 %); one taken while the other core trained a model predicted almost "
    "every network 15-20 % too slow. Calibrate on a quiet device.",
    "- **Measurement**: the last column is each cell's median pass-to-pass spread of the measured p50.",
]


def render(report: dict) -> str:
    lines = [
        "# Calibrated latency estimates on networks the fit never saw",
        "",
        f"`{report['command']}` — {report['date']}, {report['host']['cpu']} "
        f"({', '.join(report['host']['isa'])}), {report['host']['usable_cores']} usable cores, 1 thread.",
        "",
        f"Zoo: {report['zoo']['models']} networks ({', '.join(report['zoo']['families'])}), {report['zoo']['files']} "
        f"files (TFLite and ONNX, fp32 and int8), {report['zoo']['macs_min'] / 1e6:.1f}-"
        f"{report['zoo']['macs_max'] / 1e6:.0f} M MACs, random weights; built by `benchmarks/zoo_build.py`.",
        "Each runner's target was calibrated on the standard suite only (one-kernel models and small random networks "
        "of the same layers; `edgekd/calibration/suite.py`), so every zoo network is held out of the fit "
        "(leave-models-out by construction). Measured: the runner's p50 "
        f"({report['runs']} invokes), median of {report['passes']} interleaved passes. Estimate: the `estimate` runner "
        "with that calibration. Error = estimate / measured - 1.",
        "",
        "Two sets. **zoo**: the 46 networks of `zoo_models.zoo()`; they were measured while the model's form was "
        "developed (which kernel groups, features and suite cases it needs), so they are held out of every fit but "
        "not of the design. **fresh**: 12 networks of other families (`zoo_models.fresh()`: ShuffleNetV2, MnasNet, "
        "GhostNet, SqueezeNet, DenseNet, U-Net encoder, RegNetX, MobileNetV1, EfficientNet-B0 with SiLU, audio and "
        "raw-waveform CNNs), defined after the design was frozen at stop 33. Disclosure: this stop's grouped-convolution "
        "and SiLU suite cases were prompted by its RegNetX and EfficientNet-B0 misses, so it is no longer untouched "
        "by the design either; no network of either set is ever in a fit.",
        "",
    ]
    bar = [(r["runner"], cell, s) for r in report["runners"] for cell, s in r["summary"].items()
           if not cell.endswith("all")]
    met = [f"{runner} {cell}" for runner, cell, s in bar if s["within_15_pct"] >= 90 and s["mae_pct"] <= 10]
    lines += [f"**Against issue 28's bar** (every runtime x precision cell: >= 90 % of networks within ±15 % and mean "
              f"absolute error <= 10 %): {len(met)} of {len(bar)} cells meet it"
              + (f" ({', '.join(met)})" if met else "") + ".", ""]
    lines += [*KNOWN, ""]
    for r in report["runners"]:
        c = r["calibration"]
        ident = c["identity"]
        lines += [f"## {r['runner']} runner (target `{r['target']}`)", "",
                  f"Calibration `{c['file']}` taken {c['taken']} on {ident['cpu']}, runtimes "
                  + ", ".join(f"{k}: {v['runtime']} {v['version']}" for k, v in ident["runtimes"].items())
                  + f"; suite {c['suite']['name']} ({c['suite']['cases']} cases, {c['suite']['files']} files); a copy is "
                  f"`benchmarks/results/calibrations/{Path(c['file']).name}`.", "",
                  "| format / precision | n | MAE % | within ±15 % | worst % | roofline MAE % | roofline within ±15 % "
                  "| pass-to-pass spread, median % |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for cell, s in r["summary"].items():
            o = r["roofline_summary"][cell]
            lines.append(f"| {cell} | {s['n']} | {s['mae_pct']:.1f} | {s['within_15_pct']:.0f} % | {s['worst_pct']:+.0f} "
                         f"| {o['mae_pct']:.1f} | {o['within_15_pct']:.0f} % | {s.get('pass_spread_median_pct', 0):.1f} |")
        lines += ["", "<details><summary>every file</summary>", "",
                  "| model | family | M MACs | file | measured ms | (pass spread) | estimate ms | error % |",
                  "|---|---|---:|---|---:|---:|---:|---:|"]
        for row in sorted(r["rows"], key=lambda x: (x["set"], x["model"], x["format"], x["precision"])):
            lines.append(f"| {row['model']}{' (fresh)' if row['set'] == 'fresh' else ''} | {row['family']} | {(row['macs'] or 0) / 1e6:.1f} | "
                         f"{row['format']}/{row['precision']} | {row['measured_ms']:.4f} | {row['pass_spread']:.2f} | "
                         f"{row['calibrated_ms']:.4f} | {row['error_pct']:+.1f} |")
        lines += ["", "</details>", ""]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", nargs="+", default=[str(ROOT / "runs" / "latency-zoo"), str(ROOT / "runs" / "latency-zoo-fresh")],
                   help="zoo folders (benchmarks/zoo_build.py; --set fresh builds the second)")
    p.add_argument("--work", default=str(ROOT / "runs" / "latency-zoo-check"))
    p.add_argument("--runners", nargs="+", default=["local", "ssh"], choices=["local", "ssh"])
    p.add_argument("--suite", default="standard")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--render", metavar="JSON", help="only write the Markdown again from a results JSON")
    args = p.parse_args()
    if args.render:
        report = json.loads(Path(args.render).read_text())
        write_text(Path(args.render).with_suffix(".md"), render(report))
        return 0
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    files, macs = [], []
    for folder in map(Path, args.zoo):
        if not (folder / "zoo.json").is_file():
            print(f"{folder}: no zoo.json, skipped", flush=True)
            continue
        label = "fresh" if folder.name.endswith("fresh") else "zoo"
        files += zoo_files(folder, label)
        macs += [m["macs"] for m in json.loads((folder / "zoo.json").read_text())["models"] if m.get("macs")]
    report = {
        "command": "benchmarks/latency_zoo.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "host": host_info(), "load_average": os.getloadavg(), "versions": versions(),
        "passes": args.passes, "runs": args.runs,
        "zoo": {"models": len({(f["set"], f["model"]) for f in files}), "files": len(files),
                "sets": {name: len({f["model"] for f in files if f["set"] == name}) for name in sorted({f["set"] for f in files})},
                "families": sorted({f["family"] for f in files}), "macs_min": min(macs), "macs_max": max(macs)},
        "runners": [],
    }
    with contextlib.ExitStack() as stack:
        for kind in args.runners:
            report["runners"].append(run_one(kind, files, work, args, stack))
    name = "latency_zoo" if len(args.runners) == 2 else f"latency_zoo-{args.runners[0]}"
    for r in report["runners"]:  # the calibrations the table was made with, beside it
        src = ROOT / r["calibration"]["file"] if not Path(r["calibration"]["file"]).is_absolute() else Path(r["calibration"]["file"])
        write_text(RESULTS / "calibrations" / src.name, src.read_text())
    write_json(RESULTS / f"{name}.json", report)
    write_text(RESULTS / f"{name}.md", render(report))
    for r in report["runners"]:
        for cell, s in r["summary"].items():
            print(f"{r['runner']:6s} {cell:20s} n={s['n']:3d} MAE {s['mae_pct']:5.1f} %  within ±15 % "
                  f"{s['within_15_pct']:5.1f} %  worst {s['worst_pct']:+.0f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
