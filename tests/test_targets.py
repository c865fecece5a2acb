"""Target profiles."""

import json
from pathlib import Path

import pytest

from edgekd.cli import main
from edgekd.errors import InputError
from edgekd.targets import SshRunner, available_targets, load_target


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


SHIPPED = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "targets").glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_validates(name):
    t = load_target(name)
    assert t.name == name and t.runner.kind in ("local", "ssh", "emulated", "estimate")


def test_arm_profiles_carry_sourced_estimate_coefficients():
    for name in ("rpi4", "rpi5", "android-arm64"):
        t = load_target(name)
        assert t.arch == "aarch64" and t.estimate is not None and len(t.estimate.sources) >= 3


def test_ssh_runner_settings_are_typed():
    r = load_target("rpi4").runner
    assert isinstance(r, SshRunner) and r.port == 22 and r.known_hosts and r.key


def test_mcu_profile_is_int8_tflite_with_board_settings():
    t = load_target("cortex-m55-ethos-u55")
    assert (t.arch, t.formats, t.precisions) == ("cortex-m", ["tflite"], ["int8"])
    assert t.runner.kind == "estimate" and t.runner.mcu.accelerator == "ethos-u55-128" and t.runner.mcu.sram_kb > 0


def _board(tmp_path, runner: str) -> Path:
    p = tmp_path / "board.yaml"
    p.write_text(f"name: board\narch: aarch64\nformats: [tflite]\nprecisions: [int8]\nrunner: {runner}\n")
    return p


def test_misspelled_runner_key_names_file_and_key(tmp_path):
    p = _board(tmp_path, "{kind: ssh, hsot: pi, user: pi, key: k, known_hosts: kh}")
    with pytest.raises(InputError, match=r"board.yaml: unknown key 'runner.hsot' \(did you mean 'runner.host'\?\)"):
        load_target(p)


def test_missing_runner_field_is_named(tmp_path):
    with pytest.raises(InputError, match=r"board.yaml: missing key 'runner.known_hosts'"):
        load_target(_board(tmp_path, "{kind: ssh, host: pi, user: pi, key: k}"))


def test_wrong_runner_value_is_named(tmp_path):
    with pytest.raises(InputError, match=r"board.yaml: runner.port"):
        load_target(_board(tmp_path, "{kind: ssh, host: pi, port: 70000, user: pi, key: k, known_hosts: kh}"))


def test_unknown_runner_kind_suggests_the_close_one(tmp_path):
    with pytest.raises(InputError, match=r"runner.kind: unknown runner 'shh'; did you mean 'ssh'\?"):
        load_target(_board(tmp_path, "{kind: shh}"))


def test_estimate_section_must_say_where_its_figures_come_from(tmp_path):
    p = tmp_path / "board.yaml"
    p.write_text("name: board\narch: aarch64\nformats: [tflite]\nprecisions: [int8]\n"
                 "estimate: {int8_gmacs: 4, fp32_gmacs: 2, mem_gbps: 5, op_overhead_us: 5}\n")
    with pytest.raises(InputError, match=r"board.yaml: missing key 'estimate.sources'"):
        load_target(p)


def test_a_dropped_in_profile_is_found_by_name(tmp_path, monkeypatch):
    (tmp_path / "myboard.yaml").write_text("arch: armv7\nformats: [tflite]\nprecisions: [int8]\n")
    monkeypatch.setenv("EDGEKD_TARGETS", str(tmp_path))
    assert "myboard" in available_targets()
    assert load_target("myboard").arch == "armv7"


def test_targets_cli_lists_the_profiles_as_json(capsys):
    assert main(["targets", "--json"]) == 0
    names = {p["name"] for p in json.loads(capsys.readouterr().out)}
    assert {"x86_64", "rpi4", "rpi5", "android-arm64", "cortex-m55-ethos-u55"} <= names


def test_bench_with_a_bad_profile_exits_2(tmp_path, capsys):
    art = Path(__file__).resolve().parent / "data" / "heart-student-tflite-int8.tflite"
    assert main(["bench", str(art), "--target", str(_board(tmp_path, "{kind: ssh, host: pi}"))]) == 2
    assert "board.yaml: missing key 'runner.user'" in capsys.readouterr().err


def test_a_profile_dropped_in_the_working_directory_targets_folder_is_found(tmp_path, monkeypatch):
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "lab-pi.yaml").write_text("arch: aarch64\nformats: [onnx]\nprecisions: [fp32]\n")
    monkeypatch.chdir(tmp_path)
    assert load_target("lab-pi").formats == ["onnx"]


def test_the_repository_targets_folder_is_a_copy_of_the_packaged_profiles():
    """edgekd/target_profiles/ (package data, what a wheel ships) is the source of truth; targets/ mirrors it.
    After editing a profile: ``cp edgekd/target_profiles/*.yaml targets/``."""
    root = Path(__file__).resolve().parent.parent
    packaged = {p.name: p.read_bytes() for p in (root / "edgekd" / "target_profiles").glob("*.yaml")}
    repo = {p.name: p.read_bytes() for p in (root / "targets").glob("*.yaml")}
    assert sorted(packaged) == sorted(repo)
    assert [n for n in packaged if packaged[n] != repo[n]] == []


def test_shipped_profiles_are_found_outside_a_source_checkout(tmp_path, monkeypatch):
    """An installed wheel has no targets/ beside it: the profiles inside the package are found."""
    import edgekd.targets as targets

    monkeypatch.setattr(targets, "_source_checkout_targets", lambda: None)
    monkeypatch.delenv("EDGEKD_TARGETS", raising=False)
    monkeypatch.chdir(tmp_path)
    found = available_targets()
    assert sorted(found) == SHIPPED
    assert all(p.parent == targets.PACKAGE_TARGETS for p in found.values())
    assert load_target("rpi4").source == str(targets.PACKAGE_TARGETS / "rpi4.yaml")
