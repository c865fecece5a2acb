"""The search space file of ``edgekd sweep``: which recipe keys vary, over what, judged how.

A space names recipe keys (dotted, as ``--set`` takes them) with a range or a list of choices,
the objectives, the target whose budgets are the constraints, and the sampler and stopping rule::

    params:
      student.params.widths: {choices: [[6, 12, 24], [8, 16, 40], [16, 32, 64]]}
      student.loss.params.temperature: {low: 2.0, high: 8.0}
      prune.target.macs_ratio: {low: 0.3, high: 0.9}
      export.precisions: {choices: [[int8], [int8-qat]]}
    objectives: [metric, size_kb, latency_p90_ms]
    target: rpi4            # budgets → constraints; its runner measures latency
    runner: estimate        # instead of the target's own runner (no Pi at hand)
    sampler: {name: nsga2, population_size: 8}
    stop: {name: dominated, warmup_epochs: 3}

Read with ``yaml.safe_load`` and typed with pydantic: a misspelled key fails naming it.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from edgekd.errors import InputError
from edgekd.yamlconf import read_yaml_mapping, validate

OBJECTIVES = {"metric": "maximize", "size_kb": "minimize", "latency_p90_ms": "minimize"}
# keys a sweep must not vary: the teacher is trained once for all trials, and the data and split define
# what "validation" means, so every trial must be judged on the same items
FIXED_PREFIXES = ("teacher", "data.path", "data.split", "data.classes", "data.positive", "data.stratify", "name", "task")


class _Strict(BaseModel):
    # a bound, budget or margin of .inf or .nan is refused naming its key (high: .inf made Optuna draw inf)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RangeParam(_Strict):
    """A number between ``low`` and ``high`` (both included); ``log`` samples on a log scale, ``step`` rounds."""

    low: float
    high: float
    log: bool = False
    step: Optional[float] = Field(None, gt=0)
    int: bool = False  # an integer (``low``, ``high``, ``step`` integers)

    @model_validator(mode="after")
    def _ordered(self) -> "RangeParam":
        if self.low > self.high:
            raise ValueError(f"low {self.low:g} > high {self.high:g}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0 (got {self.low:g})")
        if self.log and self.step is not None:
            raise ValueError("give either log or step, not both")
        return self


class ChoiceParam(_Strict):
    """One of ``choices``: any YAML values (numbers, strings, lists such as layer widths, mappings, null)."""

    choices: list[Any] = Field(min_length=1)


class SamplerSpec(_Strict):
    name: Literal["nsga2", "tpe", "random"] = "nsga2"
    population_size: int = Field(8, ge=2)  # NSGA-II: trials per generation (the first generation is random)
    startup_trials: int = Field(8, ge=1)  # TPE: random trials before the model of the front takes over


class StopSpec(_Strict):
    """Stopping hopeless trials on their per-epoch validation score (``edgekd.sweep.stopping``)."""

    name: Literal["none", "median", "dominated"] = "dominated"
    warmup_epochs: int = Field(3, ge=1)  # never stop a trial before this epoch
    startup_trials: int = Field(3, ge=1)  # finished trials needed before any trial is stopped
    margin: float = Field(0.02, ge=0)  # dominated: the other trial must be ahead by this much


class Space(_Strict):
    """A whole search space file."""

    params: dict[str, Union[RangeParam, ChoiceParam]] = Field(min_length=1)
    objectives: list[Literal["metric", "size_kb", "latency_p90_ms"]] = ["metric", "size_kb", "latency_p90_ms"]
    target: Optional[str] = None  # default: the recipe's first export target
    format: Optional[Literal["tflite", "onnx", "pte"]] = None  # the artifact judged; default: the target's first format
    runner: Optional[str] = None  # measure latency with this runner instead of the target's (e.g. estimate)
    # tighten or add budgets on top of the target's and the recipe's export.budgets: size_kb, latency_p90_ms,
    # accuracy_drop_pp (against the fp32 twin, when export.precisions has fp32), min_metric
    budgets: dict[str, Union[float, bool]] = {}
    baseline: bool = True  # the recipe's own values of the searched keys are trial 0, the point to beat
    sampler: SamplerSpec = SamplerSpec()
    stop: StopSpec = StopSpec()

    @field_validator("budgets", mode="before")
    @classmethod
    def _finite_budgets(cls, value: Any) -> Any:
        """One message for a NaN or infinite budget (the float-or-bool Union would give two)."""
        for key, budget in (value.items() if isinstance(value, dict) else ()):
            if isinstance(budget, float) and not math.isfinite(budget):
                raise PydanticCustomError("finite_budget", "{key}: {budget} is not a finite number",
                                          {"key": str(key), "budget": repr(budget)})
        return value

    @model_validator(mode="after")
    def _objectives(self) -> "Space":
        if "metric" not in self.objectives:
            raise ValueError("objectives: 'metric' (the task's validation score) must be one of them")
        if len(set(self.objectives)) != len(self.objectives):
            raise ValueError("objectives: each objective once")
        return self

    def digest(self) -> str:
        """SHA-256 of what defines the search (params, objectives, target, format, budgets): a study remembers it."""
        key = self.model_dump(mode="json", include={"params", "objectives", "target", "format", "budgets"})
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o] for o in self.objectives]


def load_space(path: Union[str, Path]) -> Space:
    """Read and type a space file.

    Raises:
        InputError: unreadable, not YAML, an unknown key, ``low > high``, a log range through 0.
    """
    path = Path(path)
    tree = read_yaml_mapping(path, "search space")
    params = tree.get("params")
    if isinstance(params, dict):
        for key, spec in params.items():
            if not isinstance(spec, dict) or not ({"low", "high"} <= set(spec) or "choices" in spec):
                raise InputError(f"{path}: params.{key}: give {{low: ..., high: ...}} or {{choices: [...]}}")
            if "choices" in spec and ({"low", "high"} & set(spec)):
                raise InputError(f"{path}: params.{key}: give a range or choices, not both")
            # typed one by one, as the kind it is: the message names the key, not both members of the Union
            validate(ChoiceParam if "choices" in spec else RangeParam, spec, f"{path}: params.{key}")
    return validate(Space, tree, str(path))


def check_keys(space: Space, source: str) -> None:
    """Refuse keys a sweep must not vary (the teacher, the data and its split)."""
    for key in space.params:
        for fixed in FIXED_PREFIXES:
            if key == fixed or key.startswith(fixed + "."):
                why = ("the teacher is trained once and shared by every trial" if fixed == "teacher"
                       else "every trial must be judged on the same validation items")
                raise InputError(f"{source}: params.{key}: cannot be searched: {why}")


def choice_labels(param: ChoiceParam) -> list[str]:
    """Optuna's categorical choices must be scalars: each choice travels as its JSON text."""
    return [json.dumps(c) for c in param.choices]
