"""``edgekd sweep``: an Optuna study over recipe keys, every trial judged on its exported file.

check the space → open the study (journal file in ``--out``, or a shared database) → repair trials
a dead worker left running → run trials until the study has ``trials`` finished ones or ``timeout``
passes → ``sweep.json`` and ``report.html`` after every trial → the front scored on the test split.
Several processes (on one machine with the journal file, on many with PostgreSQL) may run it on the
same study at once: each asks Optuna for the next trial, so none is run twice and none is lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from edgekd.errors import BackendError, InputError
from edgekd.sweep.space import ChoiceParam, Space, choice_labels

Log = Callable[[str], None]
# the sweep's --timeout clock, read after each trial as Optuna's own timeout is (tests replace it with a fake one)
_clock = time.monotonic
TRIAL_FAILS_STOP = 3  # consecutive failed trials of this worker that end it (a broken set-up, not a bad trial)


@dataclass
class SweepResult:
    """What a sweep left: ``sweep.json``'s content and where it is."""

    summary: dict
    out: Path

    @property
    def front(self) -> list[dict]:
        return [r for r in self.summary["trials"] if r.get("pareto")]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def params_digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def _suggest(trial: Any, key: str, param: Any) -> Any:
    if isinstance(param, ChoiceParam):
        return json.loads(trial.suggest_categorical(key, choice_labels(param)))
    if param.int:
        return trial.suggest_int(key, int(param.low), int(param.high), step=int(param.step or 1), log=param.log)
    return trial.suggest_float(key, param.low, param.high, step=param.step, log=param.log)


def baseline_params(space: Space, base: dict) -> Optional[dict]:
    """The recipe's own values of the searched keys, as Optuna's fixed params (None if one is missing or outside)."""
    out = {}
    for key, param in space.params.items():
        node: Any = base
        for part in key.split("."):  # a key the recipe leaves out is null (e.g. no prune section)
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(param, ChoiceParam):
            if node not in param.choices:
                return None
            out[key] = json.dumps(node)
        else:
            if not isinstance(node, (int, float)) or not param.low <= node <= param.high:
                return None
            out[key] = node
    return out


def _sampler(space: Space, seed: int) -> Any:
    """The space's sampler. Constraints reach it through ``Trial.set_constraint`` (Optuna 5; the older
    ``constraints_func`` argument is deprecated there)."""
    import optuna

    s = space.sampler
    if s.name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=s.population_size, seed=seed)
    if s.name == "tpe":
        return optuna.samplers.TPESampler(n_startup_trials=s.startup_trials, seed=seed, multivariate=True)
    return optuna.samplers.RandomSampler(seed=seed)


def open_study(storage: Any, name: str, space: Space, seed: int, resume: bool, log: Log, local: bool) -> Any:
    """Create the study, or join it; refuse one made with another space unless ``resume``."""
    import optuna

    existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    digest = space.digest()
    if name in existing:
        made_with = existing[name].user_attrs.get("space_sha256")
        if made_with != digest and not resume:
            raise InputError(f"--study {name}: the study exists with another search space (space {str(made_with)[:12]}, "
                             f"this one {digest[:12]}); pass --study NEW_NAME, or --resume to continue it with this space")
        if made_with != digest:
            _check_continuable(existing[name].user_attrs.get("space") or {}, space, name)
        if list(existing[name].directions) != [optuna.study.StudyDirection.MAXIMIZE if d == "maximize" else
                                              optuna.study.StudyDirection.MINIMIZE for d in space.directions]:
            raise InputError(f"--study {name}: the study has other objectives; pass --study NEW_NAME")
        done = existing[name].n_trials
        log(f"sweep: joining study {name!r} ({done} trials so far)")
    else:
        done = 0
    # one seed per worker: a resumed or second worker must not replay the first one's random draws
    seed_here = seed + done if local else int(params_digest({"seed": seed, "worker": worker_id()})[:8], 16)
    study = optuna.create_study(storage=storage, study_name=name, directions=space.directions,
                                sampler=_sampler(space, seed_here), load_if_exists=True)
    if "space_sha256" not in study.user_attrs or resume:
        study.set_user_attr("space_sha256", digest)
        study.set_user_attr("space", space.model_dump(mode="json"))
    return study


