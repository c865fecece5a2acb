"""Benchmark (issue 29, item 3): the int8 routes side by side on the shipped heart and plant students and a teacher.

For each model and training seed: fp32, ONNX Runtime static QDQ int8, NNCF PTQ int8, NNCF int8 with accuracy
control (``max_drop`` = the x86_64 profile's ``accuracy_drop_pp``), and QAT int8 (ONNX files,
``benchmarks/nncf_compare.py::compare_quantizers``), plus the same torch model as LiteRT files (fp32, int8, and
int8-qat for the students). Every file is run on the test split by edgekd's device-side code: the metric, the
paired drop against the fp32 twin of the same format (exact one-sided test and a two-sided 95 % bootstrap
interval), the size; then all files are timed in one process, interleaved (shuffled rounds), 1 thread, local
runner, pinned by the caller to one core (``taskset -c 0``).

Models:
- heart: ``recipes/heart.yaml``'s student distilled from ``models/heart-teacher.pt`` on the full 1,084-recording
  set, with ``benchmarks/heart_deploy.py``'s split and student overrides;
- plant: ``recipes/plant.yaml``'s student (distil -> prune -> recover) distilled from ``models/plant-teacher.pt``
  on the full MangoLeafBD set, with ``benchmarks/plant_deploy.py``'s time split, front-end (its
  ``plant_select.json`` choice) and student overrides; the teacher's architecture is the one its provenance
  (``models/plant-teacher.json``) names (the recipe's teacher is now EfficientNet-Lite0, a different file);
- heart-teacher: ``models/heart-teacher.pt`` as it is (``weights_only=True``), no training, so one row set and no
  QAT row (QAT would be retraining it).

Resumable: checkpoints, exported files and each (model, seed)'s rows are cached under ``--out``; a rerun skips
finished work. ``--skip-latency`` stops after the rows (to train models in parallel processes); the final run
times every file and writes ``benchmarks/results/nncf_compare.{json,md}`` atomically.

Run:  taskset -c 0 .venv/bin/python benchmarks/nncf_benchmark.py [--seeds 0 1 2] [--set-heart K=V] [--set-plant K=V]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from heart_data import SHARED as HEART_DATA  # noqa: E402
from nncf_compare import compare_quantizers, measure_file  # noqa: E402

PLANT_DATA = ROOT.parent / "shared" / "data" / "plant-mangoleafbd"
HEART_RECIPE = ROOT / "recipes" / "heart.yaml"
PLANT_RECIPE = ROOT / "recipes" / "plant.yaml"
HEART_TEACHER = ROOT / "models" / "heart-teacher.pt"
PLANT_TEACHER = ROOT / "models" / "plant-teacher.pt"
TARGET = "x86_64"

Log = Callable[[str], None]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def heart_overrides(seed: int, extra: list[str]) -> list[str]:
    from heart_deploy import SPLIT, STUDENT

    return [f"data.path={HEART_DATA}", SPLIT, f"name=nncf-heart-s{seed}", f"seed={seed}",
            f"teacher.checkpoint={HEART_TEACHER}", "teacher.train.epochs=0", *STUDENT, *extra]


def plant_overrides(seed: int, extra: list[str]) -> list[str]:
    from plant_deploy import SPLIT, STUDENT, chosen_overrides

    prov = json.loads(PLANT_TEACHER.with_suffix(".json").read_text())
    teacher = [f"teacher.model={prov['model']}", f"teacher.params={json.dumps(prov['params'])}"]
    return [f"data.path={PLANT_DATA}", SPLIT, *chosen_overrides(), f"data.cache_dir={ROOT / 'runs' / 'plant-cache'}",
            f"name=nncf-plant-s{seed}", f"seed={seed}", *teacher, f"teacher.checkpoint={PLANT_TEACHER}", *STUDENT,
            *extra]


def recipe_of(model: str, seed: int, args: argparse.Namespace) -> tuple[Path, list[str], Any]:
    from edgekd.recipe import load_recipe

    if model == "plant":
        path, overrides = PLANT_RECIPE, plant_overrides(seed, args.set_plant)
    else:  # heart student and heart teacher share the data and split
        path, overrides = HEART_RECIPE, heart_overrides(seed, args.set_heart)
    return path, overrides, load_recipe(path, overrides)


_DATA: dict[str, Any] = {}


def data_and_teacher(model: str, recipe: Any) -> tuple[Any, Any]:
    """The prepared data (once per family) and the recipe's teacher (its checkpoint, ``weights_only=True``)."""
    from edgekd.pipeline import build_role, check_checkpoints_unseen, prepare_data

    family = "plant" if model == "plant" else "heart"
    if family not in _DATA:
        data = prepare_data(recipe, lambda s: log(f"  {s}"))
        check_checkpoints_unseen(recipe, data, lambda s: log(f"  {s}"))
        teacher = build_role(recipe, "teacher", data.task, len(data.classes)).eval()
        _DATA[family] = (data, teacher)
    return _DATA[family]


