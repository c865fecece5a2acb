"""The typed results of the public verbs (each also as the plain dict the CLI and reports print)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional


@dataclass
class Distilled:
    """What ``edgekd.distill`` produced.

    Attributes:
        model: the trained student (in place; eval mode, holding the best validation weights).
        classes: class names, output order. task: the task's name.
        best_epoch, best_score: the selected epoch and its smoothed validation score (MAcc for two
            classes, else balanced accuracy). epochs_run, resumed_from: training progress.
        val_metrics: item-level validation metrics of the selected weights (torch-side).
        history: one row per epoch. seconds: training time. loss: the loss it was trained with.
    """

    model: Any
    classes: list[str]
    task: str
    best_epoch: int
    best_score: float
    epochs_run: int
    resumed_from: int
    val_metrics: dict
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    loss: dict = field(default_factory=dict)  # the logit loss it was trained with: {"name": ..., **params}


@dataclass
class Pruned:
    """What ``edgekd.prune`` produced.

    Attributes:
        model: the pruned model (a copy; the input model is untouched).
        reference: the model as it was before pruning.
        before, after: parameters, MACs (and predicted int8 bytes for an ``int8_kb`` target).
        steps: one record per pruning step (budget, channels kept, recovery).
        summary: the report's pruning section (settings and outcome).
    """

    model: Any
    reference: Any
    before: dict
    after: dict
    steps: list[dict]
    summary: dict

    @property
    def macs_ratio(self) -> float:
        return self.after["macs"] / max(self.before["macs"], 1)


@dataclass
class Exported:
    """What ``edgekd.export`` wrote: the artifact and its sidecar.

    Attributes:
        path, sidecar_path: the files. format, precision, backend, target: what and how.
        size_bytes: the artifact's size. threshold: the two-class decision threshold chosen on
            validation by running the file (None without validation data). sidecar: what it says.
    """

    path: Path
    sidecar_path: Path
    format: str
    precision: str
    backend: str
    target: Optional[str]
    size_bytes: int
    threshold: Optional[float]
    sidecar: dict

    @classmethod
    def from_record(cls, record: Any) -> "Exported":
        return cls(record.path, record.sidecar_path, record.format, record.precision, record.backend, record.target,
                   record.size_bytes, record.threshold, record.sidecar)

    def measured(self, evaluation: "Evaluation", benchmark: Optional["Benchmark"] = None, *,
                 role: str = "student") -> dict:
        """This artifact as a report record (what ``edgekd.gate`` judges): size, metrics, latency, graph audit.

        Args:
            evaluation: ``edgekd.evaluate`` of this file. benchmark: ``edgekd.bench`` of it, if timed.
            role: ``student`` (gated) or ``teacher`` (a reference, never gated).
        """
        from edgekd.audit import inspect_artifact
        from edgekd.hashing import file_sha256

        return {"name": self.sidecar.get("name", self.path.stem), "role": role, "target": self.target or "local",
                "format": self.format, "precision": self.precision, "path": str(self.path.resolve()),
                "size_bytes": self.path.stat().st_size, "sha256": file_sha256(self.path),
                "metrics": evaluation.to_dict(),
                **({"latency": benchmark.to_dict()} if benchmark is not None else {}),
                "audit": inspect_artifact(self.path), "backend": self.backend}


@dataclass
class Evaluation:
    """What ``edgekd.evaluate`` measured by running the artifact: the ``eval --json`` object.

    ``n`` items, ``accuracy``, ``balanced_accuracy``, ``macc`` (two classes with a positive class, else
    None), ``labels``, ``confusion``, ``per_class``; ``to_dict()`` is the CLI's JSON.
    """

    metrics: dict

    @property
    def n(self) -> int:
        return int(self.metrics["n"])

    @property
    def accuracy(self) -> float:
        return float(self.metrics["accuracy"])

    @property
    def balanced_accuracy(self) -> float:
        return float(self.metrics["balanced_accuracy"])

    @property
    def macc(self) -> Optional[float]:
        return self.metrics.get("macc")

    @property
    def score(self) -> float:
        """MAcc for a two-class screener, else balanced accuracy."""
        return float(self.metrics.get("macc", self.metrics["balanced_accuracy"]))

    def to_dict(self) -> dict:
        return dict(self.metrics)


@dataclass
class Benchmark:
    """What ``edgekd.bench`` measured: the ``bench --json`` object (``p50_ms``, ``p90_ms``, ``runner``, ...)."""

    result: dict

    @property
    def p50_ms(self) -> float:
        return float(self.result["p50_ms"])

    @property
    def p90_ms(self) -> float:
        return float(self.result["p90_ms"])

    @property
    def estimated(self) -> bool:
        return bool(self.result.get("estimated"))

    def to_dict(self) -> dict:
        return dict(self.result)


@dataclass
class Compressed:
    """What ``edgekd.compress`` made: the trained models, every artifact measured, and the report.

    Attributes:
        report: the ``report.json`` object (schema ``edgekd.report/1``); ``artifacts`` in it hold each
            file's measured metrics, latency, audit and budget verdict.
        out: where artifacts (and ``report.json``/``.md``/``.html``) were written.
        teacher, student: the trained models (the student pruned when pruning was asked for).
    """

    report: dict
    out: Path
    teacher: Any
    student: Any

    @property
    def artifacts(self) -> list[dict]:
        return list(self.report["artifacts"])

    def artifact(self, name: str, target: Optional[str] = None) -> dict:
        """One artifact's record by name (``student-tflite-int8``), on ``target`` if several."""
        for a in self.report["artifacts"]:
            if a["name"] == name and (target is None or a["target"] == target):
                return a
        from edgekd.errors import InputError

        raise InputError(f"no artifact {name!r}" + (f" on {target!r}" if target else "") + " in this run")
