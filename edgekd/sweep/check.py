"""Everything a sweep can check before its first trial: the space's keys and values against the recipe.

Each key must be a recipe key (did-you-mean), and every choice and both ends of every range must make
a valid recipe that ``edgekd run`` would accept for the judged target, format and precision (so an
``int4-weights`` choice for a TFLite target fails here, not in trial 17).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgekd.errors import InputError
from edgekd.recipe import Recipe, recipe_from_tree
from edgekd.sweep.keys import check_recipe_key
from edgekd.sweep.space import ChoiceParam, RangeParam, Space, check_keys
from edgekd.sweep.trial import measured_precision, trial_tree


@dataclass(frozen=True)
class Plan:
    """What a checked sweep runs on: the judged target (formats cut to the judged one) and its budgets."""

    recipe: Recipe
    base: dict  # the recipe tree every trial starts from (export.targets: the judged target only)
    target: Any
    format: str
    budgets: dict


def _samples(param: Any) -> list[Any]:
    if isinstance(param, ChoiceParam):
        return list(param.choices)
    assert isinstance(param, RangeParam)
    cast = int if param.int else float
    return [cast(param.low), cast(param.high)]


def check_space_runner(target: Any, runner: str, space_source: str) -> None:
    """The space's ``runner`` must be one that can measure the judged target (a known runner, ready).

    Raises:
        InputError: ``SPACE: runner 'quantum': unknown runner 'quantum' (known: ...)``.
    """
    from edgekd.api.checks import check_runner_ready, with_runner

    where = f"{space_source}: runner {runner!r}"
    try:
        check_runner_ready(with_runner(target, runner, where=where), where=where)
    except InputError as exc:
        message = str(exc)
        raise InputError(message if message.startswith(where) else f"{where}: {message}") from None


def check_sweep(space: Space, base: dict, recipe_source: str, space_source: str) -> Plan:
    """Refuse a space that cannot run, naming the key and the value.

    Raises:
        InputError: an unknown or fixed key, a value the recipe refuses, a precision the target cannot export.
    """
    from edgekd.api.inputs import target_of
    from edgekd.exporting.stage import target_backend
    from edgekd.pipeline import check_recipe
    from edgekd.report.budgets import layered_budgets

    recipe = recipe_from_tree(base, recipe_source)
    check_keys(space, space_source)
    for key in space.params:
        check_recipe_key(key, Recipe, recipe.student.model, space_source)
    fixed_teacher = recipe.teacher.file is not None or recipe.teacher.train.epochs == 0
    for key in space.params:
        if fixed_teacher and (key == "frontend" or key.startswith("frontend.") or key == "task"):
            raise InputError(f"{space_source}: params.{key}: changes the teacher's input, and the recipe's teacher is "
                             "a fixed file or checkpoint; let the recipe train it (teacher.checkpoint: null, "
                             "teacher.train.epochs: N): the sweep then trains one per front-end, once, cached")
    name = space.target or recipe.export.targets[0]
    base = trial_tree(base, {"export.targets": [name]}, recipe_source)  # trials are judged on this target only
    recipe = recipe_from_tree(base, recipe_source)
    target = target_of(name)
    fmt = space.format or target.formats[0]
    if fmt not in target.formats:
        raise InputError(f"{space_source}: format {fmt!r}: target {target.name!r} exports {', '.join(target.formats)}")
    judged = target.model_copy(update={"formats": [fmt]})
    if space.runner is not None:  # refused here, not by every trial's measurement (three failed trials, exit 0)
        check_space_runner(judged, space.runner, space_source)
    check_recipe(recipe, runner=space.runner)
    for key, param in space.params.items():
        for value in _samples(param):
            where = f"{space_source}: params.{key} = {value!r}"
            try:
                trial = recipe_from_tree(trial_tree(base, {key: value}, where), where)
                check_recipe(trial, runner=space.runner)
                target_backend(judged, fmt, measured_precision(trial, judged))
                for precision in trial.export.precisions or judged.precisions:
                    target_backend(judged, fmt, precision)
            except InputError as exc:
                message = str(exc)
                raise InputError(message if message.startswith(where) else f"{where}: {message}") from None
    override = {**recipe.export.budgets.get(target.name, {}), **space.budgets}
    budgets = layered_budgets(target, override, where=f"{space_source}: budgets").model_dump(exclude_none=True)
    return Plan(recipe=recipe, base=base, target=judged, format=fmt, budgets=budgets)
