"""A refused .pt2 prints edgekd's one-line refusal only: torch's own logged traceback of the fallback is silenced."""

import zipfile

import pytest

torch = pytest.importorskip("torch")


def test_a_pt2_with_unreadable_sample_inputs_is_refused_without_a_logged_traceback(tmp_path, capfd):
    from edgekd.errors import InputError
    from edgekd.models.files import load_pt2

    good, bad = tmp_path / "ok.pt2", tmp_path / "bad.pt2"
    torch.export.save(torch.export.export(torch.nn.Linear(4, 2), (torch.randn(1, 4),)), str(good))
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, b"garbage" * 10 if "sample_inputs" in item.filename else zin.read(item))
    with pytest.raises(InputError, match="cannot read it safely"):
        load_pt2(bad)
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out
