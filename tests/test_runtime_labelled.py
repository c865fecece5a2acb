"""edgekd.runtime.labelled: the three labelled-folder layouts and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekd.errors import InputError
from edgekd.runtime.labelled import LabelledItem, read_labelled_folder

pytestmark = pytest.mark.device


def touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"RIFF")


def labels_csv(root: Path, text: str) -> Path:
    (root / "labels.csv").write_text(text)
    return root


def test_labels_csv_sorted_and_extra_columns_ignored(tmp_path):
    touch(tmp_path, "b.wav", "a.wav")
    labels_csv(tmp_path, "file,label,source\nb.wav,normal,x\na.wav,abnormal,y\n")
    assert read_labelled_folder(tmp_path) == [
        LabelledItem(tmp_path / "a.wav", "a.wav", "abnormal"),
        LabelledItem(tmp_path / "b.wav", "b.wav", "normal"),
    ]


def test_reference_csv_maps_physionet_codes(tmp_path):
    touch(tmp_path, "a0001.wav", "a0002.wav")
    (tmp_path / "REFERENCE.csv").write_text("a0001,1\na0002,-1\n")
    items = read_labelled_folder(tmp_path)
    assert [(i.file, i.label) for i in items] == [("a0001.wav", "abnormal"), ("a0002.wav", "normal")]


def test_class_subfolders(tmp_path):
    touch(tmp_path, "normal/x.wav", "abnormal/y.WAV", "abnormal/notes.txt")
    items = read_labelled_folder(tmp_path)
    assert [(i.file, i.label) for i in items] == [("abnormal/y.WAV", "abnormal"), ("normal/x.wav", "normal")]


def test_labels_csv_wins_over_reference_csv(tmp_path):
    touch(tmp_path, "a0001.wav")
    (tmp_path / "REFERENCE.csv").write_text("a0001,1\n")
    labels_csv(tmp_path, "file,label\na0001.wav,normal\n")
    assert read_labelled_folder(tmp_path)[0].label == "normal"


def test_missing_folder(tmp_path):
    with pytest.raises(InputError, match="nope: folder not found"):
        read_labelled_folder(tmp_path / "nope")


def test_not_a_folder(tmp_path):
    touch(tmp_path, "a.wav")
    with pytest.raises(InputError, match="a.wav: not a folder"):
        read_labelled_folder(tmp_path / "a.wav")


def test_no_known_layout(tmp_path):
    touch(tmp_path, "a.wav")
    with pytest.raises(InputError, match="no labels.csv .* no REFERENCE.csv and no class sub-folders"):
        read_labelled_folder(tmp_path)


def test_labels_csv_missing_column(tmp_path):
    labels_csv(tmp_path, "file,class\na.wav,normal\n")
    with pytest.raises(InputError, match=r"labels.csv: no 'label' column"):
        read_labelled_folder(tmp_path)


def test_row_with_missing_file(tmp_path):
    labels_csv(tmp_path, "file,label\nghost.wav,normal\n")
    with pytest.raises(InputError, match=r"ghost.wav: listed in labels.csv row 2 but the file does not exist"):
        read_labelled_folder(tmp_path)


def test_label_not_in_classes(tmp_path):
    touch(tmp_path, "a.wav", "b.wav", "c.wav", "d.wav")
    labels_csv(tmp_path, "file,label\na.wav,normal\nb.wav,normal\nc.wav,abnormal\nd.wav,murmur\n")
    with pytest.raises(InputError) as info:
        read_labelled_folder(tmp_path, classes=["normal", "abnormal"])
    assert str(info.value) == (f"{tmp_path}: label 'murmur' (labels.csv row 5) "
                               "is not one of the classes normal, abnormal")


def test_duplicate_rows(tmp_path):
    touch(tmp_path, "a.wav")
    labels_csv(tmp_path, "file,label\na.wav,normal\na.wav,abnormal\n")
    with pytest.raises(InputError, match=r"'a.wav' is listed twice \(labels.csv row 2 and labels.csv row 3\)"):
        read_labelled_folder(tmp_path)


def test_bad_reference_code(tmp_path):
    touch(tmp_path, "a0001.wav")
    (tmp_path / "REFERENCE.csv").write_text("a0001,0\n")
    with pytest.raises(InputError, match="REFERENCE.csv row 1"):
        read_labelled_folder(tmp_path)


def test_zero_items(tmp_path):
    labels_csv(tmp_path, "file,label\n")
    with pytest.raises(InputError, match="lists no recordings"):
        read_labelled_folder(tmp_path)