def trained_student(recipe: Any, data: Any, teacher: Any, out: Path) -> tuple[Any, Any, dict]:
    """The recipe's student distilled (pruned, recovered) and QAT-fine-tuned, as ``edgekd run`` makes them
    (``edgekd.flow.compress.train_student``, ``edgekd.flow.steps.qat_model_for``); checkpoints under ``out``."""
    from edgekd.api.checks import resolve_targets
    from edgekd.api.distilling import objective_of, train_settings
    from edgekd.flow.compress import train_student
    from edgekd.flow.steps import qat_model_for
    from edgekd.pipeline import build_role

    profile = resolve_targets([TARGET])[0]
    objective = objective_of(recipe.student.loss, recipe.student.distill, True, "student")
    train = train_settings(recipe.student.train.model_dump(), "training")
    student = build_role(recipe, "student", data.task, len(data.classes))
    trained, student_m, _, pruning = train_student(student, teacher, data, objective, train, recipe.prune,
                                                   recipe.seed, out, lambda s: log(s), target=profile)
    student_m = student_m.eval()
    qat = qat_model_for(student_m, teacher, data, recipe.export, objective, train, recipe.seed, out, lambda s: log(s))
    info = {"best_epoch": trained.best_epoch, "epochs_run": trained.epochs_run, "val_score": trained.best_score,
            "params": int(sum(p.numel() for p in student_m.parameters())),
            "pruning": {k: pruning.get(k) for k in ("before", "after", "target") if k in pruning} if pruning else None,
            "qat_best_epoch": getattr(qat, "best_epoch", None)}
    return student_m, qat, info


def rows_for(model: str, seed: Optional[int], args: argparse.Namespace, max_drop_pp: float) -> dict:
    """The cached rows of one model and seed (trained and exported on first use)."""
    from edgekd.atomic import write_json

    tag = f"{model}/s{seed}" if seed is not None else model
    out = Path(args.out) / tag
    cache = out / "rows.json"
    if cache.is_file():
        log(f"{tag}: rows cached ({cache})")
        return _backfill(json.loads(cache.read_text()))
    t0 = time.perf_counter()
    recipe_path, overrides, recipe = recipe_of(model, seed or 0, args)
    data, teacher = data_and_teacher(model, recipe)
    if model == "heart-teacher":
        net, qat, info = teacher, None, {"checkpoint": str(HEART_TEACHER.relative_to(ROOT)),
                                         "params": int(sum(p.numel() for p in teacher.parameters()))}
    else:
        log(f"{tag}: training (checkpoints under {out})")
        net, qat, info = trained_student(recipe, data, teacher, out)
    train_s = time.perf_counter() - t0
    log(f"{tag}: ONNX routes (max_drop {max_drop_pp} pp)")
    onnx_rows = compare_quantizers(net, data, out / "files", max_drop_pp=max_drop_pp, qat=qat,
                                   log=lambda s: log(f"  {s}"))
    log(f"{tag}: LiteRT files")
    tfl_rows = litert_rows(net, data, qat, out / "files")
    result = {"model": model, "seed": seed, "recipe": str(recipe_path.relative_to(ROOT)), "overrides": overrides,
              "info": info, "data_hash": data.data_hash, "test_items": int(len(data.test.recordings)),
              "onnx": onnx_rows, "tflite": tfl_rows, "seconds": {"train": train_s, "total": time.perf_counter() - t0}}
    write_json(cache, result)
    log(f"{tag}: done in {time.perf_counter() - t0:.0f} s")
    return result


def _backfill(result: dict) -> dict:
    """Rows cached by an earlier version of ``measure_file``: add the float operations' types."""
    from edgekd.audit.inspect import inspect_artifact
    from nncf_compare import _op_types

    for fmt in ("onnx", "tflite"):
        for r in result[fmt]:
            if "float_op_types" not in r:
                r["float_op_types"] = _op_types(Path(r["path"]), inspect_artifact(r["path"])["float_ops"])
    return result


def litert_rows(net: Any, data: Any, qat: Any, out: Path) -> list[dict]:
    import edgekd

    rows, reference = [], None
    for route, precision in (("fp32", "fp32"), ("int8", "int8"), ("qat-int8", "int8-qat")):
        if precision == "int8-qat" and qat is None:
            continue
        t0 = time.perf_counter()
        art = edgekd.export(net, out / f"litert-{route}.tflite", precision=precision, calibration=data, val=data,
                            qat=qat if precision == "int8-qat" else None, log=lambda s: log(f"    {s}"))
        row, ev = measure_file(art, data, reference, route=route, backend="litert", precision=precision)
        row["seconds"] = time.perf_counter() - t0
        reference = reference or ev
        log(f"  litert {route}: {row['metric']} {row['test']:.3f}, drop {row['drop_pp']:.2f} pp, {row['size_kb']:.1f} KiB")
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------- latency


def time_interleaved(paths: list[str], rounds: int, batch_ms: float, seed: int = 0) -> dict[str, dict]:
    """Every file loaded once (1 thread), then ``rounds`` rounds visiting the files in a new shuffled order, each
    visit a batch of invokes (3 untimed, then at least 15 and ``batch_ms``); per file all invoke times and the
    round medians."""
    from edgekd.runtime.artifact import load_artifact
    from edgekd.runtime.latency import sample_input

    loaded = {}
    for p in paths:
        art = load_artifact(Path(p), threads=1)
        x = sample_input(art)
        for _ in range(5):
            art.invoke_raw(x)
        loaded[p] = (art, x)
    times: dict[str, list[float]] = {p: [] for p in paths}
    rounds_ms: dict[str, list[float]] = {p: [] for p in paths}
    rng = np.random.default_rng(seed)
    for r in range(rounds):
        t_round = time.perf_counter()
        for i in rng.permutation(len(paths)):
            p = paths[i]
            art, x = loaded[p]
            for _ in range(3):
                art.invoke_raw(x)
            ts: list[float] = []
            start = time.perf_counter()
            while len(ts) < 15 or (time.perf_counter() - start) * 1e3 < batch_ms:
                t0 = time.perf_counter()
                art.invoke_raw(x)
                ts.append((time.perf_counter() - t0) * 1e3)
            times[p].extend(ts)
            rounds_ms[p].append(float(np.median(ts)))
        log(f"  latency round {r + 1}/{rounds}: {len(paths)} files in {time.perf_counter() - t_round:.1f} s")
    out = {}
    for p in paths:
        t = np.asarray(times[p])
        art = loaded[p][0]
        out[p] = {"p50_ms": float(np.percentile(t, 50)), "p90_ms": float(np.percentile(t, 90)), "invokes": int(len(t)),
                  "rounds_ms": rounds_ms[p], "runtime": art.runtime, "runtime_version": art.runtime_version,
                  "threads": art.threads}
    return out


