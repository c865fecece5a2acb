"""`edgekd targets derive` and the published JSON Schema of target profiles."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from edgekd.cli import main
from edgekd.errors import InputError
from edgekd.target_derive import derive_profile
from edgekd.targets import PROFILE_SCHEMA, load_target, profile_schema

pytestmark = pytest.mark.device  # no torch: the light install derives profiles too
ROOT = Path(__file__).resolve().parent.parent


def test_the_published_schema_is_the_profile_model():
    assert json.loads(PROFILE_SCHEMA.read_text()) == profile_schema()  # python -m edgekd.targets --write-schema


@pytest.mark.parametrize("path", sorted((ROOT / "targets").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_profile_validates_against_the_schema(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), profile_schema())


def test_the_schema_refuses_what_edgekd_refuses():
    bad = {"arch": "sparc", "formats": ["tflite"], "precisions": ["int8"]}
    with pytest.raises(jsonschema.ValidationError, match="sparc"):
        jsonschema.validate(bad, profile_schema())
    with pytest.raises(jsonschema.ValidationError, match="budget"):
        jsonschema.validate({**bad, "arch": "aarch64", "budget": {}}, profile_schema())


def test_derive_writes_a_profile_that_loads_and_names_its_base(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = derive_profile("rpi4", "my-pi", runner="estimate", overrides=["budgets.size_kb=256", "threads=2"])
    assert path == Path("targets/my-pi.yaml")
    p = load_target("my-pi")
    base = load_target("rpi4")
    assert (p.runner.kind, p.budgets.size_kb, p.threads) == ("estimate", 256.0, 2)
    assert p.estimate == base.estimate and p.formats == base.formats
    assert p.derived_from.startswith("rpi4 (sha256 ")
    jsonschema.validate(yaml.safe_load(path.read_text()), profile_schema())


def test_derive_never_replaces_a_file_without_force(tmp_path):
    out = tmp_path / "mine.yaml"
    out.write_text("# my own notes\n")
    with pytest.raises(InputError, match="exists; give --force"):
        derive_profile("x86_64", "mine", out=out)
    assert out.read_text() == "# my own notes\n"
    derive_profile("x86_64", "mine", out=out, force=True)
    assert load_target(out).name == "mine"


def test_derive_refuses_writing_over_its_base(tmp_path):
    base = tmp_path / "board.yaml"
    base.write_text((ROOT / "targets" / "x86_64.yaml").read_text())
    with pytest.raises(InputError, match="the base profile itself"):
        derive_profile(base, "board", out=base, force=True)


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "../x"}, "a profile name is letters"),
    ({"name": "ok", "overrides": ["threads=0"]}, "threads: Input should be greater than or equal to 1"),
    ({"name": "ok", "overrides": ["budget.size_kb=1"]}, "unknown key 'budget'"),
    ({"name": "ok", "runner": "quantum"}, "--runner 'quantum'"),
    ({"name": "ok", "runner": "ssh"}, "runner"),  # an ssh runner without its host
    ({"name": "ok", "overrides": ["derived_from=me"]}, "set by edgekd targets derive"),
])
def test_a_bad_derivation_is_refused_and_writes_nothing(tmp_path, monkeypatch, kwargs, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("'", "'")):
        derive_profile("x86_64", **kwargs)
    assert not (tmp_path / "targets").exists() or not any((tmp_path / "targets").iterdir())


def test_estimate_without_coefficients_says_what_to_give(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = tmp_path / "bare.yaml"
    base.write_text("name: bare\narch: aarch64\nformats: [tflite]\nprecisions: [int8]\n")
    with pytest.raises(InputError, match="needs a calibration of bare .* or the .estimate. coefficients"):
        derive_profile(base, "bare-est", runner="estimate")


def test_the_cli_derives_lists_and_prints_the_schema(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["targets", "derive", "rpi4", "--name", "lab-pi", "--set", "runner.host=pi5.lab"]) == 0
    assert capsys.readouterr().out.strip() == "targets/lab-pi.yaml"
    assert main(["targets", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["lab-pi"]["runner"]["host"] == "pi5.lab" and "rpi4" in listed
    assert main(["targets", "schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "edgekd target profile"
    assert main(["targets", "derive", "rpi4", "--name", "lab-pi"]) == 2


def test_a_derived_profile_keeps_its_bases_calibration(tmp_path, monkeypatch):
    """A device calibrated as `lab` and derived as `lab-offline --runner estimate` estimates with lab's file."""
    from edgekd.runners.calibrated import find_calibration

    folder = tmp_path / "targets"
    folder.mkdir()
    (folder / "lab.yaml").write_text("arch: x86_64\nformats: [tflite]\nprecisions: [int8]\nrunner: {kind: local}\n")
    (folder / "lab.calibration.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGEKD_TARGETS", str(folder))
    path = derive_profile("lab", "lab-offline", runner="estimate", out=tmp_path / "mine" / "lab-offline.yaml")
    profile = load_target(path)
    assert profile.calibration == "../targets/lab.calibration.json"
    with pytest.raises(InputError, match="lab.calibration.json: .*"):  # found, then read (and refused: not one)
        find_calibration(profile)
