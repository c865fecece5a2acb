"""Record-wise stratified splits."""

import pytest

from edgekd.data.splits import stratified_split
from edgekd.errors import InputError

FR = {"train": 0.6, "val": 0.2, "test": 0.2}


def test_every_item_lands_in_exactly_one_split():
    strata = ["a|n"] * 10 + ["a|x"] * 10 + ["b|n"] * 7
    out = stratified_split(strata, FR, seed=0)
    flat = sorted(i for ids in out.values() for i in ids)
    assert flat == list(range(len(strata)))


def test_each_stratum_keeps_its_proportion():
    strata = ["a"] * 50 + ["b"] * 50
    out = stratified_split(strata, FR, seed=1)
    for split, want in (("train", 30), ("val", 10), ("test", 10)):
        assert sum(1 for i in out[split] if strata[i] == "a") == want


def test_small_stratum_reaches_every_split():
    out = stratified_split(["rare"] * 3 + ["common"] * 30, FR, seed=0)
    for ids in out.values():
        assert any(i < 3 for i in ids)


def test_same_seed_same_split_other_seed_other_split():
    strata = ["a"] * 40
    assert stratified_split(strata, FR, 3) == stratified_split(strata, FR, 3)
    assert stratified_split(strata, FR, 3) != stratified_split(strata, FR, 4)


def test_fractions_must_sum_to_one():
    with pytest.raises(InputError, match="sum to 1"):
        stratified_split(["a"] * 10, {"train": 0.5, "val": 0.2, "test": 0.2}, 0)


def test_time_split_holds_out_the_latest_of_each_stratum():
    from edgekd.data.splits import time_split

    strata = ["a"] * 10 + ["b"] * 5
    times = list(range(10)) + [100, 104, 101, 103, 102]
    out = time_split(strata, times, FR)
    assert [i for i in out["test"] if strata[i] == "a"] == [8, 9]
    assert [i for i in out["test"] if strata[i] == "b"] == [11]  # time 104, the latest of b
    assert [i for i in out["val"] if strata[i] == "b"] == [13]
    assert max(times[i] for i in out["train"] if strata[i] == "a") < min(times[i] for i in out["val"] if strata[i] == "a")


def test_time_split_never_cuts_a_block():
    from edgekd.data.splits import time_split

    out = time_split(["a"] * 10, list(range(10)), FR, groups=["x"] * 7 + ["y", "y", "z"])
    assert out["test"] == [9] and out["val"] == [7, 8] and out["train"] == list(range(7))


def test_prepare_splits_photos_by_capture_time():
    import edgekd
    from edgekd.data.images import capture_time

    d = edgekd.prepare("data/plant-sample", task="image-classification", stratify=["label"], cache_dir=None,
                       split={"train": 0.6, "val": 0.2, "test": 0.2, "by": "time"}, log=lambda s: None)
    for label in d.classes:
        train = [capture_time(r) for r in d.train.recordings if r.label == label]
        test = [capture_time(r) for r in d.test.recordings if r.label == label]
        assert test and max(train) <= min(test)


def test_time_split_of_a_task_without_capture_times_is_refused():
    import numpy as np

    import edgekd

    with pytest.raises(InputError, match="split.by: time"):
        edgekd.prepare((np.zeros((20, 1, 2, 2), np.float32), [0, 1] * 10), split={"by": "time"}, log=lambda s: None)


def _items(names):
    from types import SimpleNamespace

    return [SimpleNamespace(file=n) for n in names]


def test_split_file_assigns_items_by_name(tmp_path):
    from edgekd.data.splits import split_from_file

    f = tmp_path / "split.csv"
    f.write_text("file,split\nb.wav,test\na.wav,train\nc.wav,val\n")
    assert split_from_file(_items(["a.wav", "b.wav", "c.wav"]), f) == {"train": [0], "val": [2], "test": [1]}


@pytest.mark.parametrize("text, message", [
    ("file,split\na.wav,train\n", "not assigned, e.g. 'b.wav'"),
    ("file,split\na.wav,train\nb.wav,holdout\n", "line 3: split 'holdout'"),
    ("name,split\na.wav,train\n", "needs the columns file,split"),
    ("file,split\na.wav,train\na.wav,test\n", "listed twice"),
])
def test_a_bad_split_file_is_refused_naming_the_problem(tmp_path, text, message):
    from edgekd.data.splits import split_from_file

    f = tmp_path / "split.csv"
    f.write_text(text)
    with pytest.raises(InputError, match=message.replace("(", r"\(")) as err:
        split_from_file(_items(["a.wav", "b.wav"]), f)
    assert str(f) in str(err.value)