def _boot_ci(values: np.ndarray, n: int = 2000) -> list[float]:
    rng = np.random.default_rng(1)
    draws = [np.median(values[rng.integers(0, len(values), len(values))]) for _ in range(n)]
    return [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]


def attach_latency(sets: list[dict], lat: dict[str, dict]) -> None:
    """p50/p90 per row, and the fp32/file speed-up (median of the per-round ratios, bootstrap 95 % interval)."""
    for s in sets:
        for fmt in ("onnx", "tflite"):
            rows = s[fmt]
            ref = np.asarray(lat[rows[0]["path"]]["rounds_ms"])
            for r in rows:
                m = lat[r["path"]]
                ratios = ref / np.asarray(m["rounds_ms"])
                r.update(p50_ms=m["p50_ms"], p90_ms=m["p90_ms"], invokes=m["invokes"], runtime=m["runtime"],
                         runtime_version=m["runtime_version"], speedup=float(np.median(ratios)),
                         speedup_ci95=_boot_ci(ratios))


# ---------------------------------------------------------------------------------------------- summary

ROUTE_NAMES = {"fp32": "fp32", "ort-int8": "ORT static QDQ int8", "nncf-int8": "NNCF PTQ int8",
               "nncf-int8-ac": "NNCF int8 + accuracy control", "qat-int8": "QAT int8 (ORT QDQ)",
               "int8": "LiteRT PTQ int8"}


MODELS_NOTE = (
    "**heart** = `recipes/heart.yaml`'s student (heart_tcn 64/64/64, KD on mixup inputs) distilled from "
    "`models/heart-teacher.pt` on all 1,084 recordings with `benchmarks/heart_deploy.py`'s split (60/20/20, seed 0) "
    "and student overrides (40 epochs of 4,096 balanced windows, group-mean selection); **plant** = "
    "`recipes/plant.yaml`'s student (depthwise-separable, distil → prune to 60 % MACs → recover) distilled from "
    "`models/plant-teacher.pt` with `benchmarks/plant_deploy.py`'s time split, front-end (128 px, "
    "`plant_select.json`) and overrides; that file is the MobileNetV2-0.5 `image_teacher` its provenance "
    "(`models/plant-teacher.json`) names, so the teacher architecture is taken from there (the recipe's teacher is now "
    "EfficientNet-Lite0, shipped separately as `plant-teacher-lite0.pt`); **heart-teacher** = `models/heart-teacher.pt` "
    "loaded with `weights_only=True`, no training. QAT = `export.qat` defaults (fake-quantized fine-tuning distilled "
    "from the teacher), then exported by ONNX Runtime's QDQ path (ONNX) and litert-torch (LiteRT).")

LITERT_NAMES = {"fp32": "fp32", "int8": "PTQ int8 (PT2E)", "qat-int8": "QAT int8"}


def aggregate(sets: list[dict]) -> dict:
    """Per model and (format, route): the per-seed values and their mean ± sd."""
    agg: dict[str, dict] = {}
    for s in sets:
        for fmt in ("onnx", "tflite"):
            for r in s[fmt]:
                a = agg.setdefault(s["model"], {}).setdefault(f"{fmt}:{r['route']}", {})
                for k in ("drop_pp", "size_kb", "p50_ms", "speedup", "test", "float_ops"):
                    if r.get(k) is not None:
                        a.setdefault(k, []).append(float(r[k]))
                a.setdefault("evidenced_drop", []).append(r.get("p_value") is not None and r["p_value"] <= 0.05)
                a.setdefault("over_budget", []).append(r["drop_pp"] > s.get("max_drop_pp", 2.0))
    return agg


def _ms(v: list[float], fmt: str = "{:.2f}") -> str:
    if not v:
        return "–"
    if len(v) == 1:
        return fmt.format(v[0])
    return (fmt + " ± " + fmt).format(statistics.mean(v), statistics.stdev(v))


