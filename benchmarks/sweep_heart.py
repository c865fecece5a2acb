"""Benchmark: `edgekd sweep` on the full heart dev set for the rpi4 profile's budgets, at least 30 trials.

The base is the hand-made recipe of ``heart_deploy.py`` (``recipes/heart.yaml`` on all 1,084 dev recordings,
60/20/20 record-wise split, seed 0, the shipped teacher, balanced sampling, within-database selection) on a
shorter schedule (12 epochs of 2,048 windows, so 30 trials fit in about an hour on one core); its own values
are trial 0. The space (``benchmarks/sweep_heart_space.yaml``) varies the student's widths and kernel, the KD
temperature and weight, the learning rate, pruning, and PTQ against QAT. Every objective is measured on the
exported int8 TFLite file on the 217 validation recordings (within-database mean MAcc), its size in bytes, and
its latency p90 estimated for the Pi 4 (no Pi here); the budgets are rpi4's (512 KB, 20 ms, int8 drop ≤ 2
points against the fp32 twin). Only the front is run on the test split.

The hand-made student (40 epochs, ``benchmarks/results/artifacts/heart/student-tflite-int8.tflite``) is
measured the same way, as the reference the front must beat on one objective without losing on the others.

Writes ``benchmarks/results/sweep_heart.{json,md}`` and ``sweep_heart-metric-vs-{size_kb,latency_p90_ms}.png``.
Resumable: the study is the journal file in ``--out``; a killed run continues where it stopped.

Run:  .venv/bin/python benchmarks/sweep_heart.py [--trials 30]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from heart_data import SHARED  # noqa: E402
from shipped import write_md  # noqa: E402

from edgekd.atomic import write_json  # noqa: E402

RECIPE = ROOT / "recipes" / "heart.yaml"
SPACE = ROOT / "benchmarks" / "sweep_heart_space.yaml"
REFERENCE = ROOT / "benchmarks" / "results" / "artifacts" / "heart" / "student-tflite-int8.tflite"
# the study of benchmarks/results/sweep_heart.md searched around the 2-D student (heart_student 8/16/40), the
# recipe's student when it ran; pinned so the command reproduces it
BASE = ["student.model=heart_student", "student.params={widths: [8, 16, 40], kernel: 5}",
        "data.split={train: 0.6, val: 0.2, test: 0.2, seed: 0}", "student.train.epochs=12",
        "student.train.patience=12", "student.train.balance=group_label", "student.train.select=group_mean",
        "student.train.epoch_windows=2048", "student.train.threads=1", "export.precisions=[int8]",
        "export.qat.epochs=3", "bench.runs=50", "bench.warmup=5"]


def reference_row(worker_data, select: str, target: str) -> dict:
    """The hand-made student's shipped int8 file, measured as a trial is: validation metric, size, latency."""
    import edgekd
    from edgekd.sweep.trial import objective_score

    m = edgekd.evaluate(REFERENCE, worker_data.val).to_dict()
    b = edgekd.bench(REFERENCE, target, runner="estimate").to_dict()
    return {"file": str(REFERENCE.relative_to(ROOT)), "metric": objective_score(m, select), "n": m["n"],
            "size_kb": REFERENCE.stat().st_size / 1024, "latency_p90_ms": b["p90_ms"], "estimated": True,
            "test": None}


def compare(front: list[dict], ref: dict, objectives: list[str]) -> list[dict]:
    """Front trials that beat the reference on one objective without losing on any."""
    out = []
    for r in front:
        f = r["figures"]
        better = {o: (f[o] > ref[o]) if o == "metric" else (f[o] < ref[o]) for o in objectives}
        worse = {o: (f[o] < ref[o]) if o == "metric" else (f[o] > ref[o]) for o in objectives}
        if any(better.values()) and not any(worse.values()):
            out.append({"trial": r["number"], "better_on": [o for o, v in better.items() if v]})
    return out


