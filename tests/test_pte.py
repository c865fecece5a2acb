"""ExecuTorch ``.pte``: export (fp32, int8 through the XNNPACK quantizer), running, audit, CLI, profiles, device env.

Tiny inline CNNs on 16x16 inputs; the three exports are made once per module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekd.errors import InputError

SHAPE = (1, 16, 16)
ENV = "main (executorch's Python runtime links libtorch)"


def _net(keepdim: bool = True):
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())
            self.head = nn.Linear(32, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.features(x)
            # mean over H, W without keepdim is left on ExecuTorch's portable kernels (not delegated to XNNPACK)
            x = x.mean(dim=(2, 3), keepdim=True).flatten(1) if keepdim else x.mean(dim=(2, 3))
            return self.head(x)

    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():  # settle BatchNorm statistics on data like the inputs
        net.train()(torch.randn(64, *SHAPE))
    return net.eval()


def _inputs(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, *SHAPE)).astype(np.float32)


@pytest.fixture(scope="module")
def pte(tmp_path_factory):
    """``{"net", "fp32", "int8", "mean-int8"}``: the model and its .pte files (edgekd.export, suffix → format)."""
    pytest.importorskip("torch")
    pytest.importorskip("executorch")
    import torch

    import edgekd

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("pte")
    net, calibration = _net(), _inputs(16, 1)
    files = {"net": net}
    for precision in ("fp32", "int8"):
        files[precision] = edgekd.export(net, out / f"net-{precision}.pte", precision=precision,
                                         example=torch.zeros(1, *SHAPE), calibration=calibration,
                                         log=lambda s: None).path
    files["mean-int8"] = edgekd.export(_net(keepdim=False), out / "mean-int8.pte", precision="int8",
                                       example=torch.zeros(1, *SHAPE), calibration=calibration,
                                       log=lambda s: None).path
    return files


def _torch_logits(net, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def test_fp32_pte_runs_like_torch(pte):
    from edgekd.audit.parity import parity
    from edgekd.runtime.artifact import load_artifact

    art = load_artifact(pte["fp32"], threads=1)
    assert (art.format, art.runtime, art.runtime_env) == ("pte", "executorch", ENV)
    assert art.input["shape"] == [1, *SHAPE] and art.input["dtype"] == "float32"
    x = _inputs(24, 2)
    p = parity(_torch_logits(pte["net"], x), art.predict(x))
    assert p["max_abs_dlogit"] < 1e-4 and p["top1_agreement"] == 1.0


def test_int8_pte_takes_float_input_and_agrees_on_argmax(pte):
    from edgekd.runtime.artifact import load_artifact

    art = load_artifact(pte["int8"], threads=1)
    assert art.input["dtype"] == "float32" and art.output["dtype"] == "float32"
    x = _inputs(64, 3)
    ref, got = _torch_logits(pte["net"], x), art.predict(x)
    assert (ref.argmax(1) == got.argmax(1)).mean() >= 0.9
    assert 0 < np.abs(ref - got).max() < 0.5  # quantized (not the float graph), yet close


def test_int8_is_smaller_and_every_conv_and_linear_is_delegated(pte):
    from edgekd.audit import inspect_artifact

    assert pte["int8"].stat().st_size < pte["fp32"].stat().st_size
    audit = inspect_artifact(pte["int8"])
    delegation = audit["delegation"]
    assert delegation["backend"] == "XnnpackBackend" and delegation["non_delegated_ops"] == []
    assert delegation["delegated_op_types"].get("XNNConv2d", 0) + delegation["delegated_op_types"].get(
        "XNNDepthwiseConv2d", 0) == 2 and delegation["delegated_op_types"]["XNNFullyConnected"] == 1
    assert audit["quantized"] and audit["fully_integer"] and audit["per_channel_weights"] == 3


def test_the_audit_flags_an_op_left_on_the_portable_kernels(pte):
    from edgekd.audit import inspect_artifact
    from edgekd.report.flags import audit_flags

    audit = inspect_artifact(pte["mean-int8"])
    left = audit["delegation"]["non_delegated_ops"]
    assert len(left) == 1 and left[0].startswith("aten::mean")
    assert not audit["fully_integer"] and any(op.startswith("aten::mean") for op in audit["float_ops"])
    flags = audit_flags({"precision": "int8", "audit": audit})
    assert any("not delegated to XNNPACK" in f for f in flags) and any("float op" in f for f in flags)


@pytest.mark.parametrize("command", ["bench", "inspect"])
def test_a_corrupt_pte_is_one_line_naming_the_file_and_exit_2(pte, tmp_path, capsys, command):
    from edgekd.cli import main

    bad = tmp_path / "cut.pte"
    bad.write_bytes(pte["fp32"].read_bytes()[:1000])
    assert main([command, str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err


def test_bench_of_a_pte_labels_where_it_ran(pte, capsys):
    from edgekd.cli import main

    assert main(["bench", str(pte["int8"]), "--runs", "5", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    assert "on executorch" in out and f"[{ENV} environment]" in out and "p50" in out
    assert main(["bench", str(pte["int8"]), "--runs", "5", "--warmup", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["runtime"] == "executorch" and result["runtime_env"] == ENV and result["runs"] == 5


def test_eval_of_a_pte_scores_a_labelled_folder(pte, tmp_path, capsys):
    from edgekd.cli import main
    from edgekd.runtime.sidecar import sidecar_path

    data = tmp_path / "data"
    data.mkdir()
    x = _inputs(8, 4)
    labels = _torch_logits(pte["net"], x).argmax(1)
    rows = ["file,label"]
    for i, (xi, label) in enumerate(zip(x, labels)):
        np.save(data / f"{i}.npy", xi)
        rows.append(f"{i}.npy,{label}")
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    assert sidecar_path(pte["fp32"]).is_file()
    assert main(["eval", str(pte["fp32"]), "--data", str(data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 8 and result["accuracy"] == 1.0 and result["runtime_env"] == ENV
    assert main(["eval", str(pte["fp32"]), "--data", str(data)]) == 0
    assert f"run with executorch in the {ENV} environment" in capsys.readouterr().out


def test_a_profile_listing_pte_validates_and_plans_pte_exports(tmp_path):
    from edgekd.exporting.stage import check_export_plan, export_plan
    from edgekd.targets import load_target

    shipped = load_target("x86_64-executorch")
    assert ("pte", "int8") in export_plan(shipped.formats, shipped.precisions)
    path = tmp_path / "box.yaml"
    path.write_text("arch: x86_64\nformats: [pte]\nprecisions: [fp32, int8]\n")
    profile = load_target(path)
    check_export_plan([profile], None, None, lambda t: None)
    path.write_text("arch: x86_64\nformats: [ptx]\nprecisions: [fp32]\n")
    with pytest.raises(InputError, match="formats"):
        load_target(path)


@pytest.mark.device
def test_without_executorch_a_pte_gets_one_message_with_the_torch_free_route(tmp_path, monkeypatch, capsys):
    """The device environment (no torch, no executorch): simulated here by making the import fail."""
    from edgekd.cli import main
    from edgekd.runtime.artifact import load_artifact

    monkeypatch.setitem(sys.modules, "executorch.runtime", None)
    path = tmp_path / "m.pte"
    path.write_bytes(b"\0" * 64)
    with pytest.raises(InputError, match=r"links libtorch.*executor_runner.*executorch-numpy-runtime") as info:
        load_artifact(path)
    assert str(path) in str(info.value)
    assert main(["bench", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "docs/precisions.md" in err
