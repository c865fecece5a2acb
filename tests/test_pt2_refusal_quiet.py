"""A refused .pt2 prints edgekd's one-line refusal only: torch's own logged traceback of the fallback is silenced."""

import zipfile

import pytest

torch = pytest.importorskip("torch")


def test_a_pt2_with_a_corrupt_version_record_is_refused_without_a_logged_traceback(tmp_path, capfd):
    """torch.export.load logs "Ran into the following error when deserializing" with a traceback first."""
    from edgekd.errors import InputError
    from edgekd.models.files import load_pt2

    good, bad = tmp_path / "ok.pt2", tmp_path / "bad.pt2"
    torch.export.save(torch.export.export(torch.nn.Linear(4, 2), (torch.randn(1, 4),)), str(good))
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, b"" if item.filename.endswith(".data/version") else zin.read(item))
    with pytest.raises(InputError, match=str(bad)):
        load_pt2(bad)
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out and "deserializing" not in captured.err
