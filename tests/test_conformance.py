"""The device contract proved by an independent implementation (tests/independent_impl.py: scipy, librosa and
Pillow from the published step reference, no edgekd import): it predicts what `edgekd eval` predicts on the
bundled heart and plant samples, `edgekd conformance` passes it, and names the step a broken copy leaves out.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekd.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
import independent_impl as independent  # noqa: E402

pytest.importorskip("librosa")
pytest.importorskip("scipy")
torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
HEART = ROOT / "data" / "heart-sample"
PLANT = ROOT / "data" / "plant-sample"
CLASSES = ["anthracnose", "bacterial_canker", "die_back", "gall_midge", "healthy", "powdery_mildew", "sooty_mould"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def heart(heart_run):
    """The heart run's x86_64 int8 TFLite student, with its golden vectors (`edgekd bundle`)."""
    assert main(["bundle", str(heart_run), "--target", "x86_64"]) == 0
    return heart_run / "bundles" / "x86_64" / "student-tflite-int8.tflite"


@pytest.fixture(scope="module")
def plant(tmp_path_factory):
    """A small image student, trained for 60 steps on the 48-px plant sample, as int8 TFLite with golden vectors."""
    import edgekd
    from edgekd.models import build_model
    from edgekd.runtime.golden import make_golden
    from edgekd.tasks.image import ImageClassification

    folder = tmp_path_factory.mktemp("plant")
    data = edgekd.prepare(PLANT, task=ImageClassification(frontend={"size": 48, "resize": 52}), classes=CLASSES,
                          cache_dir=None, log=lambda s: None)
    torch.manual_seed(0)
    model = build_model("image_student", num_classes=7, input_shape=(3, 48, 48), stem=8,
                        blocks=[[16, 2], [32, 2], [32, 2]])
    x, y = torch.from_numpy(data.train.x), torch.from_numpy(data.train.y)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):  # enough that its predictions span the classes, so agreement means something
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    art = edgekd.export(model.eval(), folder / "plant-int8.tflite", precision="int8", calibration=data.train,
                        task=data.task, classes=CLASSES, log=lambda s: None).path
    photos = [sorted((PLANT / c).glob("*.jpg"))[0] for c in CLASSES[:3]]
    make_golden(art, photos, art.with_suffix(".golden"))
    return art


def _eval_items(artifact: Path, data: Path, capsys) -> dict[str, str]:
    assert main(["eval", str(artifact), "--data", str(data), "--json", "--items"]) == 0
    return {it["file"]: it["predicted"] for it in json.loads(capsys.readouterr().out)["items"]}


def _agreement(ours: dict[str, str], theirs: dict[str, str]) -> float:
    assert ours.keys() == theirs.keys()
    return sum(ours[k] == theirs[k] for k in ours) / len(ours)


def test_heart_independent_predictions_agree_with_eval(heart, capsys):
    ours = _eval_items(heart, HEART, capsys)
    theirs = independent.predictions(heart, sorted(HEART.glob("*.wav")))
    assert len(ours) == 150 and _agreement(ours, theirs) >= 0.99
    assert min(list(ours.values()).count(label) for label in ("normal", "abnormal")) >= 10  # not a constant model


def test_plant_independent_predictions_agree_with_eval(plant, capsys):
    ours = _eval_items(plant, PLANT, capsys)
    files = {p.name: p for p in PLANT.glob("*/*.jpg")}
    theirs = independent.predictions(plant, [files[name.split("/")[-1]] for name in ours])
    theirs = {name: theirs[name.split("/")[-1]] for name in ours}
    assert len(ours) >= 60 and _agreement(ours, theirs) >= 0.99
    assert len(set(ours.values())) >= 5  # its predictions span the classes: agreement is not on a constant


def _golden_features(artifact: Path, out: Path, skip: tuple = ()) -> Path:
    golden = artifact.with_suffix(".golden")
    manifest = json.loads((golden / "golden.json").read_text())
    meta = independent.read_sidecar(artifact)
    feats = np.concatenate([independent.features(meta, golden / e["file"], skip) for e in manifest["inputs"]])
    np.save(out, feats)
    return out


