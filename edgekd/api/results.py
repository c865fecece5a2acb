"""The typed results of the public verbs (each also as the plain dict the CLI and reports print)."""

from __future__ import annotations

from edgekd.errors import warn_deprecated

import warnings
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Optional, Union


@dataclass
class Distilled:
    """What ``edgekd.distill`` produced.

    Attributes:
        model: the trained student: a copy of the module given (the caller's is left as it was), in eval mode,
            holding the best validation weights.
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
    details: dict = field(default_factory=dict)  # what the exporter reported (mixed assignment, QAT fine-tuning)
    seconds: float = 0.0

    @classmethod
    def from_record(cls, record: Any) -> "Exported":
        return cls(record.path, record.sidecar_path, record.format, record.precision, record.backend, record.target,
                   record.size_bytes, record.threshold, record.sidecar, dict(record.details), record.seconds)

    def measured(self, evaluation: "Evaluation", benchmark: Optional["Benchmark"] = None, *,
                 role: str = "student") -> dict:
        """This artifact as a report record (what ``edgekd.gate`` judges): size, metrics, latency, graph audit.

        Args:
            evaluation: ``edgekd.evaluate`` of this file. benchmark: ``edgekd.bench`` of it, if timed.
            role: ``student`` (gated) or ``teacher`` (a reference, never gated).
        """
        from edgekd.audit import inspect_artifact
        from edgekd.report.record import artifact_record

        # what made the file, as `edgekd run` records it: the quantizer, accuracy control's decisions, QAT, mixed
        made = {k: self.sidecar[k] for k in ("quantizer", "accuracy_control", "qat", "mixed") if k in self.sidecar}
        if isinstance(made.get("mixed"), dict):
            made["mixed"] = {k: v for k, v in made["mixed"].items() if k != "sensitivity"}
        return artifact_record(name=self.sidecar.get("name", self.path.stem), role=role, target=self.target or "local",
                               format=self.format, precision=self.precision, path=self.path.resolve(),
                               metrics=evaluation.to_dict(),
                               latency=benchmark.to_dict() if benchmark is not None else None,
                               audit=inspect_artifact(self.path), backend=self.backend, **made)


class _JsonRecord:
    """A typed result that is also a JSON object: the dataclass's fields, plus ``extra`` for the keys it does not
    type; ``to_dict()`` gives the object back with its keys in their original order."""

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Any:
        """The typed result of a JSON object (``eval --json`` / ``bench --json``); unknown keys go to ``extra``."""
        typed = {f.name for f in fields(cls)} - {"extra"}  # type: ignore[arg-type]
        result = cls(**{k: v for k, v in obj.items() if k in typed},
                     extra={k: v for k, v in obj.items() if k not in typed})
        result._order = tuple(obj)
        return result

    def to_dict(self) -> dict:
        """The JSON object (for a result from ``from_dict``: exactly what it was made from, in the same order)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}  # type: ignore[arg-type]
        out: dict = {}
        for k in getattr(self, "_order", ()):
            if k in values:
                out[k] = values[k]
            elif k in self.extra:  # type: ignore[attr-defined]
                out[k] = self.extra[k]  # type: ignore[attr-defined]
        for f in fields(self):  # type: ignore[arg-type]
            if f.name != "extra" and f.name not in out and (values[f.name] is not None or f.default is MISSING):
                out[f.name] = values[f.name]
        out.update({k: v for k, v in self.extra.items() if k not in out})  # type: ignore[attr-defined]
        return out

    def _deprecated_dict(self, old: str) -> dict:
        warn_deprecated(f"{type(self).__name__}.{old} is deprecated: use its fields (e.g. .p50_ms, .accuracy) or "
                      ".to_dict()")
        return self.to_dict()