def summary_lines(sets: list[dict], agg: dict, max_drop_pp: float) -> list[str]:
    """When each route wins, stated from the numbers (means over seeds, with the per-seed evidence)."""
    lines = []
    int8 = ("ort-int8", "nncf-int8", "nncf-int8-ac", "qat-int8")
    for model, a in agg.items():
        seeds = sorted({s["seed"] for s in sets if s["model"] == model}, key=lambda x: -1 if x is None else x)
        n = len(seeds)
        have = [r for r in int8 if f"onnx:{r}" in a]
        drops = {r: a[f"onnx:{r}"]["drop_pp"] for r in have}
        mean_drop = {r: statistics.mean(v) for r, v in drops.items()}
        best = min(mean_drop, key=mean_drop.get)
        over = {r: sum(a[f"onnx:{r}"]["over_budget"]) for r in have}
        evid = {r: sum(a[f"onnx:{r}"]["evidenced_drop"]) for r in have}
        cis = [r2.get("drop_ci95_pp") for s in sets if s["model"] == model for r2 in s["onnx"] if r2["route"] == best]
        lines.append(
            f"- **{model}** ({n} seed{'s' if n > 1 else ''}), accuracy (test drop vs fp32 ONNX, mean over seeds): "
            + "; ".join(f"{ROUTE_NAMES[r]} {mean_drop[r]:+.2f} pp (over {max_drop_pp:g} pp in {over[r]}/{n}, "
                        f"drop evidenced p≤0.05 in {evid[r]}/{n})" for r in have)
            + f". Lowest mean drop: {ROUTE_NAMES[best]}"
            + (f" (per-seed 95 % intervals {', '.join(f'[{c[0]:+.1f}, {c[1]:+.1f}]' for c in cis if c)})" if cis else "")
            + ". " + _separable(drops))
        sizes = {r: statistics.mean(a[f"onnx:{r}"]["size_kb"]) for r in have}
        small = min(sizes, key=sizes.get)
        lines.append(f"- **{model}** size (ONNX KiB, mean): " + ", ".join(f"{ROUTE_NAMES[r]} {v:.1f}" for r, v in sizes.items())
                     + f" (fp32 {statistics.mean(a['onnx:fp32']['size_kb']):.1f}); smallest: {ROUTE_NAMES[small]}"
                     + ("" if max(sizes.values()) - min(sizes.values()) > 0.05 * min(sizes.values())
                        else " — all int8 routes within 5 %, a tie in practice") + ".")
        if all("p50_ms" in a[f"onnx:{r}"] for r in have):
            p50 = {r: statistics.mean(a[f"onnx:{r}"]["p50_ms"]) for r in have}
            sp = {r: a[f"onnx:{r}"]["speedup"] for r in have}
            fast = min(p50, key=p50.get)
            tfl = {k.split(":")[1]: v for k, v in a.items() if k.startswith("tflite:") and "p50_ms" in v}
            lines.append(
                f"- **{model}** speed (1 thread, p50 ms; speed-up = fp32 p50 / file p50, median of per-round ratios, "
                f"mean over seeds): ONNX Runtime fp32 {_ms(a['onnx:fp32']['p50_ms'], '{:.3f}')}, "
                + ", ".join(f"{ROUTE_NAMES[r]} {_ms(a[f'onnx:{r}']['p50_ms'], '{:.3f}')} ({statistics.mean(sp[r]):.2f}x)"
                            for r in have)
                + f"; fastest ONNX int8: {ROUTE_NAMES[fast]}. LiteRT: "
                + ", ".join(f"{LITERT_NAMES[k]} "
                            f"{_ms(v['p50_ms'], '{:.3f}')} ({statistics.mean(v['speedup']):.2f}x)" for k, v in tfl.items())
                + ".")
    for model in agg:
        files = [(fmt, r) for s in sets if s["model"] == model for fmt in ("onnx", "tflite") for r in s[fmt]
                 if r.get("p50_ms") is not None]
        if not files:
            continue
        by: dict[tuple, list[float]] = {}
        for fmt, r in files:
            by.setdefault((fmt, r["route"]), []).append(r["p50_ms"])
        mean = {k: statistics.mean(v) for k, v in by.items()}
        label = lambda k: (("ONNX Runtime " + ROUTE_NAMES[k[1]]) if k[0] == "onnx"  # noqa: E731
                           else ("LiteRT " + LITERT_NAMES[k[1]]))
        fastest = min(mean, key=mean.get)
        fastest_int8 = min((k for k in mean if k[1] != "fp32"), key=mean.get)
        fp32 = {k: v for k, v in mean.items() if k[1] == "fp32"}
        lines.append(f"- **{model}** fastest file overall: {label(fastest)} ({mean[fastest]:.3f} ms); fastest int8: "
                     f"{label(fastest_int8)} ({mean[fastest_int8]:.3f} ms); fp32: "
                     + ", ".join(f"{label(k)} {v:.3f} ms" for k, v in fp32.items())
                     + (". Every int8 file is slower than the fp32 file of its runtime for this model" if all(
                         mean[k] > mean[(k[0], "fp32")] for k in mean if k[1] != "fp32") else "") + ".")
    lines += overall_lines(sets)
    return lines


