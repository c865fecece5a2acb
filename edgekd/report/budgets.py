"""Budget evaluation: each deployed artifact's figures against its target's budgets.

One pure function of the report's artifacts and a ``Budgets`` per target, shared by
the pipeline (which stores the verdict in each artifact's ``budget``) and by
``edgekd gate`` (which turns it into an exit code, JUnit and Markdown). Keeping one
implementation means the report and the CI gate can never disagree on the same
budgets.

Rules (the gate fails closed: a figure it cannot read is a failure, never a pass):

* Only ``student`` artifacts are deployed and gated; teacher artifacts are
  references (``checked: False``).
* Every figure a budget reads must be a finite number in range (``read_figure``);
  a missing, null, NaN, negative or non-numeric one fails that budget, naming it.
* A figure that was not measured fails too, unless the budgets set
  ``allow_unmeasured`` (then it is a skip, listed as such, never a pass).
* ``size_kb``: ``size_bytes / 1024`` (KiB; ``ram_kb`` likewise).
* ``latency_p90_ms``: the measured ``latency.p90_ms``. An estimated figure
  (``latency.estimated``) is gated only when the budgets allow it
  (``allow_estimated_latency``) and its calibration is the device's (an estimate flagged with
  ``calibration_mismatch`` counts as unmeasured), and the message says "estimated"; otherwise it is
  unmeasured. An emulated figure (``latency.emulated``, qemu) is never gated: unmeasured.
* ``latency_end_to_end_p90_ms``: per item, ``latency.end_to_end.p90_ms`` (the front-end's p90 per item + the
  model's p90 x invokes per item, timed on the target's runner). No front-end timing (no test items, a runner
  that does not time it, an estimate) or an emulated one is unmeasured, saying why.
* ``ram_kb``: the MCU tensor arena (``mcu.arena_bytes``, or ``latency.arena_bytes``
  from the MCU runner) when the artifact has one; otherwise unmeasured.
* ``accuracy_drop_pp``: points of the selection metric (MAcc, else balanced
  accuracy) lost against the fp32 twin of the same role, target and format
  (no twin: unmeasured), judged on paired flips (``edgekd.report.paired``): with
  both files' per-item decisions (``metrics.per_item``) on the same items, b items
  became wrong and c became right; the budget FAILS when the drop exceeds it AND
  the exact one-sided test of "no drop" on the discordant items gives p <= 0.05
  (McNemar's exact test when all items weigh the same; equivalently the drop's
  95 % lower confidence bound is above zero). A drop over budget that the data
  cannot tell from none passes, saying so with b, c, n, p and the bound. Minimum
  evidence that follows: p is never below 2^-(b+c), so a drop needs at least 5
  discordant items to fail (2^-5 = 0.031; with equal weights, 5 that became
  wrong). A real large drop fails (10 of 48 the wrong way: p = 0.001). Per-item
  data that are present but malformed, of other items, or that do not reproduce
  the figures fail. When either file has no per-item data (reports written before
  they were stored), or the exact distribution is too large to enumerate, the old
  point rule applies: the drop fails whenever it exceeds the budget.
* ``min_metric``: the selection metric itself.
* ``fully_integer`` (profiles with ``fully_integer: true``): a quantized artifact
  whose audit finds float ops fails, naming them; float artifacts are skipped.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Literal, Mapping, Optional

from edgekd.hashing import file_sha256
from edgekd.targets import Budgets, TargetProfile

Status = Literal["pass", "fail", "skip"]

#: The budget keys, in the order they are checked and listed.
BUDGET_KEYS: tuple[str, ...] = ("size_kb", "latency_p90_ms", "latency_end_to_end_p90_ms", "ram_kb", "accuracy_drop_pp",
                                 "min_metric", "fully_integer")

_TITLES = {
    "file": "artifact file",
    "size_kb": "file size",
    "latency_p90_ms": "latency p90",
    "latency_end_to_end_p90_ms": "end-to-end latency p90 per item",
    "ram_kb": "RAM (arena)",
    "accuracy_drop_pp": "accuracy drop",
    "min_metric": "metric",
    "fully_integer": "float ops in the integer graph",
}


def metric_name(metrics: Mapping[str, Any]) -> str:
    """Name of the selection metric the report uses for these metrics."""
    return "MAcc" if "macc" in metrics else "balanced accuracy"


def metric_value(metrics: Mapping[str, Any]) -> float:
    """The selection metric: MAcc for two classes with a positive one, else balanced accuracy (unchecked)."""
    return float(metrics["macc"] if "macc" in metrics else metrics["balanced_accuracy"])


def is_twin(artifact: Mapping[str, Any], artifacts: Iterable[Mapping[str, Any]] = ()) -> bool:
    """An fp32 file whose quantized sibling (same role, target and format) is in the report: that file's accuracy
    reference (``accuracy_drop_pp``), not a deploy candidate. A report with only fp32 files gates them."""
    role = artifact.get("role", "student")
    return artifact.get("precision") == "fp32" and any(
        x is not artifact and x.get("role", "student") == role and x.get("target") == artifact.get("target")
        and x.get("format") == artifact.get("format") and x.get("precision") not in (None, "fp32") for x in artifacts)


def is_deployed(artifact: Mapping[str, Any], artifacts: Iterable[Mapping[str, Any]] = ()) -> bool:
    """Whether the artifact is a deploy candidate: a student file that is not the fp32 twin of a quantized one
    (given the report's ``artifacts``), as opposed to a reference."""
    return artifact.get("role", "student") == "student" and not is_twin(artifact, artifacts)


def not_deployed_reason(artifact: Mapping[str, Any], artifacts: Iterable[Mapping[str, Any]] = ()) -> str:
    if is_twin(artifact, artifacts):
        return "fp32 twin: the accuracy reference of the quantized file, not deployed"
    return "reference model, not deployed"


@dataclass(frozen=True)
class Check:
    """One artifact against one budget: what was measured, the limit, and the verdict."""

    artifact: str
    target: str
    budget: str
    status: Status
    value: Optional[float]
    limit: float
    unit: str
    detail: str = ""

    @property
    def title(self) -> str:
        return _TITLES.get(self.budget, self.budget)

    @property
    def message(self) -> str:
        """One line a reviewer understands, e.g. ``file size 78.8 KiB > budget 64 KiB``."""
        if self.status == "skip":
            return f"{self.title}: not checked, {self.detail}"
        if self.budget == "file" or self.value is None:  # no figure to compare: the detail says why
            return f"{self.title}: {self.detail}"
        unit = f" {self.unit}" if self.unit else ""
        lower_bound = self.budget == "min_metric"
        # the comparison as it is (a paired accuracy drop may exceed its budget and still pass: the detail says why)
        beyond = self.value < self.limit if lower_bound else self.value > self.limit
        op = ("<" if lower_bound else ">") if beyond else ("≥" if lower_bound else "≤")
        word = "minimum" if lower_bound else "budget"
        text = f"{self.title} {_fmt(self.value)}{unit} {op} {word} {_fmt(self.limit)}{unit}"
        return f"{text} ({self.detail})" if self.detail else text

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


def _fmt(x: Optional[float]) -> str:
    if x is None:
        return "–"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.1f}".rstrip("0").rstrip(".")