@pytest.mark.parametrize("which", ["heart", "plant"])
def test_conformance_passes_the_independent_front_end(which, request, tmp_path, capsys):
    artifact = request.getfixturevalue(which)
    features = _golden_features(artifact, tmp_path / "features.npy")
    assert main(["conformance", str(artifact), "--features", str(features), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["passed"] and result["compared"][0]["max_abs_diff"] <= result["compared"][0]["tolerance"]


def test_conformance_names_the_missing_unit_rms_step(heart, tmp_path, capsys):
    features = _golden_features(heart, tmp_path / "features.npy", skip=("unit_rms",))
    assert main(["conformance", str(heart), "--features", str(features)]) == 1
    out = capsys.readouterr().out
    assert "DIVERGES" in out and "step 4 'unit_rms'" in out


def test_conformance_per_step_names_the_first_step_that_diverges(heart, tmp_path, capsys):
    """Per-step outputs: a mel filterbank on the HTK scale is caught at 'mel', not later."""
    import librosa

    golden = heart.with_suffix(".golden")
    manifest = json.loads((golden / "golden.json").read_text())
    meta = independent.read_sidecar(heart)
    steps = tmp_path / "steps"
    steps.mkdir()
    for entry in manifest["inputs"]:
        x = golden / entry["file"]
        for spec, expected in zip(meta["frontend"]["steps"], entry["steps"]):
            params = {k: v for k, v in spec.items() if k != "step"}
            if spec["step"] == "mel":
                fb = librosa.filters.mel(sr=params["sample_rate"], n_fft=params["n_fft"], n_mels=params["n_mels"],
                                         fmin=params["fmin"], fmax=params["fmax"], htk=True, norm="slaney")
                x = x @ fb.T
            else:
                x = {**independent.AUDIO, "to_model_input": independent._to_model_input}[spec["step"]](x, params)
            np.save(steps / expected["file"], np.asarray(x))
    assert main(["conformance", str(heart), "--features", str(steps), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["first_divergence"]["step"] == "mel"
    assert [c["step"] for c in result["compared"]][:6] == ["read_wav", "remove_mean", "bandpass", "frame",
                                                            "unit_rms", "power_spectrogram"]


def test_conformance_checks_quantized_inputs_and_outputs(heart, tmp_path, capsys):
    golden = heart.with_suffix(".golden")
    manifest = json.loads((golden / "golden.json").read_text())
    meta = independent.read_sidecar(heart)
    model = independent.Model(heart, meta)
    feats = [independent.features(meta, golden / e["file"]) for e in manifest["inputs"]]
    np.save(tmp_path / "in.npy", np.concatenate([model.quantize(f) for f in feats]))
    np.save(tmp_path / "out.npy", np.concatenate([model.logits(f) for f in feats]).astype(np.float32))
    assert main(["conformance", str(heart), "--inputs", str(tmp_path / "in.npy")]) == 0
    assert main(["conformance", str(heart), "--outputs", str(tmp_path / "out.npy")]) == 0
    capsys.readouterr()
    off = np.load(tmp_path / "in.npy").astype(np.int16) + 3  # a wrong zero point
    np.save(tmp_path / "off.npy", np.clip(off, -128, 127).astype(np.int8))
    assert main(["conformance", str(heart), "--inputs", str(tmp_path / "off.npy")]) == 1
    assert "quantized inputs diverge" in capsys.readouterr().out


@pytest.mark.parametrize("bad, expect", [
    (np.zeros((3, 1, 32, 180), np.float32), "has shape [3, 1, 32, 180]"),
    (np.zeros((2, 1, 32, 180), np.complex64), "got dtype complex64"),
])
def test_conformance_refuses_features_of_the_wrong_shape_or_dtype(heart, tmp_path, capsys, bad, expect):
    path = tmp_path / "features.npy"
    np.save(path, bad)
    if bad.dtype.kind == "f":
        golden = json.loads((heart.with_suffix(".golden") / "golden.json").read_text())
        assert sum(np.load(heart.with_suffix(".golden") / e["steps"][-1]["file"]).shape[0]
                   for e in golden["inputs"]) != 3
    assert main(["conformance", str(heart), "--features", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and expect in err


def test_conformance_refuses_golden_vectors_of_another_artifact(heart, tmp_path, capsys):
    """A bundle assembled from two runs: the golden vectors name another file's SHA-256."""
    other = tmp_path / heart.name
    shutil.copyfile(heart, other)
    shutil.copyfile(heart.with_suffix(".edgekd.json"), other.with_suffix(".edgekd.json"))
    shutil.copytree(heart.with_suffix(".golden"), other.with_suffix(".golden"))
    with open(other, "ab") as f:
        f.write(b"\0" * 16)
    features = _golden_features(heart, tmp_path / "features.npy")
    assert main(["conformance", str(other), "--features", str(features)]) == 2
    assert "belong to another artifact" in capsys.readouterr().err


def test_conformance_wants_exactly_one_of_features_inputs_outputs(heart, capsys):
    assert main(["conformance", str(heart)]) == 2
    assert "exactly one of --features, --inputs, --outputs" in capsys.readouterr().err


def test_the_image_sidecar_validates_against_the_schema(plant):
    from jsonschema import Draft202012Validator

    from edgekd.runtime.sidecar import SCHEMA_FILE

    meta = independent.read_sidecar(plant)
    steps = [s["step"] for s in meta["frontend"]["steps"]]
    assert steps[0] == "decode_image" and "resize_shorter" in steps and "center_crop" in steps
    assert list(Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).iter_errors(meta)) == []
