"""Pruning settings checked against the student before any data is read or any training starts.

Refused with an ``InputError`` naming the key: an unknown importance or
recovery loss, a layer name in ``ignore`` the student does not have (with a
did-you-mean), an iterative schedule that cannot run, a target the student
cannot reach even with one channel left per layer, an int8 size smaller
than the classifier alone, ``round_to: auto`` without a target, and a latency
target on a target whose latency is not measured (runner ``estimate`` or
``emulated``: an estimate is a function of MACs and bytes, so prune by ``macs``
there; qemu timings say nothing about the device) or below what the measured
latency table can reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from edgekd.errors import InputError

if TYPE_CHECKING:
    from edgekd.pruning.budget import Exporters

MEASURED_RUNNERS = ("local", "ssh")  # a latency target needs measured figures; estimate/emulated are refused


@dataclass(frozen=True)
class LatencyProbe:
    """How the latency of an artifact file is measured on the target (built by the API from the profile's runner).

    Attributes:
        measure: ``measure(path) -> bench dict`` (``p50_ms``, ``p90_ms``, ``runtime_version``, ...).
        identity: what the figures depend on besides the file (runner settings, bench options): part of the
            latency table's cache key.
    """

    measure: Callable[[Any], dict]
    identity: dict = field(default_factory=dict)


@dataclass
class PrunePlan:
    """What the checks resolved: the layers kept whole, (for an int8 target) the size model, the channel
    rounding and (for a latency target) the measured latency table and how to export and measure the result."""

    ignored: list[str]
    size_model: object | None  # edgekd.pruning.budget.Int8SizeModel
    round_to: Optional[int] = None
    latency_table: object | None = None  # edgekd.pruning.latency_table.LatencyTable
    export: Optional[Callable[[Any, Any], Any]] = None  # export(model, stem) -> deploy artifact path
    probe: Optional[LatencyProbe] = None
    target: Optional[str] = None


def resolve_round_to(value: object, profile: Any, where: str = "prune.round_to") -> Optional[int]:
    """The channel multiple: ``auto`` → the profile's ``simd_width`` (None when it has none), an int, or None.

    Raises:
        InputError: ``auto`` without a target profile.

    Example:
        >>> from edgekd.targets import load_target
        >>> resolve_round_to("auto", load_target("x86_64")), resolve_round_to(8, None), resolve_round_to(None, None)
        (16, 8, None)
    """
    if value is None:
        return None
    if value == "auto":
        if profile is None:
            raise InputError(f"{where}: 'auto' rounds to the target's simd_width: give a target "
                             "(export.targets in a recipe, target= in edgekd.prune), or an integer")
        return profile.simd_width
    return int(value)


def check_latency_target(profile: Any, where: str = "prune.target.latency_p50_ms") -> None:
    """Refuse a latency target without a profile or on a profile whose runner does not measure.

    Raises:
        InputError: naming the key, the target and its runner.
    """
    if profile is None:
        raise InputError(f"{where}: a latency target is measured on a target's runner: give a target "
                         "(export.targets in a recipe, target= in edgekd.prune)")
    kind = profile.runner.kind
    if kind not in MEASURED_RUNNERS:
        why = ("its latency is an estimate computed from MACs and bytes (prune by macs or macs_ratio instead)"
               if kind == "estimate" else "timings under emulation say nothing about the device"
               if kind == "emulated" else "edgekd only builds latency tables from measured runners")
        raise InputError(f"{where}: target {profile.name!r} has runner {kind!r}: {why}; a latency table needs a "
                         f"runner that measures ({', '.join(MEASURED_RUNNERS)})")


def _classifier_bytes(model, name: str) -> int:
    from edgekd.pruning.budget import BYTES_PER_OUT_CHANNEL, ZERO_POINT_BYTES

    layer = dict(model.named_modules())[name]
    out = layer.out_channels if hasattr(layer, "out_channels") else layer.out_features
    return layer.weight.numel() + out * (BYTES_PER_OUT_CHANNEL + ZERO_POINT_BYTES)


def check_prune(spec, model, input_shape: tuple[int, ...], *, calibrate: bool = False, target: Any = None,
                probe: Optional[LatencyProbe] = None, cache_dir: Any = None,
                log: Callable[[str], None] = print, exporters: Optional[Exporters] = None) -> PrunePlan:
    """Check a ``PruneSpec`` against the (untrained or trained) model, which is left untouched.

    Args:
        spec: the pruning settings (``edgekd.pruning.config.PruneSpec``).
        model: the model to prune.
        input_shape: one example's shape.
        calibrate: for an ``int8_kb`` target, export the model once to measure the
            file's fixed part (a few seconds); without it only the weights are bounded.
            For a ``latency_p50_ms`` target, build (or read from the cache) the latency
            table on ``target`` with ``probe`` (minutes the first time) and check the target against it.
        target: the ``TargetProfile`` pruning is for (``round_to: auto``, latency targets).
        probe: measures an artifact on the target's runner (needed to calibrate a latency target).
        cache_dir: where latency tables are cached (default ``.cache/edgekd/latency-tables``).
        log: progress lines of the latency table.
        exporters: what pruning needs of the export stage (an int8 size model, a latency table's deploy
            artifact), passed in by the caller: pruning does not import the export stage.

    Returns:
        The plan: the layers kept whole and (calibrated) the int8 size model.

    Raises:
        InputError: an unknown importance or recovery loss, a schedule that cannot run, an unknown
            ``ignore`` name, a target the model cannot reach with one channel per layer.
    """
    p = spec
    import torch

    from edgekd.training.losses import build_loss
    from edgekd.pruning.budget import budget_from_target, calibrate_int8_size, measure_cost
    from edgekd.pruning.importance import IMPORTANCES
    from edgekd.pruning.prune import floor_cost, resolve_ignored

    try:
        IMPORTANCES.get(p.importance)
    except InputError as exc:
        raise InputError(f"prune.importance: {exc}") from None
    build_loss(p.recover.loss.name, p.recover.loss.params, where="prune.recover.loss")
    round_to = resolve_round_to(p.round_to, target)
    latency = p.target.latency_p50_ms is not None
    if latency:
        check_latency_target(target)
    if p.schedule.kind == "oneshot" and p.schedule.steps != 1:
        raise InputError(f"prune.schedule.steps: a oneshot schedule has 1 step, got {p.schedule.steps} "
                         "(use kind: iterative for several)")
    if p.order == "prune-distill" and p.schedule.steps != 1:
        raise InputError("prune.schedule: order prune-distill prunes the initialised student once before training; "
                         "an iterative schedule needs order distill-prune-distill")
    with torch.random.fork_rng():  # checking never moves the caller's random state
        ignored = resolve_ignored(model, p.ignore, input_shape, where="prune.ignore")
        size_model = calibrate_int8_size(model, input_shape, _needs(exporters, "prune.target.int8_kb").int8_tflite) \
            if (calibrate and p.target.int8_kb is not None) else None
        extra: dict = {"round_to": round_to, "target": getattr(target, "name", None)}
        if latency:
            if not calibrate:  # the table is measured when the run starts; here only what needs no measurement
                return PrunePlan(ignored=ignored, size_model=size_model, **extra)
            if probe is None:
                raise InputError("prune.target.latency_p50_ms: no way to measure on the target was given "
                                 "(edgekd.prune and edgekd.compress build it from the target's runner)")
            extra.update(_latency_plan(model, input_shape, ignored, target, probe, round_to, p.min_channels,
                                       cache_dir, log, _needs(exporters, "prune.target.latency_p50_ms")))
            table = extra["latency_table"]
            if table.floor_ms() > p.target.latency_p50_ms:
                raise InputError(
                    f"prune.target.latency_p50_ms: {p.target.latency_p50_ms:g} ms cannot be met on {target.name!r}: "
                    f"the measured latency table predicts at best {table.floor_ms():.4f} ms p50 (unpruned "
                    f"{table.base_ms:.4f} ms{f', channel counts multiples of {round_to}' if round_to else ''}); "
                    "raise the target, lower prune.round_to or prune.min_channels, or shorten prune.ignore")
            return PrunePlan(ignored=ignored, size_model=size_model, **extra)
        reference = measure_cost(model, input_shape, size_model)
        budget = budget_from_target(p.target, reference)
        if p.target.int8_kb is not None:
            head = ignored[-1]
            head_bytes = _classifier_bytes(model, head) + (size_model.fixed_bytes if size_model else 0)
            if budget.limit < head_bytes:
                fixed = " plus the file's fixed tables" if size_model else ""
                raise InputError(f"prune.target.int8_kb: {p.target.int8_kb:g} KiB is smaller than the classifier "
                                 f"alone ({head!r}: {head_bytes / 1024:.2f} KiB int8{fixed})")
            if size_model is None:  # bound the weights only; the fixed part is checked once calibrated
                return PrunePlan(ignored=ignored, size_model=None, **extra)
        floor = floor_cost(model, input_shape, ignored, p.min_channels, size_model, round_to=round_to)
    if not budget.met(floor):
        left = f"{p.min_channels} channel(s)" + (f" (rounded to multiples of {round_to})" if round_to else "")
        raise InputError(
            f"{budget.key}: {budget.wanted} cannot be met: with {left} left in every prunable layer "
            f"{type(model).__name__} still has {budget.describe(floor)} (unpruned: {budget.describe(reference)}); "
            f"raise the target, {'lower prune.round_to, ' if round_to else ''}lower prune.min_channels or shorten "
            "prune.ignore"
        )
    return PrunePlan(ignored=ignored, size_model=size_model, **extra)


def _needs(exporters: Optional[Exporters], key: str) -> Exporters:
    if exporters is None:
        raise TypeError(f"check_prune: {key} needs exporters= (edgekd.api.wiring.pruning_exporters())")
    return exporters


def _latency_plan(model, input_shape, ignored, target, probe: LatencyProbe, round_to, min_channels, cache_dir,
                  log, exporters: Exporters) -> dict:
    """The latency table of ``model`` on ``target`` (measured once, then cached) and the deploy exporter."""
    from edgekd.pruning.latency_table import build_latency_table, deploy_exporter
    from edgekd.runtime.latency import host_info
    from edgekd.versions import versions

    export, exported = deploy_exporter(target, input_shape, exporters.choose_backend)
    v = versions()
    identity = {"target": target.name, "threads": target.threads, **exported, **probe.identity,
                "runner": target.runner.model_dump(mode="json"),
                "versions": {k: v.get(k) for k in ("torch", "ai-edge-litert", "tflite-runtime", "onnxruntime",
                                                   "litert-torch", "tensorflow-cpu", "onnx2tf", "torch-pruning")}}
    if target.runner.kind == "local":
        identity["host_cpu"] = host_info().get("cpu")
    table = build_latency_table(model, input_shape, ignored, export=export, measure=probe.measure, identity=identity,
                                round_to=round_to, min_channels=min_channels, cache_dir=cache_dir, log=log)
    return {"latency_table": table, "export": export, "probe": probe}
