"""Sidecar schema edgekd.artifact/2: the front-end as steps, I/O rules, output semantics; v1 still read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgekd.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
HEART = ROOT / "data" / "heart-sample"
PLANT = ROOT / "data" / "plant-sample"


def _validate(meta: dict) -> list[str]:
    from jsonschema import Draft202012Validator

    from edgekd.runtime.sidecar import SCHEMA_FILE

    schema = json.loads(SCHEMA_FILE.read_text())
    return [e.message for e in Draft202012Validator(schema).iter_errors(meta)]


@pytest.fixture(scope="module")
def audio_artifact(tmp_path_factory):
    torch = pytest.importorskip("torch")
    import edgekd

    folder = tmp_path_factory.mktemp("v2")
    data = edgekd.prepare(HEART, task=edgekd.api.inputs.resolve_task("audio-classification").__class__(
        frontend={"band_high_hz": 800, "fmax": 800, "hop_s": 1.5}), classes=["normal", "abnormal"],
        positive="abnormal", cache_dir=str(folder / "cache"), log=lambda s: None)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 5, 4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
    return edgekd.export(net, folder / "net.tflite", precision="int8", calibration=data.train,
                         validation=data.val, task=data.task, positive="abnormal", log=lambda s: None), data


def test_every_sidecar_edgekd_writes_validates_against_the_published_schema(audio_artifact):
    art, _ = audio_artifact
    assert art.sidecar["schema"] == "edgekd.artifact/2" and _validate(art.sidecar) == []


def test_the_sidecar_spells_out_every_step_and_the_io_rules(audio_artifact):
    art, _ = audio_artifact
    meta = art.sidecar
    assert [s["step"] for s in meta["frontend"]["steps"]] == [
        "read_wav", "remove_mean", "bandpass", "frame", "unit_rms", "power_spectrogram", "mel", "log",
        "to_model_input"]
    bandpass = meta["frontend"]["steps"][2]
    assert bandpass["phase"] == "zero" and bandpass["padding"] == "reflect" and bandpass["pad_at_least"] == 1000
    q = meta["input"]["quantization"]
    assert q["qmin"] == -128 and q["qmax"] == 127 and "round_half_to_even" in q["rule"]
    out = meta["output"]
    assert out["semantics"] == "logits" and out["label_order"] == ["normal", "abnormal"] and out["positive_index"] == 1
    assert meta["aggregation"] == "mean" and "softmax" in meta["aggregation_rule"]


def test_the_runtime_runs_the_sidecars_steps(audio_artifact, tmp_path):
    """The device's front-end is the step list itself: change a step in the sidecar and the features change."""
    from edgekd.runtime.frontends import StepFrontend, frontend_of_sidecar

    art, data = audio_artifact
    fe = frontend_of_sidecar(art.sidecar, "test")
    wav = sorted(HEART.glob("*.wav"))[0]
    assert isinstance(fe, StepFrontend) and np.array_equal(fe.load(wav), data.task.frontend.load(wav))
    edited = json.loads(json.dumps(art.sidecar))
    edited["frontend"]["steps"][7]["floor"] = 1e-2
    assert not np.array_equal(frontend_of_sidecar(edited, "test").load(wav), fe.load(wav))


def test_an_image_sidecar_runs_its_steps_like_the_front_end():
    from edgekd.runtime.frontends import frontend_of_sidecar
    from edgekd.tasks import build_task

    task = build_task("image-classification")
    meta = {**task.sidecar(), "input": {"shape": [1, 96, 96, 3]}}
    photo = sorted(PLANT.glob("*/*.jpg"))[0]
    assert np.array_equal(frontend_of_sidecar(meta, "test").load(photo), task.frontend.load(photo))


def test_an_unknown_step_is_refused_naming_it(audio_artifact, tmp_path, capsys):
    art, _ = audio_artifact
    copy = tmp_path / "m.tflite"
    shutil.copyfile(art.path, copy)
    meta = json.loads(json.dumps(art.sidecar))
    meta["frontend"]["steps"][4] = {"step": "wavelet_denoise", "level": 3}
    meta["frontend"]["kind"] = "custom"
    copy.with_suffix(".edgekd.json").write_text(json.dumps(meta))
    code = main(["eval", str(copy), "--data", str(HEART)])
    err = capsys.readouterr().err
    assert code == 2 and "uses step 'wavelet_denoise', which this runtime does not know" in err


