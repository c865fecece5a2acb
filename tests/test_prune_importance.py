"""Each importance criterion ranks the channels of a hand-built network as its definition says."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from edgekd.training.losses import build_loss  # noqa: E402
from edgekd.pruning.importance import IMPORTANCES, accumulate_gradients  # noqa: E402
from edgekd.pruning.prune import removal_order, score_channels  # noqa: E402

SHAPE = (1, 6, 6)


class TwoChannel(nn.Module):
    """conv1 (2 channels) -> BN -> ReLU -> conv2 (1x1, 3 channels) -> BN -> ReLU -> pool -> linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(2)
        self.conv2 = nn.Conv2d(2, 3, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(3)
        self.pool = nn.AvgPool2d(SHAPE[1:])
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
        return self.fc(self.pool(x).flatten(1))


def _net(ch0: torch.Tensor, ch1: torch.Tensor, gamma=(1.0, 1.0), down=(1.0, 1.0)) -> TwoChannel:
    net = TwoChannel().eval()
    with torch.no_grad():
        net.conv1.weight[0, 0] = ch0
        net.conv1.weight[1, 0] = ch1
        net.bn1.weight.copy_(torch.tensor(gamma))
        net.conv2.weight.copy_(torch.tensor(down).view(1, 2, 1, 1).expand(3, 2, 1, 1))
    return net


def _least_important(net: nn.Module, name: str) -> int:
    scores = score_channels(net, SHAPE, IMPORTANCES.get(name).build(), ["fc"])
    return int(torch.argmin(scores["conv1"]))


SPREAD = torch.ones(3, 3)  # nine weights of 1: L1 = 9, sum of squares = 9
SPIKE = torch.zeros(3, 3).index_put_((torch.tensor([1]), torch.tensor([1])), torch.tensor(4.0))  # L1 = 4, squares = 16


def test_l1_removes_the_channel_with_the_smaller_absolute_sum() -> None:
    assert _least_important(_net(SPREAD, SPIKE), "l1") == 1


def test_l2_removes_the_channel_with_the_smaller_squared_sum() -> None:
    assert _least_important(_net(SPREAD, SPIKE), "l2") == 0


def test_bn_scale_removes_the_channel_with_the_smallest_gamma() -> None:
    net = _net(SPREAD * 3, SPREAD, gamma=(0.05, 1.0))  # channel 0 has the larger weights, the smaller gamma
    assert _least_important(net, "l2") == 1
    assert _least_important(net, "bn_scale") == 0


def test_taylor_removes_the_channel_the_loss_does_not_depend_on() -> None:
    # channel 1 has the larger weights, but nothing downstream reads it: its loss gradient is zero
    net = _net(SPREAD * 0.5, SPREAD * 3, down=(1.0, 0.0))
    with torch.no_grad():
        net.fc.weight.copy_(torch.tensor([[1.0, 0.5, -0.5], [-1.0, 0.2, 0.3]]))
    g = torch.Generator().manual_seed(0)
    batches = [(torch.rand(8, *SHAPE, generator=g), torch.randint(0, 2, (8,), generator=g)) for _ in range(2)]
    assert accumulate_gradients(net, batches, build_loss("ce", {})) == 2
    assert _least_important(net, "l2") == 0
    assert _least_important(net, "taylor") == 1


def test_uniform_order_takes_the_same_share_of_every_layer() -> None:
    scores = {"a": torch.tensor([4.0, 1.0, 3.0, 2.0]), "b": torch.tensor([0.5, 9.0])}
    order = removal_order(scores, "uniform", min_channels=1)
    # shares removed: a 1/4, then a 2/4 and b 1/2 (tie: the lower score first), then a 3/4; one channel always left
    assert order == [("a", 1), ("b", 0), ("a", 3), ("a", 2)]


def test_global_order_ranks_all_channels_together() -> None:
    scores = {"a": torch.tensor([4.0, 1.0, 3.0, 2.0]), "b": torch.tensor([0.5, 9.0])}
    assert removal_order(scores, "global", min_channels=1) == [("b", 0), ("a", 1), ("a", 3), ("a", 2)]
