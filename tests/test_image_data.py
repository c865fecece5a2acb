"""Labelled image folders (edgekd.data.images): layouts, folder-level refusals, stratified splits.

Folders are built in tmp_path from real sample photos.
"""

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from edgekd.data.features import FeatureCache
from edgekd.data.images import list_images
from edgekd.tasks.image import ImageClassification
from edgekd.data.splits import stratified_split
from edgekd.errors import InputError
from edgekd.runtime.image import ImageFrontend

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "plant-sample"
CLASSES = ["anthracnose", "bacterial_canker", "die_back", "gall_midge", "healthy", "powdery_mildew", "sooty_mould"]


def _folder(tmp_path: Path, classes=("healthy", "die_back"), per_class: int = 3) -> Path:
    root = tmp_path / "photos"
    for c in classes:
        (root / c).mkdir(parents=True)
        for f in sorted((SAMPLE / c).glob("*.jpg"))[:per_class]:
            shutil.copyfile(f, root / c / f.name)
    return root


def test_the_sample_lists_seven_classes_of_ten():
    recs = list_images(SAMPLE, CLASSES)
    assert Counter(r.label for r in recs) == {c: 10 for c in CLASSES}
    assert all(r.group == "all" and len(r.sha256) == 64 for r in recs)


def test_labels_csv_with_a_path_column_is_read(tmp_path):
    root = _folder(tmp_path)
    rows = [f"{p.relative_to(root).as_posix()},{p.parent.name}" for p in sorted(root.glob("*/*.jpg"))]
    (root / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    recs = list_images(root, ["healthy", "die_back"])
    assert len(recs) == 6 and {r.label for r in recs} == {"healthy", "die_back"}


def test_a_class_folder_with_no_images_is_refused(tmp_path):
    root = _folder(tmp_path)
    (root / "gall_midge").mkdir()
    with pytest.raises(InputError, match="gall_midge: class folder 'gall_midge' holds no images"):
        list_images(root, ["healthy", "die_back", "gall_midge"])


def test_a_single_class_is_refused(tmp_path):
    root = _folder(tmp_path, classes=("healthy",))
    with pytest.raises(InputError, match="every image is labelled 'healthy'; a classifier needs at least two classes"):
        list_images(root, ["healthy", "die_back"])


def test_a_recipe_class_without_images_is_refused(tmp_path):
    root = _folder(tmp_path)
    with pytest.raises(InputError, match="no images of class 'gall_midge'"):
        list_images(root, ["healthy", "die_back", "gall_midge"])


def test_a_non_image_file_in_a_class_folder_is_refused(tmp_path):
    root = _folder(tmp_path)
    (root / "healthy" / "notes.txt").write_text("leaf 3 was wet\n")
    with pytest.raises(InputError, match=r"healthy/notes.txt: not an image file .* in class folder 'healthy'"):
        list_images(root, ["healthy", "die_back"])


def test_a_corrupt_photo_stops_data_preparation_naming_it(tmp_path):
    root = _folder(tmp_path)
    bad = sorted((root / "die_back").glob("*.jpg"))[0]
    bad.write_bytes(bad.read_bytes()[:300])
    recs = list_images(root, ["healthy", "die_back"])
    with pytest.raises(InputError, match=re.escape(f"{bad.name}: corrupt or truncated image")):
        ImageClassification().featurize(recs, ["healthy", "die_back"], FeatureCache(None))


def test_splits_are_seeded_and_stratified_by_class():
    recs = list_images(SAMPLE, CLASSES)
    labels = [r.label for r in recs]
    idx = stratified_split(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)
    assert idx == stratified_split(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)
    assert idx != stratified_split(labels, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=1)
    for split, want in (("train", 6), ("val", 2), ("test", 2)):
        assert Counter(labels[i] for i in idx[split]) == {c: want for c in CLASSES}


def test_a_capture_burst_stays_in_one_split():
    from edgekd.data.images import capture_bursts
    from edgekd.data.splits import grouped_stratified_split

    recs = list_images(SAMPLE, CLASSES)
    bursts = capture_bursts(recs, 60)
    assert len(set(bursts)) < len(recs)  # the sample holds shots seconds apart (e.g. anthracnose 12:42:50 and :56)
    idx = grouped_stratified_split([r.label for r in recs], bursts, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)
    where = {i: s for s, ids in idx.items() for i in ids}
    assert sorted(where) == list(range(len(recs)))
    for b in set(bursts):
        assert len({where[i] for i, x in enumerate(bursts) if x == b}) == 1
    for split in idx:  # every class still reaches every split
        assert {recs[i].label for i in idx[split]} == set(CLASSES)


def test_capture_time_comes_from_the_phone_file_name():
    from datetime import datetime

    from edgekd.data.images import capture_time

    rec = next(r for r in list_images(SAMPLE, CLASSES) if r.file == "anthracnose/20211008_124250 (Custom).jpg")
    assert capture_time(rec) == datetime(2021, 10, 8, 12, 42, 50)
