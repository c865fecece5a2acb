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
