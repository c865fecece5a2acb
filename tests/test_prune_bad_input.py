"""A prune section that cannot work is refused before any data is read or any training starts, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

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
    with pytest.raises(InputError, match=r"prune\.target\.int8_kb: 0\.05 KiB is smaller than the classifier alone"):
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


def test_a_bad_round_to_is_refused_naming_the_key() -> None:
    with pytest.raises(InputError, match=r"prune\.round_to: .*'auto' \(the target's simd_width\), a positive integer or null"):
        _recipe("prune.round_to=fast")


def test_round_to_that_makes_the_target_unreachable_is_refused() -> None:
    # the heart student's layers are 8/16/40 wide: at multiples of 16 only the 40-wide one can shrink
    with pytest.raises(InputError, match=r"prune\.target\.macs_ratio: .*rounded to multiples of 16.*prune\.round_to"):
        check_recipe(_recipe("prune.round_to=auto"))


def test_a_latency_target_on_an_estimated_target_is_refused() -> None:
    with pytest.raises(InputError, match=r"prune\.target\.latency_p50_ms: target 'android-arm64' has runner "
                                         r"'estimate': its latency is an estimate"):
        check_recipe(_recipe("prune.target={latency_p50_ms: 0.1}", "export.targets=[android-arm64]"))


def test_a_latency_target_and_a_mac_target_at_once_are_refused() -> None:
    with pytest.raises(InputError, match=r"prune\.target: .*exactly one of .*latency_p50_ms"):
        _recipe("prune.target={latency_p50_ms: 0.1, macs_ratio: 0.5}")


def test_the_api_refuses_a_latency_target_without_a_target_profile() -> None:
    import edgekd

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LazyLinear(2))
    net(torch.zeros(1, 1, 6, 6))
    with pytest.raises(InputError, match=r"prune\.target\.latency_p50_ms: a latency target is measured on a "
                                         r"target's runner"):
        edgekd.prune(net, {"latency_p50_ms": 0.1}, (1, 6, 6), importance="l2")
    with pytest.raises(InputError, match=r"prune\.round_to: 'auto' rounds to the target's simd_width"):
        edgekd.prune(net, {"macs_ratio": 0.5}, (1, 6, 6), importance="l2", round_to="auto")


def test_the_cli_exits_2_on_a_latency_target_it_cannot_measure(tmp_path, capsys) -> None:
    from edgekd.cli import main

    code = main(["run", str(RECIPE), "--out", str(tmp_path / "run"), "--set", f"data.path={ROOT / 'data' / 'heart-sample'}",
                 "--set", "prune.target={latency_p50_ms: 0.1}", "--set", "export.targets=[android-arm64]"])
    assert code == 2 and "prune.target.latency_p50_ms" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
