"""Pruning a residual + depthwise student keeps it consistent, exportable, and its artifacts agree with torch."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from edgekd.exporting import EXPORTERS  # noqa: E402
from edgekd.pruning.budget import Budget, calibrate_int8_size, measure_cost  # noqa: E402
from edgekd.pruning.importance import IMPORTANCES  # noqa: E402
from edgekd.pruning.prune import prune_to_budget, resolve_ignored  # noqa: E402
from edgekd.pruning.state import load_pruned, save_pruned  # noqa: E402
from edgekd.runtime.artifact import load_artifact  # noqa: E402

SHAPE = (1, 16, 32)


class DepthwiseResidual(nn.Module):
    """MobileNetV2-style: depthwise 3x3 + pointwise 1x1, added to the block's input."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.dw_bn = nn.BatchNorm2d(c)
        self.pw = nn.Conv2d(c, c, 1, bias=False)
        self.pw_bn = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.pw_bn(self.pw(torch.relu(self.dw_bn(self.dw(x))))))


class TinyResidualStudent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 12, 3, padding=1, bias=False), nn.BatchNorm2d(12), nn.ReLU())
        self.block = DepthwiseResidual(12)
        self.expand = nn.Sequential(nn.Conv2d(12, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.pool = nn.AvgPool2d((SHAPE[1] // 2, SHAPE[2] // 2))
        self.fc = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.expand(self.block(self.stem(x)))).flatten(1))


def _randomise_bn(model: nn.Module, seed: int) -> None:
    """Give BatchNorm non-trivial statistics so a wrong channel mapping would show in the outputs."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = torch.rand(m.num_features, generator=g) + 0.5
            m.bias.data = torch.randn(m.num_features, generator=g) * 0.1
            m.running_mean = torch.randn(m.num_features, generator=g) * 0.1
            m.running_var = torch.rand(m.num_features, generator=g) + 0.5


@pytest.fixture(scope="module")
def pruned() -> tuple[nn.Module, object]:
    torch.manual_seed(0)
    model = TinyResidualStudent()
    _randomise_bn(model, 0)
    model.eval()
    budget = Budget("params", measure_cost(model, SHAPE).params * 0.5, "prune.target.params_ratio", "params_ratio 0.5")
    outcome = prune_to_budget(model, SHAPE, IMPORTANCES.get("l2").build(), budget,
                              ignored=resolve_ignored(model, [], SHAPE))
    return model.eval(), outcome


@pytest.fixture(scope="module")
def inputs() -> np.ndarray:
    return np.random.default_rng(3).normal(0, 1, (8, *SHAPE)).astype(np.float32)


def test_residual_and_depthwise_channels_stay_consistent(pruned) -> None:
    model, outcome = pruned
    c = model.stem[0].out_channels
    assert c < 12, "the residual group was pruned"
    assert model.block.dw.in_channels == model.block.dw.out_channels == model.block.dw.groups == c
    assert model.block.pw.in_channels == model.block.pw.out_channels == c
    assert model.expand[0].in_channels == c
    assert model.fc.out_features == 2, "the classifier keeps its classes"
    assert outcome.after.params <= outcome.budget["limit"] < outcome.before.params


@pytest.mark.parametrize("key", ["onnx-fp32", "tflite-fp32"])
def test_pruned_model_exports_and_matches_torch(pruned, inputs, tmp_path, key: str) -> None:
    model, _ = pruned
    path = tmp_path / f"pruned.{key.split('-')[0]}"
    EXPORTERS.get(key)(model, torch.zeros(1, *SHAPE), path, None)
    with torch.no_grad():
        want = model(torch.from_numpy(inputs)).numpy()
    got = load_artifact(path, threads=1).predict(inputs)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_pruned_int8_file_is_smaller_as_predicted(pruned, inputs, tmp_path) -> None:
    model, _ = pruned
    unpruned = TinyResidualStudent().eval()
    size_model = calibrate_int8_size(unpruned, SHAPE, EXPORTERS.get("tflite-int8"))
    path = tmp_path / "pruned-int8.tflite"
    EXPORTERS.get("tflite-int8")(model, torch.zeros(1, *SHAPE), path, inputs)
    measured = path.stat().st_size
    assert measured < size_model.reference_bytes
    assert abs(size_model.predict(model) - measured) <= 0.03 * measured
    with torch.no_grad():
        want = model(torch.from_numpy(inputs)).numpy()
    got = load_artifact(path, threads=1).predict(inputs)
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.95  # int8 follows the pruned float model


def test_pruned_checkpoint_reloads_with_weights_only(pruned, inputs, tmp_path) -> None:
    model, _ = pruned
    path = save_pruned(model, tmp_path / "pruned.pt", {"fingerprint": "abc"})
    fresh = TinyResidualStudent()
    ckpt = load_pruned(fresh, path)
    fresh.eval()
    assert ckpt["fingerprint"] == "abc"
    with torch.no_grad():
        np.testing.assert_array_equal(fresh(torch.from_numpy(inputs)).numpy(), model(torch.from_numpy(inputs)).numpy())
    assert copy.deepcopy(fresh).block.dw.groups == model.block.dw.groups
