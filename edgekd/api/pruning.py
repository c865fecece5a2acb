"""``edgekd.prune``: remove whole channels from your model until it meets a budget, optionally recovering."""

from __future__ import annotations

import contextlib

import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from edgekd.api.checks import as_list, check_class_order, keeps_torch_threads
from edgekd.api.datasets import split_of, train_and_val, with_prepared
from edgekd.api.inputs import as_model, as_windows, check_module, left_as_it_was, resolve_task, target_of
from edgekd.api.results import Pruned
from edgekd.errors import InputError
from edgekd.pruning.config import PruneSpec
from edgekd.yamlconf import validate


def _example_shape(example: Any) -> tuple[int, ...]:
    """One example's shape from a batch of one (tensor or array) or a shape tuple."""
    if isinstance(example, (tuple, list)) and all(isinstance(d, int) for d in example):
        return tuple(int(d) for d in example)
    shape = tuple(getattr(example, "shape", ()))
    if len(shape) < 2:
        raise InputError(f"example: expected a batch of one example (1, *input_shape) or an input shape tuple, "
                         f"got {shape or type(example).__name__}")
    return tuple(int(d) for d in shape[1:])


BUDGET_KEYS = ("params_ratio", "macs", "macs_ratio", "int8_kb", "latency_p50_ms")


def _budget_tree(budget: Any) -> dict:
    """The budget as a mapping; a bare number or anything else is refused, showing the accepted forms."""
    if isinstance(budget, dict):
        return budget
    if hasattr(budget, "model_dump"):
        return budget.model_dump(exclude_none=True)
    example = (f"{{'macs_ratio': {budget!r}}} or {{'params_ratio': {budget!r}}}"
               if isinstance(budget, (int, float)) and not isinstance(budget, bool) else "{'macs_ratio': 0.5}")
    raise InputError(f"budget: expected a mapping with exactly one of {', '.join(BUDGET_KEYS)}, e.g. {example}; "
                     f"got {type(budget).__name__} {budget!r}")


@keeps_torch_threads
def prune(model: Any, budget: Union[dict, Any], example: Any = None, *, importance: str = "taylor",
          scope: str = "uniform", steps: int = 1, ignore: Sequence[str] = (), min_channels: int = 1,
          gradient_batches: int = 8, train: Any = None, val: Any = None, data: Any = None, teacher: Any = None,
          recover: Optional[dict] = None, task: Any = None, classes: Optional[Sequence[str]] = None,
          positive: Optional[str] = None, order: str = "distill-prune-distill", seed: int = 0,
          workdir: Optional[Union[str, Path]] = None, log: Optional[Callable[[str], None]] = None, target: Any = None,
          round_to: Union[None, str, int] = None, latency_cache: Optional[Union[str, Path]] = None,
          **settings: Any) -> Pruned:
    """Structured pruning of a copy of ``model`` to ``budget``: whole channels go, so the exported file shrinks.

    API rules: the model first, ``teacher=`` and the data by keyword; ``model`` is never changed (the result holds
    a pruned copy); a ``Prepared`` as ``train=`` (or ``data=``) gives the train and val splits, the task, classes
    and positive class; ``target`` is a device profile. Channels are ranked by ``importance`` (``l1``, ``l2``,
    ``bn_scale``, or ``taylor`` = |w·∂L/∂w| on a few training batches) and removed across dependency groups
    (torch-pruning) until the budget holds; with ``recover`` the model is fine-tuned after each step, distilled
    from ``teacher``. A budget that is not a mapping or an ``example`` the model cannot run is an ``InputError``
    before any work; a recovery teacher is checked against the class order. ``threads=`` holds for this call only.

    Args:
        model: the ``nn.Module`` (left untouched).
        budget: exactly one of ``{"params_ratio": r}``, ``{"macs": n}``, ``{"macs_ratio": r}``, ``{"int8_kb": kb}``
            (predicted int8 TFLite size) or ``{"latency_p50_ms": ms}`` (on ``target``'s runner, from a per-layer
            table measured there once and cached; the runner must measure: ``local`` or ``ssh``).
        example: a batch of one input ``(1, *input_shape)`` or the input shape; default: from ``train``.
        importance, scope, steps, ignore, min_channels, gradient_batches: see ``PruneSpec``.
        train, val, data: as ``edgekd.distill`` takes them: ``taylor`` reads ``train``; recovery needs both.
        teacher: the module or file recovery distils from (loss ``kd``); None with ``loss: ce``.
        recover: ``{"epochs": 5, "lr": 1e-3, "loss": {"name": "kd"}, "distill": None}`` (``RecoverSpec``).
        task, classes, positive: as for ``edgekd.distill``. order: recorded in the summary
            (``distill-prune-distill``: a trained model; ``prune-distill``: an initialised one).
        seed, workdir, log: randomness, checkpoints (``stepK.pt``), progress.
        target: the device profile (name, path or ``TargetProfile``) pruning is for: its ``simd_width``
            (``round_to="auto"``) and, for a latency budget, its runner, format and precision.
        round_to: kept channel counts are multiples of it: ``"auto"`` (the target's), an int, or None.
        latency_cache: cached latency tables (default ``.cache/edgekd/latency-tables``).
        **settings: the recovery trainer's other settings (as for ``edgekd.distill``).

    Returns:
        ``Pruned``: the pruned copy, the reference, parameters/MACs before and after, per-step records.

    Raises:
        InputError: a budget the model cannot reach, an unknown layer in ``ignore``, a bad setting,
            ``taylor`` or recovery without data.

    Example:
        >>> import torch, edgekd
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3),
        ...                           torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        ...                           torch.nn.Linear(16, 2)).eval()
        >>> out = edgekd.prune(net, {"macs_ratio": 0.5}, torch.zeros(1, 1, 12, 12), importance="l2")
        >>> out.after["macs"] <= 0.5 * out.before["macs"], net[0].out_channels   # net itself keeps its 16
        (True, 16)
        >>> out = edgekd.prune(net, {"macs_ratio": 0.8}, torch.zeros(1, 1, 12, 12), importance="l2", round_to=8)
        >>> out.model[0].out_channels, out.model[2].out_channels  # the largest rounded model within 0.8 (0.54: warns)
        (16, 8)
    """
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    spec = _spec(budget, recover, importance=importance, scope=scope, steps=steps, ignore=ignore,
                 min_channels=min_channels, gradient_batches=gradient_batches, round_to=round_to, order=order)
    check_module(model, "model", eval_mode=False)
    given = classes is not None
    train_ws, val_ws, task_obj, names, positive = _prune_data(data, train, val, task, classes, positive)
    shape = _input_shape(model, example, train_ws, importance)
    plan = _plan(spec, model, shape, target_of(target), latency_cache, log)
    recovery = None
    if recover is not None and spec.recover.epochs > 0:
        if train_ws is None or val_ws is None:
            raise InputError("recover: fine-tuning after pruning needs train= and val= data (or a Prepared as train=)")
        recovery = _recovery(spec, teacher, task_obj.for_input(shape), names, train_ws, settings, given=given)
    with left_as_it_was(teacher):  # recovery freezes its teacher: the caller's gets its flags back
        return _pruned(model, spec, plan, shape, train_ws, val_ws, recovery, names, positive=positive, seed=seed,
                       workdir=workdir, log=log)