@dataclass
class Evaluation(_JsonRecord):
    """What ``edgekd.evaluate`` measured by running the artifact; ``to_dict()`` is the ``eval --json`` object.

    Attributes:
        n: items scored (recordings, photos, ...; windows are aggregated per item). accuracy, balanced_accuracy:
            in [0, 1]. labels: class names, output order. confusion: ``confusion[true][predicted]`` counts.
        per_class: ``{label: {"precision", "recall", "support"}}``. artifact: the file.
        positive, sensitivity, specificity, macc: for two classes with a positive class, else None.
        ci95: 95 % intervals of the metrics. per_item: ``{"ids", "true", "predicted"}`` (the gate pairs two files'
            decisions with them). threshold: the sidecar's decision threshold applied, if any.
        runtime: the runtime that ran the file. data: the labelled folder (None for arrays).
        items: each item's prediction (``evaluate(..., items=True)``). per_group: metrics per group.
        extra: any other key of the JSON object.
    """

    n: int
    accuracy: float
    balanced_accuracy: float
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    artifact: Optional[str] = None
    positive: Optional[str] = None
    sensitivity: Optional[float] = None
    specificity: Optional[float] = None
    macc: Optional[float] = None
    ci95: Optional[dict[str, Any]] = None
    per_item: Optional[dict[str, list[int]]] = None
    threshold: Optional[float] = None
    runtime: Optional[str] = None
    data: Optional[str] = None
    items: Optional[list[dict]] = None
    per_group: Optional[dict[str, dict]] = None
    extra: dict = field(default_factory=dict)

    @property
    def score(self) -> float:
        """MAcc for a two-class screener, else balanced accuracy."""
        return float(self.macc if self.macc is not None else self.balanced_accuracy)

    @property
    def metrics(self) -> dict:
        """Deprecated: ``to_dict()``."""
        return self._deprecated_dict("metrics")


@dataclass
class Benchmark(_JsonRecord):
    """What ``edgekd.bench`` measured; ``to_dict()`` is the ``bench --json`` object.

    Attributes:
        artifact: the file. runner: ``local``, ``ssh``, ``emulated``, ``estimate``, ``mcu`` or a plugin's.
        estimated: True when the figures are estimated, not measured. p50_ms, p90_ms, p99_ms, mean_ms: latency of
            one invoke in ms (None where a runner has no figure, e.g. a microcontroller without an NPU).
        cv: coefficient of variation. runtime, runtime_version, threads, runs, warmup: how it was run.
        emulated: False, or how it was emulated. host: the machine. target: the profile's name (None: this machine).
        frontend: the front-end's own timing (its step list on real items, on the same runner), where measured:
            ``p50_ms``, ``p90_ms`` per window (``per: "window"``) and ``per_item`` (``per: "item"``); None when
            not timed, with ``frontend_reason`` saying why.
        end_to_end: per item, front-end per item + model p50 (p90) x windows per item: ``p50_ms``, ``p90_ms``, the
            parts and ``how`` (a sum of separately measured parts); None when the front-end was not timed.
        extra: any other key of the JSON object.
    """

    artifact: str
    runner: str
    estimated: bool
    p50_ms: Optional[float]
    p90_ms: Optional[float]
    p99_ms: Optional[float] = None
    mean_ms: Optional[float] = None
    cv: Optional[float] = None
    runtime: Optional[str] = None
    runtime_version: Optional[str] = None
    threads: Optional[int] = None
    runs: Optional[int] = None
    warmup: Optional[int] = None
    emulated: Union[bool, str, None] = None
    host: Optional[dict[str, Any]] = None
    target: Optional[str] = None
    frontend: Optional[dict[str, Any]] = None
    frontend_reason: Optional[str] = None
    end_to_end: Optional[dict[str, Any]] = None
    extra: dict = field(default_factory=dict)

    @property
    def result(self) -> dict:
        """Deprecated: ``to_dict()``."""
        return self._deprecated_dict("result")


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


def __getattr__(name: str) -> Any:
    if name == "GateResult":  # what edgekd.gate returns, defined beside the gate's checker (imported when asked)
        from edgekd.report.gate import GateResult

        return GateResult
    raise AttributeError(f"module 'edgekd.api.results' has no attribute {name!r}")
