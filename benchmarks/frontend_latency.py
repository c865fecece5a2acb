"""Front-end beside the model: the shipped heart and plant int8 files, per window and per item, on this host.

For each task the sidecar's step list (file read included) is timed on real items with
``edgekd.runtime.latency.measure_frontend`` (heart: PhysioNet 2016 recordings spread over the three
databases; plant: MangoLeafBD photos spread over the classes), and each shipped int8 file (TFLite and ONNX,
``benchmarks/results/artifacts/<task>/``) with ``measure_latency`` (one thread, input already in the file's
dtype and layout); ``end_to_end`` adds them up per item. For the heart front-end it also times each step on its
own and the numpy kernels the spectrogram is made of (a 256-point real FFT, the Hann taper, the power, the mel
product), to say what bounds a window's cost against the model's MACs.

Writes ``benchmarks/results/frontend_latency-<env>.json``; ``--render`` writes ``frontend_latency.md`` and
``frontend_latency.json`` (every environment's figures) from them.

Run:  .venv/bin/python benchmarks/frontend_latency.py --env main
      .venv-device/bin/python benchmarks/frontend_latency.py --env device
      .venv/bin/python benchmarks/frontend_latency.py --render
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.runners.frontend import sidecar_steps, spread  # noqa: E402
from edgekd.runtime.artifact import load_artifact  # noqa: E402
from edgekd.runtime.latency import (end_to_end, host_info, measure_frontend, measure_latency,  # noqa: E402
                                    windows_per_invoke)
from edgekd.runtime.sidecar import read_sidecar  # noqa: E402

SHARED = Path("/work/shared/data")
ARTIFACTS = ROOT / "benchmarks" / "results" / "artifacts"
RESULTS = ROOT / "benchmarks" / "results"
TASKS = {
    "heart": {"files": ("student-tflite-int8.tflite", "student-onnx-int8.onnx"), "data": SHARED / "heart-physionet2016"},
    "plant": {"files": ("student-tflite-int8-qat.tflite", "student-onnx-int8-qat.onnx"),
              "data": SHARED / "plant-mangoleafbd"},
}


def items_of(task: str, extensions: tuple, n: int) -> list[Path]:
    """``n`` real items spread through each database (heart) or class (plant)."""
    data = TASKS[task]["data"]
    files = sorted(p for p in data.rglob("*") if p.suffix.lower() in extensions)
    groups: dict[str, list[Path]] = {}
    for f in files:
        groups.setdefault(f.name[0] if task == "heart" else f.parent.name, []).append(f)
    return [p for g in groups.values() for p in spread(g, max(1, n // len(groups)))]


def _median_ms(fn, *args, repeats: int = 200) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def step_breakdown(steps: list, items: list[Path], repeats: int = 5) -> dict:
    """Each step alone, ms per window: the median of ``repeats`` runs per item, summed over items / windows."""
    from edgekd.runtime.steps import STEPS

    total: dict[str, float] = {}
    windows = 0
    for item in items:
        x = item
        for spec in steps:
            params = {k: v for k, v in spec.items() if k != "step"}
            fn = STEPS[spec["step"]]
            total[spec["step"]] = total.get(spec["step"], 0.0) + _median_ms(lambda: fn(x, **params), repeats=repeats)
            x = fn(x, **params)
        windows += len(x)
    return {name: ms / windows for name, ms in total.items()}


def kernels(steps: list) -> dict:
    """The spectrogram's numpy kernels for one heart window, timed alone, with their operation counts."""
    by = {s["step"]: s for s in steps}
    n_fft, hop = by["power_spectrogram"]["n_fft"], by["power_spectrogram"]["hop_length"]
    samples = by["frame"]["window_samples"]
    frames = 1 + (samples - n_fft) // hop
    from edgekd.runtime.steps import _mel_weights, periodic_hann

    m = by["mel"]
    first, last, weights = _mel_weights(m["sample_rate"], n_fft, m["n_mels"], float(m["fmin"]), float(m["fmax"]))
    w = np.random.default_rng(0).standard_normal(samples)
    view = np.lib.stride_tricks.sliding_window_view(w, n_fft)[::hop]
    tapered = view * periodic_hann(n_fft)
    spec = np.fft.rfft(tapered, axis=-1)
    power = spec.real ** 2 + spec.imag ** 2
    fft_ms = _median_ms(lambda: np.fft.rfft(tapered, axis=-1))
    fft_flops = frames * 2.5 * n_fft * np.log2(n_fft)  # the usual real-FFT count: (5 N log2 N) / 2
    mel_macs = frames * (last - first) * m["n_mels"]
    return {
        "frames_per_window": frames, "n_fft": n_fft,
        "rfft_ms_per_window": fft_ms, "rfft_us_each": fft_ms * 1e3 / frames,
        "rfft_flops_per_window": fft_flops, "rfft_gflops": fft_flops / (fft_ms * 1e6),
        "hann_ms_per_window": _median_ms(np.multiply, view, periodic_hann(n_fft), tapered),
        "power_ms_per_window": _median_ms(lambda: spec.real ** 2 + spec.imag ** 2),
        "mel_ms_per_window": _median_ms(np.matmul, power[:, first:last], weights),
        "mel_macs_per_window": mel_macs,
        "mel_bins": last - first,
    }