def overall_lines(sets: list[dict]) -> list[str]:
    """Across every model x seed: how often each ONNX int8 route has the lowest test drop, the smallest file, the
    lowest p50 (ties share the win), and how often a route's drop stays within the budget."""
    int8 = ("ort-int8", "nncf-int8", "nncf-int8-ac", "qat-int8")
    wins = {c: {r: 0 for r in int8} for c in ("accuracy", "size", "speed")}
    cases = {r: 0 for r in int8}
    within = {r: 0 for r in int8}
    n = 0
    for s in sets:
        rows = {r["route"]: r for r in s["onnx"] if r["route"] in int8}
        n += 1
        for r in rows:
            cases[r] += 1
            within[r] += rows[r]["drop_pp"] <= s.get("max_drop_pp", 2.0)
        for crit, key in (("accuracy", "drop_pp"), ("size", "size_kb"), ("speed", "p50_ms")):
            if any(rows[r].get(key) is None for r in rows):
                continue
            best = min(rows[r][key] for r in rows)
            tol = 1e-9 if crit == "accuracy" else 0.01 * abs(best)  # size/speed: within 1 % shares the win
            for r in rows:
                if rows[r][key] <= best + tol:
                    wins[crit][r] += 1
    out = [f"- **Overall** ({n} model x seed sets; ties share the win, size/speed within 1 %): "
           + "; ".join(f"{crit}: " + ", ".join(f"{ROUTE_NAMES[r]} {w}/{cases[r]}" for r, w in wins[crit].items() if cases[r])
                       for crit in wins)
           + ". Test drop within the budget: " + ", ".join(f"{ROUTE_NAMES[r]} {within[r]}/{cases[r]}" for r in int8 if cases[r])
           + "."]
    faster, slower, overlap = [], [], 0
    for s in sets:
        rows = {r["route"]: r for r in s["onnx"]}
        ref = rows.get("ort-int8")
        if ref is None or ref.get("speedup_ci95") is None:
            continue
        for route in ("nncf-int8", "nncf-int8-ac", "qat-int8"):
            r = rows.get(route)
            if r is None or r.get("speedup_ci95") is None:
                continue
            tag = f"{ROUTE_NAMES[route]} on {s['model']}" + (f" s{s['seed']}" if s["seed"] is not None else "")
            if r["speedup_ci95"][0] > ref["speedup_ci95"][1]:
                faster.append(tag)
            elif r["speedup_ci95"][1] < ref["speedup_ci95"][0]:
                slower.append(tag)
            else:
                overlap += 1
    out.append(f"- **Speed against ORT static QDQ int8** (speed-up intervals disjoint): faster in {len(faster)} "
               f"comparisons{' (' + '; '.join(faster) + ')' if faster else ''}, slower in {len(slower)}"
               f"{' (' + '; '.join(slower) + ')' if slower else ''}, indistinguishable in {overlap}. The speed 'wins' "
               "above that are not in these lists are within the measurement noise.")
    ac = [(s, r) for s in sets for r in s["onnx"] if r["route"] == "nncf-int8-ac"]
    ptq = {(s["model"], s["seed"]): r for s in sets for r in s["onnx"] if r["route"] == "nncf-int8"}
    if ac:
        budget = ac[0][0].get("max_drop_pp", 2.0)
        val_ok = sum(r["val_drop_pp"] is not None and r["val_drop_pp"] <= budget for _, r in ac)
        acted = [(s, r) for s, r in ac if r["kept_float"]]
        test_over = sum(r["drop_pp"] > budget for _, r in ac)
        improved = [ptq[(s["model"], s["seed"])]["drop_pp"] - r["drop_pp"] for s, r in acted]
        grew = [r["size_kb"] / ptq[(s["model"], s["seed"])]["size_kb"] for s, r in acted]
        out.append(
            f"- **Accuracy control** met its validation budget ({budget:g} pp) in {val_ok}/{len(ac)} sets; it had to act "
            f"(keep operations in float) in {len(acted)}/{len(ac)}"
            + (" (" + ", ".join(f"{s['model']} s{s['seed']}: {len(r['kept_float'])} op(s)" for s, r in acted) + "), where "
               f"it cut the test drop of NNCF PTQ by {', '.join(f'{d:+.1f}' for d in improved)} pp and made the file "
               f"{', '.join(f'{g:.2f}x' for g in grew)} the size of the PTQ file" if acted else "")
            + f". On test its drop still exceeded {budget:g} pp in {test_over}/{len(ac)} sets: the guarantee holds on the "
            "validation split it was tuned on, and the test splits are small (a few items per point).")
    return out


def _separable(drops: dict[str, list[float]]) -> str:
    """Whether the routes' drops differ beyond the seed-to-seed spread (mean ± 2 sd overlap), said plainly."""
    if any(len(v) < 2 for v in drops.values()):
        return "One seed: the routes are compared by their per-seed paired intervals only."
    stats = {r: (statistics.mean(v), statistics.stdev(v)) for r, v in drops.items()}
    best = min(stats, key=lambda r: stats[r][0])
    beaten = [r for r in stats if r != best and stats[r][0] - 2 * stats[r][1] > stats[best][0] + 2 * stats[best][1]]
    if beaten:
        return (f"Over seeds (mean ± 2 sd apart) it beats {', '.join(ROUTE_NAMES[r] for r in beaten)}; the others are "
                "within the seed spread.")
    return "The routes' mean drops are within the seed-to-seed spread of each other (mean ± 2 sd overlap)."


# ---------------------------------------------------------------------------------------------- nncf.prune


def prune_finding(prune_run: Optional[dict]) -> list[str]:
    """What ``nncf.prune`` (nncf 3.4.0) is, read from its source, against ``edgekd.pruning``."""
    lines = [
        "- `nncf.prune(model, mode, ratio, ignored_scope, examples_inputs)` (`nncf/pruning/prune_model.py`, nncf "
        "3.4.0) accepts a `torch.nn.Module` only: any other backend (ONNX, OpenVINO, TF) raises "
        "`nncf.InternalError('Pruning is not supported for the ... backend')`. Modes (`nncf/parameters.py::PruneMode`): "
        "`UNSTRUCTURED_MAGNITUDE_LOCAL`, `UNSTRUCTURED_MAGNITUDE_GLOBAL` and `UNSTRUCTURED_REGULARIZATION_BASED` "
        "(`nncf/torch/function_hook/pruning/`): every one of them is unstructured: it adds a binary mask to each "
        "weight (`UnstructuredPruningMask` or `RBPruningMask` hooks on the weights of Conv, Linear, MatMul and "
        "Embedding ops) and zeroes individual weights; it never removes a channel, so the tensors keep their shapes. "
        "The package has no structured (filter/channel) pruning at all: no `filter_pruning` code is left in 3.4.0.",
        "- `edgekd.pruning` removes whole channels (structured: Taylor/magnitude importance per channel group, "
        "`scope: uniform`, a MACs/params/int8-KB/latency target, `round_to` the target's SIMD width) and rebuilds the "
        "smaller network; the exported TFLite/ONNX file is smaller and faster because the layers are narrower.",
        "- Consequence: a masked (zeroed) weight still occupies its byte in an int8 TFLite/ONNX file and still costs its "
        "multiply in LiteRT/ONNX Runtime (dense kernels, no sparse int8 path on this CPU), so `nncf.prune` cannot "
        "meet any of edgekd's pruning targets (`macs_ratio`, `int8_kb`, `latency_p50_ms`); it could only feed a "
        "compressor that exploits sparsity (zip of the file, or OpenVINO's sparse weights), which edgekd does not ship. "
        "It could not replace `edgekd/pruning/`.",
    ]
    if prune_run:
        lines.append("- Measured on the heart student (seed 0): " + prune_run["text"])
    return lines


