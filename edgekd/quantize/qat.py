"""Quantization-aware fine-tuning (QAT) with distillation from the teacher, through PT2E.

The trained fp32 student is copied, its BatchNorms folded into the convolutions,
made NHWC (``litert_torch.to_channel_last_io``), exported with ``torch.export``
and prepared with ``prepare_qat_pt2e`` and litert-torch's symmetric per-channel
QAT configuration (fake-quantized weights and activations). It is then
fine-tuned with ``edgekd.training.trainer.train_model`` (teacher logits, the
recipe's KD loss, selection on the validation split) and converted:

- TFLite: ``convert_pt2e`` → ``litert_torch.convert`` with the same quantizer, so
  the learned ranges become the int8 graph's;
- ONNX: the fine-tuned float weights, put back into the folded model, are
  exported and quantized by ONNX Runtime (QDQ U8S8 per-channel, the fast format
  on x86; a converted PT2E graph exports as S8S8 with float Conv→Relu pairs).

Why fold BatchNorm first (``torch.fx`` fusion): litert-torch 0.10's conv-bn QAT annotator fails on
torch 2.13 (it passes a function where ``torch.export`` wants a module), and
fine-tuning for a few epochs with BN frozen is the usual recipe anyway.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (eval mode) with every Conv → BatchNorm pair folded into one Conv.

    ``torch.fx`` traces the model and fuses the pairs wherever they are (residual
    branches included); a model fx cannot trace falls back to folding the pairs
    that sit next to each other inside ``nn.Sequential`` containers.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    try:
        from torch.fx.experimental.optimization import fuse

        return fuse(copy.deepcopy(model).eval())
    except Exception:  # not symbolically traceable: the Sequential-only fold below
        pass

    def fold(mod: nn.Module) -> nn.Module:
        if isinstance(mod, nn.Sequential):
            items, out, i = list(mod), [], 0
            while i < len(items):
                if isinstance(items[i], nn.Conv2d) and i + 1 < len(items) and isinstance(items[i + 1], nn.BatchNorm2d):
                    out.append(fuse_conv_bn_eval(items[i], items[i + 1]))
                    i += 2
                else:
                    out.append(fold(items[i]))
                    i += 1
            return nn.Sequential(*out)
        for name, child in list(mod.named_children()):
            setattr(mod, name, fold(child))
        return mod

    return fold(copy.deepcopy(model).eval())


def qat_quantizer() -> Any:
    """litert-torch's PT2E quantizer with the symmetric per-channel QAT config (conv-bn patterns off: BN is folded)."""
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config

    class FoldedQATQuantizer(PT2EQuantizer):
        STATIC_QAT_ONLY_OPS: list[str] = []  # the conv-bn annotators; nothing to match after folding

    return FoldedQATQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=True))


class FakeQuantNet(nn.Module):
    """The prepared QAT graph behind an ordinary module: NCHW in (as the trainer feeds it), logits out.

    Exported graphs refuse ``.train()``/``.eval()``; here they switch the graph's
    dropout/BN ops with torchao's helpers, and observers update only in training
    (validation passes must not move the quantization ranges).
    """

    def __init__(self, graph: torch.fx.GraphModule) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(x.permute(0, 2, 3, 1))

    def train(self, mode: bool = True) -> "FakeQuantNet":
        from torchao.quantization.pt2e import move_exported_model_to_eval, move_exported_model_to_train

        (move_exported_model_to_train if mode else move_exported_model_to_eval)(self.graph)
        for m in self.graph.modules():
            if hasattr(m, "enable_observer") and hasattr(m, "disable_observer"):
                m.enable_observer() if mode else m.disable_observer()
        self.training = mode
        return self


@dataclass
class QATModel:
    """The outcome of QAT: what both exporters need.

    Attributes:
        net: the fine-tuned fake-quantized network (NCHW in).
        float_model: the BN-folded fp32 model holding the fine-tuned weights (NCHW in).
        quantizer: the PT2E quantizer used (the TFLite converter needs it again).
        example: one NHWC example input of the graph.
        result: the trainer's ``TrainResult``.
    """

    net: FakeQuantNet
    float_model: nn.Module
    quantizer: Any
    example: torch.Tensor
    result: Any
    settings: dict = field(default_factory=dict)  # what the fine-tuning was asked to do (recorded in sidecars)