def measure(args: argparse.Namespace) -> None:
    out = {"env": args.env, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "host": host_info(), "load_average_before": list(os.getloadavg()), "tasks": {}}
    for task, spec in TASKS.items():
        first = ARTIFACTS / task / spec["files"][0]
        steps, why, extensions = sidecar_steps(first)
        assert steps is not None, why
        items = items_of(task, extensions, args.items)
        fe = measure_frontend(steps, items, runs=args.runs, warmup=2, max_seconds=300)
        row: dict = {"items": [str(p.relative_to(spec["data"])) for p in items], "frontend": fe, "models": {}}
        for name in spec["files"]:
            path = ARTIFACTS / task / name
            art = load_artifact(path, threads=1)
            model = measure_latency(art, runs=args.model_runs, warmup=50, max_seconds=120)
            per_invoke = windows_per_invoke(art.input)
            row["models"][name] = {
                "runtime": f"{art.runtime} {art.runtime_version}", "macs": read_sidecar(path)["model"].get("macs"),
                **{k: model[k] for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "cv", "runs", "threads")},
                "windows_per_invoke": per_invoke,
                "frontend_per_window_over_model": fe["p50_ms"] / (model["p50_ms"] / per_invoke),
                "end_to_end": end_to_end(model, fe, per_invoke),
            }
        if task == "heart":
            row["steps_ms_per_window"] = step_breakdown(steps, items[:args.breakdown])
            row["kernels"] = kernels(steps)
        out["tasks"][task] = row
        print(f"{task}: front-end {fe['p50_ms']:.3f} ms/window, {fe['per_item']['p50_ms']:.2f} ms/item; models "
              + ", ".join(f"{n} {m['p50_ms']:.4f}" for n, m in row["models"].items()))
    out["load_average_after"] = list(os.getloadavg())
    write_json(RESULTS / f"frontend_latency-{args.env}.json", out)


def render() -> None:
    runs = {p.stem.split("-", 1)[1]: json.loads(p.read_text()) for p in sorted(RESULTS.glob("frontend_latency-*.json"))}
    if not runs:
        raise SystemExit("no frontend_latency-<env>.json: run with --env first")
    write_json(RESULTS / "frontend_latency.json", {"schema": "edgekd.frontend_latency/1", "runs": runs})
    write_text(RESULTS / "frontend_latency.md", "\n".join(markdown(runs)) + "\n")
    print((RESULTS / "frontend_latency.md").read_text())


def _spread(d: dict) -> str:
    return f"{d['p50_ms']:.3f} ({d['p90_ms']:.3f})"