def run_nncf_prune(args: argparse.Namespace) -> Optional[dict]:
    """One small run: nncf.prune (magnitude, local, 40 %) on the heart student seed 0, exported int8, against its
    unpruned export (size raw and zipped, MACs, test metric); cached."""
    from edgekd.atomic import write_json

    cache = Path(args.out) / "nncf-prune" / "result.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    import copy
    import zlib

    import nncf
    import torch

    import edgekd

    recipe_path, overrides, recipe = recipe_of("heart", 0, args)
    data, teacher = data_and_teacher("heart", recipe)
    out = Path(args.out) / "heart" / "s0"
    net, _, _ = trained_student(recipe, data, teacher, out)
    ratio = 0.4
    pruned = copy.deepcopy(net)
    example = torch.from_numpy(data.windows["train"].x[:1].copy())
    t0 = time.perf_counter()
    wrapped = nncf.prune(pruned, mode=nncf.PruneMode.UNSTRUCTURED_MAGNITUDE_LOCAL, ratio=ratio,
                         examples_inputs=example)
    stripped = nncf.strip(wrapped, strip_format=nncf.StripFormat.IN_PLACE, example_input=example)  # masks applied
    seconds = time.perf_counter() - t0
    pruned = copy.deepcopy(net)  # a plain module with the masked weights (the hooks are NNCF's, not exportable)
    plain = pruned.state_dict()
    state = {k: v for k, v in stripped.state_dict().items() if k in plain}
    if state.keys() != plain.keys():
        raise RuntimeError(f"stripped model's weights do not match the student's: {sorted(set(plain) - set(state))[:5]}")
    pruned.load_state_dict(state)
    pruned.eval()

    # edgekd's structured pruning to the same share of parameters, also one-shot (no recovery), for comparison
    ek = edgekd.prune(net, {"params_ratio": 1 - ratio}, example, importance="l1", log=lambda s: log(f"  [edgekd prune] {s}"))
    res: dict[str, Any] = {"mode": "UNSTRUCTURED_MAGNITUDE_LOCAL", "ratio": ratio, "seconds": seconds,
                           "edgekd_prune": {"budget": {"params_ratio": 1 - ratio}, "importance": "l1",
                                            "before": ek.before, "after": ek.after}}
    dest = Path(args.out) / "nncf-prune"
    files = []
    for name, m in (("unpruned", net), ("nncf-pruned", pruned), ("edgekd-pruned", ek.model.eval())):
        rows = {}
        for fmt, prec in (("onnx", "int8"), ("tflite", "int8")):
            art = edgekd.export(m, dest / f"{name}-{prec}-{fmt}.{fmt}", precision=prec, calibration=data, val=data,
                                log=lambda s: None)
            ev = edgekd.evaluate(art.path, data).to_dict()
            raw = art.path.read_bytes()
            rows[fmt] = {"size_kb": len(raw) / 1024, "zlib_kb": len(zlib.compress(raw, 9)) / 1024, "macc": ev["macc"],
                         "path": str(art.path)}
            files.append(str(art.path))
        zeros = sum(int((p == 0).sum()) for n_, p in m.state_dict().items() if n_.endswith("weight"))
        total = sum(int(p.numel()) for n_, p in m.state_dict().items() if n_.endswith("weight"))
        res[name] = {**rows, "zero_weights": zeros, "weights": total,
                     "params": int(sum(p.numel() for p in m.parameters()))}
    lat = time_interleaved(files, 5, 40.0, seed=1)
    for name in ("unpruned", "nncf-pruned", "edgekd-pruned"):
        for fmt in ("onnx", "tflite"):
            res[name][fmt]["p50_ms"] = lat[res[name][fmt]["path"]]["p50_ms"]
    u, p, e = res["unpruned"], res["nncf-pruned"], res["edgekd-pruned"]
    res["text"] = (f"`nncf.prune(mode=UNSTRUCTURED_MAGNITUDE_LOCAL, ratio={ratio})` (no fine-tuning, {seconds:.1f} s) set "
                   f"{p['zero_weights']}/{p['weights']} weights to zero ({u['zero_weights']} before); parameters "
                   f"{u['params']} → {p['params']} (unchanged shapes). int8 ONNX {u['onnx']['size_kb']:.1f} → "
                   f"{p['onnx']['size_kb']:.1f} KiB (zlib -9: {u['onnx']['zlib_kb']:.1f} → {p['onnx']['zlib_kb']:.1f}), "
                   f"int8 TFLite {u['tflite']['size_kb']:.1f} → {p['tflite']['size_kb']:.1f} KiB (zlib: "
                   f"{u['tflite']['zlib_kb']:.1f} → {p['tflite']['zlib_kb']:.1f}); test MAcc (int8 TFLite) "
                   f"{u['tflite']['macc']:.3f} → {p['tflite']['macc']:.3f}; int8 TFLite p50 {u['tflite']['p50_ms']:.3f} → "
                   f"{p['tflite']['p50_ms']:.3f} ms (ONNX {u['onnx']['p50_ms']:.3f} → {p['onnx']['p50_ms']:.3f}). "
                   f"edgekd's structured pruning to the same parameter share (`edgekd.prune(params_ratio={1 - ratio:g}, "
                   f"importance=l1)`, also without recovery): parameters {u['params']} → {e['params']}, int8 ONNX "
                   f"{e['onnx']['size_kb']:.1f} KiB, int8 TFLite {e['tflite']['size_kb']:.1f} KiB, p50 TFLite "
                   f"{e['tflite']['p50_ms']:.3f} ms (ONNX {e['onnx']['p50_ms']:.3f}), test MAcc (int8 TFLite) "
                   f"{e['tflite']['macc']:.3f}. Neither was fine-tuned after pruning (edgekd's recipes recover by "
                   "distillation; a masked NNCF model would need NNCF's own training loop to keep its masks).")
    write_json(cache, res)
    return res