def prepare_qat(model: nn.Module, example: torch.Tensor) -> tuple[FakeQuantNet, nn.Module, Any, torch.Tensor]:
    """Fold BN, make the input NHWC, export and insert fake quantization.

    Returns:
        ``(fake-quant net, folded float model, quantizer, NHWC example)``.
    """
    import litert_torch
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    folded = fold_batchnorm(model)
    nhwc = litert_torch.to_channel_last_io(folded, args=[0])
    ex = example[:2].permute(0, 2, 3, 1).contiguous()
    if len(ex) < 2:
        ex = torch.cat([ex, ex])
    quantizer = qat_quantizer()
    batch = torch.export.Dim("batch")
    graph = torch.export.export(nhwc.train(), (ex,), dynamic_shapes=(({0: batch},),)).module()
    graph = prepare_qat_pt2e(graph, quantizer)
    return FakeQuantNet(graph), folded, quantizer, ex[:1]


def copy_weights_back(net: FakeQuantNet, folded: nn.Module) -> None:
    """Load the fine-tuned float parameters of the QAT graph into the folded model (matched by name suffix)."""
    graph_params = dict(net.graph.named_parameters())
    state = folded.state_dict()
    for key in list(state):
        hits = [v for k, v in graph_params.items() if k == key or k.endswith("." + key)]  # under the NHWC wrapper
        if len(hits) != 1 or hits[0].shape != state[key].shape:
            raise RuntimeError(f"QAT: cannot match parameter {key!r} of the folded model in the QAT graph")
        state[key] = hits[0].detach().clone()
    folded.load_state_dict(state)
    folded.eval()


def qat_finetune(
    model: nn.Module,
    *,
    example: torch.Tensor,
    train: Any,
    val: Any,
    loss_fn: Any,
    teacher: nn.Module | None,
    labels: list[str],
    positive: str | None,
    cfg: Any,
    seed: int,
    checkpoint_dir: Path,
    log: Callable[[str], None],
    augment: Callable | None = None,
    aggregation: str = "mean",
    settings: dict | None = None,
) -> QATModel:
    """Fine-tune a fake-quantized copy of ``model`` with distillation from ``teacher``.

    Args:
        model: the trained fp32 model (left untouched).
        example: one NCHW input.
        train, val: ``WindowSet`` s (validation selects the epoch, as in training).
        loss_fn: a logit loss from ``edgekd.training.losses.build_loss`` (``kd`` uses the teacher).
        teacher: the frozen teacher.
        labels, positive: class names and the positive class.
        cfg: ``edgekd.training.trainer.TrainConfig`` (epochs, lr, ... of the fine-tuning).
        seed: the trainer's seed.
        checkpoint_dir: QAT checkpoints (resumable like any training).
        log: per-epoch lines.
        augment: the task's training augmentation (``Task.augmentation()``), or None.
        aggregation: how validation windows are combined per item.
        settings: recorded with the result (the export's ``qat`` settings).

    Returns:
        The ``QATModel``.
    """
    from edgekd.training.trainer import train_model

    torch.manual_seed(seed)
    net, folded, quantizer, ex = prepare_qat(model, example)
    result = train_model(
        net, train, val, loss_fn, labels=labels, positive=positive, cfg=cfg, seed=seed,
        checkpoint_dir=Path(checkpoint_dir), teacher=teacher, log=log, fingerprint_extra="qat-pt2e",
        augment=augment, aggregation=aggregation,
    )
    net.eval()
    copy_weights_back(net, folded)
    return QATModel(net, folded, quantizer, ex, result, dict(settings or {}))


def qat_logits(qat: QATModel, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """Torch-side logits of the fake-quantized network (for reference beside the artifacts)."""
    qat.net.eval()
    with torch.no_grad():
        return np.concatenate([qat.net(torch.from_numpy(x[i : i + batch])).numpy() for i in range(0, len(x), batch)])