def _spec(budget: Any, recover: Any, *, importance: str, scope: str, steps: int, ignore: Sequence[str],
          min_channels: int, gradient_batches: int, round_to: Union[None, str, int], order: str) -> PruneSpec:
    """The typed pruning settings (an unknown key or a bad value fails here, naming it)."""
    recover_tree = recover if recover is None or isinstance(recover, dict) else recover.model_dump()
    return validate(PruneSpec, {
        "target": _budget_tree(budget),
        "importance": importance, "scope": scope, "ignore": as_list(ignore, "ignore"), "min_channels": min_channels,
        "gradient_batches": gradient_batches, "round_to": round_to,
        "schedule": {"kind": "oneshot" if steps == 1 else "iterative", "steps": steps}, "order": order,
        **({"recover": recover_tree} if recover_tree is not None else {}),
    }, "prune")


def _prune_data(data: Any, train: Any, val: Any, task: Any, classes: Optional[Sequence[str]],
                positive: Optional[str]) -> tuple[Any, Any, Any, Optional[list[str]], Optional[str]]:
    """``(train windows or None, val windows or None, task, classes, positive)``; a ``Prepared`` as ``data=`` or
    ``train=`` gives its splits, task, classes and positive class."""
    train, val = train_and_val(data, train, val)
    task, names, positive = with_prepared(train, val, task=task, classes=classes, positive=positive)
    train_ws = val_ws = None
    task_obj = resolve_task(task)
    if train is not None:
        train_ws, task_obj, names = as_windows(split_of(train, "train"), task_obj, names, where="train")
    if val is not None:
        val_ws, task_obj, names = as_windows(split_of(val, "val"), task_obj, names, where="val")
    return train_ws, val_ws, task_obj, names, positive


def _input_shape(model: Any, example: Any, train_ws: Any, importance: str) -> tuple[int, ...]:
    """One example's shape (from ``example``, else the training data), checked by running the model once."""
    from edgekd.pruning.importance import IMPORTANCES

    shape = _example_shape(example) if example is not None else (
        tuple(train_ws.x.shape[1:]) if train_ws is not None else None)
    if shape is None:
        raise InputError("example: give a batch of one input (or its shape), or train= data")
    _check_example(model, shape, "example" if example is not None else "train")
    if IMPORTANCES.get(importance).needs_gradients and train_ws is None:
        raise InputError(f"importance {importance!r} scores channels by gradients on training batches: pass train=, "
                         "or use l1, l2 or bn_scale")
    return shape


