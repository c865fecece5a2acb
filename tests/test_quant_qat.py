"""QAT int8: one epoch of fake-quantized distillation on a tiny model, then runnable TFLite and ONNX files."""

from __future__ import annotations

import numpy as np
import pytest

from edgekd.data.features import WindowSet
from edgekd.runtime.artifact import load_artifact

from conftest import spectrograms


def _windows(n_rec: int, per: int, seed: int) -> WindowSet:
    x, y = spectrograms(n_rec * per, seed)
    rec = np.repeat(np.arange(n_rec), per)
    y = np.repeat(y[::per][:n_rec], per).astype(np.int64)
    return WindowSet.from_arrays(x, y, item=rec)


@pytest.fixture(scope="module")
def qat_model(student, tmp_path_factory):
    """The session student fine-tuned for one QAT epoch, distilled from itself as the teacher."""
    import copy

    from edgekd.training.losses import build_loss
    from edgekd.training.trainer import TrainConfig
    from edgekd.quantize.qat import qat_finetune

    train, val = _windows(12, 4, seed=7), _windows(6, 2, seed=8)
    return qat_finetune(
        copy.deepcopy(student), example=__import__("torch").from_numpy(train.x[:2]), train=train, val=val,
        loss_fn=build_loss("kd", {"temperature": 4.0, "alpha": 0.5}), teacher=copy.deepcopy(student),
        labels=["a", "b"], positive="b", cfg=TrainConfig(epochs=1, batch_size=16, lr=1e-4, threads=1),
        seed=0, checkpoint_dir=tmp_path_factory.mktemp("qat"), log=lambda s: None,
    )


def test_folded_model_matches_the_original(student):
    import torch

    from edgekd.quantize.qat import fold_batchnorm

    x = torch.from_numpy(spectrograms(4, seed=9)[0])
    folded = fold_batchnorm(student)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        assert torch.allclose(folded(x), student(x), atol=1e-4)


@pytest.mark.parametrize("backend", ["litert-torch", "onnxruntime"])
def test_qat_artifact_runs_and_follows_the_fake_quant_model(student, example, calibration, exported, qat_model, tmp_path,
                                                           backend):
    from edgekd.audit import inspect_artifact
    from edgekd.exporting.backends import BACKENDS
    from edgekd.exporting.context import ExportContext
    from edgekd.quantize.qat import qat_logits

    ctx = ExportContext(qat_model=qat_model)
    fmt = BACKENDS.get(backend).format
    path = BACKENDS.get(backend).exporters["int8-qat"](student, example, tmp_path / f"q.{fmt}", calibration, context=ctx).path
    x = spectrograms(16, seed=10)[0]
    out = load_artifact(path).predict(x)
    ref = qat_logits(qat_model, x)
    assert (out.argmax(1) == ref.argmax(1)).mean() >= 0.8
    audit = inspect_artifact(path)
    assert audit["quantized"] and audit["per_channel_weights"] == 4
    if fmt == "tflite":  # int8 I/O, every op integer
        assert audit["fully_integer"] and audit["input_dtypes"] == ["int8"]
    else:  # QDQ: the same graph as plain int8 (ONNX Runtime keeps this tiny model's global average in float)
        plain = inspect_artifact(exported["onnx-int8"])
        assert audit["ops"] == plain["ops"] and len(audit["float_ops"]) == len(plain["float_ops"])


def test_qat_fine_tuning_takes_a_distillation_method(student, tmp_path):
    """QAT fine-tuning trains with any registered KD method (here mixup), not only a plain loss."""
    import copy

    import torch

    from edgekd.training.losses import build_loss
    from edgekd.distillation.methods import build_method
    from edgekd.training.trainer import TrainConfig
    from edgekd.quantize.qat import qat_finetune

    train, val = _windows(12, 4, seed=7), _windows(6, 2, seed=8)
    method = build_method("mixup", {}, build_loss("kd", {"temperature": 4.0, "alpha": 0.5}), where="export.qat.distill")
    qat = qat_finetune(
        copy.deepcopy(student), example=torch.from_numpy(train.x[:2]), train=train, val=val, loss_fn=method,
        teacher=copy.deepcopy(student), labels=["a", "b"], positive="b",
        cfg=TrainConfig(epochs=1, batch_size=16, lr=1e-4, threads=1), seed=0, checkpoint_dir=tmp_path, log=lambda s: None,
    )
    assert qat.result.epochs_run == 1