def _check_continuable(old: dict, space: Space, name: str) -> None:
    """Optuna cannot continue a study whose categorical parameter changed its choices: refuse that here."""
    for key, param in space.params.items():
        before = (old.get("params") or {}).get(key)
        if before is None:
            continue
        now = param.model_dump(mode="json")
        if ("choices" in before) != ("choices" in now) or ("choices" in now and before["choices"] != now["choices"]):
            raise InputError(f"--resume: params.{key} changed from {json.dumps(before)} to {json.dumps(now)}; a study "
                             f"cannot continue with other choices (or kind) for a parameter: pass --study NEW_NAME")


def repair_dead_trials(study: Any, log: Log) -> None:
    """Trials this machine's killed workers left RUNNING (or an interrupted one) are failed and queued again."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    retried = {t.user_attrs.get("retry_of") for t in study.get_trials(deepcopy=False)}
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.FAIL)):
        who = str(t.user_attrs.get("worker", ""))
        w_host, _, w_pid = who.rpartition(":")
        dead = t.state == TrialState.RUNNING and w_host == host and w_pid.isdigit() and not _alive(int(w_pid))
        interrupted = t.state == TrialState.FAIL and t.user_attrs.get("interrupted")
        if not (dead or interrupted) or t.number in retried:
            continue
        if dead:
            study._storage.set_trial_user_attr(t._trial_id, "error", f"worker {who} died during the trial")
            study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        study.enqueue_trial(dict(t.params), user_attrs={"retry_of": t.number})
        log(f"sweep: trial {t.number} was cut short ({'worker ' + who + ' is gone' if dead else 'interrupted'}); "
            f"queued again, its checkpoints resume")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _stop_rule_for(study: Any, space: Space, trial: Any) -> tuple[Callable[[int, float], bool], Callable[[int, int], None]]:
    """The per-epoch stopping rule of one trial: its curve goes into the study, the others' curves come out."""
    from optuna.trial import TrialState

    from edgekd.sweep.stopping import Curve, build_rule

    rule = build_rule(space.stop)
    curve: list[Optional[float]] = []
    model: dict[str, int] = {}

    def on_model(params: int, macs: int) -> None:
        model.update(params=params, macs=macs)
        trial.set_user_attr("model", dict(model))

    def stop(epoch: int, score: float) -> bool:
        curve.extend([None] * (epoch - len(curve)))
        curve[epoch - 1] = score
        trial.set_user_attr("curve", list(curve))
        if space.stop.name == "none":
            return False
        others = [Curve(t.user_attrs["curve"], **t.user_attrs["model"])
                  for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                  if t.user_attrs.get("curve") and t.user_attrs.get("model")]
        mine = Curve([s if s is not None else -1.0 for s in curve], **model)
        return rule.should_stop(epoch, mine, others)

    return stop, on_model


