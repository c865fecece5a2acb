"""Recipe validation: wrong keys and values fail before any work, naming the key and the file."""

import shutil
from pathlib import Path

import pytest

from edgekd.errors import InputError
from edgekd.recipe import load_recipe

ROOT = Path(__file__).resolve().parent.parent
HEART = ROOT / "recipes" / "heart.yaml"


def test_shipped_recipe_is_valid():
    r = load_recipe(HEART)
    assert r.student.loss.name == "kd" and r.student.loss.params == {"temperature": 7.0, "alpha": 0.1}


def test_misspelled_key_names_the_file_and_suggests(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text(HEART.read_text().replace("  classes:", "  clases:"))
    with pytest.raises(InputError) as err:
        load_recipe(bad)
    assert str(bad) in str(err.value)
    assert "data.clases" in str(err.value) and "data.classes" in str(err.value)


def test_set_overrides_a_nested_key():
    r = load_recipe(HEART, ["student.train.epochs=3", "seed=7"])
    assert r.student.train.epochs == 3 and r.seed == 7


def test_bad_value_is_named(tmp_path):
    with pytest.raises(InputError, match="student.train.epochs"):
        load_recipe(HEART, ["student.train.epochs=-1"])


def test_positive_class_must_be_a_class():
    with pytest.raises(InputError, match="data.positive"):
        load_recipe(HEART, ["data.positive=murmur"])


def test_yaml_tags_are_not_executed(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_recipe(bad)


def test_split_seed_defaults_to_the_recipe_seed_and_can_be_fixed():
    assert load_recipe(HEART).data.split.seed is None
    r = load_recipe(HEART, ["seed=3", "data.split.seed=0"])
    assert r.seed == 3 and r.data.split.seed == 0
    assert r.data.split.fractions() == {"train": 0.6, "val": 0.2, "test": 0.2}  # defaults; the demo uses a file
    assert r.data.split.file == "data/heart-sample/split.csv"


def test_zero_epochs_needs_a_checkpoint():
    from edgekd.pipeline import check_recipe

    with pytest.raises(InputError, match=r"teacher.train.epochs: 0 .*no checkpoint"):
        check_recipe(load_recipe(HEART, ["teacher.checkpoint=null", "teacher.train.epochs=0"]))


def test_recipe_budgets_name_known_targets_and_keys():
    from edgekd.pipeline import check_recipe

    with pytest.raises(InputError, match=r"export.budgets: 'rpi9' is not one of export.targets"):
        check_recipe(load_recipe(HEART, ["export.budgets={rpi9: {size_kb: 10}}"]))
    with pytest.raises(InputError, match=r"export.budgets.x86_64.*size_kbb"):
        check_recipe(load_recipe(HEART, ["export.budgets={x86_64: {size_kbb: 10}}"]))


def test_pruning_recovery_and_qat_name_registered_methods():
    from edgekd.pipeline import check_recipe

    pruned = ROOT / "recipes" / "heart-pruned.yaml"
    with pytest.raises(InputError, match=r"prune.recover.distill"):
        check_recipe(load_recipe(pruned, ["prune.recover.distill={method: mixupp}"]))
    with pytest.raises(InputError, match=r"export.qat.distill"):
        check_recipe(load_recipe(HEART, ["export.qat.distill={method: mixupp}"]))
    check_recipe(load_recipe(pruned, ["prune.recover.distill={method: mixup}"]))


# ---------------------------------------------------------------- run --check refuses what run refuses (issue 27)
@pytest.mark.parametrize("override, key", [("student.train.lr=.inf", "student.train.lr"),
                                           ("student.train.lr=.nan", "student.train.lr"),
                                           ("student.loss.params.temperature=.inf", "student.loss.params.temperature"),
                                           ("export.budgets={x86_64: {size_kb: .nan}}", "export.budgets.x86_64.size_kb")])
def test_check_refuses_a_non_finite_number_naming_the_key(capsys, override, key):
    from edgekd.cli import main

    assert main(["run", str(HEART), "--check", "--set", override]) == 2
    err = capsys.readouterr().err
    assert f"{key}: " in err and "not a finite number" in err and "Traceback" not in err


def test_check_and_run_refuse_split_fractions_not_summing_to_one_with_one_message(tmp_path, capsys):
    from edgekd.cli import main

    split = "data.split={train: 0.9, val: 0.5, test: 0.33}"
    assert main(["run", str(HEART), "--check", "--set", split]) == 2
    checked = capsys.readouterr().err
    assert main(["run", str(HEART), "--out", str(tmp_path / "run"), "--set", split]) == 2
    assert capsys.readouterr().err == checked and "data.split" in checked and "sum to 1.73" in checked
    assert not (tmp_path / "run").exists()


def test_run_refuses_an_infinite_learning_rate_before_any_training(tmp_path, capsys):
    from edgekd.cli import main

    assert main(["run", str(HEART), "--out", str(tmp_path / "run"), "--set", "student.train.lr=.inf"]) == 2
    assert "student.train.lr" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_the_api_refuses_an_infinite_learning_rate_too():
    from edgekd.training.config import TrainSpec

    with pytest.raises(ValueError, match="finite number"):
        TrainSpec(lr=float("inf"))


@pytest.mark.parametrize("overrides, named", [
    (["student.loss.params.temperature=null"], "student.loss.params"),
    (["student.model=heart_student", "student.params={widths: [8, 16, 40], kernel: 0}"], "student: model 'heart_student'"),
    (["seed=99999999999999999999999"], "seed"),
])
def test_check_refuses_values_the_backends_cannot_take_with_exit_2(capsys, overrides, named):
    """Found by tests/test_hostile_sweep.py: each was exit 3 (a TypeError, torch's RuntimeError, an overflow)."""
    from edgekd.cli import main

    assert main(["run", str(HEART), "--check", *[a for o in overrides for a in ("--set", o)]]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err and "internal error" not in err
