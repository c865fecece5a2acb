"""Runner registry: a target profile's ``runner.kind`` → the function that benchmarks an artifact there.

Every runner has the signature ``fn(artifact: Path, profile: TargetProfile, opts: BenchOptions) -> dict``
and returns the ``bench --json`` dict of CONTRACTS.md (``artifact, runtime, runtime_version, threads,
runs, warmup, p50_ms, p90_ms, p99_ms, mean_ms, cv, runner, estimated, host``) plus ``emulated`` and
``method`` (how the figure was obtained). Runners import their backends lazily, so the registry is
cheap to import.

Example::

    from edgekd.runners.registry import run_bench
    from edgekd.runners.options import BenchOptions
    from edgekd.targets import load_target
    result = run_bench("model.tflite", load_target("rpi4"), BenchOptions(runs=100))
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Optional

from edgekd.runners.frontend import finish
from edgekd.runners.options import BenchOptions
from edgekd.errors import InputError
from edgekd.registry import Registry
from edgekd.targets import TargetProfile

RunnerFn = Callable[[Path, TargetProfile, BenchOptions], dict]

RUNNERS: Registry[RunnerFn] = Registry("runner", group="edgekd.runners")
_FORMATS = {".tflite": "tflite", ".onnx": "onnx", ".pte": "pte"}


@RUNNERS.register("local")
def _local(artifact: Path, profile: TargetProfile, opts: BenchOptions) -> dict:
    from edgekd.runners.local import run_local

    return run_local(artifact, profile, opts)


@RUNNERS.register("ssh")
def _ssh(artifact: Path, profile: TargetProfile, opts: BenchOptions) -> dict:
    from edgekd.runners.ssh import run_ssh

    return run_ssh(artifact, profile, opts)


@RUNNERS.register("estimate")
def _estimate(artifact: Path, profile: TargetProfile, opts: BenchOptions) -> dict:
    from edgekd.runners.estimate import run_estimate

    return run_estimate(artifact, profile, opts)


@RUNNERS.register("emulated")
def _emulated(artifact: Path, profile: TargetProfile, opts: BenchOptions) -> dict:
    try:
        from edgekd.runners.emulated import run_emulated
    except ModuleNotFoundError as exc:
        if exc.name != "edgekd.runners.emulated":
            raise
        raise InputError(f"target {profile.name!r} uses the emulated runner, and this edgekd has no "
                         "edgekd.runners.emulated module") from None
    except ImportError as exc:
        raise InputError(f"target {profile.name!r}: the emulated runner cannot be imported ({exc})") from None
    return run_emulated(artifact, profile, opts)


def check_runs_on(artifact: Path, profile: TargetProfile) -> str:
    """The artifact's format, after checking the profile can run it (format, and precision when the sidecar says).

    Raises:
        InputError: unknown suffix, a format or precision the target does not run.
    """
    fmt = _FORMATS.get(artifact.suffix.lower())
    if fmt is None:
        raise InputError(f"{artifact}: unknown artifact type {artifact.suffix!r} (expected .tflite, .onnx or .pte)")
    where = f"target {profile.name!r}" + (f" ({profile.source})" if profile.source else "")
    if fmt not in profile.formats:
        raise InputError(f"{artifact}: format {fmt!r} is not one the {where} runs ({', '.join(profile.formats)})")
    sidecar = artifact.with_suffix(".edgekd.json")
    if sidecar.is_file():
        try:
            from edgekd.inputfile import parse_json

            precision = parse_json(sidecar.read_bytes(), sidecar, "sidecar").get("precision")
        except (OSError, ValueError, AttributeError, InputError):  # nested too deep, not JSON: parse_json says
            precision = None  # an unreadable sidecar is the runtime's business, not the format check's
        # int8-qat and int8-ac say how an int8 graph was made (trained, or quantized with accuracy control), not
        # another kind of graph: a target running int8 runs them
        runs_as = ({"int8-qat": "int8", "int8-ac": "int8"}.get(precision, precision) if isinstance(precision, str)
                   else precision)
        if isinstance(precision, str) and precision not in profile.precisions and runs_as not in profile.precisions:
            raise InputError(f"{artifact}: precision {precision!r} (from {sidecar.name}) is not one the {where} "
                             f"runs ({', '.join(profile.precisions)})")
    return fmt


def host_arch() -> str:
    """This machine's architecture in a profile's words (``x86_64``, ``aarch64``, ``armv7``)."""
    import platform

    from edgekd.targets import arch_of

    return arch_of(platform.machine())


def run_bench(
    artifact: str | os.PathLike[str],
    profile: Optional[TargetProfile],
    opts: BenchOptions,
    runner: Optional[str] = None,
    *,
    frontend_reason: Optional[str] = None,
) -> dict:
    """Benchmark ``artifact`` with the profile's runner (local when there is no profile).

    Args:
        artifact: ``.tflite`` / ``.onnx`` / ``.pte`` file.
        profile: the target, or ``None`` for this machine.
        opts: measurement settings; ``opts.frontend`` (a ``FrontendJob``): also time the front-end on the runner.
        runner: use this runner kind instead of the profile's (e.g. ``"estimate"`` for an ssh profile).
        frontend_reason: why there is no ``opts.frontend`` (reported as ``frontend_reason``).

    Returns:
        The runner's ``bench --json`` dict, with ``target`` set when a profile was given, and ``frontend``
        (or null with ``frontend_reason``) and ``end_to_end`` (``edgekd.runners.frontend.finish``).

    Raises:
        InputError: missing artifact, a format the target cannot run, unknown runner.
    """
    path = Path(artifact)
    if not path.is_file():
        raise InputError(f"{path}: artifact not found")
    if profile is None:
        if runner not in (None, "local"):
            raise InputError(f"the {runner!r} runner needs a target profile (--target)")
        from edgekd.runners.local import run_local

        return finish(run_local(path, None, opts), path, opts.frontend, frontend_reason)
    check_runs_on(path, profile)
    kind = runner or profile.runner.kind
    result = RUNNERS.get(kind)(path, profile, opts)
    result.setdefault("emulated", False)
    result["target"] = profile.name
    if kind == "local" and host_arch() != profile.arch:  # `--runner local` with a Pi profile on an x86 box
        result["arch_mismatch"] = (f"timed on this {host_arch()} machine, not on the profile's {profile.arch} "
                                   f"device: the figure is this machine's, not {profile.name}'s")
    return finish(result, path, opts.frontend, frontend_reason)