def sweep(recipe: str | Path, space: str | Path, *, overrides: Optional[list[str]] = None, trials: int = 20,
          timeout: Optional[float] = None, storage: Optional[str] = None, study: Optional[str] = None,
          out: Optional[str | Path] = None, resume: bool = False, connect_timeout: float = 10.0,
          log: Optional[Log] = None) -> SweepResult:
    """Search the recipe's keys the space names for the accuracy–size–latency front under the target's budgets.

    Args:
        recipe: the recipe every trial starts from (``overrides``: ``--set`` strings).
        space: the search space file (``edgekd.sweep.space``).
        trials: finished trials (complete or stopped) the study should reach; a resumed sweep runs the rest.
        timeout: stop starting trials after this many seconds.
        storage: None (the journal file in ``out``), ``sqlite:///FILE`` or ``postgresql://...``.
        study: the study name (default ``RECIPE_NAME-sweep``); workers sharing a storage share it.
        out: results, trial folders and the default storage (default ``runs/RECIPE_NAME-sweep``).
        resume: continue a study that was made with another space.
        connect_timeout: seconds to reach a database before giving up (exit 2).

    Returns:
        ``SweepResult``: ``sweep.json``'s content (every trial, the front, the test scores of the front).

    Example:
        >>> from edgekd.sweep.search import sweep
        >>> sweep("recipes/heart.yaml", "recipes/heart-sweep.yaml", trials=2, out="/tmp/s")  # doctest: +SKIP
    """
    import optuna
    from optuna.trial import TrialState

    from edgekd.recipe import read_recipe_tree
    from edgekd.sweep.check import check_sweep
    from edgekd.sweep.results import write_results
    from edgekd.sweep.space import load_space
    from edgekd.sweep.storage import open_storage
    from edgekd.sweep.trial import Worker

    import warnings

    log = log or _stderr
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial is logged here, in one line
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sp = load_space(space)
    plan = check_sweep(sp, read_recipe_tree(recipe, overrides), str(recipe), str(space))
    out = Path(out) if out is not None else Path("runs") / f"{plan.recipe.name}-sweep"
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a folder")
    name = study or f"{plan.recipe.name}-sweep"
    st = _study(open_storage(storage, out, connect_timeout, log), name, sp, plan, resume, log, local=storage is None)
    worker = Worker(base=plan.base, source=str(recipe), target=plan.target, runner=sp.runner, log=log,
                    fp32_twin="accuracy_drop_pp" in plan.budgets)
    t_start = _clock()
    fails = {"in_a_row": 0}
    me = worker_id()
    context = {"recipe": str(recipe), "space": str(space), "storage": storage, "study": name}

    def finished() -> int:
        return len(st.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))

    def objective(trial: Any) -> list[float]:
        return run_one(trial, st, sp, plan, worker, out, trials, me, log)

    def after(study: Any, trial: Any) -> None:
        fails["in_a_row"] = fails["in_a_row"] + 1 if trial.state == TrialState.FAIL else 0
        write_results(study, sp, plan, out, context, worker=None, log=log)
        if finished() >= trials:
            study.stop()
        elif timeout is not None and _clock() - t_start >= timeout:  # checked after each trial, as Optuna's own
            study.stop()
        elif fails["in_a_row"] >= TRIAL_FAILS_STOP:
            log(f"sweep: {TRIAL_FAILS_STOP} trials in a row failed here; this worker stops (see sweep.json errors)")
            study.stop()

    if finished() < trials:
        log(f"sweep: study {name!r}, {finished()} of {trials} trials done; objectives "
            + ", ".join(f"{o} ({d})" for o, d in zip(sp.objectives, sp.directions))
            + f"; budgets of {plan.target.name}: {json.dumps(plan.budgets)}")
        st.optimize(objective, catch=(Exception,), callbacks=[after], gc_after_trial=True)
    log(f"sweep: {finished()} trials finished ({_clock() - t_start:.0f} s here); scoring the front on test")
    summary = write_results(st, sp, plan, out, context, worker=worker, log=log)
    if finished() == 0:
        raise BackendError(nothing_finished(st, out))
    return SweepResult(summary=summary, out=out)


def nothing_finished(st: Any, out: Path) -> str:
    """Why a sweep ends with no finished trial: its trials' errors, one of each (the exit is 3, never 0)."""
    from optuna.trial import TrialState

    errors: list[str] = []
    for t in st.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        error = str(t.user_attrs.get("error") or "no error recorded")
        if error not in errors:
            errors.append(error)
    why = "; ".join(errors[:3]) + (f"; and {len(errors) - 3} other errors" if len(errors) > 3 else "")
    return (f"0 trials finished: every trial failed ({why or 'none was started'}); see "
            f"{out / 'sweep.json'}")


def _study(store: Any, name: str, sp: Any, plan: Any, resume: bool, log: Log, local: bool) -> Any:
    """The study (opened or made), dead workers' trials repaired, the recipe's own values queued as trial 0."""
    st = open_study(store, name, sp, plan.recipe.seed, resume, log, local=local)
    repair_dead_trials(st, log)
    if sp.baseline and not st.get_trials(deepcopy=False):
        fixed = baseline_params(sp, plan.base)
        if fixed is None:
            log("sweep: no baseline trial: a searched key is missing from the recipe or its value is outside the space")
        else:
            st.enqueue_trial(fixed, user_attrs={"baseline": True}, skip_if_exists=True)
    return st


