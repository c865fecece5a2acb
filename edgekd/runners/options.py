"""What every runner is asked to do: how many runs, how much warm-up, how many threads.

One small value object shared by all runners (local, ssh, emulated, estimate), so a
measurement means the same thing wherever it is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class BenchOptions:
    """Measurement settings.

    Args:
        runs: timed runs (upper bound when ``cv_target`` is set).
        warmup: untimed runs first (caches, XNNPACK packing, CPU frequency ramp-up).
        threads: runtime threads, set explicitly (``None``: the target profile's ``threads``).
        max_seconds: wall-clock cap for the timed loop.
        cv_target: stop early once the coefficient of variation of the timings is below this.
        timeout_s: cap for any remote/emulated call (never hang).
        min_runs: timed runs before the CV target may stop the loop.
        frontend: a ``edgekd.runners.frontend.FrontendJob`` (the step list and the real items to time it on,
            on the same runner as the model), or None: the front-end is not timed.
        calibration: the ``estimate`` runner's calibration file (``edgekd targets calibrate``) instead of the one
            the profile names or that is found beside it.
    """

    runs: int = 200
    warmup: int = 20
    threads: Optional[int] = None
    max_seconds: float = 30.0
    cv_target: Optional[float] = None
    timeout_s: float = 300.0
    min_runs: int = 30
    frontend: Optional[Any] = None
    calibration: Optional[str] = None

    def __post_init__(self) -> None:
        import math

        from edgekd.errors import InputError

        def bad(name: str, value: object, rule: str) -> InputError:
            return InputError(f"bench {name}: {value!r} is not {rule}")

        for name, low in (("runs", 1), ("warmup", 0), ("min_runs", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise bad(name, value, "a positive integer" if low else "an integer >= 0")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise bad("threads", self.threads, "a positive integer")
        for name in ("max_seconds", "timeout_s", "cv_target"):
            value = getattr(self, name)
            if value is None and name == "cv_target":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise bad(name, value, "a positive number")


class BenchSpec(BaseModel):
    """How every artifact of a run is timed (the recipe's ``bench:`` section)."""

    model_config = ConfigDict(extra="forbid")
    runs: int = Field(200, ge=5)
    warmup: int = Field(20, ge=0)
    max_seconds: float = Field(20.0, gt=0)

    def options(self) -> BenchOptions:
        return BenchOptions(runs=self.runs, warmup=self.warmup, max_seconds=self.max_seconds)
