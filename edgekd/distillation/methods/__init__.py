"""Distillation methods, found by name in ``METHODS`` (one module per method).

A method wraps the per-batch behaviour of a distillation recipe — which
teacher outputs it needs, how inputs are mixed, the loss — and
``edgekd.distillation.trainer.train_model`` calls it. Any caller of ``train_model``
(the pipeline, pruning recovery, QAT) passes a method where it would pass a
loss: ``train_model(model, train, val, build_method(name, params, loss), ...)``.
"""

from edgekd.distillation.methods.base import Batch, BindContext, DistillMethod, FrozenOutputs
from edgekd.distillation.methods.registry import METHODS, build_method
from edgekd.distillation.methods import (  # noqa: F401  (register the methods)
    checkpoint_ensemble,
    feature,
    logit,
    mixup,
    multi_teacher,
    self_distill,
    stagewise,
)

__all__ = ["METHODS", "Batch", "BindContext", "DistillMethod", "FrozenOutputs", "build_method"]
