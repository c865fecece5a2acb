"""A shipped checkpoint's provenance: a run whose test split holds an item the checkpoint saw is refused."""

from types import SimpleNamespace

import pytest

pytest.importorskip("torch")  # edgekd.models registers the torch models on import (main environment only)

from edgekd.errors import InputError  # noqa: E402
from edgekd.models.provenance import check_unseen, read_provenance, write_provenance  # noqa: E402


def _item(name, digest):
    return SimpleNamespace(file=name, label="normal", group="training-a", sha256=digest)


@pytest.fixture
def checkpoint(tmp_path):
    ckpt = tmp_path / "teacher.pt"
    ckpt.write_bytes(b"weights")
    write_provenance(ckpt, model="heart_teacher", params={}, seen={"train": [_item("a1.wav", "11" * 32)],
                                                                   "val": [_item("a2.wav", "22" * 32)]},
                     command="python benchmarks/heart_deploy.py", seed=0)
    return ckpt


def test_a_test_item_the_checkpoint_saw_is_refused(checkpoint):
    with pytest.raises(InputError, match=r"trained on 1 of this run's test items \(e.g. renamed.wav, in its val"):
        check_unseen(checkpoint, [_item("renamed.wav", "22" * 32), _item("b.wav", "33" * 32)], "teacher")


def test_unseen_test_items_pass(checkpoint):
    record = check_unseen(checkpoint, [_item("b.wav", "33" * 32)], "teacher")
    assert record["command"] == "python benchmarks/heart_deploy.py"


def test_a_provenance_of_another_checkpoint_is_refused(checkpoint):
    checkpoint.write_bytes(b"other weights")
    with pytest.raises(InputError, match="do not belong together"):
        read_provenance(checkpoint)


def test_a_checkpoint_without_provenance_cannot_be_checked(tmp_path):
    ckpt = tmp_path / "mine.pt"
    ckpt.write_bytes(b"w")
    assert check_unseen(ckpt, [_item("b.wav", "33" * 32)], "teacher") is None


def test_a_seen_item_without_its_sha256_is_refused_naming_it(checkpoint):
    import json

    path = checkpoint.with_suffix(".json")
    record = json.loads(path.read_text())
    del record["seen"]["train"][0]["sha256"]
    path.write_text(json.dumps(record))
    with pytest.raises(InputError, match=r"teacher.json: seen.train\[0\] is .* each item needs its file name and the sha256"):
        check_unseen(checkpoint, [_item("b.wav", "33" * 32)], "teacher")


def test_a_record_without_the_checkpoint_sha256_is_refused(checkpoint):
    import json

    path = checkpoint.with_suffix(".json")
    record = json.loads(path.read_text())
    del record["sha256"]
    path.write_text(json.dumps(record))
    with pytest.raises(InputError, match=r"teacher.json: sha256 is None, not the checkpoint's SHA-256"):
        read_provenance(checkpoint)
