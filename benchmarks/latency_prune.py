"""Hardware-aware pruning of the heart student on x86_64: a measured-latency target vs a MAC target of the same MACs.

What it does (1 thread throughout, ``OMP_NUM_THREADS=1``):

1. trains the heart student of ``recipes/heart.yaml`` (widths 8/16/40, kernel 5) from scratch with
   cross-entropy on the bundled sample (``data/heart-sample``, the recipe's split file; no teacher: accuracy
   is secondary here) for ``--epochs`` epochs;
2. builds the latency table on the ``x86_64`` profile (local runner, int8 TFLite through the default
   exporter, LiteRT, 1 thread) with ``round_to: auto`` (the profile's ``simd_width``: 16), cached under
   ``.cache/edgekd/latency-tables/``; first asks for ``--try-ratio`` (default 0.6) of the unpruned p50 and
   records the answer (refused when the table's measured floor is above it);
3. run (i): ``edgekd.prune`` with ``latency_p50_ms = --ratio x unpruned p50``, ``round_to: auto``;
   run (ii): ``edgekd.prune`` with ``macs`` = run (i)'s MACs (so (ii) has the same or fewer MACs), no rounding
   (the shipped MAC-targeted pruning); both l2 importance, both fine-tuned ``--recover-epochs`` with CE;
4. exports both (and the unpruned student) to int8 TFLite with ``edgekd.export`` (threshold chosen on
   validation by running the file), scores MAcc on the validation split by running the file, and measures
   the three files interleaved: ``--rounds`` rounds, each file ``--block`` timed invokes per round in a
   shuffled order; p50/p90 = median over rounds of each round's p50/p90, with a bootstrap 95 % interval;
5. checks the additive latency model: a second table with ``round_to`` 8 (more groups and counts), then
   ``--combos`` random combinations of counts exported, measured and compared with the prediction.

Writes ``benchmarks/results/latency_prune.{json,md}``. Resumable: the trained student and the pruned runs are
checkpointed under ``--out``; latency tables are cached.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/latency_prune.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.errors import InputError  # noqa: E402
from edgekd.pipeline import default_log, prepare_data  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402


def interleaved(paths: dict[str, Path], rounds: int, block: int, seed: int = 0) -> dict[str, dict]:
    """Per file: median over rounds of each round's p50 and p90, with bootstrap 95 % intervals."""
    from edgekd.runtime.artifact import load_artifact
    from edgekd.runtime.latency import measure_latency

    arts = {k: load_artifact(p, threads=1) for k, p in paths.items()}
    per: dict[str, dict[str, list[float]]] = {k: {"p50": [], "p90": []} for k in arts}
    rng = np.random.default_rng(seed)
    for k, art in arts.items():  # warm every file once
        measure_latency(art, runs=50, warmup=50, max_seconds=5)
    for _ in range(rounds):
        for k in rng.permutation(list(arts)):
            r = measure_latency(arts[k], runs=block, warmup=10, max_seconds=10)
            per[k]["p50"].append(r["p50_ms"])
            per[k]["p90"].append(r["p90_ms"])
    out = {}
    for k, d in per.items():
        row = {"rounds": rounds, "block": block}
        for stat, vals in d.items():
            arr = np.asarray(vals)
            boots = np.median(rng.choice(arr, size=(2000, len(arr)), replace=True), axis=1)
            row[f"{stat}_ms"] = float(np.median(arr))
            row[f"{stat}_ci95"] = [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]
        out[k] = row
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", default=str(ROOT / "recipes" / "heart.yaml"))
    ap.add_argument("--data", default=str(ROOT / "data" / "heart-sample"))
    ap.add_argument("--target", default="x86_64")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--recover-epochs", type=int, default=3)
    ap.add_argument("--try-ratio", type=float, default=0.6, help="first asked latency target (x unpruned p50)")
    ap.add_argument("--ratio", type=float, default=0.9, help="run (i)'s latency target (x unpruned p50)")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--block", type=int, default=200)
    ap.add_argument("--combos", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "runs" / "latency-prune"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--render", action="store_true", help="only re-render latency_prune.md from latency_prune.json")
    args = ap.parse_args(argv)
    if args.render:
        stored = json.loads((Path(args.results) / "latency_prune.json").read_text())
        write_text(Path(args.results) / "latency_prune.md", render(stored))
        print((Path(args.results) / "latency_prune.md").read_text())
        return 0

    import torch

    torch.set_num_threads(1)
    import edgekd
    from edgekd.api.pruning import latency_probe
    from edgekd.training.losses import build_loss
    from edgekd.training.trainer import train_model
    from edgekd.models import build_model
    from edgekd.models.complexity import count_macs, count_params
    from edgekd.pruning.check import _latency_plan
    from edgekd.pruning.latency_table import narrowed_to
    from edgekd.pruning.prune import resolve_ignored
    from edgekd.quantize.calibration import calibration_windows
    from edgekd.runtime.latency import host_info
    from edgekd.targets import load_target
    from edgekd.versions import versions

    log = default_log
    t0 = time.perf_counter()
    out = Path(args.out)
    # the 2-D student (the recipe's when this benchmark was written; its narrow layers are what pruning trades)
    recipe = load_recipe(args.recipe, [f"data.path={args.data}", "student.model=heart_student",
                                       "student.params={widths: [8, 16, 40], kernel: 5}"])
    data = prepare_data(recipe, log)
    shape = data.task.input_shape
    train, val = data.windows["train"], data.windows["val"]
    spec = recipe.student
    cfg = spec.train.model_copy(update={"epochs": args.epochs, "threads": 1, "patience": args.epochs}).trainer_config()
    torch.manual_seed(args.seed)
    student = build_model(spec.model, num_classes=len(data.classes), input_shape=shape, **spec.params)
    log(f"student {spec.model} {spec.params}: {count_params(student):,} params, "
        f"{count_macs(student, shape) / 1e6:.2f} M MACs; {args.epochs} epochs of CE on {Path(args.data).name}")
    trained = train_model(student, train, val, build_loss("ce", {}), labels=data.classes, positive=data.positive,
                          cfg=cfg, seed=args.seed, checkpoint_dir=out / "student", log=lambda s: log(f"  [student] {s}"),
                          fingerprint_extra=f"latency-prune|{spec.model}|{spec.params}|{data.data_hash}")
    student.eval()
    profile = load_target(args.target)
    probe = latency_probe(profile)
    ignored = resolve_ignored(student, [], shape)

    # the table at the profile's simd_width (the one run (i) uses) and the unpruned p50 it measured
    plan = _latency_plan(student, shape, ignored, profile, probe, profile.simd_width, 1, None, log)
    table = plan["latency_table"]
    base = table.base_ms
    log(f"unpruned p50 {base:.4f} ms; measured floor at multiples of {profile.simd_width}: {table.floor_ms():.4f} ms")

    common = dict(importance="l2", train=train, val=val, task=data.task, classes=data.classes,
                  positive=data.positive, seed=args.seed, target=profile, threads=1, batch_size=spec.train.batch_size,
                  recover={"epochs": args.recover_epochs, "lr": 2e-3, "loss": {"name": "ce"}})
    tried = {"ratio": args.try_ratio, "target_ms": args.try_ratio * base}
    try:
        edgekd.prune(student, {"latency_p50_ms": args.try_ratio * base}, shape, round_to="auto",
                     workdir=out / "prune-try", log=lambda s: log(f"  [try {args.try_ratio:g}] {s}"), **common)
        tried["outcome"] = "accepted"
    except InputError as exc:
        tried["outcome"] = "refused"
        tried["message"] = str(exc)
        log(f"  [try {args.try_ratio:g}] refused: {exc}")

    target_ms = args.ratio * base
    run_i = edgekd.prune(student, {"latency_p50_ms": target_ms}, shape, round_to="auto", workdir=out / "prune-latency",
                         log=lambda s: log(f"  [i latency] {s}"), **common)
    macs_i = count_macs(run_i.model, shape)
    run_ii = edgekd.prune(student, {"macs": macs_i}, shape, round_to=None, workdir=out / "prune-macs",
                          log=lambda s: log(f"  [ii macs] {s}"), **common)

    calibration = calibration_windows(train, recipe.export.calibration_windows, 0)
    example = torch.from_numpy(train.x[:1].copy())
    models = {"unpruned": student, "i-latency": run_i.model, "ii-macs": run_ii.model}
    rows, paths = {}, {}
    for key, model in models.items():
        path = out / "artifacts" / f"{key}.tflite"
        art = edgekd.export(model.eval(), path, precision="int8", example=example, calibration=calibration,
                            target=args.target, task=data.task, classes=data.classes, positive=data.positive,
                            val=val, log=log)
        metrics = edgekd.evaluate(path, val, threads=1).to_dict()
        convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv1d))]
        rows[key] = {"params": count_params(model), "macs": count_macs(model, shape),
                     "channels": [m.out_channels for m in convs], "size_bytes": path.stat().st_size,
                     "val_macc": metrics.get("macc"), "val_n": metrics["n"], "threshold": art.threshold}
        paths[key] = path
    log(f"interleaved timing: {args.rounds} rounds x {args.block} invokes per file")
    timing = interleaved(paths, args.rounds, args.block, args.seed)
    for key in rows:
        rows[key].update(timing[key])
        rows[key]["gmacs"] = rows[key]["macs"] / (rows[key]["p50_ms"] * 1e-3) / 1e9

    # the additive model's error, on a finer grid (round_to 8: more groups, more counts)
    fine = _latency_plan(student, shape, ignored, profile, probe, 8, 1, None, log)["latency_table"]
    rng = np.random.default_rng(args.seed)
    combos, seen = [], set()
    groups = {g: [fine.widths[g], *e] for g, e in fine.entries.items() if e}
    space = int(np.prod([len(v) for v in groups.values()]))
    while len(combos) < min(args.combos, space):
        counts = {g: int(rng.choice(v)) for g, v in groups.items()}
        if tuple(counts.values()) in seen:
            continue
        seen.add(tuple(counts.values()))
        model = narrowed_to(student, shape, ignored, counts)
        (out / "combos").mkdir(parents=True, exist_ok=True)
        artifact = plan["export"](model, out / "combos" / f"c{len(combos)}")
        measured = float(np.median([probe.measure(artifact)["p50_ms"] for _ in range(3)]))
        predicted = fine.predict_counts(counts)
        raw = fine.base_ms + sum(fine.latency(g, k) - fine.base_ms for g, k in counts.items())
        combos.append({"counts": counts, "predicted_ms": predicted, "additive_ms": raw, "measured_ms": measured,
                       "error_pct": 100 * (predicted - measured) / measured,
                       "additive_error_pct": 100 * (raw - measured) / measured})
        log(f"  combo {counts}: predicted {predicted:.4f} (additive {raw:.4f}), measured {measured:.4f}")
    errors = [abs(c["error_pct"]) for c in combos]

    lat_i = run_i.summary["latency"]
    ti, tii = rows["i-latency"], rows["ii-macs"]
    meas_i = ti["p50_ms"]
    result = {
        "command": "OMP_NUM_THREADS=1 python benchmarks/latency_prune.py" + "".join(
            f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items()
            if k in ("epochs", "recover_epochs", "ratio", "rounds", "block", "combos") and v != ap.get_default(k)),
        "data": {"name": Path(args.data).name, "hash": data.data_hash,
                 "val_recordings": len(val.recordings), "train_recordings": len(train.recordings)},
        "target": args.target, "simd_width": profile.simd_width, "epochs": args.epochs,
        "recover_epochs": args.recover_epochs, "student_best_val": trained.best_score,
        "table": {"key": table.key, "base_ms": base, "floor_ms": table.floor_ms(), "widths": table.widths,
                  "entries": {g: {str(k): v for k, v in e.items()} for g, e in table.entries.items()},
                  "cached": table.meta.get("cached"), "measured_by": table.meta.get("measured_by")},
        "tried": tried,
        "run_i": {"target_ms": target_ms, "ratio": args.ratio, "latency": lat_i, "policy": run_i.steps[0]["outcome"]
                  ["budget"].get("policy")},
        "run_ii": {"macs_target": macs_i, "budget": run_ii.steps[0]["outcome"]["budget"]},
        "rows": rows,
        "criteria": {
            "i_meets_target_within_10pct": abs(meas_i - target_ms) <= 0.10 * target_ms or meas_i <= target_ms,
            "i_vs_target_pct": 100 * (meas_i - target_ms) / target_ms,
            "i_beats_ii": meas_i < tii["p50_ms"],
            "i_vs_ii_pct": 100 * (meas_i - tii["p50_ms"]) / tii["p50_ms"],
            "ci_disjoint": ti["p50_ci95"][1] < tii["p50_ci95"][0],
        },
        "additive_model": {"round_to": 8, "table_key": fine.key, "base_ms": fine.base_ms,
                           "entries": {g: {str(k): v for k, v in e.items()} for g, e in fine.entries.items()},
                           "floor_ms": fine.floor_ms(), "combos": combos,
                           "mean_abs_additive_error_pct": statistics.fmean(abs(c["additive_error_pct"]) for c in combos),
                           "mean_abs_error_pct": statistics.fmean(errors) if errors else None,
                           "max_abs_error_pct": max(errors) if errors else None},
        "host": host_info(), "versions": versions(), "seconds": round(time.perf_counter() - t0, 1),
    }
    results = Path(args.results)
    write_json(results / "latency_prune.json", result)
    write_text(results / "latency_prune.md", render(result))
    print((results / "latency_prune.md").read_text())
    return 0


