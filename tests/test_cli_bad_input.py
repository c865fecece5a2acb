"""Bad input to the CLI: one clear message naming the file or key, exit code 2, nothing half-written."""

import csv
import shutil
from pathlib import Path

import pytest

from edgekd.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "heart-sample"
RECIPE = ROOT / "recipes" / "heart.yaml"


def _small_copy(tmp_path: Path, n: int = 8) -> Path:
    """A labelled folder with the first n sample recordings."""
    dst = tmp_path / "wavs"
    dst.mkdir()
    rows = list(csv.DictReader(open(SAMPLE / "labels.csv")))[:n]
    for r in rows:
        shutil.copy(SAMPLE / r["file"], dst / r["file"])
    with open(dst / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label"])
        w.writerows([[r["file"], r["label"]] for r in rows])
    return dst


FRACTIONS = "data.split={train: 0.5, val: 0.17, test: 0.33}"  # the sample's split file lists other folders' files


def _run(args, capsys):
    if any(str(a).startswith("data.path=") for a in args):
        args = [*args, "--set", FRACTIONS]
    code = main(args)
    return code, capsys.readouterr().err


def test_missing_data_folder(tmp_path, capsys):
    code, err = _run(["run", str(RECIPE), "--out", str(tmp_path / "o"), "--set", "data.path=/nope/heart"], capsys)
    assert code == 2 and "data.path: /nope/heart: folder not found" in err
    assert not (tmp_path / "o" / "report.json").exists()


def test_misspelled_recipe_key(tmp_path, capsys):
    bad = tmp_path / "r.yaml"
    bad.write_text(RECIPE.read_text().replace("  positive:", "  postive:"))
    code, err = _run(["run", str(bad), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "data.postive" in err and "did you mean 'data.positive'" in err
    assert "Traceback" not in err


def test_unknown_target(tmp_path, capsys):
    code, err = _run(["run", str(RECIPE), "--out", str(tmp_path / "o"), "--set", "export.targets=[rpi9]"], capsys)
    assert code == 2 and "unknown target 'rpi9'" in err


def test_unknown_model_name(tmp_path, capsys):
    code, err = _run(["run", str(RECIPE), "--out", str(tmp_path / "o"), "--set", "student.model=heart_studnet"], capsys)
    assert code == 2 and "unknown model 'heart_studnet'" in err and "heart_student" in err


def test_corrupt_wav_in_data_is_named(tmp_path, capsys):
    data = _small_copy(tmp_path)
    victim = sorted(data.glob("*.wav"))[0]
    victim.write_bytes(b"RIFF\x00\x00garbage")
    code, err = _run(["run", str(RECIPE), "--out", str(tmp_path / "o"), "--set", f"data.path={data}",
                      "--set", "data.cache_dir=null"], capsys)
    assert code == 2 and victim.name in err
    assert not (tmp_path / "o" / "report.json").exists()


def test_label_not_in_class_list(tmp_path, capsys):
    data = _small_copy(tmp_path)
    text = (data / "labels.csv").read_text().replace("abnormal", "murmur", 1)
    (data / "labels.csv").write_text(text)
    code, err = _run(["run", str(RECIPE), "--out", str(tmp_path / "o"), "--set", f"data.path={data}"], capsys)
    assert code == 2 and "murmur" in err and "labels.csv" in err


def test_eval_missing_artifact(tmp_path, capsys):
    code, err = _run(["eval", str(tmp_path / "nope.tflite"), "--data", str(SAMPLE)], capsys)
    assert code == 2 and "nope" in err


def test_bench_unknown_target(tmp_path, capsys):
    code, err = _run(["bench", str(tmp_path / "x.tflite"), "--target", "nowhere"], capsys)
    assert code == 2 and "unknown target 'nowhere'" in err


def test_target_asking_for_an_unavailable_precision(tmp_path, capsys):
    prof = tmp_path / "board.yaml"
    prof.write_text("name: board\narch: aarch64\nformats: [tflite]\nprecisions: [fp32, int4-weights]\n")
    code, err = _run(["run", str(RECIPE), "--out", str(tmp_path / "o"), "--set", f"export.targets=[{prof}]",
                      "--set", "export.precisions=null"], capsys)  # the profile's precisions
    assert code == 2 and "int4-weights" in err and "board" in err


def test_unloadable_teacher_checkpoint_is_named(tmp_path, capsys):
    ckpt = tmp_path / "teacher.pt"
    ckpt.write_bytes(b"not a checkpoint")
    data = _small_copy(tmp_path, n=12)
    code, err = _run(["run", str(RECIPE), "--out", str(tmp_path / "o"), "--set", f"data.path={data}",
                      "--set", f"teacher.checkpoint={ckpt}", "--set", "data.stratify=[label]"], capsys)
    assert code == 2 and "teacher.checkpoint" in err and "teacher.pt" in err
    assert not (tmp_path / "o" / "report.json").exists()
