"""Benchmark: precision × backend on the heart data, every figure from running the exported file.

Uses the full dev set with the split of ``benchmarks/heart_full.py`` (60/20/20,
record-wise, seed 0) and its trained teacher and student checkpoints (no
retraining; QAT fine-tunes a copy of the student, and the small residual
student ``heart_student_res`` is distilled once for the ADD audit). For each
artifact: file size, test MAcc (threshold chosen on validation by running the
artifact), parity with the fp32 torch model on the test windows, latency p50
with 1 and 2 threads, and the audit (fully integer, float ops, Q/DQ,
TRANSPOSE, per-channel vs per-tensor weights, I/O dtypes). Writes
``benchmarks/results/quant_matrix.json`` and ``quant_matrix.md``.

Run:  /work/coord/heavy .venv/bin/python benchmarks/quant_matrix.py
      (or: .venv/bin/python benchmarks/quant_matrix.py --data ../shared/data/heart-physionet2016)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from heart_data import default_heart_data  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from edgekd.atomic import write_json, write_text  # noqa: E402
from edgekd.pipeline import check_recipe, default_log, prepare_data  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402

# (model key, backend, precision, calibration method or None)
MATRIX = [
    ("student", "litert-torch", "fp32", None),
    ("student", "litert-torch", "fp16", None),
    ("student", "litert-torch", "int8-dynamic", None),
    ("student", "litert-torch", "int8", "histogram"),
    ("student", "litert-torch", "int8", "minmax"),
    ("student", "litert-torch", "int8-qat", None),
    ("student", "onnx2tf", "fp32", None),
    ("student", "onnx2tf", "fp16", None),
    ("student", "onnx2tf", "int8-dynamic", None),
    ("student", "onnx2tf", "int8", "minmax"),
    ("student", "onnxruntime", "fp32", None),
    ("student", "onnxruntime", "int8-dynamic", None),
    ("student", "onnxruntime", "int8", "minmax"),
    ("student", "onnxruntime", "int8", "entropy"),
    ("student", "onnxruntime", "int8", "percentile"),
    ("student", "onnxruntime", "int8-qat", None),
    ("student", "onnxruntime", "int4-weights", None),
    ("student", "onnxruntime", "mixed", None),
    ("student_res", "litert-torch", "fp32", None),
    ("student_res", "litert-torch", "int8", "histogram"),
    ("student_res", "onnx2tf", "int8", "minmax"),
    ("student_res", "litert-torch", "int8-qat", None),
    ("student_res", "onnxruntime", "fp32", None),
    ("student_res", "onnxruntime", "int8", "minmax"),
    ("student_res", "onnxruntime", "int8-qat", None),
]


def _load(model_key: str, path: Path, classes: int, shape: tuple[int, ...], **params):
    from edgekd.models import build_model

    model = build_model(model_key, num_classes=classes, input_shape=shape, **params)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state.get("model", state))
    return model.eval()


def _residual_student(recipe, data, teacher, out: Path, epochs: int):
    """Distil ``heart_student_res`` from the teacher once (resumable; cached under ``out``)."""
    from edgekd.training.losses import build_loss
    from edgekd.training.trainer import train_model
    from edgekd.models import build_model

    torch.manual_seed(recipe.seed)
    model = build_model("heart_student_res", num_classes=len(data.classes), input_shape=data.task.input_shape)
    counts = np.bincount(data.windows["train"].y, minlength=len(data.classes)).astype(float)
    params = {**recipe.student.loss.params, "class_weights": (counts.sum() / (len(counts) * counts)).tolist()}
    train_spec = recipe.student.train.model_copy(update={"epochs": epochs, "threads": 1,
                                                         "consistent_teacher": False})  # teacher logits once: cheaper
    train_model(
        model, data.windows["train"], data.windows["val"], build_loss("kd", params),
        labels=data.classes, positive=data.positive, cfg=train_spec.trainer_config(),
        seed=recipe.seed, checkpoint_dir=out / "checkpoints" / "student_res", teacher=teacher,
        log=lambda s: default_log(f"  [student_res] {s}"), fingerprint_extra="quant-matrix-res",
        augment=data.task.augmentation() if train_spec.augment else None,
    )
    return model.eval()


def _measure(path: Path, data, reference: np.ndarray, runs: int) -> dict:
    """Test metrics (val-chosen threshold), parity, latency at 1 and 2 threads, audit."""
    from edgekd.audit.parity import parity
    from edgekd.runtime.artifact import load_artifact
    from edgekd.runtime.evaluate import evaluate_windows, recording_probabilities
    from edgekd.runtime.latency import measure_latency
    from edgekd.runtime.threshold import choose_threshold

    test, val = data.windows["test"], data.windows["val"]
    art = load_artifact(path, threads=1)
    pos = data.classes.index(data.positive)
    ids, probs = recording_probabilities(art, val.x, val.rec)
    threshold = choose_threshold(probs[:, pos], val.y_rec[ids] == pos)
    metrics = evaluate_windows(art, test.x, test.rec, test.y_rec, data.classes, data.positive,
                               [r.group for r in test.recordings], threshold)
    latency = {}
    for threads in (1, 2):
        lat = measure_latency(load_artifact(path, threads=threads), runs=runs, warmup=20, max_seconds=10)
        latency[threads] = lat["p50_ms"]
    return {
        "size_bytes": path.stat().st_size,
        "macc": metrics["macc"],
        "sensitivity": metrics["sensitivity"],
        "specificity": metrics["specificity"],
        "threshold": threshold,
        "parity": parity(reference, art.predict(test.x)),
        "p50_ms_1t": latency[1],
        "p50_ms_2t": latency[2],
        "runtime": f"{art.runtime} {art.runtime_version}",
        "audit": _audit(path),
    }


def _audit(path: Path) -> dict:
    """The audit fields the table shows (``edgekd inspect``)."""
    from edgekd.audit import inspect_artifact

    audit = inspect_artifact(path)
    return {k: audit[k] for k in ("ops", "quantized", "fully_integer", "float_ops", "transposes", "quantize_ops",
                                  "dequantize_ops", "per_channel_weights", "per_tensor_weights",
                                  "weight_dtypes", "input_dtypes", "output_dtypes")}


def render(result: dict) -> str:
    """The Markdown table of the results."""
    lines = [
        "# Precision × backend on the heart data (full dev set, 100 test recordings)",
        "",
        f"Command: `{result['command']}`  ",
        f"Data hash `{result['data_hash'][:16]}`, seed {result['seed']}, split 60/20/20 as `benchmarks/heart_full.py`; "
        f"calibration {result['calibration_windows']} training windows; mixed-precision budget "
        f"{result['mixed_size_kb']:g} KB. Every row ran the exported file ({result['host']}); "
        "MAcc on the test recordings with the threshold chosen on validation by running that file; parity "
        "against the fp32 torch model on the test windows.",
        "",
        "| model | backend | precision | calib | size KB | MAcc | top-1 agree | max |Δlogit| | mean |Δlogit| "
        "| p50 ms 1T | p50 ms 2T | fully int | float ops | Q/DQ | transposes | weights ch/tensor | I/O |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---|---|",
    ]
    for r in result["rows"]:
        a, p = r["audit"], r["parity"]
        lines.append(
            f"| {r['model']} | {r['backend']} | {r['precision']} | {r['calibration'] or '–'} | "
            f"{r['size_bytes'] / 1024:.1f} | {r['macc']:.3f} | {p['top1_agreement']:.4f} | {p['max_abs_dlogit']:.3f} | "
            f"{p['mean_abs_dlogit']:.4f} | {r['p50_ms_1t']:.3f} | {r['p50_ms_2t']:.3f} | "
            f"{'yes' if a['fully_integer'] else ('no' if a['quantized'] else 'float')} | {len(a['float_ops'])} | "
            f"{a['quantize_ops']}/{a['dequantize_ops']} | {a['transposes']} | "
            f"{a['per_channel_weights']}/{a['per_tensor_weights']} | "
            f"{','.join(a['input_dtypes'])}→{','.join(a['output_dtypes'])} |"
        )
    t = result["torch"]
    lines += ["", f"Torch-side references (not artifacts): fp32 student MAcc {t['student']:.3f}, "
              f"residual student {t['student_res']:.3f}, QAT fake-quant student {t['qat']:.3f}, "
              f"QAT fake-quant residual student {t['qat_res']:.3f}.", ""]
    lines += ["## Checks", ""] + [f"- {c}" for c in result["checks"]] + [""]
    if result.get("mixed"):
        m = result["mixed"]
        lines += ["## Mixed precision", "",
                  f"Budget {m['size_kb']:g} KB → {m['bytes'] / 1024:.1f} KB. Bits per layer: "
                  + ", ".join(f"`{k}` {v}" for k, v in m["bits"].items()) + ".", "",
                  "| layer | op | params | val MAcc drop int8 | int8 size Δ B | val MAcc drop int4 | int4 size Δ B |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for layer in m["sensitivity"]["layers"]:
            options = {int(bits): o for bits, o in layer["options"].items()}  # JSON keys are strings
            o8, o4 = options[8], options[4]
            lines.append(f"| `{layer['name']}` | {layer['op']} | {layer['params']} | {o8['drop']:+.3f} | "
                         f"{o8['size_delta']} | {o4['drop']:+.3f} | {o4['size_delta']} |")
        lines.append("")
    return "\n".join(lines)


def _checks(rows: list[dict], mixed_kb: float) -> list[str]:
    """The issue's done-criteria, evaluated on the measured rows."""
    def row(model, backend, precision, calib=None):
        return next(r for r in rows if (r["model"], r["backend"], r["precision"]) == (model, backend, precision)
                    and (calib is None or r["calibration"] == calib))

    out = []
    for model, backend, ptq_calib in (("student", "litert-torch", "histogram"), ("student", "onnxruntime", "minmax"),
                                      ("student_res", "litert-torch", "histogram"), ("student_res", "onnxruntime", "minmax")):
        fp32, ptq, qat = row(model, backend, "fp32"), row(model, backend, "int8", ptq_calib), row(model, backend, "int8-qat")
        ptq_drop, qat_drop = (fp32["macc"] - ptq["macc"]) * 100, (fp32["macc"] - qat["macc"]) * 100
        verdict = ("PTQ lost < 1 point, so the recovery rule does not apply" if ptq_drop < 1 - 1e-6 else
                   f"QAT recovered {(ptq_drop - qat_drop) / ptq_drop:.0%} of the PTQ drop "
                   f"({'meets' if ptq_drop - qat_drop >= ptq_drop / 2 - 1e-6 else 'misses'} the half-recovery bar)")
        out.append(f"{model} {backend}: fp32 MAcc {fp32['macc']:.3f}, PTQ int8 {ptq['macc']:.3f} (drop {ptq_drop:+.1f} pp), "
                   f"QAT int8 {qat['macc']:.3f} (drop {qat_drop:+.1f} pp); window top-1 agreement with fp32 "
                   f"PTQ {ptq['parity']['top1_agreement']:.4f}, QAT {qat['parity']['top1_agreement']:.4f}: {verdict}")
    int4, int8 = row("student", "onnxruntime", "int4-weights"), row("student", "onnxruntime", "int8", "minmax")
    out.append(f"int4-weights ONNX {int4['size_bytes'] / 1024:.1f} KB vs int8 ONNX {int8['size_bytes'] / 1024:.1f} KB: "
               f"{'smaller' if int4['size_bytes'] < int8['size_bytes'] else 'NOT smaller'}")
    mixed = row("student", "onnxruntime", "mixed")
    plain = [r for r in rows if r["model"] == "student" and r["precision"] == "int8"]
    missed = sorted({f"{r['backend']} int8 {r['size_bytes'] / 1024:.1f} KB" for r in plain if r["size_bytes"] > mixed_kb * 1024})
    out.append(f"mixed {mixed['size_bytes'] / 1024:.1f} KB {'meets' if mixed['size_bytes'] <= mixed_kb * 1024 else 'MISSES'} "
               f"the {mixed_kb:g} KB budget (MAcc {mixed['macc']:.3f}); plain int8 over it: {', '.join(missed) or 'none'}")
    lit, o2t = row("student_res", "litert-torch", "int8"), row("student_res", "onnx2tf", "int8")
    out.append(f"residual student: litert-torch int8 fully integer = {lit['audit']['fully_integer']} "
               f"(float ops {', '.join(lit['audit']['float_ops']) or 'none'}); onnx2tf int8 fully integer = "
               f"{o2t['audit']['fully_integer']} (ADD ops {o2t['audit']['ops'].get('ADD', 0)})")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="heart folder (default: the first 500 dev recordings, the set the committed results were measured on; benchmarks/heart_data.py)")
    ap.add_argument("--checkpoints", default=str(ROOT / "runs" / "heart-full" / "checkpoints"))
    ap.add_argument("--out", default=str(ROOT / "runs" / "quant-matrix"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--mixed-kb", type=float, default=18.0, help="mixed-precision size budget (KB)")
    ap.add_argument("--qat-epochs", type=int, default=4)
    ap.add_argument("--res-epochs", type=int, default=12, help="distillation epochs of the residual student")
    ap.add_argument("--runs", type=int, default=200, help="timed runs per latency figure")
    args = ap.parse_args(argv)
    args.data = args.data or default_heart_data()
    torch.set_num_threads(1)
    out = Path(args.out)
    ckpt = Path(args.checkpoints)
    overrides = [f"data.path={args.data}", "name=heart-full", "data.split={train: 0.6, val: 0.2, test: 0.2}",
                 f"export.qat.epochs={args.qat_epochs}", "student.train.threads=1"]
    recipe = load_recipe(ROOT / "recipes" / "heart.yaml", overrides)
    check_recipe(recipe)
    data = prepare_data(recipe, default_log)
    shape, classes = data.task.input_shape, len(data.classes)
    teacher = _load("heart_teacher", ckpt / "teacher" / "best.pt", classes, shape, **recipe.teacher.params)
    models = {
        "student": _load("heart_student", ckpt / "student" / "best.pt", classes, shape, **recipe.student.params),
        "student_res": _residual_student(recipe, data, teacher, out, args.res_epochs),
    }
    from edgekd.training.trainer import predict_logits, recording_metrics, score_of
    from edgekd.exporting.backends import BACKENDS
    from edgekd.api.distilling import objective_of
    from edgekd.flow.steps import qat_model_for
    from edgekd.exporting.context import ExportContext, Validation
    from edgekd.quantize.calibration import calibration_windows
    from edgekd.quantize.qat import qat_logits

    test = data.windows["test"]
    reference = {k: predict_logits(m, test.x) for k, m in models.items()}
    calibration = calibration_windows(data.windows["train"], recipe.export.calibration_windows, recipe.seed)
    example = torch.from_numpy(data.windows["train"].x[:1].copy())
    val = data.windows["val"]
    objective = objective_of(recipe.student.loss, recipe.student.distill, True)
    qat_models: dict = {}

    def qat_of(key):  # one QAT fine-tuning per model, shared by its TFLite and ONNX exports
        if key not in qat_models:
            qat_models[key] = qat_model_for(models[key], teacher, data, recipe.export, objective, recipe.student.train,
                                            recipe.seed, out, default_log)
        return qat_models[key]

    def val_score(logits):
        return score_of(recording_metrics(logits, val, data.classes, data.positive))
    rows, mixed = [], None
    done_path = out / "rows.json"  # measured rows, so an interrupted run resumes where it stopped
    done = json.loads(done_path.read_text()) if done_path.is_file() else {}
    for key, backend_name, precision, method in MATRIX:
        backend = BACKENDS.get(backend_name)
        path = out / "artifacts" / f"{key}-{backend_name}-{precision}{'-' + method if method else ''}.{backend.format}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.name in done and path.is_file():
            rows.append(done[path.name])
            rows[-1]["audit"] = _audit(path)  # the audit is re-read from the file (cheap, follows the auditor)
            mixed = rows[-1].get("mixed_details", mixed)
            continue
        context = ExportContext(calibration_method=method, validation=Validation(val.x, val_score),
                                mixed_size_kb=args.mixed_kb, qat_model=qat_of(key) if precision == "int8-qat" else None,
                                log=default_log)
        t0 = time.perf_counter()
        output = backend.exporters[precision](models[key], example, path, calibration, context=context)
        seconds = time.perf_counter() - t0
        row = {"model": key, "backend": backend_name, "precision": precision, "calibration": method,
               "export_seconds": round(seconds, 1), **_measure(path, data, reference[key], args.runs)}
        if precision == "mixed":
            mixed = row["mixed_details"] = output.details["mixed"]
        rows.append(row)
        done[path.name] = row
        write_json(done_path, done)
        default_log(f"  {path.name:48s} {row['size_bytes'] / 1024:7.1f} KB  MAcc {row['macc']:.3f}  "
                    f"agree {row['parity']['top1_agreement']:.4f}  p50 {row['p50_ms_1t']:.3f}/{row['p50_ms_2t']:.3f} ms  "
                    f"fully-int {row['audit']['fully_integer']}  ({seconds:.1f} s)")

    def torch_macc(logits):
        return score_of(recording_metrics(logits, test, data.classes, data.positive))

    qat = qat_of("student")
    qat_res = qat_of("student_res")
    from edgekd.runtime.latency import host_info
    from edgekd.versions import versions

    result = {
        "command": "python benchmarks/quant_matrix.py" + (f" --mixed-kb {args.mixed_kb:g}" if args.mixed_kb != 18.0 else ""),
        "data_hash": data.data_hash,
        "seed": recipe.seed,
        "calibration_windows": int(len(calibration)),
        "mixed_size_kb": args.mixed_kb,
        "qat": {"epochs": args.qat_epochs, "best_epoch": qat.result.best_epoch, "best_val_score": qat.result.best_score},
        "torch": {"student": torch_macc(reference["student"]), "student_res": torch_macc(reference["student_res"]),
                  "qat": torch_macc(qat_logits(qat, test.x)), "qat_res": torch_macc(qat_logits(qat_res, test.x))},
        "host": host_info().get("cpu", "this machine"),
        "versions": versions(),
        "rows": rows,
        "mixed": mixed,
    }
    result["checks"] = _checks(rows, args.mixed_kb)
    results = Path(args.results)
    write_json(results / "quant_matrix.json", result)
    write_text(results / "quant_matrix.md", render(result))
    print((results / "quant_matrix.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