def render(s: dict, ref: dict, wins: list[dict]) -> str:
    lines = [
        "# `edgekd sweep` on the full heart dev set, rpi4 budgets",
        "",
        f"Command: `.venv/bin/python benchmarks/sweep_heart.py --trials {s['meta']['trials']}`  ",
        f"Study `{s['study']}`, sampler {s['space']['sampler']['name']} (population "
        f"{s['space']['sampler']['population_size']}), stopping rule {s['space']['stop']['name']}; trials "
        + ", ".join(f"{k.lower()} {v}" for k, v in s["counts"].items()) + ".  ",
        f"Data hash `{s['trials'][0]['figures']['data_hash'][:16]}`; every objective measured on the exported int8 "
        "TFLite file on the validation split (within-database mean MAcc, n recordings), latency p90 estimated for "
        f"the Pi 4 ({s['target']['runner']} runner); budgets {s['target']['budgets']}. Only the front was run on test.",
        "",
        "![metric vs size](sweep_heart-metric-vs-size_kb.png) ![metric vs latency](sweep_heart-metric-vs-latency_p90_ms.png)",
        "",
        "## The front (feasible, non-dominated)",
        "",
        "| trial | widths | kernel | T | alpha | lr | pruned | precision | val metric (n) | KB | p90 ms (est.) | "
        "test: group-mean MAcc (n); pooled MAcc [95 % CI] |",
        "|---:|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in s["trials"]:
        if not r["pareto"]:
            continue
        v, f, t = r["parameters"], r["figures"], r.get("test") or {}
        ci = (t.get("ci95") or {}).get("macc")
        test = (f"{t['metric']:.3f} ({t.get('n')}); pooled MAcc {t['macc']:.3f}"
                + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")) if "metric" in t else "–"
        lines.append(
            f"| {r['number']}{' (recipe)' if r['baseline'] else ''} | {v['student.params.widths']} | "
            f"{v['student.params.kernel']} | {v['student.loss.params.temperature']:.2f} | "
            f"{v['student.loss.params.alpha']:.2f} | {v['student.train.lr']:.4f} | {'yes' if v['prune'] else 'no'} | "
            f"{v['export.precisions'][-1]} | {f['metric']:.3f} ({f['val']['n']}) | {f['size_kb']:.1f} | "
            f"{f['latency_p90_ms']:.2f} | {test} |")
    b = s["baseline"] or {}
    lines += [
        "",
        "## Against the hand-made recipe",
        "",
        f"- Trial {b.get('trial')} is the recipe's own values on the sweep's 12-epoch schedule: "
        + ("dominated by front trial(s) " + ", ".join(map(str, b["dominated_by"])) if b.get("beaten")
           else "no front trial beats it on one objective without losing on another")
        + (" (it is on the front itself)." if b.get("pareto") else "."),
        f"- The shipped hand-made student (40 epochs, `{ref['file']}`), measured the same way: validation metric "
        f"{ref['metric']:.3f} (n={ref['n']}), {ref['size_kb']:.1f} KB, p90 {ref['latency_p90_ms']:.2f} ms (est.).",
        "- Front trials that beat it on at least one objective without losing on the others: "
        + (", ".join(f"trial {w['trial']} (better on {', '.join(w['better_on'])})" for w in wins) if wins
           else "**none**: the sweep did not find one") + ".",
        "",
        "## Every trial",
        "",
        "| trial | state | widths | k | pruned | precision | val metric | KB | p90 ms | budgets | s |",
        "|---:|---|---|---:|---|---|---:|---:|---:|---|---:|",
    ]
    for r in s["trials"]:
        v, f = r["parameters"] or {}, r.get("figures") or {}
        lines.append(
            f"| {r['number']} | {r['state'].lower()} | {v.get('student.params.widths')} | {v.get('student.params.kernel')} | "
            f"{'yes' if v.get('prune') else 'no'} | {(v.get('export.precisions') or ['?'])[-1]} | "
            + (f"{f['metric']:.3f} | {f['size_kb']:.1f} | {f['latency_p90_ms']:.2f} | "
               f"{'met' if r['feasible'] else 'not met: ' + ', '.join(k for k, x in r['constraints'].items() if x is None or x > 0)}"
               if f else (" | | | " + (r.get("error") or "stopped at epoch %d" % len(r.get("curve") or []))))
            + f" | {r.get('seconds') or ''} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--out", default=str(ROOT / "runs" / "sweep-heart"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()

    from edgekd.recipe import recipe_from_tree
    from edgekd.sweep.search import sweep
    from edgekd.sweep.trial import trial_tree

    overrides = [f"data.path={args.data}", *BASE]
    result = sweep(RECIPE, SPACE, overrides=overrides, trials=args.trials, out=args.out)
    s = result.summary
    base = s["recipe"]["base"]
    recipe = recipe_from_tree(trial_tree(base, {}, str(RECIPE)), str(RECIPE))
    from edgekd.pipeline import prepare_data

    data = prepare_data(recipe, lambda line: None)
    ref = reference_row(data, recipe.student.train.select, "rpi4")
    wins = compare(result.front, ref, [o["name"] for o in s["objectives"]])
    results = Path(args.results)
    s["meta"] = {"trials": args.trials, "overrides": overrides}
    write_json(results / "sweep_heart.json", {**s, "reference": ref, "beats_reference": wins})
    for axis in ("size_kb", "latency_p90_ms"):
        shutil.copyfile(result.out / "plots" / f"sweep-metric-vs-{axis}.png", results / f"sweep_heart-metric-vs-{axis}.png")
    write_md(results / "sweep_heart.md", render(s, ref, wins))


if __name__ == "__main__":
    main()
