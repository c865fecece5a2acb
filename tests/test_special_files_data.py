"""Special files in the labelled folders and item lists of ``edgekd eval`` and ``edgekd bench``.

A FIFO (or socket, device) given as ``--data``, as ``labels.csv``, as an item in a class sub-folder, listed in
``labels.csv`` or given to ``bench --items`` exits 2 naming the file and what it is (docs/cli.md, "Input files
are regular files"): never "folder not found" or "no labels.csv" for a file that exists, never a silent skip that
leaves it out of the metrics, never a hang. A symlink to a regular file is an item; a folder inside a class
sub-folder is passed over. Device environment: numpy and a runtime only, the committed artifacts and samples.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from edgekd.cli import main

pytestmark = [pytest.mark.device,
              pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")]

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
HEART = ROOT / "data" / "heart-sample"
PLANT = ROOT / "data" / "plant-sample"
TFLITE = DATA / "heart-student-tflite-int8.tflite"
PLANT_TFLITE = DATA / "plant-student-tflite-int8.tflite"
A_FIFO = "a FIFO (named pipe)"


def _cli(args: list, capfd) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return code, out, err


def _heart_labels() -> dict[str, list[str]]:
    by_label: dict[str, list[str]] = {}
    with open(HEART / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            by_label.setdefault(row["label"], []).append(row["file"])
    return by_label


@pytest.fixture
def classes(tmp_path) -> Path:
    """Two heart recordings of each class, in one sub-folder per class."""
    root = tmp_path / "classes"
    for label, files in _heart_labels().items():
        (root / label).mkdir(parents=True)
        for name in files[:2]:
            shutil.copy(HEART / name, root / label / name)
    return root


@pytest.fixture
def listed(tmp_path) -> Path:
    """Two heart recordings of each class, listed in labels.csv."""
    root = tmp_path / "listed"
    root.mkdir()
    rows = ["file,label"]
    for label, files in _heart_labels().items():
        for name in files[:2]:
            shutil.copy(HEART / name, root / name)
            rows.append(f"{name},{label}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def test_a_fifo_given_as_data_is_named_a_fifo_not_a_missing_folder(tmp_path, capfd):
    fifo = tmp_path / "ff.fifo"
    os.mkfifo(fifo)
    code, _, err = _cli(["eval", TFLITE, "--data", fifo], capfd)
    assert code == 2 and f"--data: {fifo}: {A_FIFO}, not a folder" in err and "not found" not in err


def test_a_missing_data_folder_is_still_not_found(tmp_path, capfd):
    code, _, err = _cli(["eval", TFLITE, "--data", tmp_path / "nope"], capfd)
    assert code == 2 and f"--data: {tmp_path / 'nope'}: folder not found" in err


def test_a_regular_file_given_as_data_is_not_a_folder(tmp_path, capfd):
    code, _, err = _cli(["eval", TFLITE, "--data", HEART / "a0003.wav"], capfd)
    assert code == 2 and f"--data: {HEART / 'a0003.wav'}: not a folder (a file)" in err


def test_a_fifo_labels_csv_is_refused_by_its_kind_naming_it(listed, capfd):
    (listed / "labels.csv").unlink()
    os.mkfifo(listed / "labels.csv")
    code, _, err = _cli(["eval", TFLITE, "--data", listed], capfd)
    assert code == 2 and f"{listed / 'labels.csv'}: {A_FIFO}, not a regular file" in err
    assert "no labels.csv" not in err


def test_a_fifo_reference_csv_is_refused_by_its_kind_naming_it(tmp_path, capfd):
    os.mkfifo(tmp_path / "REFERENCE.csv")
    code, _, err = _cli(["eval", TFLITE, "--data", tmp_path], capfd)
    assert code == 2 and f"{tmp_path / 'REFERENCE.csv'}: {A_FIFO}, not a regular file" in err


def test_a_fifo_recording_in_a_class_sub_folder_is_refused_not_skipped(classes, capfd):
    fifo = classes / "normal" / "zz.wav"
    os.mkfifo(fifo)
    code, out, err = _cli(["eval", TFLITE, "--data", classes], capfd)
    assert code == 2 and f"{fifo}: {A_FIFO}, not a regular file" in err and "accuracy" not in out


def test_a_fifo_image_in_a_class_sub_folder_is_refused_not_skipped(tmp_path, capfd):
    for label in ("healthy", "anthracnose"):
        (tmp_path / label).mkdir()
        for image in sorted((PLANT / label).glob("*.jpg"))[:1]:
            shutil.copy(image, tmp_path / label / image.name)
    fifo = tmp_path / "healthy" / "zz.jpg"
    os.mkfifo(fifo)
    code, _, err = _cli(["eval", PLANT_TFLITE, "--data", tmp_path], capfd)
    assert code == 2 and f"{fifo}: {A_FIFO}, not a regular file" in err


def test_a_fifo_listed_in_labels_csv_is_refused_by_eval(listed, capfd):
    os.mkfifo(listed / "zz.wav")
    with open(listed / "labels.csv", "a") as f:
        f.write("zz.wav,normal\n")
    code, _, err = _cli(["eval", TFLITE, "--data", listed], capfd)
    assert code == 2 and f"{listed / 'zz.wav'}: {A_FIFO}, not a regular file" in err


def test_a_symlink_to_a_recording_in_a_class_sub_folder_is_an_item(classes, capfd):
    target = next(p for p in sorted(HEART.glob("*.wav")) if not (classes / "normal" / p.name).exists()
                  and p.name in _heart_labels()["normal"])
    (classes / "normal" / "linked.wav").symlink_to(target)
    code, out, err = _cli(["eval", TFLITE, "--data", classes, "--json", "--items"], capfd)
    assert code == 0, err
    assert "normal/linked.wav" in out and '"n": 5' in out


def test_a_folder_inside_a_class_sub_folder_is_passed_over(classes, capfd):
    (classes / "normal" / "more.wav").mkdir()
    code, out, err = _cli(["eval", TFLITE, "--data", classes, "--json"], capfd)
    assert code == 0, err
    assert '"n": 4' in out


def test_a_fifo_among_bench_items_is_refused_naming_it(tmp_path, capfd):
    fifo = tmp_path / "zz.wav"
    os.mkfifo(fifo)
    code, _, err = _cli(["bench", TFLITE, "--runner", "local", "--items", HEART / "a0003.wav", fifo], capfd)
    assert code == 2 and f"{fifo}: {A_FIFO}, not a regular file: the --items file" in err


def test_a_folder_among_bench_items_is_refused_naming_it(tmp_path, capfd):
    folder = tmp_path / "more.wav"
    folder.mkdir()
    code, _, err = _cli(["bench", TFLITE, "--runner", "local", "--items", HEART / "a0003.wav", folder], capfd)
    assert code == 2 and f"{folder}: a folder, not a --items file" in err


def test_a_fifo_given_as_bench_data_is_named_a_fifo(tmp_path, capfd):
    fifo = tmp_path / "ff.fifo"
    os.mkfifo(fifo)
    code, _, err = _cli(["bench", TFLITE, "--runner", "local", "--data", fifo], capfd)
    assert code == 2 and f"{fifo}: {A_FIFO}, not a folder" in err


def test_a_fifo_as_a_recipes_data_path_is_named_a_fifo(tmp_path, capsys):
    pytest.importorskip("torch")  # run --check is the training environment's
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    root = Path(__file__).resolve().parent.parent
    code = main(["run", str(root / "recipes" / "heart.yaml"), "--check", "--set", f"data.path={fifo}"])
    assert code == 2 and f"data.path: {fifo}: a FIFO (named pipe), not a folder" in capsys.readouterr().err
