"""What a model is trained with, from its recipe section: the logit loss, wrapped in a method if one is named.

The pipeline, pruning recovery and QAT all build their training objective here
and pass it to ``train_model`` as ``loss_fn``, so every distillation method
works in every training step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekd.errors import InputError


def _class_weights(train_y: np.ndarray, num_classes: int) -> list[float]:
    """Inverse-frequency weights (mean 1) of the hard-label term."""
    counts = np.bincount(train_y, minlength=num_classes).astype(float)
    return (counts.sum() / (len(counts) * np.maximum(counts, 1))).tolist()


def build_objective(spec, train_y: np.ndarray, num_classes: int, *, where: str):
    """The ``loss_fn`` for ``train_model`` from a recipe ``ModelSpec``.

    Args:
        spec: the role's ``ModelSpec`` (``loss`` and optional ``distill``).
        train_y: training labels (for the hard term's class weights, unless the recipe sets them).
        num_classes: number of classes.
        where: the recipe key of the role (``student``), for messages.
    Returns:
        A loss (no ``distill``) or a distillation method wrapping it.
    """
    from edgekd.training.losses import build_loss, takes_class_weights

    params = dict(spec.loss.params)
    if takes_class_weights(spec.loss.name) and "class_weights" not in params:
        params["class_weights"] = _class_weights(np.asarray(train_y), num_classes)
    loss = build_loss(spec.loss.name, params, where=f"{where}.loss")
    if spec.distill is None:
        return loss
    from edgekd.distillation.methods import build_method

    return build_method(spec.distill.method, spec.distill.params, loss, where=f"{where}.distill")


def check_objective(spec, *, where: str) -> None:
    """Validate ``loss`` and ``distill`` before any work: names, parameters, checkpoint files."""
    from edgekd.training.losses import build_loss

    loss = build_loss(spec.loss.name, spec.loss.params, where=f"{where}.loss")
    if spec.distill is None:
        return
    if where == "teacher":
        raise InputError("teacher.distill: the teacher is trained without distillation; remove 'distill'")
    from edgekd.distillation.methods import build_method

    method = build_method(spec.distill.method, spec.distill.params, loss, where=f"{where}.distill")
    for key, path in _checkpoint_paths(method.params.model_dump(), f"{where}.distill.params"):
        if not Path(path).is_file():
            raise InputError(f"{key}: {path}: file not found")


def _checkpoint_paths(tree: Any, key: str):
    """(recipe key, path) of every ``checkpoint``/``checkpoints`` value in a method's parameters."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == "checkpoint" and isinstance(v, str):
                yield f"{key}.{k}", v
            elif k == "checkpoints" and isinstance(v, list):
                yield from ((f"{key}.{k}[{i}]", p) for i, p in enumerate(v))
            else:
                yield from _checkpoint_paths(v, f"{key}.{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _checkpoint_paths(v, f"{key}[{i}]")