# ---------------------------------------------------------------------------------------------- render


def render(meta: dict, sets: list[dict], summary: list[str], prune_lines: list[str]) -> str:
    L = [
        "# int8 routes side by side: ONNX Runtime static QDQ · NNCF PTQ · NNCF with accuracy control · QAT "
        "(issue 29, item 3)", "",
        f"Command: `{meta['command']}`  ",
    ]
    for c in meta.get("other_commands", []):
        L.append(f"(training also run in parallel processes: `{c}`)  ")
    L += [
        f"Run {meta['started']} → {meta['finished']} UTC. Seeds: students {meta['seeds']}; the teacher is one model "
        "(no seeds, no QAT row: QAT would retrain it).  ",
        "Data: " + "; ".join(f"{k} `{v['path']}` hash `{v['hash'][:16]}` ({v['test_items']} test items)"
                             for k, v in meta["data"].items()) + ".  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v) + ".  ",
        f"Host: {meta['host']['cpu']} ({meta['host']['machine']}, {meta['host']['cores']} cores; this process pinned to "
        f"core {', '.join(map(str, meta['latency']['affinity']))}; ISA {', '.join(meta['host']['isa'])}).  ",
        f"accuracy control `max_drop` = {meta['max_drop_pp']} pp (targets/x86_64.yaml `accuracy_drop_pp`), validated on "
        "the validation split; every other figure is on the test split.",
        "",
        "Models: " + MODELS_NOTE,
        "",
        "Epochs: " + meta["epochs_note"],
        "",
        "Method: each file is run by edgekd's device-side code on the test split (window probabilities combined per "
        "item as the task does). Metric: MAcc (heart, 2 classes), balanced accuracy (plant, 7 classes). Drop = fp32 "
        "twin of the same format − file, in points, paired on the same items: exact one-sided test (p; 'lower' = "
        "one-sided 95 % lower bound) and a two-sided 95 % interval (bootstrap over items within each class). "
        f"Latency: all {meta['latency']['files']} files loaded in one process, ONNX Runtime and LiteRT (XNNPACK), 1 "
        f"thread, local runner, {meta['latency']['rounds']} interleaved rounds (order shuffled each round; per visit 3 "
        f"untimed invokes then ≥15 invokes and ≥{meta['latency']['batch_ms']:g} ms); p50 over all timed invokes; "
        "speed-up = fp32 p50 / file p50 per round, median over rounds with a bootstrap 95 % interval. Load average "
        f"(1/5/15 min) {', '.join(f'{v:.2f}' for v in meta['latency']['loadavg_1_5_15']['before'])} before and "
        f"{', '.join(f'{v:.2f}' for v in meta['latency']['loadavg_1_5_15']['after'])} after the timing (the machine "
        "is shared: the load average includes other users' jobs, which were pinned to the other core while this "
        "benchmark ran).",
        "",
        "## Summary: when each route wins", "",
        *summary, "",
        "## nncf.prune against edgekd's pruning", "",
        *prune_lines, "",
        "## Per model and seed", "",
    ]
    for s in sets:
        title = f"{s['model']}" + (f", seed {s['seed']}" if s["seed"] is not None else "")
        info = s["info"]
        extra = (f" — val score {info['val_score']:.3f} (best epoch {info['best_epoch']} of {info['epochs_run']}), "
                 f"{info['params']} parameters" if "val_score" in info else f" — {info['params']} parameters, "
                 f"`{info.get('checkpoint')}` as it is")
        L += [f"### {title}{extra}", "",
              "| format | route | size KiB | test metric [95 % CI] | drop pp [95 % CI] | p (lower) | val drop pp | "
              "kept float | float ops | p50 ms | speed-up vs fp32 [95 % CI] |",
              "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
        for fmt in ("onnx", "tflite"):
            for r in s[fmt]:
                ci = r.get("test_ci95")
                ci_t = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if isinstance(ci, list) and len(ci) == 2 and None not in ci else ""
                dci = r.get("drop_ci95_pp")
                dci_t = f" [{dci[0]:+.1f}, {dci[1]:+.1f}]" if dci else ""
                p = f"{r['p_value']:.3f} ({r['drop_lower_pp']:+.1f})" if r.get("p_value") is not None else "–"
                val = f"{r['val_drop_pp']:.2f}" if r.get("val_drop_pp") is not None else "–"
                kept = ", ".join(r.get("kept_float") or []) or "–"
                p50 = f"{r['p50_ms']:.3f}" if r.get("p50_ms") is not None else "–"
                sp = (f"{r['speedup']:.2f}x [{r['speedup_ci95'][0]:.2f}, {r['speedup_ci95'][1]:.2f}]"
                      if r.get("speedup") is not None else "–")
                name = ROUTE_NAMES.get(r["route"], r["route"]) if fmt == "onnx" else LITERT_NAMES[r["route"]]
                fops = f"{r['float_ops']}" + (" (" + ", ".join(f"{k} {v}" for k, v in r["float_op_types"].items()) + ")"
                                              if r.get("float_op_types") else "")
                L.append(f"| {'ONNX' if fmt == 'onnx' else 'LiteRT'} | {name} | "
                         f"{r['size_kb']:.1f} | {r['metric']} {r['test']:.3f}{ci_t} | {r['drop_pp']:+.2f}{dci_t} | {p} | "
                         f"{val} | {kept} | {fops} | {p50} | {sp} |")
        L.append("")
    return "\n".join(L) + "\n"


def epochs_note(args: argparse.Namespace) -> str:
    from edgekd.recipe import load_recipe

    parts = []
    for model in ("heart", "plant"):
        if model not in args.models:
            continue
        _, ov, r = recipe_of(model, 0, args)
        extra = args.set_heart if model == "heart" else args.set_plant
        txt = (f"{model} student {r.student.train.epochs} epochs (patience {r.student.train.patience}"
               + (f", epoch_windows {r.student.train.epoch_windows}" if r.student.train.epoch_windows else "") + ")")
        if r.prune is not None:
            txt += f", prune {r.prune.order} with {r.prune.recover.epochs} recovery epochs"
        txt += f", QAT {r.export.qat.epochs} epochs"
        txt += (f" — shortened from the deploy benchmark's settings by `{' '.join(extra)}`" if extra
                else " (the deploy benchmark's full length)")
        parts.append(txt)
    return "; ".join(parts) + "."


def main(argv: Optional[list[str]] = None) -> int:
    import torch

    from edgekd.api.checks import resolve_targets
    from edgekd.atomic import write_json, write_text
    from edgekd.runtime.latency import host_info
    from edgekd.versions import versions

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["heart", "plant", "heart-teacher"],
                    choices=["heart", "plant", "heart-teacher"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--plant-seeds", type=int, nargs="+", default=None, help="plant seeds (default: --seeds)")
    ap.add_argument("--set-heart", action="append", default=[], help="recipe override for the heart students")
    ap.add_argument("--set-plant", action="append", default=[], help="recipe override for the plant students")
    ap.add_argument("--out", default=str(ROOT / "runs" / "nncf-compare"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--rounds", type=int, default=15, help="interleaved latency rounds")
    ap.add_argument("--batch-ms", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for training")
    ap.add_argument("--skip-latency", action="store_true", help="only train/export/evaluate (cached); no results file")
    ap.add_argument("--no-prune-run", action="store_true", help="skip the small nncf.prune run")
    ap.add_argument("--note", action="append", default=[], help="a line added to the results file")
    ap.add_argument("--other-command", action="append", default=[], help="recorded: the parallel training commands")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    max_drop_pp = float(resolve_targets([TARGET])[0].budgets.accuracy_drop_pp)
    sets = []
    for model in args.models:
        seeds = [None] if model == "heart-teacher" else (args.plant_seeds or args.seeds) if model == "plant" else args.seeds
        for seed in seeds:
            s = rows_for(model, seed, args, max_drop_pp)
            s["max_drop_pp"] = max_drop_pp
            sets.append(s)
    prune_run = None
    if "heart" in args.models and 0 in args.seeds and not args.no_prune_run:
        try:
            prune_run = run_nncf_prune(args)
        except Exception as exc:  # the finding from the source stands; say why the run is missing
            log(f"nncf.prune run failed: {type(exc).__name__}: {exc}")
            prune_run = {"text": f"the small run failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"}
    if args.skip_latency:
        log("--skip-latency: rows cached; no results written")
        return 0
    torch.set_num_threads(1)
    paths = [r["path"] for s in sets for fmt in ("onnx", "tflite") for r in s[fmt]]
    log(f"latency: {len(paths)} files, {args.rounds} interleaved rounds, 1 thread, affinity {sorted(os.sched_getaffinity(0))}")
    load_before = os.getloadavg()
    lat = time_interleaved(paths, args.rounds, args.batch_ms)
    load_after = os.getloadavg()
    attach_latency(sets, lat)
    agg = aggregate(sets)
    summary = summary_lines(sets, agg, max_drop_pp)
    prune_lines = prune_finding(prune_run)
    data = {}
    for s in sets:
        fam = "plant" if s["model"] == "plant" else "heart"
        data[fam] = {"path": str(PLANT_DATA if fam == "plant" else HEART_DATA), "hash": s["data_hash"],
                     "test_items": s["test_items"]}
    command = "taskset -c 0 .venv/bin/python " + " ".join(shlex.quote(a) for a in
                                                          ["benchmarks/nncf_benchmark.py", *(argv or sys.argv[1:])])
    meta = {"command": command, "other_commands": args.other_command, "started": started,
            "finished": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "seeds": sorted({s["seed"] for s in sets if s["seed"] is not None}), "data": data, "versions": versions(),
            "host": host_info(), "max_drop_pp": max_drop_pp, "epochs_note": epochs_note(args) + " " + " ".join(args.note),
            "latency": {"files": len(paths), "rounds": args.rounds, "batch_ms": args.batch_ms, "threads": 1,
                        "runner": "local", "affinity": sorted(os.sched_getaffinity(0)),
                        "loadavg_1_5_15": {"before": list(load_before), "after": list(load_after)}}}
    results = Path(args.results)
    write_json(results / "nncf_compare.json", {**meta, "summary": summary, "prune": {"lines": prune_lines,
                                                                                      "run": prune_run},
                                               "aggregate": agg, "sets": sets, "latency_raw": lat})
    text = render(meta, sets, summary, prune_lines)
    write_text(results / "nncf_compare.md", text)
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