def render(r: dict) -> str:
    rows, c, t = r["rows"], r["criteria"], r["table"]
    li = r["run_i"]["latency"]
    names = {"unpruned": "unpruned student", "i-latency": "(i) latency target, round_to auto (16)",
             "ii-macs": "(ii) MAC target = (i)'s MACs, no rounding"}
    lines = [
        f"# Hardware-aware pruning: a measured-latency target vs a MAC target ({r['target']}, int8 TFLite, 1 thread)",
        "",
        f"Command: `{r['command']}`  ",
        f"Host: {r['host'].get('cpu')}, {r['host'].get('cores')} cores (shared with other jobs); "
        f"ai-edge-litert {r['versions'].get('ai-edge-litert')}, torch {r['versions'].get('torch')}.  ",
        f"Student: `heart_student` 8/16/40, kernel 5, trained {r['epochs']} epochs from scratch with cross-entropy on "
        f"`{r['data']['name']}` ({r['data']['train_recordings']} training recordings; no teacher: accuracy is "
        f"secondary here); both pruned runs: l2 importance, {r['recover_epochs']} CE recovery epochs. MAcc: validation "
        f"split ({r['data']['val_recordings']} recordings), by running the int8 file.  ",
        f"Latency: the three int8 files timed interleaved, {rows['unpruned']['rounds']} rounds x "
        f"{rows['unpruned']['block']} invokes each in shuffled order; p50/p90 = median over rounds of each round's "
        "figure [bootstrap 95 % interval].",
        "",
        "| model | conv channels | params | MACs | int8 KB | val MAcc | p50 ms | p90 ms | GMAC/s at p50 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, row in rows.items():
        lines.append(
            f"| {names[k]} | {'/'.join(map(str, row['channels']))} | {row['params']:,} | {row['macs'] / 1e6:.2f} M | "
            f"{row['size_bytes'] / 1024:.1f} | {row['val_macc']:.3f} | {row['p50_ms']:.4f} "
            f"[{row['p50_ci95'][0]:.4f}, {row['p50_ci95'][1]:.4f}] | {row['p90_ms']:.4f} "
            f"[{row['p90_ci95'][0]:.4f}, {row['p90_ci95'][1]:.4f}] | {row['gmacs']:.1f} |")
    tried = r["tried"]
    lines += [
        "",
        "## Run (i): the latency target",
        "",
        f"- Latency table (cache key `{t['key']}`): unpruned {t['base_ms']:.4f} ms p50, measured floor at multiples "
        f"of {r['simd_width']} {t['floor_ms']:.4f} ms; entries " + "; ".join(
            f"{g}: " + ", ".join(f"{k} ch {v:.4f}" for k, v in e.items()) for g, e in t["entries"].items() if e)
        + " (layers no wider than 16 are never pruned at round_to 16).",
        f"- Asked first for {tried['ratio']:.0%} of the unpruned p50 ({tried['target_ms']:.4f} ms): **{tried['outcome']}**"
        + (f": {tried['message']}" if tried.get("message") else ""),
        f"- Target {r['run_i']['ratio']:.0%} of the unpruned p50 = {r['run_i']['target_ms']:.4f} ms: predicted "
        f"{li['predicted_ms']:.4f}, measured right after pruning {li['measured_p50_ms']:.4f} "
        f"(prediction {li['prediction_error_pct']:+.1f} %); in the interleaved timing "
        f"{rows['i-latency']['p50_ms']:.4f} ms ({c['i_vs_target_pct']:+.1f} % vs the target): "
        f"**{'met' if c['i_meets_target_within_10pct'] else 'not met'}** (done means within ±10 % or under).",
        f"- Run (i) vs run (ii) (same MACs or fewer for (ii): {r['run_ii']['macs_target'] / 1e6:.2f} M MACs target, "
        f"(ii) has {rows['ii-macs']['macs'] / 1e6:.2f} M): p50 {c['i_vs_ii_pct']:+.1f} % — "
        f"**{'(i) faster' if c['i_beats_ii'] else '(i) not faster'}**"
        f"{', intervals disjoint' if c['ci_disjoint'] else ', intervals overlap'}.",
        "",
        "## The additive (NetAdapt) latency model",
        "",
        f"Table at round_to {r['additive_model']['round_to']} (the 8-wide first layer stays whole; the 16- and 40-wide "
        f"ones get 1 and 4 counts; measured floor {r['additive_model']['floor_ms']:.4f} ms), "
        f"{len(r['additive_model']['combos'])} distinct random combinations of counts, each exported and measured "
        "(median of 3 measurements). `additive` = `unpruned + Σ per-group change`; `predicted` = the same, never "
        "below the measured floor (what the pruner uses):",
        "",
        "| counts | additive ms | predicted ms | measured ms | error of additive | error of predicted |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for cb in r["additive_model"]["combos"]:
        lines.append(f"| {cb['counts']} | {cb['additive_ms']:.4f} | {cb['predicted_ms']:.4f} | {cb['measured_ms']:.4f} "
                     f"| {cb['additive_error_pct']:+.1f} % | {cb['error_pct']:+.1f} % |")
    am = r["additive_model"]
    lines += ["", "Its entries (one group narrowed, the rest unpruned; unpruned "
              f"{am['base_ms']:.4f} ms): " + "; ".join(f"{g}: " + ", ".join(f"{k} ch {v:.4f} ms" for k, v in e.items())
                                                     for g, e in am["entries"].items() if e)
              + ". Counts between two multiples of 16 cost what the next multiple costs: the int8 kernels "
              "compute 16 output channels at a time (the x86_64 profile's `simd_width`)."]
    if am["mean_abs_error_pct"] is not None:
        lines += ["", f"Mean |error|: additive {am['mean_abs_additive_error_pct']:.1f} %, predicted "
                  f"{am['mean_abs_error_pct']:.1f} % (max {am['max_abs_error_pct']:.1f} %). The "
                  "pruner does not rely on it alone: it measures the model it chose and corrects its aim by the "
                  "measured error (`edgekd.pruning.netadapt`)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
