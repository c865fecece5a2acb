"""YAML aliases in recipes, target profiles and ``--set`` values: a small alias is a convenience and is read; an
alias bomb or an alias that contains itself is refused (exit 2, naming the file) before anything walks it."""

from pathlib import Path

import pytest

from edgekd.errors import InputError
from edgekd.yamlconf import expanded_size, parse_value, read_yaml_mapping
from hostile import run_cli

ROOT = Path(__file__).resolve().parent.parent
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


def test_a_billion_laughs_recipe_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(LAUGHS)
    with pytest.raises(InputError, match=r"bomb\.yaml: its aliases expand to more than 100,000 values"):
        read_yaml_mapping(path, "recipe")


def test_an_alias_inside_itself_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("data: &d\n  more: *d\n")
    with pytest.raises(InputError, match="loop.yaml: an alias refers to the mapping or list that contains it"):
        read_yaml_mapping(path, "recipe")


def test_a_small_alias_is_read_as_its_value(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("widths: &w [8, 16]\nother: *w\n")
    assert read_yaml_mapping(path, "recipe") == {"widths": [8, 16], "other": [8, 16]}


def test_the_size_counts_shared_values_once_per_use():
    shared = [1, 2, 3]
    assert expanded_size({"a": shared, "b": shared}, "x") == 1 + 2 * (1 + 1 + 3)


def test_a_set_value_bomb_is_refused_naming_the_option():
    bomb = "[" + ", ".join(["&a [x, x, x, x, x, x, x, x, x, x]"] + ["*a"] * 9) + "]"
    assert parse_value(bomb, "--set data.classes") is not None  # 100 values: fine
    deep = "&a [" + ", ".join(["x"] * 400) + "]"
    big = "[" + ", ".join([deep] + ["*a"] * 300) + "]"
    with pytest.raises(InputError, match="--set data.classes: its aliases expand"):
        parse_value(big, "--set data.classes")


def test_run_check_on_a_bomb_exits_2(tmp_path, capfd):
    path = tmp_path / "bomb.yaml"
    path.write_text(LAUGHS)
    assert run_cli(["run", path, "--check"], capfd, {2}) == 2


def test_a_target_profile_bomb_exits_2(tmp_path, capfd, monkeypatch):
    profiles = tmp_path / "targets"
    profiles.mkdir()
    (profiles / "boom.yaml").write_text(LAUGHS)
    monkeypatch.setenv("EDGEKD_TARGETS", str(profiles))
    assert run_cli(["bench", ROOT / "tests" / "data" / "heart-student-onnx-int8.onnx", "--target", "boom"],
                   capfd, {2}) == 2


def test_a_key_given_twice_is_refused_naming_its_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("student:\n  train:\n    lr: 0.01\n    epochs: 5\n    lr: 0.1\n")
    with pytest.raises(InputError, match=r"dup\.yaml: line 5: key 'lr' is given twice"):
        read_yaml_mapping(path, "recipe")


def test_the_same_key_in_two_sections_is_fine(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("teacher: {lr: 0.01}\nstudent: {lr: 0.1}\n")
    assert read_yaml_mapping(path, "recipe")["student"] == {"lr": 0.1}


def test_a_set_value_with_a_key_twice_is_refused():
    with pytest.raises(InputError, match="--set student.params: .* key 'kernel' is given twice"):
        parse_value("{kernel: 3, kernel: 5}", "--set student.params")