def _twin(artifact: Mapping[str, Any], artifacts: Iterable[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The fp32 artifact of the same role, target and format (the accuracy reference)."""
    return next(
        (x for x in artifacts
         if x.get("role") == artifact.get("role") and x.get("target") == artifact.get("target")
         and x.get("format") == artifact.get("format") and x.get("precision") == "fp32"),
        None,
    )


def read_figure(artifact: Mapping[str, Any], dotted: str, *, integer: bool = False, low: Optional[float] = None,
                high: Optional[float] = None) -> tuple[Optional[float], Optional[str]]:
    """A number of the artifact record (``"latency.p90_ms"``), or why it cannot be used.

    Returns:
        ``(value, None)``, or ``(None, problem)`` when the figure is missing, null, not a number (a
        string, a bool, a list), NaN or infinite, not an integer where one is required, or out of range.
    """
    node: Any = artifact
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None, f"{dotted} is missing"
        node = node[part]
    if node is None:
        return None, f"{dotted} is null"
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        return None, f"{dotted} is {node!r}, not a number"
    if not math.isfinite(node):
        return None, f"{dotted} is {node!r}, not a finite number"
    if integer and float(node) != int(node):
        return None, f"{dotted} is {node!r}, not a whole number"
    if (low is not None and node < low) or (high is not None and node > high):
        span = f"[{low:g}, {high:g}]" if low is not None and high is not None else f">= {low:g}" if low is not None \
            else f"<= {high:g}"
        return None, f"{dotted} is {node!r}, outside {span}"
    return float(node), None


def score_figure(metrics_holder: Mapping[str, Any]) -> tuple[Optional[float], str, Optional[str]]:
    """The selection metric (MAcc, else balanced accuracy) of an artifact record: (value, name, problem)."""
    metrics = metrics_holder.get("metrics")
    two_class = isinstance(metrics, Mapping) and ("macc" in metrics or metrics.get("positive") is not None)
    key = "macc" if two_class else "balanced_accuracy"  # a screener's MAcc never falls back to another figure
    value, problem = read_figure(metrics_holder, f"metrics.{key}", low=0.0, high=1.0)
    return value, ("MAcc" if key == "macc" else "balanced accuracy"), problem


def check_artifact(artifact: Mapping[str, Any], artifacts: list[Mapping[str, Any]], budgets: Budgets) -> list[Check]:
    """Every budget that is set, checked against one deployed artifact (one ``Check`` each).

    Fails closed: a budget whose figure is missing, null, NaN, negative or not a number fails with a
    message naming the figure; a figure that was not measured (no latency, an emulated or a refused
    estimated latency, no RAM figure, no fp32 twin) fails too, unless the budgets allow skipping it
    (``allow_unmeasured``).
    """
    name, target = str(artifact.get("name")), str(artifact.get("target"))
    checks: list[Check] = []

    def judge(budget: str, value: float, limit: float, unit: str, detail: str = "", upper: bool = True) -> None:
        broken = value > limit if upper else value < limit
        checks.append(Check(name, target, budget, "fail" if broken else "pass", value, limit, unit, detail))

    def broken_figure(budget: str, limit: float, unit: str, problem: str) -> None:
        checks.append(Check(name, target, budget, "fail", None, limit, unit, f"cannot be checked: {problem}"))

    def unmeasured(budget: str, limit: float, unit: str, why: str) -> None:
        if budgets.allow_unmeasured:
            checks.append(Check(name, target, budget, "skip", None, limit, unit, why))
        else:
            checks.append(Check(name, target, budget, "fail", None, limit, unit,
                                f"not checked: {why} (the gate fails closed; allow_unmeasured=true skips it)"))

    if budgets.size_kb is not None:
        size, problem = read_figure(artifact, "size_bytes", integer=True, low=1)
        if problem:
            broken_figure("size_kb", budgets.size_kb, "KiB", problem)
        else:
            judge("size_kb", size / 1024, budgets.size_kb, "KiB")

    if budgets.latency_p90_ms is not None:
        lat = artifact.get("latency")
        limit = budgets.latency_p90_ms
        if lat is None or (isinstance(lat, Mapping) and lat.get("p90_ms", None) is None and "p90_ms" not in lat):
            unmeasured("latency_p90_ms", limit, "ms", "latency not measured")
        elif not isinstance(lat, Mapping):
            broken_figure("latency_p90_ms", limit, "ms", f"latency is {lat!r}, not a measurement")
        else:
            p90, problem = read_figure(artifact, "latency.p90_ms", low=0.0)
            if problem:
                broken_figure("latency_p90_ms", limit, "ms", problem)
            elif lat.get("emulated"):
                unmeasured("latency_p90_ms", limit, "ms",
                           f"only an emulated figure ({p90:.3g} ms under qemu), which says nothing about the device")
            elif lat.get("estimated") and lat.get("calibration_mismatch"):
                unmeasured("latency_p90_ms", limit, "ms",
                           f"only an estimate ({p90:.3g} ms) from a calibration taken on another device identity "
                           f"({'; '.join(map(str, lat['calibration_mismatch']))[:200]}): calibrate this device")
            elif lat.get("estimated"):
                if budgets.allow_estimated_latency:
                    cal = lat.get("calibration") or {}
                    how = f" with the calibration {cal.get('file')} ({cal.get('taken')})" if cal.get("file") else ""
                    judge("latency_p90_ms", p90, limit, "ms", f"estimated by the {lat.get('runner', '?')} runner{how}")
                else:
                    unmeasured("latency_p90_ms", limit, "ms",
                               f"only an estimated figure ({p90:.3g} ms) and the target does not accept estimates")
            else:
                judge("latency_p90_ms", p90, limit, "ms")

    if budgets.latency_end_to_end_p90_ms is not None:
        limit = budgets.latency_end_to_end_p90_ms
        value, why, problem = end_to_end_figure(artifact)
        if problem:
            broken_figure("latency_end_to_end_p90_ms", limit, "ms", problem)
        elif why:
            unmeasured("latency_end_to_end_p90_ms", limit, "ms", why)
        else:
            judge("latency_end_to_end_p90_ms", value, limit, "ms", "front-end + model, per item")

    if budgets.ram_kb is not None:
        field = "mcu.arena_bytes" if isinstance(artifact.get("mcu"), Mapping) and "arena_bytes" in artifact["mcu"] \
            else "latency.arena_bytes"  # the MCU runner's result, when it measured the artifact's latency entry
        arena, problem = read_figure(artifact, field, integer=True, low=0)
        if problem and problem.endswith("is missing"):
            unmeasured("ram_kb", budgets.ram_kb, "KiB", "RAM not measured (no MCU arena figure for this artifact)")
        elif problem:
            broken_figure("ram_kb", budgets.ram_kb, "KiB", problem)
        else:
            judge("ram_kb", arena / 1024, budgets.ram_kb, "KiB", "MCU tensor arena")

    if budgets.accuracy_drop_pp is not None or budgets.min_metric is not None:
        score, mname, problem = score_figure(artifact)
        if budgets.accuracy_drop_pp is not None:
            limit = budgets.accuracy_drop_pp
            if problem:
                broken_figure("accuracy_drop_pp", limit, "pp", problem)
            elif artifact.get("precision") == "fp32":
                judge("accuracy_drop_pp", 0.0, limit, "pp", "is the fp32 reference")
            else:
                twin = _twin(artifact, artifacts)
                if twin is None:
                    unmeasured("accuracy_drop_pp", limit, "pp", f"no fp32 {artifact.get('format')} twin in the report")
                else:
                    ref, _, twin_problem = score_figure(twin)
                    if twin_problem:
                        broken_figure("accuracy_drop_pp", limit, "pp", f"its fp32 twin {twin.get('name')}: {twin_problem}")
                    else:
                        checks.append(_accuracy_drop(name, target, artifact, twin, ref, score, mname, limit))
        if budgets.min_metric is not None:
            if problem:
                broken_figure("min_metric", budgets.min_metric, "", problem)
            else:
                judge("min_metric", score, budgets.min_metric, "", mname, upper=False)

    if budgets.fully_integer:
        audit = artifact.get("audit")
        if not isinstance(audit, Mapping) or not isinstance(audit.get("quantized"), bool) \
                or not isinstance(audit.get("float_ops", []), list):
            broken_figure("fully_integer", 0, "", "audit.quantized / audit.float_ops are missing or malformed")
        elif not audit["quantized"]:
            checks.append(Check(name, target, "fully_integer", "skip", None, 0, "",
                                "a float artifact, not an integer deploy candidate"))
        else:
            floats = [str(f) for f in audit.get("float_ops", [])]
            shown = ", ".join(floats[:4]) + (", ..." if len(floats) > 4 else "")
            judge("fully_integer", len(floats), 0, "", f"the target runs integer kernels only: {shown}" if floats
                  else "every op is integer")
    return checks


def end_to_end_figure(artifact: Mapping[str, Any]) -> tuple[Optional[float], Optional[str], Optional[str]]:
    """``(latency.end_to_end.p90_ms, None, None)``, or ``(None, why it was not measured, None)``, or
    ``(None, None, what is wrong with the figure)``."""
    lat = artifact.get("latency")
    if lat is None:
        return None, "latency not measured", None
    if not isinstance(lat, Mapping):
        return None, None, f"latency is {lat!r}, not a measurement"
    e2e = lat.get("end_to_end")
    if e2e is None:
        reason = lat.get("frontend_reason") or lat.get("end_to_end_reason") or "the front-end was not timed"
        return None, f"no end-to-end figure: {reason}", None
    value, problem = read_figure(artifact, "latency.end_to_end.p90_ms", low=0.0)
    if problem:
        return None, None, problem
    if e2e.get("emulated") or lat.get("emulated"):
        return None, f"only an emulated figure ({value:.3g} ms under qemu), which says nothing about the device", None
    if e2e.get("estimated") or lat.get("estimated"):
        return None, "only an estimated model figure; the front-end is never estimated", None
    return value, None, None


def _accuracy_drop(name: str, target: str, artifact: Mapping[str, Any], twin: Mapping[str, Any], ref: float,
                   score: float, mname: str, limit: float) -> Check:
    """The ``accuracy_drop_pp`` verdict: paired flips with an exact test when both files carry per-item decisions,
    else the point rule (module docstring)."""
    from edgekd.report.paired import NotPairable, TooLarge, paired_drop

    drop = round((ref - score) * 100, 3)
    figures = f"{mname} {ref:.3f} → {score:.3f} vs {twin.get('name')}"
    key = "macc" if mname == "MAcc" else "balanced_accuracy"
    have = [isinstance(a.get("metrics"), Mapping) and a["metrics"].get("per_item") is not None for a in (twin, artifact)]
    if not all(have):
        missing = "this file" if have[0] else "the fp32 twin" if have[1] else "either file"
        return Check(name, target, "accuracy_drop_pp", "fail" if drop > limit else "pass", drop, limit, "pp",
                     f"{figures}; point rule: no per-item decisions (metrics.per_item) in {missing} to pair")
    try:
        paired = paired_drop(twin["metrics"], artifact["metrics"], key)
    except NotPairable as e:
        return Check(name, target, "accuracy_drop_pp", "fail", None, limit, "pp",
                     f"cannot be checked: {e} ({figures}; the gate fails closed)")
    except TooLarge as e:
        return Check(name, target, "accuracy_drop_pp", "fail" if drop > limit else "pass", drop, limit, "pp",
                     f"{figures}; point rule: {e}")
    if drop <= limit:
        verdict, status = "", "pass"
    elif paired.evidenced:
        verdict, status = "; a real drop (p <= 0.05)", "fail"
    else:
        verdict, status = "; passes: the data cannot tell this drop from none (fails only when p <= 0.05)", "pass"
    return Check(name, target, "accuracy_drop_pp", status, drop, limit, "pp",
                 f"{figures}; {paired.describe()}{verdict}")


def confined_path(artifact: Mapping[str, Any], label: Any) -> None:
    """Refuse an artifact ``path`` of a report file that is absolute or climbs out of the report's folder.

    Why: a report on disk describes the files beside it (``path`` is relative to the report, CONTRACTS.md); a
    path such as ``/etc/passwd`` or ``../../x.tflite`` would make the gate vouch for, and ``edgekd bundle``
    copy, a file outside the run. That is a malformed report (exit 2), not a budget verdict.

    Raises:
        InputError: naming the report (``label``), the artifact and its path.
    """
    from pathlib import PurePosixPath, PureWindowsPath

    from edgekd.errors import InputError

    rel = artifact.get("path")
    if not isinstance(rel, str) or not rel:
        return  # no path at all: the file check fails it by name
    posix, win = PurePosixPath(rel.replace("\\", "/")), PureWindowsPath(rel)
    if posix.is_absolute() or win.drive or win.root:
        why = "is absolute"
    elif ".." in posix.parts:
        why = "climbs out of the report's folder with '..'"
    else:
        return
    raise InputError(f"{label}: artifact {artifact.get('name')!r} (target {artifact.get('target')!r}): path {rel!r} "
                     f"{why}; a report's artifact paths are relative to its folder and stay inside it")


def check_file(artifact: Mapping[str, Any], base: Any, *, confined: bool = False, label: Any = None) -> Check:
    """The artifact's file exists and is the one that was measured (its SHA-256 matches the report's).

    A report cannot vouch for a file that was swapped after measuring; one that records no SHA-256
    (made before reports had it) cannot vouch for any, and fails. With ``confined`` (a report read from disk,
    ``label`` naming it), a path that is absolute or climbs out of ``base`` is refused (``confined_path``).

    Raises:
        InputError: ``confined`` and the path leaves the report's folder.
    """
    from pathlib import Path

    name, target = str(artifact.get("name")), str(artifact.get("target"))

    def result(status: Status, detail: str) -> Check:
        return Check(name, target, "file", status, None, 0, "", detail)

    if confined:
        confined_path(artifact, label if label is not None else base)
    rel = artifact.get("path")
    if not isinstance(rel, str) or not rel:
        return result("fail", f"path is {rel!r}: the report does not say which file was measured")
    path = Path(rel) if Path(rel).is_absolute() else Path(base) / rel
    recorded = artifact.get("sha256")
    if not path.is_file():
        return result("fail", f"{path} not found: the measured file is not there")
    if not isinstance(recorded, str) or len(recorded) != 64:
        return result("fail", f"the report records no SHA-256 for {path} (sha256 is {recorded!r}), so it cannot "
                              "vouch for the file: re-run edgekd to measure it again")
    actual = file_sha256(path)
    if actual != recorded.lower():
        return result("fail", f"{path} changed since it was measured (SHA-256 {actual[:12]}... is not the "
                              f"report's {recorded[:12]}...)")
    return result("pass", f"{path} is the file that was measured")


def profile_budgets(profile: TargetProfile) -> Budgets:
    """A profile's budgets; the ``estimate`` runner's profiles accept estimated latency unless they say not."""
    b = profile.budgets
    if getattr(profile, "fully_integer", False) and not b.fully_integer:
        b = b.model_copy(update={"fully_integer": True})
    if profile.runner.kind == "estimate" and "allow_estimated_latency" not in b.model_fields_set:
        return b.model_copy(update={"allow_estimated_latency": True})
    return b


def evaluate(artifacts: list[Mapping[str, Any]], budgets_by_target: Mapping[str, Budgets]) -> list[Check]:
    """Checks for every deployed artifact whose target has budgets (targets missing from the map are not gated)."""
    checks: list[Check] = []
    for a in artifacts:
        if is_deployed(a, artifacts) and a["target"] in budgets_by_target:
            checks.extend(check_artifact(a, artifacts, budgets_by_target[a["target"]]))
    return checks


def budget_record(checks: list[Check]) -> dict[str, Any]:
    """The ``budget`` field of one deployed artifact in ``report.json``."""
    failed = [c for c in checks if c.status == "fail"]
    return {
        "passed": not failed,
        "violations": [{"budget": c.budget, "value": c.value, "limit": c.limit, "unit": c.unit, "message": c.message}
                       for c in failed],
        "checked": True,
        "skipped": [{"budget": c.budget, "reason": c.detail} for c in checks if c.status == "skip"],
    }


REFERENCE_RECORD: dict[str, Any] = {"passed": None, "violations": [], "checked": False,
                                    "reason": "reference model, not deployed"}


def apply_budgets(artifacts: list[dict[str, Any]], budgets_by_target: Mapping[str, Budgets]) -> None:
    """Fill each artifact's ``budget`` in place: a verdict for students, a reference mark for teachers."""
    for a in artifacts:
        if not is_deployed(a, artifacts):
            a["budget"] = {**REFERENCE_RECORD, "reason": not_deployed_reason(a, artifacts)}
            continue
        budgets = budgets_by_target.get(a["target"], Budgets())
        a["budget"] = budget_record(check_artifact(a, artifacts, budgets))


def layered_budgets(profile: TargetProfile, override: Optional[Mapping[str, Any]] = None,
                    where: Optional[str] = None) -> Budgets:
    """The profile's budgets with ``override`` (a release's own budgets for this target) layered over them.

    Raises:
        InputError: an unknown key or a bad value, naming ``where`` (default ``export.budgets.<target>``).
    """
    from edgekd.yamlconf import validate

    tree = profile_budgets(profile).model_dump(exclude_none=True)
    if override:
        validate(Budgets, dict(override), where or f"export.budgets.{profile.name}")
        tree.update(override)
    tree = {k: v for k, v in tree.items() if v is not None}
    return validate(Budgets, tree, f"budgets of {profile.name}")
