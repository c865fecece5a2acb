"""Budget evaluation: each deployed artifact's figures against its target's budgets.

One pure function of the report's artifacts and a ``Budgets`` per target, shared by
the pipeline (which stores the verdict in each artifact's ``budget``) and by
``edgekd gate`` (which turns it into an exit code, JUnit and Markdown). Keeping one
implementation means the report and the CI gate can never disagree on the same
budgets.

Rules:

* Only ``student`` artifacts are deployed and gated; teacher artifacts are
  references (``checked: False``).
* ``size_kb``: ``size_bytes / 1024``.
* ``latency_p90_ms``: the measured ``latency.p90_ms``. An estimated figure
  (``latency.estimated``) is gated only when the budgets allow it
  (``allow_estimated_latency``), and the message says "estimated"; otherwise the
  check is skipped, never passed. An emulated figure (``latency.emulated``, qemu)
  is never gated.
* ``ram_kb``: the MCU tensor arena (``mcu.arena_bytes``, or ``latency.arena_bytes``
  from the MCU runner) when the artifact has one; otherwise "not measured" (skipped).
* ``accuracy_drop_pp``: points of the selection metric (MAcc, else balanced
  accuracy) lost against the fp32 twin of the same role, target and format.
* ``min_metric``: the selection metric itself.
* ``fully_integer`` (profiles with ``fully_integer: true``): a quantized artifact
  whose audit finds float ops fails, naming them; float artifacts are skipped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Literal, Mapping, Optional

from edgekd.targets import Budgets, TargetProfile

Status = Literal["pass", "fail", "skip"]

#: The budget keys, in the order they are checked and listed.
BUDGET_KEYS: tuple[str, ...] = ("size_kb", "latency_p90_ms", "ram_kb", "accuracy_drop_pp", "min_metric", "fully_integer")

_TITLES = {
    "size_kb": "file size",
    "latency_p90_ms": "latency p90",
    "ram_kb": "RAM (arena)",
    "accuracy_drop_pp": "accuracy drop",
    "min_metric": "metric",
    "fully_integer": "float ops in the integer graph",
}


def metric_name(metrics: Mapping[str, Any]) -> str:
    """Name of the selection metric the report uses for these metrics."""
    return "MAcc" if "macc" in metrics else "balanced accuracy"


def metric_value(metrics: Mapping[str, Any]) -> float:
    """The selection metric: MAcc for two classes with a positive one, else balanced accuracy."""
    return float(metrics["macc"] if "macc" in metrics else metrics["balanced_accuracy"])


def is_deployed(artifact: Mapping[str, Any]) -> bool:
    """Whether the artifact is a deploy candidate (the student), as opposed to a reference."""
    return artifact.get("role", "student") == "student"


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
        """One line a reviewer understands, e.g. ``file size 78.8 KB > budget 64 KB``."""
        if self.status == "skip":
            return f"{self.title}: not checked, {self.detail}"
        unit = f" {self.unit}" if self.unit else ""
        lower_bound = self.budget == "min_metric"
        if self.status == "fail":
            op = "<" if lower_bound else ">"
            word = "minimum" if lower_bound else "budget"
        else:
            op = "≥" if lower_bound else "≤"
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
         if x.get("role") == artifact.get("role") and x["target"] == artifact["target"]
         and x["format"] == artifact["format"] and x["precision"] == "fp32"),
        None,
    )


def check_artifact(artifact: Mapping[str, Any], artifacts: list[Mapping[str, Any]], budgets: Budgets) -> list[Check]:
    """Every budget that is set, checked against one deployed artifact (one ``Check`` each)."""
    name, target = artifact["name"], artifact["target"]
    checks: list[Check] = []

    def judge(budget: str, value: float, limit: float, unit: str, detail: str = "", upper: bool = True) -> None:
        broken = value > limit if upper else value < limit
        checks.append(Check(name, target, budget, "fail" if broken else "pass", value, limit, unit, detail))

    def skip(budget: str, limit: float, unit: str, why: str) -> None:
        checks.append(Check(name, target, budget, "skip", None, limit, unit, why))

    if budgets.size_kb is not None:
        judge("size_kb", artifact["size_bytes"] / 1024, budgets.size_kb, "KB")

    if budgets.latency_p90_ms is not None:
        lat = artifact.get("latency") or {}
        p90 = lat.get("p90_ms")
        if p90 is None:
            skip("latency_p90_ms", budgets.latency_p90_ms, "ms", "latency not measured")
        elif lat.get("emulated"):
            skip("latency_p90_ms", budgets.latency_p90_ms, "ms",
                 f"only an emulated figure ({p90:.3g} ms under qemu), which says nothing about the device")
        elif lat.get("estimated"):
            if budgets.allow_estimated_latency:
                judge("latency_p90_ms", float(p90), budgets.latency_p90_ms, "ms",
                      f"estimated by the {lat.get('runner', '?')} runner")
            else:
                skip("latency_p90_ms", budgets.latency_p90_ms, "ms",
                     f"only an estimated figure ({p90:.3g} ms) and the target does not accept estimates")
        else:
            judge("latency_p90_ms", float(p90), budgets.latency_p90_ms, "ms")

    if budgets.ram_kb is not None:
        arena = (artifact.get("mcu") or {}).get("arena_bytes")
        if arena is None:  # the MCU runner's result, when it measured the artifact's latency entry
            arena = (artifact.get("latency") or {}).get("arena_bytes")
        if arena is None:
            skip("ram_kb", budgets.ram_kb, "KB", "RAM not measured (no MCU arena figure for this artifact)")
        else:
            judge("ram_kb", arena / 1024, budgets.ram_kb, "KB", "MCU tensor arena")

    score = metric_value(artifact["metrics"])
    mname = metric_name(artifact["metrics"])
    if budgets.accuracy_drop_pp is not None:
        if artifact["precision"] == "fp32":
            judge("accuracy_drop_pp", 0.0, budgets.accuracy_drop_pp, "pp", "is the fp32 reference")
        else:
            twin = _twin(artifact, artifacts)
            if twin is None:
                skip("accuracy_drop_pp", budgets.accuracy_drop_pp, "pp",
                     f"no fp32 {artifact['format']} twin in the report")
            else:
                ref = metric_value(twin["metrics"])
                judge("accuracy_drop_pp", round((ref - score) * 100, 3), budgets.accuracy_drop_pp, "pp",
                      f"{mname} {ref:.3f} → {score:.3f} vs {twin['name']}")

    if budgets.min_metric is not None:
        judge("min_metric", score, budgets.min_metric, "", mname, upper=False)

    if budgets.fully_integer:
        audit = artifact.get("audit") or {}
        if not audit.get("quantized"):
            skip("fully_integer", 0, "", "a float artifact, not an integer deploy candidate")
        else:
            floats = list(audit.get("float_ops", []))
            shown = ", ".join(floats[:4]) + (", ..." if len(floats) > 4 else "")
            judge("fully_integer", len(floats), 0, "", f"the target runs integer kernels only: {shown}" if floats
                  else "every op is integer")
    return checks


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
        if is_deployed(a) and a["target"] in budgets_by_target:
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
        if not is_deployed(a):
            a["budget"] = dict(REFERENCE_RECORD)
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
