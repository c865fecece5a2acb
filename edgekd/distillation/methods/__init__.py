"""Distillation methods, found by name in ``METHODS`` (one module per method).

A method wraps the per-batch behaviour of a distillation recipe — which
teacher outputs it needs, how inputs are mixed, the loss — and
``edgekd.training.trainer.train_model`` calls it. Any caller of ``train_model``
(the pipeline, pruning recovery, QAT) passes a method where it would pass a
loss: ``train_model(model, train, val, build_method(name, params, loss), ...)``.
"""

from edgekd.training import logit  # noqa: F401  (registers ``logit``, the trainer's default)
from edgekd.training.method import Batch, BindContext, DistillMethod, FrozenOutputs
from edgekd.training.methods import METHODS, build_method
from edgekd.distillation.methods import (  # noqa: F401  (register the methods)
    checkpoint_ensemble,
    feature,
    mixup,
    multi_teacher,
    self_distill,
    stagewise,
)

__all__ = ["METHODS", "Batch", "BindContext", "DistillMethod", "FrozenOutputs", "build_method"]
