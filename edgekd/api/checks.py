"""Checks the verbs run on their inputs before any work: a teacher's class order, targets and their runners,
and the torch thread count a verb must leave as it found it.

Each check raises an ``InputError`` that says what to change, in seconds, before anything is trained.
"""

from __future__ import annotations

import functools
import os
import weakref
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar, Union

import numpy as np

from edgekd.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])

#: class-order check: enough training examples to judge, and how much better another order must fit
ORDER_MIN_EXAMPLES = 20
ORDER_MAX_EXAMPLES = 256
ORDER_MIN_GAIN = 0.30
#: teacher → {(data, classes, weights version): result}: compress checks once, then distil and prune reuse it
_CHECKED: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------- torch threads
def keeps_torch_threads(fn: F) -> F:
    """Run the verb, then put torch's global thread count back to what it was (``threads=`` is per call)."""

    @functools.wraps(fn)
    def verb(*args: Any, **kwargs: Any) -> Any:
        import torch

        before = torch.get_num_threads()
        try:
            return fn(*args, **kwargs)
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)

    return verb  # type: ignore[return-value]


# ---------------------------------------------------------------- one value or a list
def as_list(value: Any, where: str) -> list:
    """A list from a list/tuple/set, or from one value (``"rpi4"`` is one target, not four letters)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    if isinstance(value, bytes):
        raise InputError(f"{where}: expected a name or a list of names, got bytes")
    return [value]


# ---------------------------------------------------------------- class order against a teacher
def _greedy_order(confusion: np.ndarray) -> np.ndarray:
    """``perm[c]``: the teacher output matched to class ``c``, taking the largest agreement first."""
    k = len(confusion)
    c = confusion.astype(float).copy()
    perm = np.full(k, -1)
    for _ in range(k):
        r, o = np.unravel_index(int(np.argmax(c)), c.shape)
        perm[r] = o
        c[r, :] = -1
        c[:, o] = -1
    return perm


def check_class_order(teacher: Any, ws: Any, names: Sequence[str], *, given: bool, where: str = "teacher",
                      seed: int = 0) -> Optional[dict]:
    """Refuse a teacher whose outputs follow another class order than the labels.

    The rule: the teacher labels up to 256 training examples; the order it is used in (output ``i`` = class
    ``names[i]``) is compared with the best other order (classes matched to outputs greedily on the
    confusion matrix). It is refused when that other order agrees with the labels at least 30 points more
    often and the given order at most half as often, on at least 20 (and 3 per class) examples. A teacher
    trained on these classes in this order is never refused (no other order can fit it much better); a
    weak teacher is not either (no order fits well).

    Returns:
        ``{"n", "agreement", "best_agreement"}`` (None when there were too few examples to judge).

    Raises:
        InputError: naming ``classes=`` and the likely order.
    """
    k = len(names)
    n = len(ws.x)
    if k < 2 or n < max(ORDER_MIN_EXAMPLES, 3 * k):
        return None
    try:  # a teacher already checked on these data and classes, its weights unchanged since (in-place updates
        # bump each tensor's version counter)
        key = (_data_key(ws), tuple(names), sum(int(t._version) for t in teacher.parameters()), seed)
        done = _CHECKED.setdefault(teacher, {})
    except TypeError:  # not weak-referenceable
        key, done = None, {}
    if key in done:
        return done[key]
    result = _agreement(teacher, ws, names, given, where, seed)
    if key is not None:
        done[key] = result
    return result


def _data_key(ws: Any) -> str:
    """What identifies the examples the check looks at: every label and the first inputs."""
    import hashlib

    h = hashlib.sha256(np.ascontiguousarray(ws.y).tobytes())
    h.update(np.ascontiguousarray(ws.x[:8]).tobytes())
    h.update(str(ws.x.shape).encode())
    return h.hexdigest()


def _agreement(teacher: Any, ws: Any, names: Sequence[str], given: bool, where: str, seed: int) -> dict:
    from edgekd.models.inference import predict_logits

    k, n = len(names), len(ws.x)
    idx = np.sort(np.random.default_rng(seed).permutation(n)[:ORDER_MAX_EXAMPLES])
    logits = predict_logits(teacher, ws.x[idx])
    pred = np.asarray(logits).argmax(1)
    y = np.asarray(ws.y)[idx]
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    m = len(idx)
    perm = _greedy_order(confusion)
    agree, best = np.trace(confusion) / m, confusion[np.arange(k), perm].sum() / m
    if best - agree >= ORDER_MIN_GAIN and agree <= best / 2:
        raise InputError(_order_message(names, perm, agree, best, m, given, where))
    return {"n": m, "agreement": float(agree), "best_agreement": float(max(best, agree))}


def _order_message(names: Sequence[str], perm: np.ndarray, agree: float, best: float, m: int, given: bool,
                   where: str) -> str:
    order = [""] * len(names)
    for c, o in enumerate(perm.tolist()):
        order[o] = names[c]
    integer = list(names) == [str(i) for i in range(len(names))]
    sorted_names = not given and not integer and list(names) == sorted(names)
    head = (f"{where}: its outputs do not follow the class order {list(names)}"
            + (" (class names sorted alphabetically)" if sorted_names else "")
            + f": on {m} training examples it agrees with the labels {agree:.0%} of the time in that order, "
              f"{best:.0%} in the order {order}")
    if integer and not given:
        mapping = ", ".join(f"{c}->{o}" for c, o in enumerate(perm.tolist()) if c != o)
        return (f"{head}. The labels look numbered differently from the teacher's outputs: relabel y so that label "
                f"i is the teacher's output i (likely label->output: {mapping}), or check that this is the teacher "
                f"trained on these labels")
    return (f"{head}. Pass classes={order} (the order of the teacher's outputs) to edgekd.prepare (data it "
            f"prepared keeps its order), or to distill/compress with the data as arrays or a folder; or check that "
            f"this is the teacher trained on these classes")


def check_teacher_classes(teacher_classes: Optional[Sequence[str]], names: Sequence[str], where: str = "teacher"
                          ) -> None:
    """A teacher given as an ``edgekd.distill`` result knows its class names: the same names in another order
    than the data's is refused (other names, e.g. indices named later, are left to ``check_class_order``)."""
    if teacher_classes is None or list(teacher_classes) == list(names):
        return
    if sorted(teacher_classes) == sorted(names):
        raise InputError(f"{where}: it was trained with the classes in the order {list(teacher_classes)}, the data "
                         f"has them as {list(names)}: pass classes={list(teacher_classes)}")


