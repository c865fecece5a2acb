"""The ONNX int8 export times its candidate forms on the target's runner and keeps the fastest agreeing one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgekd.audit.inspect import inspect_artifact  # noqa: E402
from edgekd.exporting import ort_forms  # noqa: E402
from edgekd.exporting.ort_forms import FORMS, quantize_fastest  # noqa: E402

SHAPE = (4, 8, 24)


class FakeProbe:
    """Times each form by its file name, and counts the calls."""

    def __init__(self, ms: dict[str, float], where: str = "fake runner") -> None:
        self.ms, self.where, self.calls = ms, where, []

    def measure(self, path: Path) -> float:
        self.calls.append(Path(path).stem)
        return self.ms[Path(path).stem]


class BrokenProbe:
    where = "ssh pi@raspberrypi.local:22"

    def measure(self, path: Path) -> float:
        raise RuntimeError("ssh: connect to host raspberrypi.local port 22: Connection timed out")


@pytest.fixture(scope="module")
def fp32(tmp_path_factory):
    """A tiny conv net exported to fp32 ONNX, with calibration inputs."""
    from edgekd.exporting.onnx_export import export_onnx

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.AvgPool2d((4, 12)),
                              torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()
    path = tmp_path_factory.mktemp("fp32") / "fp32.onnx"
    export_onnx(net, torch.zeros(1, *SHAPE), path)
    cal = np.random.default_rng(0).standard_normal((32, *SHAPE)).astype(np.float32)
    return path, cal


def test_the_fastest_form_is_kept_and_recorded(fp32, tmp_path):
    probe = FakeProbe({"qdq-u8s8": 1.0, "qdq-s8s8": 0.98, "qoperator-u8s8": 0.5})
    form = quantize_fastest(fp32[0], tmp_path / "m.onnx", fp32[1], method="minmax", probe=probe, cache_dir=tmp_path)
    assert form["chosen"] == "qoperator-u8s8" and form["measured"] and "2.00x faster" in form["why"]
    assert {c["form"]: c["p50_ms"] for c in form["candidates"]} == {"qdq-u8s8": 1.0, "qdq-s8s8": 0.98, "qoperator-u8s8": 0.5}
    assert "QLinearConv" in inspect_artifact(tmp_path / "m.onnx")["ops"]


def test_the_default_stays_unless_another_form_beats_the_margin(fp32, tmp_path):
    probe = FakeProbe({"qdq-u8s8": 1.0, "qdq-s8s8": 0.97, "qoperator-u8s8": 0.99})
    form = quantize_fastest(fp32[0], tmp_path / "m.onnx", fp32[1], method="minmax", probe=probe, cache_dir=tmp_path)
    assert form["chosen"] == "qdq-u8s8" and "under the 5 % margin" in form["why"]
    assert "QLinearConv" not in inspect_artifact(tmp_path / "m.onnx")["ops"]


def test_forms_are_timed_in_interleaved_rounds(fp32, tmp_path):
    probe = FakeProbe({"qdq-u8s8": 1.0, "qdq-s8s8": 1.0, "qoperator-u8s8": 1.0})
    quantize_fastest(fp32[0], tmp_path / "m.onnx", fp32[1], method="minmax", probe=probe, cache_dir=tmp_path)
    assert probe.calls == [f.name for f in FORMS] * ort_forms.ROUNDS


def test_a_decision_is_measured_once_then_read_back_with_the_same_bytes(fp32, tmp_path):
    probe = FakeProbe({"qdq-u8s8": 1.0, "qdq-s8s8": 1.0, "qoperator-u8s8": 0.5})
    first = quantize_fastest(fp32[0], tmp_path / "a.onnx", fp32[1], method="minmax", probe=probe, cache_dir=tmp_path)
    calls = len(probe.calls)
    again = quantize_fastest(fp32[0], tmp_path / "b.onnx", fp32[1], method="minmax", probe=probe, cache_dir=tmp_path)
    assert len(probe.calls) == calls and again == first
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_another_runner_is_measured_again(fp32, tmp_path):
    quantize_fastest(fp32[0], tmp_path / "a.onnx", fp32[1], method="minmax",
                     probe=FakeProbe({f.name: 1.0 for f in FORMS}, where="local"), cache_dir=tmp_path)
    other = FakeProbe({f.name: 1.0 for f in FORMS}, where="ssh pi@pi5:22")
    quantize_fastest(fp32[0], tmp_path / "b.onnx", fp32[1], method="minmax", probe=other, cache_dir=tmp_path)
    assert other.calls


def test_a_form_whose_outputs_disagree_is_not_timed(fp32, tmp_path, monkeypatch):
    real = ort_forms._agreement

    def worse_s8s8(*args):
        out = real(*args)
        out["qdq-s8s8"]["top1_agreement_fp32"] = out["qdq-u8s8"]["top1_agreement_fp32"] - 0.25
        return out

    monkeypatch.setattr(ort_forms, "_agreement", worse_s8s8)
    probe = FakeProbe({"qdq-u8s8": 1.0, "qdq-s8s8": 0.1, "qoperator-u8s8": 1.0})
    form = quantize_fastest(fp32[0], tmp_path / "m.onnx", fp32[1], method="minmax", probe=probe, cache_dir=tmp_path)
    assert "qdq-s8s8" not in probe.calls and form["chosen"] == "qdq-u8s8" and "qdq-s8s8" in form["why"]


def test_no_measuring_runner_keeps_the_default(fp32, tmp_path):
    form = quantize_fastest(fp32[0], tmp_path / "m.onnx", fp32[1], method="minmax", probe=None, cache_dir=tmp_path)
    assert form["chosen"] == "qdq-u8s8" and form["measured"] is False


def test_an_unreachable_device_keeps_the_default_and_says_why(fp32, tmp_path):
    form = quantize_fastest(fp32[0], tmp_path / "m.onnx", fp32[1], method="minmax", probe=BrokenProbe(),
                            cache_dir=tmp_path)
    assert form["chosen"] == "qdq-u8s8" and not form["measured"] and "Connection timed out" in form["why"]
    assert (tmp_path / "m.onnx").is_file() and not list((tmp_path / "ort-forms").glob("*.json"))


def test_every_form_is_fully_integer_and_per_channel(fp32, tmp_path):
    from edgekd.exporting.ort_quantize import quantize_onnx_int8

    for form in FORMS:
        path = quantize_onnx_int8(fp32[0], tmp_path / f"{form.name}.onnx", fp32[1],
                                  activation_type=form.activation_type, quant_format=form.quant_format)
        audit = inspect_artifact(path)
        assert audit["fully_integer"] and audit["float_ops"] == [], form.name
        assert audit["per_channel_weights"] == 3 and audit["per_tensor_weights"] == 0, form.name


def test_export_to_a_local_target_times_the_forms_here(tmp_path, monkeypatch):
    import edgekd

    monkeypatch.setenv("EDGEKD_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(16 * 8 * 24, 2)).eval()
    cal = np.random.default_rng(0).standard_normal((16, *SHAPE)).astype(np.float32)
    out = edgekd.export(net, tmp_path / "m.onnx", precision="int8", calibration=cal, target="x86_64",
                        log=lambda s: None)
    form = json.loads(Path(out.sidecar_path).read_text())["ort_form"]
    assert form["measured"] and form["runner"].startswith("local") and form["chosen"] in {f.name for f in FORMS}
    assert all(c["p50_ms"] > 0 for c in form["candidates"] if c["agrees"])
