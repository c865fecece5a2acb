"""The heart front-end before and after vectorising the audio steps: same numbers, and how much faster.

The "before" code is ``edgekd/runtime/steps.py`` of a git revision (``--rev``, default ``fbb8656``: the last one
with the blocked steps), loaded as its own module; "after" is the working tree's. Both run the step list of the
shipped heart artifact's sidecar (``benchmarks/results/artifacts/heart/student-tflite-int8.edgekd.json``) with
``run_file`` on real PhysioNet 2016 recordings (``/work/shared/data/heart-physionet2016``, or ``--data``):

- equivalence, on every recording (or ``--limit``): each step's output, max |old - new| and how many recordings
  are bit for bit identical, and the int8 model input of the shipped TFLite file (``edgekd.runtime.artifact.
  _quantize`` of the float32 features, NHWC as the sidecar says): identical on how many recordings; and whether a
  window's features are the same run alone as with the rest of its recording (the new code, first 60 recordings);
- timing, on ``--timed`` recordings spread over the three databases: old and new alternate, ``--repeats`` runs each
  per recording, the median per recording; per window = that / the recording's windows. The new code caches the
  band-pass gain per FFT length: ``new_cold`` is its first run on a recording after clearing that cache.

Writes ``benchmarks/results/frontend_speedup-<env>.json`` (``--env``: main or device); ``--render`` writes
``frontend_speedup.md`` from the JSON files present.

Run:  .venv/bin/python benchmarks/frontend_speedup.py --env main
      .venv-device/bin/python benchmarks/frontend_speedup.py --env device
      .venv/bin/python benchmarks/frontend_speedup.py --render
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.runtime import steps as new  # noqa: E402
from edgekd.runtime.artifact import _quantize, channels_last  # noqa: E402
from edgekd.runtime.latency import host_info  # noqa: E402

DATA = Path("/work/shared/data/heart-physionet2016")
SIDECAR = ROOT / "benchmarks" / "results" / "artifacts" / "heart" / "student-tflite-int8.edgekd.json"
RESULTS = ROOT / "benchmarks" / "results"


def old_steps(rev: str):
    """``edgekd/runtime/steps.py`` of ``rev`` as a module of its own (its own step registry)."""
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:edgekd/runtime/steps.py"], capture_output=True,
                          text=True, check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="edgekd-old-steps-")) / "steps_old.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("steps_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_input(features: np.ndarray, meta: dict) -> np.ndarray:
    x = np.asarray(features, dtype=np.float32)
    if channels_last(meta["input"].get("layout")):
        x = np.moveaxis(x, 1, -1)
    return _quantize(x, meta["input"])


def equivalence(old, files: list[Path], steps: list, meta: dict) -> dict:
    maxdiff: dict[str, float] = {}
    same: dict[str, int] = {}
    n_rec = n_win = int8_same = f32_diff = refused = 0
    batch_checked = batch_same = 0
    for f in files:
        ro: list = []
        rn: list = []
        try:
            xo = old.run_file(steps, f, ro)
        except Exception as exc:  # both must refuse it the same way
            try:
                new.run_file(steps, f, rn)
            except Exception as exc2:
                assert type(exc) is type(exc2) and str(exc) == str(exc2), (f, exc, exc2)
                refused += 1
                continue
            raise AssertionError(f"{f}: the new code accepts what the old refused ({exc})")
        xn = new.run_file(steps, f, rn)
        n_rec += 1
        n_win += len(xn)
        for (name, a), (name2, b) in zip(ro, rn):
            assert name == name2 and a.shape == b.shape and a.dtype == b.dtype, (f, name, a.shape, b.shape)
            d = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
            maxdiff[name] = max(maxdiff.get(name, 0.0), d)
            same[name] = same.get(name, 0) + int(np.array_equal(a, b))
        f32_diff += int(np.count_nonzero(xo != xn))
        qo, qn = model_input(xo, meta), model_input(xn, meta)
        int8_same += int(qo.dtype == qn.dtype and np.array_equal(qo, qn))
        if n_rec <= 60:  # the new code: every window alone gives what it gives among the others
            windows = dict(rn)["unit_rms"]
            together = new.run_steps(steps[5:], windows)
            for i in range(len(windows)):
                batch_checked += 1
                batch_same += int(np.array_equal(new.run_steps(steps[5:], windows[i:i + 1])[0], together[i]))
    return {"recordings": n_rec, "windows": n_win, "refused_by_both": refused,
            "max_abs_diff_per_step": maxdiff, "recordings_bit_identical_per_step": same,
            "model_input_float32_elements_differing": f32_diff,
            "int8_model_input_identical_recordings": int8_same,
            "windows_alone_vs_together": {"checked": batch_checked, "identical": batch_same}}


def _time(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t0) * 1e3


def timing(old, files: list[Path], steps: list, repeats: int) -> dict:
    per: dict[str, list] = {"old": [], "new": [], "new_cold": []}
    windows = []
    for f in files:
        n = len(new.run_file(steps, f))  # also warms the file cache
        windows.append(n)
        new._bandpass_gain.cache_clear()
        per["new_cold"].append(_time(new.run_file, steps, f))
        t_old, t_new = [], []
        for _ in range(repeats):
            t_old.append(_time(old.run_file, steps, f))
            t_new.append(_time(new.run_file, steps, f))
        per["old"].append(float(np.median(t_old)))
        per["new"].append(float(np.median(t_new)))
    w = np.asarray(windows, dtype=np.float64)
    out: dict = {"recordings": len(files), "windows": int(w.sum()), "repeats": repeats,
                 "windows_per_recording": {"median": float(np.median(w)), "min": int(w.min()), "max": int(w.max())}}
    for key, ms in per.items():
        ms = np.asarray(ms)
        out[key] = {
            "per_recording_ms": _spread(ms),
            "per_window_ms": _spread(ms / w),
            "total_ms_per_window": float(ms.sum() / w.sum()),
        }
    out["speedup_per_window_median"] = out["old"]["per_window_ms"]["median"] / out["new"]["per_window_ms"]["median"]
    return out


def _spread(a: np.ndarray) -> dict:
    return {"median": float(np.median(a)), "p10": float(np.percentile(a, 10)), "p90": float(np.percentile(a, 90)),
            "n": int(a.size)}


def spread_over_databases(files: list[Path], n: int) -> list[Path]:
    """``n`` recordings, evenly spaced through each database's sorted list (a, b, e: different stethoscopes and lengths)."""
    by_db: dict[str, list[Path]] = {}
    for f in files:
        by_db.setdefault(f.name[0], []).append(f)
    k = max(1, n // len(by_db))
    return [fs[i] for fs in by_db.values() for i in np.linspace(0, len(fs) - 1, min(k, len(fs))).astype(int)]


def measure(args: argparse.Namespace) -> None:
    meta = json.loads(SIDECAR.read_text())
    steps = meta["frontend"]["steps"]
    files = sorted(Path(args.data).glob("*.wav"))
    if not files:
        raise SystemExit(f"{args.data}: no .wav recordings")
    old = old_steps(args.rev)
    gc.disable()
    eq = equivalence(old, files[:args.limit] if args.limit else files, steps, meta)
    tm = timing(old, spread_over_databases(files, args.timed), steps, args.repeats)
    gc.enable()
    result = {"env": args.env, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "old": f"edgekd/runtime/steps.py at {args.rev}", "new": "edgekd/runtime/steps.py (working tree)",
              "sidecar": str(SIDECAR.relative_to(ROOT)), "data": str(args.data), "host": host_info(),
              "load_average_after": list(os.getloadavg()),
              "equivalence": eq, "timing": tm}
    path = RESULTS / f"frontend_speedup-{args.env}.json"
    write_json(path, result)
    print(json.dumps(result, indent=1))
    print(f"wrote {path}")


def render() -> None:
    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("frontend_speedup-*.json"))]
    if not runs:
        raise SystemExit("no frontend_speedup-*.json: run with --env first")
    h = runs[0]["host"]
    lines = [
        "# Heart front-end: vectorised audio steps, same numbers",
        "",
        f"Old: {runs[0]['old']}; new: the vectorised steps. The shipped heart sidecar's step list "
        f"(`{runs[0]['sidecar']}`), `run_file` on real PhysioNet 2016 recordings (WAV read included). "
        f"Host: {h['cpu']} ({h['machine']}, {h['cores']} cores; /proc/cpuinfo), shared: 1-minute load average after "
        "each run " + ", ".join(f"{r['env']} {r.get('load_average_after', [float('nan')])[0]:.1f}" for r in runs)
        + ". Made by `benchmarks/frontend_speedup.py`.",
        "",
        "## Equivalence (every recording)",
        "",
        "| env | numpy | recordings | windows | max abs diff, any step | recordings bit-identical at every step | "
        "int8 model input identical | a window alone = among the others |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        e = r["equivalence"]
        worst = max(e["max_abs_diff_per_step"].values())
        all_same = min(e["recordings_bit_identical_per_step"].values())
        b = e["windows_alone_vs_together"]
        lines.append(f"| {r['env']} | {r['host']['numpy']} | {e['recordings']} | {e['windows']} | {worst:.3g} | "
                     f"{all_same} / {e['recordings']} | {e['int8_model_input_identical_recordings']} / "
                     f"{e['recordings']} | {b['identical']} / {b['checked']} windows |")
    lines += ["", "## Time (median over recordings of the median of the repeats; p10-p90 across recordings)", "",
              "| env | code | per window (ms) | per recording (ms) | all time / all windows (ms) |",
              "|---|---|---|---|---|"]
    for r in runs:
        t = r["timing"]
        for key, label in (("old", "old (blocked)"), ("new", "new"),
                           ("new_cold", "new, first run (band-pass gain not cached)")):
            w, rec = t[key]["per_window_ms"], t[key]["per_recording_ms"]
            lines.append(f"| {r['env']} | {label} | {w['median']:.3f} ({w['p10']:.3f}-{w['p90']:.3f}) | "
                         f"{rec['median']:.2f} ({rec['p10']:.2f}-{rec['p90']:.2f}) | "
                         f"{t[key]['total_ms_per_window']:.3f} |")
    t0 = runs[0]["timing"]
    lines += ["", f"{t0['recordings']} recordings spread over the three databases, {t0['windows']} windows "
              f"(median {t0['windows_per_recording']['median']:g} per recording), {t0['repeats']} runs of each "
              "code per recording, old and new alternating. Speed-up per window (median): " +
              ", ".join(f"{r['env']} {r['timing']['speedup_per_window_median']:.2f}x" for r in runs) + ".", ""]
    write_text(RESULTS / "frontend_speedup.md", "\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="main", help="a name for this environment (main, device)")
    p.add_argument("--rev", default="fbb8656", help="the git revision whose steps.py is the old code")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--limit", type=int, default=0, help="equivalence on the first N recordings only (0: all)")
    p.add_argument("--timed", type=int, default=240, help="recordings timed")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--render", action="store_true")
    args = p.parse_args()
    render() if args.render else measure(args)


if __name__ == "__main__":
    main()
