"""Target profiles."""

import pytest

from edgekd.errors import InputError
from edgekd.targets import load_target


def test_shipped_profile_loads():
    t = load_target("x86_64")
    assert t.arch == "x86_64" and "tflite" in t.formats and t.runner.kind == "local"


def test_unknown_target_lists_known_ones():
    with pytest.raises(InputError, match=r"unknown target 'x86-64'.*did you mean x86_64"):
        load_target("x86-64")


def test_profile_with_wrong_field_is_named(tmp_path):
    p = tmp_path / "board.yaml"
    p.write_text("name: board\narch: sparc\nformats: [tflite]\nprecisions: [int8]\n")
    with pytest.raises(InputError, match=r"board.yaml: arch"):
        load_target(p)


def test_profile_with_unknown_key_is_named(tmp_path):
    p = tmp_path / "board.yaml"
    p.write_text("name: board\narch: aarch64\nformats: [tflite]\nprecisions: [int8]\nbudget: {size_kb: 10}\n")
    with pytest.raises(InputError, match="unknown key 'budget'"):
        load_target(p)
