"""Image models, their int8 TFLite export (NHWC, fully integer, no TRANSPOSE) and `edgekd eval` on image folders.

A tiny student is trained for a few steps on the 48-px sample so its predictions
are not constant; the figures are not the point (benchmarks/plant_full.py trains fully).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgekd.cli import main
from edgekd.runtime.image import ImageFrontend

torch = pytest.importorskip("torch")

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "plant-sample"
CLASSES = ["anthracnose", "bacterial_canker", "die_back", "gall_midge", "healthy", "powdery_mildew", "sooty_mould"]
FE = ImageFrontend(size=48, resize=52)
EVAL_KEYS = {"artifact", "n", "accuracy", "balanced_accuracy", "labels", "confusion", "per_class"}


def test_student_is_under_100k_parameters_and_teacher_is_mobilenetv2_sized():
    from edgekd.models import build_model
    from edgekd.models.complexity import count_params

    student = build_model("image_student", num_classes=7, input_shape=(3, 96, 96))
    teacher = build_model("image_teacher", num_classes=7, input_shape=(3, 96, 96))
    assert count_params(student) <= 100_000
    assert count_params(teacher) >= 10 * count_params(student)
    x = torch.zeros(2, 3, 96, 96)
    assert student.eval()(x).shape == (2, 7) and teacher.eval()(x).shape == (2, 7)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A briefly trained small student exported to int8 TFLite with its image sidecar."""
    from edgekd.data.features import FeatureCache
    from edgekd.data.images import list_images
    from edgekd.tasks.image import ImageClassification
    from edgekd.exporting import EXPORTERS
    from edgekd.models import build_model
    from edgekd.runtime.artifact import describe_io
    from edgekd.runtime.sidecar import write_sidecar

    torch.manual_seed(0)
    ws = ImageClassification(frontend=FE).featurize(list_images(SAMPLE, CLASSES), CLASSES, FeatureCache(None))
    model = build_model("image_student", num_classes=7, input_shape=FE.input_shape,
                        stem=8, blocks=[[16, 2], [32, 2], [32, 2]])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.from_numpy(ws.x), torch.from_numpy(ws.y)
    model.train()
    for _ in range(15):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    path = tmp_path_factory.mktemp("plant-art") / "student-tflite-int8.tflite"
    EXPORTERS.get("tflite-int8")(model, x[:1], path, ws.x[::2])
    io = describe_io(path)
    write_sidecar(path, {"name": "student-tflite-int8", "task": "image-classification", "labels": CLASSES,
                         "positive": None, "frontend": FE.to_dict(), "format": "tflite", "precision": "int8",
                         "input": io["input"], "output": io["output"]})
    return path


def test_int8_tflite_has_an_nhwc_int8_input_and_no_transpose_or_float_op(artifact):
    from edgekd.audit import inspect_artifact

    meta = json.loads(artifact.with_suffix(".edgekd.json").read_text())
    assert meta["input"]["shape"] == [1, 48, 48, 3] and meta["input"]["layout"] == "NHWC"
    assert meta["input"]["dtype"] == "int8"
    audit = inspect_artifact(artifact)
    assert audit["transposes"] == 0 and audit["fully_integer"] is True


def _eval_json(capsys, artifact, data) -> tuple[int, dict]:
    code = main(["eval", str(artifact), "--data", str(data), "--json", "--threads", "1"])
    out = capsys.readouterr().out
    return code, (json.loads(out) if code == 0 else {})


def test_eval_on_the_class_folders_scores_each_photo_by_running_the_artifact(artifact, capsys):
    from edgekd.runtime.artifact import load_artifact

    code, result = _eval_json(capsys, artifact, SAMPLE)
    assert code == 0 and EVAL_KEYS <= set(result)
    assert result["n"] == 70 and result["labels"] == CLASSES
    assert "sensitivity" not in result and "threshold" not in result  # a two-class operating point only
    art = load_artifact(artifact, threads=1)
    paths = sorted(SAMPLE.glob("*/*.jpg"), key=lambda p: f"{p.parent.name}/{p.name}")
    pred = np.array([art.predict(FE.features(p)).argmax() for p in paths])
    truth = np.array([CLASSES.index(p.parent.name) for p in paths])
    assert result["accuracy"] == pytest.approx(float((pred == truth).mean()))
    assert np.array(result["confusion"]).sum() == 70
    assert set(result["per_class"]) == set(CLASSES)


def test_eval_on_a_labels_csv_folder_with_some_of_the_classes(artifact, capsys, tmp_path):
    for i, p in enumerate(sorted((SAMPLE / "healthy").glob("*.jpg"))[:3] + sorted((SAMPLE / "die_back").glob("*.jpg"))[:2]):
        shutil.copyfile(p, tmp_path / f"leaf{i}.jpg")
    (tmp_path / "labels.csv").write_text("file,label\n" + "".join(
        f"leaf{i}.jpg,{'healthy' if i < 3 else 'die_back'}\n" for i in range(5)))
    code, result = _eval_json(capsys, artifact, tmp_path)
    assert code == 0 and result["n"] == 5 and EVAL_KEYS <= set(result)


def test_eval_refuses_a_class_the_artifact_does_not_know(artifact, capsys, tmp_path):
    (tmp_path / "cutting_weevil").mkdir()
    shutil.copyfile(next((SAMPLE / "healthy").glob("*.jpg")), tmp_path / "cutting_weevil" / "a.jpg")
    assert main(["eval", str(artifact), "--data", str(tmp_path), "--json"]) == 2
    assert "label 'cutting_weevil'" in capsys.readouterr().err


def test_eval_refuses_a_corrupt_photo_naming_it(artifact, capsys, tmp_path):
    (tmp_path / "healthy").mkdir()
    (tmp_path / "healthy" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert main(["eval", str(artifact), "--data", str(tmp_path), "--json"]) == 2
    assert "broken.jpg" in capsys.readouterr().err