def sorted_order_note(names: Sequence[str], given: bool) -> Optional[str]:
    """The line saying the class order was taken by sorting names (None when it was given, or labels are indices)."""
    if given or list(names) == [str(i) for i in range(len(names))]:
        return None
    return (f"  classes (sorted by name, the model's output order): {list(names)}; pass classes=[...] if your "
            "teacher's outputs are in another order")


# ---------------------------------------------------------------- targets and runners
RunnerArg = Union[None, str, Mapping[str, str]]


def runner_for(runner: RunnerArg, target: str) -> Optional[str]:
    """The runner kind ``runner=`` asks for on ``target`` (one kind for all, or ``{target: kind}``)."""
    if runner is None or isinstance(runner, str):
        return runner
    if isinstance(runner, Mapping):
        return runner.get(target)
    raise InputError(f"runner: expected a runner name ('estimate', 'local', ...) or {{target: runner}}, got "
                     f"{type(runner).__name__}")


def with_runner(profile: Any, kind: Optional[str], where: str = "runner") -> Any:
    """``profile`` measured with the runner ``kind`` instead of its own; its budgets stay the profile's (a
    figure estimated because of an override is judged as the gate will judge it, by the profile on disk).

    Raises:
        InputError: an unknown runner, ``ssh`` on a profile without ssh settings, or ``local`` on a device
            profile (this machine's timings would be reported as the device's).
    """
    if kind is None or kind == profile.runner.kind:
        return profile
    from edgekd.report.budgets import profile_budgets
    from edgekd.runners.registry import RUNNERS
    from edgekd.targets import RUNNER_MODELS, EstimateRunner, PluginRunner

    if kind not in RUNNER_MODELS:
        RUNNERS.get(kind)  # a plugin's runner, or an InputError listing the known ones
    if kind == "ssh":
        raise InputError(f"{where}: target {profile.name!r} has no ssh settings (its runner is "
                         f"{profile.runner.kind!r}); give a profile with runner: {{kind: ssh, host, user, key, "
                         "known_hosts}}")
    if kind == "local":
        raise InputError(f"{where}: 'local' would time {profile.name!r}'s files on this machine and report them as "
                         f"{profile.name!r}'s latency; use runner='estimate' (estimated from the profile's "
                         "coefficients, labelled estimated), or target a profile of this machine (x86_64)")
    if kind == "estimate":
        new = EstimateRunner(mcu=getattr(profile.runner, "mcu", None))
    elif kind in RUNNER_MODELS:
        new = RUNNER_MODELS[kind]()
    else:
        new = PluginRunner(kind=kind)
    budgets = profile_budgets(profile)
    return profile.model_copy(update={"runner": new, "budgets": type(budgets)(**budgets.model_dump())})