def run_one(trial: Any, st: Any, sp: Any, plan: Any, worker: Any, out: Path, trials: int, me: str, log: Log) -> list[float]:
    """One Optuna trial: the space's values, the trial run in its folder (resuming), judged by the gate's checker."""
    import optuna
    from optuna.trial import TrialState

    from edgekd.sweep.objectives import objective_values
    from edgekd.sweep.trial import Stopped, run_trial

    def finished() -> int:
        return len(st.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))

    trial.set_user_attr("worker", me)
    try:
        values = {key: _suggest(trial, key, param) for key, param in sp.params.items()}
    except Exception as exc:
        trial.set_user_attr("error", _one_line(exc))
        log(f"trial {trial.number}: FAILED before it started: {_one_line(exc)}")
        raise
    trial.set_user_attr("values", values)
    digest = params_digest(values)
    label = f"trial {trial.number} [{finished() + 1}/{trials}]"
    log(f"{label}: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in values.items()))
    workdir = out / "trials" / digest[:12]
    stop, on_model = _stop_rule_for(st, sp, trial)
    t0 = time.perf_counter()
    try:
        from edgekd.sweep.teacher import file_lock

        with file_lock(workdir / ".lock"):
            figures = run_trial(worker, values, workdir, stop=stop, on_model=on_model)
    except Stopped as why:
        log(f"{label}: {why}: it cannot reach the front ({sp.stop.name} rule)")
        trial.set_user_attr("seconds", round(time.perf_counter() - t0, 1))
        raise optuna.TrialPruned(str(why)) from None
    except KeyboardInterrupt:
        trial.set_user_attr("interrupted", True)
        raise
    except Exception as exc:
        trial.set_user_attr("error", _one_line(exc))
        trial.set_user_attr("seconds", round(time.perf_counter() - t0, 1))
        log(f"{label}: FAILED: {_one_line(exc)}")
        raise
    judge(trial, figures, plan, workdir, label, t0, log)
    return objective_values(figures, sp.objectives)


def judge(trial: Any, figures: dict, plan: Any, workdir: Path, label: str, t0: float, log: Log) -> None:
    """Record the trial's figures and the gate's verdict on its files (constraints for the sampler, feasibility)."""
    from edgekd.sweep.objectives import agree, constraint_values, feasible, gate_checks

    checks = gate_checks(figures, plan.budgets)  # the gate's own checker: feasible == edgekd gate passes
    cons = agree(constraint_values(figures, plan.budgets), checks)
    ok = feasible(cons) and all(c.status != "fail" for c in checks)
    trial.set_user_attr("gate", [c.to_dict() for c in checks])
    write_gate_report(workdir / "gate-report.json", figures, plan)
    trial.set_user_attr("gate_report", str(workdir / "gate-report.json"))
    trial.set_user_attr("figures", figures)
    trial.set_user_attr("constraints", cons)
    for key, value in cons.items():  # an unmeasured budget counts as broken: never feasible
        trial.set_constraint(key, 1.0 if value is None else value)
    trial.set_user_attr("feasible", ok)
    trial.set_user_attr("seconds", round(time.perf_counter() - t0, 1))
    runner = "est." if figures["latency_estimated"] else figures["latency_runner"]
    log(f"{label}: {figures['metric_name']} {figures['metric']:.3f} (validation, n={figures['val'].get('n')}), "
        f"{figures['size_kb']:.1f} KiB, p90 {figures['latency_p90_ms']:.3f} ms ({runner}); "
        + ("within budgets" if ok else "OUTSIDE budgets: " + ", ".join(
            f"{k} {'unmeasured' if v is None else f'+{v:.3g}'}" for k, v in cons.items() if v is None or v > 0))
        + f" ({time.perf_counter() - t0:.0f} s)")


def write_gate_report(path: Path, figures: dict, plan: Any) -> None:
    """The trial's files as a report ``edgekd gate`` reads (figures from validation, the sweep's budgets as the
    recipe's): what the sweep called feasible is what the gate says of them. Artifact paths are written relative
    to the report's folder, as in every report (the gate refuses absolute paths and paths that climb out)."""
    from edgekd.atomic import write_json
    from edgekd.report.schema import SCHEMA

    rows = [dict(r) for r in figures.get("gate_rows") or []]
    for r in rows:
        if isinstance(r.get("path"), str) and r["path"]:
            r["path"] = Path(os.path.relpath(Path(r["path"]).resolve(), path.parent.resolve())).as_posix()

    write_json(path, {"schema": SCHEMA, "recipe": {"path": None, "name": f"{plan.recipe.name} sweep trial",
                                                   "config": {"export": {"budgets": {plan.target.name: plan.budgets}}}},
                      "targets": [{"name": plan.target.name, "budgets": plan.budgets}],
                      "note": "figures measured on the validation split (a sweep never looks at test)",
                      "artifacts": rows})


def _stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)