def test_a_parameter_the_runtime_does_not_implement_is_refused(audio_artifact, tmp_path, capsys):
    art, _ = audio_artifact
    copy = tmp_path / "m.tflite"
    shutil.copyfile(art.path, copy)
    meta = json.loads(json.dumps(art.sidecar))
    meta["frontend"]["steps"][5]["center"] = True
    copy.with_suffix(".edgekd.json").write_text(json.dumps(meta))
    code = main(["eval", str(copy), "--data", str(HEART)])
    assert code == 2 and "center True is not implemented here" in capsys.readouterr().err


def test_an_unknown_sidecar_schema_version_exits_2(audio_artifact, tmp_path, capsys):
    art, _ = audio_artifact
    copy = tmp_path / "m.tflite"
    shutil.copyfile(art.path, copy)
    copy.with_suffix(".edgekd.json").write_text(json.dumps({**art.sidecar, "schema": "edgekd.artifact/9"}))
    code = main(["eval", str(copy), "--data", str(HEART)])
    assert code == 2 and "sidecar schema is 'edgekd.artifact/9'" in capsys.readouterr().err


def test_a_v1_sidecar_is_still_read(capsys):
    meta = json.loads((DATA / "heart-student-tflite-int8.edgekd.json").read_text())
    assert meta["schema"] == "edgekd.artifact/1"
    assert main(["eval", str(DATA / "heart-student-tflite-int8.tflite"), "--data", str(HEART), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 150


def test_the_published_schema_and_step_reference_are_generated_from_the_steps():
    """docs/sidecar-v2.md and both schema copies are what `python -m edgekd.runtime.stepschema --write` makes."""
    from edgekd.runtime.stepschema import stale_files

    assert stale_files() == []


def test_the_schema_defines_every_step_the_runtime_runs():
    from edgekd.runtime.sidecar import SCHEMA_FILE
    from edgekd.runtime.steps import STEPS

    defs = json.loads(SCHEMA_FILE.read_text())["$defs"]
    assert {k[len("step_"):] for k in defs if k.startswith("step_")} == set(STEPS)
    assert defs["step_bandpass"]["properties"]["phase"]["enum"] == ["zero"]
    assert "unit RMS" in defs["step_unit_rms"]["description"]


@pytest.mark.parametrize("index, change, expect", [
    (2, {"design": "chebyshev"}, "'chebyshev' is not one of"),
    (4, {"gain": 2.0}, "Additional properties are not allowed ('gain'"),
    (3, {"window_samples": None}, "None is not of type 'integer'"),
])
def test_the_schema_refuses_a_step_parameter_the_runtime_would_not_run(audio_artifact, index, change, expect):
    art, _ = audio_artifact
    meta = json.loads(json.dumps(art.sidecar))
    meta["frontend"]["steps"][index].update(change)
    assert any(expect in m for m in _validate(meta))


def test_the_schema_leaves_a_plugins_step_to_its_plugin(audio_artifact):
    art, _ = audio_artifact
    meta = json.loads(json.dumps(art.sidecar))
    meta["frontend"]["steps"].insert(5, {"step": "envelope", "cutoff_hz": 20})
    assert _validate(meta) == []


def test_upgrade_rewrites_a_v1_sidecar_as_v2_and_scores_the_same(tmp_path, capsys):
    for suffix in (".tflite", ".edgekd.json"):
        shutil.copyfile(DATA / f"heart-student-tflite-int8{suffix}", tmp_path / f"m{suffix}")
    art = tmp_path / "m.tflite"
    assert main(["eval", str(art), "--data", str(HEART), "--json", "--items"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert main(["upgrade", str(art)]) == 0
    assert "edgekd.artifact/1 -> edgekd.artifact/2" in capsys.readouterr().out
    meta = json.loads((tmp_path / "m.edgekd.json").read_text())
    assert meta["schema"] == "edgekd.artifact/2" and meta["upgraded_from"] == "edgekd.artifact/1"
    assert _validate(meta) == [] and (tmp_path / "m.edgekd.v1.json").is_file()
    assert main(["eval", str(art), "--data", str(HEART), "--json", "--items"]) == 0
    assert json.loads(capsys.readouterr().out)["items"] == before["items"]
