"""The method registry and its builder (typed parameters, named errors)."""

from __future__ import annotations

from typing import Any

from edgekd.training.losses import LossFn
from edgekd.errors import InputError
from edgekd.registry import Registry
from edgekd.yamlconf import validate

def _check_method(key: str, obj: object) -> None:
    from edgekd.training.method import DistillMethod

    if not (isinstance(obj, type) and issubclass(obj, DistillMethod)):
        raise TypeError(f"distillation method {key!r} must subclass edgekd.distillation.methods.DistillMethod")


#: built-in methods, and plugins' through the ``edgekd.distill_methods`` entry-point group
METHODS: Registry[type] = Registry("distillation method", group="edgekd.distill_methods", check=_check_method)


def build_method(name: str, params: dict[str, Any], loss: LossFn, *, where: str = "student.distill"):
    """Build a registered method; a misspelled or wrong parameter fails naming the key.

    Args:
        name: registry key (``logit``, ``feature``, ``multi_teacher``, ...).
        params: the recipe's ``params`` mapping.
        loss: the logit-level loss (from ``build_loss``), used by every method.
        where: the recipe key, for messages.
    """
    try:
        cls = METHODS.get(name)
    except InputError as exc:
        raise InputError(f"{where}.method: {exc}") from None
    typed = validate(cls.Params, dict(params), f"{where}.params (method {name!r})")
    return cls(typed, loss)
