"""A prune section that cannot work is refused before any data is read or any training starts, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from edgekd.errors import InputError  # noqa: E402
from edgekd.pipeline import check_recipe, run  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "heart-pruned.yaml"


def _recipe(*sets: str):
    return load_recipe(RECIPE, [f"data.path={ROOT / 'data' / 'heart-sample'}", *sets])


def test_the_committed_pruned_recipe_passes_the_checks() -> None:
    check_recipe(_recipe())


def test_a_target_below_one_channel_per_layer_is_refused() -> None:
    with pytest.raises(InputError, match=r"prune\.target\.params_ratio: params_ratio 0\.001 cannot be met.*1 channel"):
        check_recipe(_recipe("prune.target={params_ratio: 0.001}"))


def test_a_mac_budget_below_the_floor_is_refused() -> None:
    with pytest.raises(InputError, match=r"prune\.target\.macs: .*cannot be met"):
        check_recipe(_recipe("prune.target={macs: 1000}"))


def test_an_unknown_ignored_layer_is_refused_with_a_suggestion() -> None:
    with pytest.raises(InputError, match=r"prune\.ignore: .*no layer 'features\.4\.O'.*did you mean features\.4\.0"):
        check_recipe(_recipe("prune.ignore=[features.4.O]"))


def test_a_size_target_smaller_than_the_classifier_is_refused() -> None:
    with pytest.raises(InputError, match=r"prune\.target\.int8_kb: 0\.05 KB is smaller than the classifier alone"):
        check_recipe(_recipe("prune.target={int8_kb: 0.05}"))


def test_an_unknown_importance_is_refused() -> None:
    with pytest.raises(InputError, match=r"prune\.importance: unknown importance 'taylr'.*did you mean taylor"):
        check_recipe(_recipe("prune.importance=taylr"))


def test_two_targets_at_once_are_refused() -> None:
    with pytest.raises(InputError, match=r"prune\.target: .*exactly one"):
        _recipe("prune.target={params_ratio: 0.5, macs_ratio: 0.5}")


def test_a_oneshot_schedule_with_several_steps_is_refused() -> None:
    with pytest.raises(InputError, match=r"prune\.schedule\.steps"):
        check_recipe(_recipe("prune.schedule={kind: oneshot, steps: 3}"))


def test_run_refuses_before_writing_anything(tmp_path) -> None:
    out = tmp_path / "run"
    with pytest.raises(InputError, match="prune.target.params_ratio"):
        run(_recipe("prune.target={params_ratio: 0.001}"), str(RECIPE), out)
    assert not out.exists()
