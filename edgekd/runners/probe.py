"""A target's runner as a latency probe for the exporter: where it measures, and a file's p50 there.

The ONNX int8 export times its candidate forms with it (``edgekd.exporting.ort_forms``); runners that do
not measure (``estimate``, ``emulated``, an MCU analysis) give no probe, and the exporter keeps its default.

Example:
    >>> from edgekd.runners.probe import latency_probe
    >>> from edgekd.targets import load_target
    >>> latency_probe(load_target("android-arm64")) is None   # estimated from coefficients, not measured
    True
    >>> latency_probe(load_target("x86_64")).where.startswith("local")
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from edgekd.runners.options import BenchOptions
from edgekd.targets import TargetProfile

MEASURING = ("local", "ssh")


@dataclass(frozen=True)
class RunnerProbe:
    """A file timed on ``profile``'s runner with ``opts`` (the ONNX form choice and the pruner's latency table)."""

    profile: TargetProfile
    opts: BenchOptions
    where: str

    def bench(self, path: Path) -> dict:
        """The runner's ``bench --json`` dict of ``path`` (``p50_ms``, ``p90_ms``, ``runtime_version``, ...)."""
        from edgekd.runners.registry import RUNNERS

        return RUNNERS.get(self.profile.runner.kind)(Path(path), self.profile, self.opts)

    def measure(self, path: Path) -> float:
        """The p50 in ms of ``path`` on the runner."""
        return float(self.bench(path)["p50_ms"])


def latency_probe(profile: Optional[TargetProfile], runs: int = 100, warmup: int = 20,
                  max_seconds: float = 10.0) -> Optional[RunnerProbe]:
    """The probe of ``profile``'s runner, or ``None`` when it does not measure (or there is no profile)."""
    if profile is None or profile.runner.kind not in MEASURING:
        return None
    opts = BenchOptions(runs=runs, warmup=warmup, threads=profile.threads, max_seconds=max_seconds)
    runner = profile.runner
    if runner.kind == "ssh":
        where = f"ssh {runner.user}@{runner.host}:{runner.port} ({profile.name}, {profile.threads} thread(s))"
    else:
        from edgekd.runtime.latency import host_info

        host = host_info()
        where = f"local {host['machine']} {host['cpu']} ({profile.threads} thread(s))"
    return RunnerProbe(profile, opts, where)