def _plan(spec: PruneSpec, model: Any, shape: tuple[int, ...], profile: Any, latency_cache: Any,
          log: Callable[[str], None]) -> Any:
    """``check_prune``'s plan: the budget reachable, layers known; a size or latency model calibrated if needed."""
    from edgekd.api.wiring import pruning_exporters
    from edgekd.pruning.check import check_prune

    latency = spec.target.latency_p50_ms is not None
    return check_prune(spec, model, shape, calibrate=spec.target.int8_kb is not None or latency, target=profile,
                       probe=latency_probe(profile) if latency else None, cache_dir=latency_cache, log=log,
                       exporters=pruning_exporters())


def _pruned(model: Any, spec: PruneSpec, plan: Any, shape: tuple[int, ...], train_ws: Any, val_ws: Any,
            recovery: Any, names: Optional[list[str]], *, positive: Optional[str], seed: int, workdir: Any,
            log: Callable[[str], None]) -> Pruned:
    """Prune a copy of ``model`` (checkpoints in ``workdir``, default a temporary folder)."""
    from edgekd.pruning.stage import prune_copy

    from edgekd.atomic import temp_dir

    with contextlib.ExitStack() as stack:  # checkpoints in a scratch folder a killed run's successor clears
        ckpt = Path(workdir) if workdir is not None else stack.enter_context(temp_dir("prune"))
        run = prune_copy(
            model, spec, plan, input_shape=shape, train=train_ws, val=val_ws, recovery=recovery,
            labels=names or [], positive=positive, seed=seed,
            checkpoint_dir=ckpt, log=log,
            fingerprint_extra=f"{type(model).__name__}|{names}", reference_trained=spec.order != "prune-distill",
        )
    return Pruned(model=run.model, reference=run.reference, before=run.result.before.to_dict(),
                  after=run.result.after.to_dict(), steps=run.result.steps, summary=run.summary)


def _check_example(model: Any, shape: tuple[int, ...], where: str) -> None:
    """The model must run on one zero example of ``shape`` (else an InputError naming ``where``)."""
    import torch

    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *shape))
    except Exception as exc:  # the user's module: any error means the shape does not fit it
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{where}: the model cannot run on an input of shape {[1, *shape]} ({first}); give "
                         "example= as a batch of one input the model takes, (1, *input_shape), or its shape") from None
    finally:
        model.train(was)


def latency_probe(profile: Any, runs: int = 300, warmup: int = 30, max_seconds: float = 5.0):
    """How the pruner measures an artifact on ``profile``: ``edgekd.runners.registry.run_bench`` with the
    profile's runner (``local`` here, ``ssh`` on the device: the file is copied there and timed) and threads.

    Example:
        >>> probe = latency_probe(load_target("x86_64"))            # doctest: +SKIP
        >>> probe.measure("model.tflite")["p50_ms"]                  # doctest: +SKIP
        0.1682
    """
    from edgekd.pruning.check import LatencyProbe, check_latency_target
    from edgekd.runners.probe import latency_probe as runner_probe

    check_latency_target(profile)  # refuses runners that do not measure
    probe = runner_probe(profile, runs=runs, warmup=warmup, max_seconds=max_seconds)
    return LatencyProbe(measure=probe.bench,
                        identity={"bench": {"runs": runs, "warmup": warmup, "max_seconds": max_seconds}})


def _recovery(spec: PruneSpec, teacher: Any, task: Any, names: Optional[list[str]], train_ws: Any,
              settings: dict[str, Any], given: bool = False):
    """The fine-tuning after each pruning step, from the ``recover`` settings and the trainer's."""
    from edgekd.api.distilling import train_settings
    from edgekd.training.losses import needs_teacher
    from edgekd.distillation.objective import build_objective
    from edgekd.pruning.schedule import Recovery

    r = spec.recover
    wants_teacher = needs_teacher(r.loss.name) or r.distill is not None
    if wants_teacher and r.distill is None and teacher is None:
        raise InputError(f"recover.loss {r.loss.name!r} distils from a teacher: pass teacher=, or recover with "
                         "loss {'name': 'ce'}")
    teacher_m = as_model(teacher, "teacher", task, len(names), eval_mode=True) if wants_teacher and teacher is not None \
        else None
    if teacher_m is not None:
        check_class_order(teacher_m, train_ws, names, given=given)
    train = train_settings({**settings, "epochs": r.epochs, "lr": r.lr}, "prune settings")
    return Recovery(loss=build_objective(r, train_ws.y, len(names), where="prune.recover"), cfg=train.trainer_config(),
                    teacher=teacher_m, name=r.loss.name, augment=task.augmentation() if train.augment else None,
                    aggregation=task.aggregation)