def markdown(runs: dict) -> list[str]:
    h = next(iter(runs.values()))["host"]
    lines = ["# Front-end beside the model: shipped heart and plant int8 files", "",
             f"Host: {h['cpu']} ({h['machine']}, {h['cores']} cores; from /proc/cpuinfo). Made by "
             "`benchmarks/frontend_latency.py`. The front-end is the sidecar's step list run by "
             "`edgekd.runtime.steps.run_file`, file read included, on real items (`measure_frontend`: every item "
             "once untimed, then the items in turn); the model is one invoke with the input already in the file's "
             "dtype and layout, 1 thread (`measure_latency`, 50 warm-up runs). Figures: p50 (p90) in ms. "
             "End-to-end per item = front-end per item + model x invokes per item, a sum of separately measured "
             "parts (p50 with the median item's windows, p90 with the 90th percentile's). This 2-core machine is "
             "shared: the 1-minute load average before/after each run was "
             + "; ".join(f"{env} {r['load_average_before'][0]:.1f}/{r['load_average_after'][0]:.1f}"
                         for env, r in runs.items()) + " (above 1, other jobs competed for the cores).", ""]
    lines += ["| env | numpy | task | file | runtime | front-end per window | model per invoke (= window) | "
              "front-end / model per window | front-end per item | windows per item p50 (p90) | end-to-end per item |"
              " n (front-end runs / items, model runs) |", "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for env, r in runs.items():
        for task, row in r["tasks"].items():
            fe, w = row["frontend"], row["frontend"]["windows_per_item"]
            for name, m in row["models"].items():
                e2e = m["end_to_end"]
                lines.append(
                    f"| {env} | {r['host']['numpy']} | {task} | `{name}` | {m['runtime']} | {_spread(fe)} | "
                    f"{m['p50_ms']:.4f} ({m['p90_ms']:.4f}) | {m['frontend_per_window_over_model']:.1f}x | "
                    f"{_spread(fe['per_item'])} | {w['p50']:g} ({w['p90']:g}) | "
                    f"{e2e['p50_ms']:.3f} ({e2e['p90_ms']:.3f}) | {fe['runs']} / {fe['items']}, {m['runs']} |")
    lines += verdict(runs)
    return lines


def verdict(runs: dict) -> list[str]:
    """Is the heart front-end per window no slower than the int8 model on x86_64? If not, what bounds it."""
    r = runs.get("main") or next(iter(runs.values()))
    heart = r["tasks"]["heart"]
    fe, k, st = heart["frontend"], heart["kernels"], heart["steps_ms_per_window"]
    models = heart["models"]
    slowest = max(m["p50_ms"] for m in models.values())
    macs = next(iter(models.values()))["macs"]
    spectro = k["rfft_ms_per_window"] + k["hann_ms_per_window"] + k["power_ms_per_window"]
    no_slower = fe["p50_ms"] <= min(m["p50_ms"] for m in models.values())
    lines = ["", "## Heart on x86_64: is the front-end per window no slower than the int8 model?", ""]
    lines.append(("Yes" if no_slower else "No") + f": the front-end takes {fe['p50_ms']:.3f} ms per window (p50, "
                 f"{r['env']} environment), the int8 model "
                 + " and ".join(f"{m['p50_ms']:.4f} ms ({m['runtime']})" for m in models.values())
                 + f" per window: {fe['p50_ms'] / slowest:.1f}x to {max(m['frontend_per_window_over_model'] for m in models.values()):.1f}x the model.")
    lines += ["", "Per step, ms per window (each step alone, median of 5 runs per item, summed over the first items "
              "and divided by their windows: long recordings weigh more here than in the p50 per window above, "
              "which is the median over runs of time / windows, where a short recording's per-recording cost is "
              "spread over few windows):", "",
              "| " + " | ".join(st) + " | sum |", "|" + "---:|" * (len(st) + 1),
              "| " + " | ".join(f"{v:.4f}" for v in st.values()) + f" | {sum(st.values()):.4f} |", ""]
    lines.append(
        f"What bounds it: a window is {k['frames_per_window']} frames, so {k['frames_per_window']} real FFTs of "
        f"{k['n_fft']} points (about {k['rfft_flops_per_window'] / 1e6:.2f} MFLOP at 2.5 N log2 N each) plus the mel "
        f"product over the {k['mel_bins']} weighted bins ({k['mel_macs_per_window'] / 1e6:.2f} M MACs), all in float64 "
        f"as the spec says. numpy's FFT does one 256-point real FFT in {k['rfft_us_each']:.2f} us here "
        f"({k['rfft_gflops']:.1f} GFLOP/s): {k['rfft_ms_per_window']:.4f} ms per window for the FFTs alone, "
        f"{spectro:.4f} ms with the Hann taper ({k['hann_ms_per_window']:.4f}) and the power "
        f"({k['power_ms_per_window']:.4f}); the mel product takes {k['mel_ms_per_window']:.4f} ms. That floor is "
        f"already {spectro / slowest:.1f}x the slowest model's invoke. The model does more arithmetic "
        f"({macs / 1e6:.1f} M MACs per window) but in int8 SIMD kernels (XNNPACK / MLAS, one call for the whole "
        f"graph): about {macs / (slowest * 1e6):.0f} G MACs/s against the front-end's "
        f"{(k['rfft_flops_per_window'] + 2 * k['mel_macs_per_window']) / (fe['p50_ms'] * 1e6):.1f} GFLOP/s of "
        "float64 numpy, which pays a pass through memory and a dispatch per numpy call. The rest of the window's "
        "cost is per recording (the WAV read, the band-pass's two FFTs over the whole padded recording) shared by "
        "its windows. A front-end as fast as the model would need the spectrogram in float32 or fixed point in one "
        "fused native kernel, and the published spec fixes float64.")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="main", help="a name for this environment (main, device)")
    p.add_argument("--items", type=int, default=60, help="real items per task")
    p.add_argument("--runs", type=int, default=600, help="timed front-end runs per task")
    p.add_argument("--model-runs", type=int, default=2000)
    p.add_argument("--breakdown", type=int, default=24, help="heart items of the per-step breakdown")
    p.add_argument("--render", action="store_true")
    args = p.parse_args()
    render() if args.render else measure(args)


if __name__ == "__main__":
    main()