def check_runner_ready(profile: Any, where: str = "targets") -> None:
    """Everything about ``profile``'s runner that can be checked here, without the device: the ssh key and
    known-hosts files and the OpenSSH client, the estimate coefficients, a plugin runner being installed.

    Raises:
        InputError: what is missing, and how to get estimated latency without the device.
    """
    kind = profile.runner.kind
    estimate_hint = ("; without the device, pass runner='estimate' to edgekd.compress or edgekd.bench (edgekd bench "
                     "--runner estimate; for edgekd run, a copy of the profile with runner: {kind: estimate}) for "
                     "latency estimated from the profile's coefficients, labelled estimated"
                     if profile.estimate is not None else "")
    if kind == "ssh":
        from edgekd.runners.ssh import SshDevice

        try:
            SshDevice(profile.runner, profile.source or profile.name)
        except InputError as exc:
            raise InputError(f"{where}: target {profile.name!r} is measured over ssh: {exc}{estimate_hint}") from None
    elif kind == "estimate":
        if profile.estimate is None and getattr(profile.runner, "mcu", None) is None:
            raise InputError(f"{where}: target {profile.name!r} has runner 'estimate' but no 'estimate' section "
                             "(int8_gmacs, fp32_gmacs, mem_gbps, op_overhead_us, sources) in its profile")
    elif kind not in ("local", "emulated"):
        from edgekd.runners.registry import RUNNERS

        RUNNERS.get(kind)


def resolve_targets(targets: Any, runner: RunnerArg = None, where: str = "targets") -> list:
    """Target profiles from one target or a list (names, paths, profiles), each with ``runner=``'s override
    applied and its runner checked (``check_runner_ready``).

    Raises:
        InputError: no target, an unknown one, a runner override for a target not listed, a runner not ready.
    """
    from edgekd.api.inputs import target_of

    profiles = [target_of(t) for t in as_list(targets, where)]
    if not profiles:
        raise InputError(f"{where}: give at least one target profile")
    if isinstance(runner, Mapping):
        unknown = sorted(set(runner) - {p.name for p in profiles})
        if unknown:
            raise InputError(f"runner: {', '.join(map(repr, unknown))} is not one of the targets "
                             f"({', '.join(p.name for p in profiles)})")
    out = []
    for p in profiles:
        p = with_runner(p, runner_for(runner, p.name))
        check_runner_ready(p, where)
        out.append(p)
    return out
