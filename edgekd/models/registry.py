"""The model registry: recipes name a key, never an import path."""

from __future__ import annotations

from typing import Any, Callable

from edgekd.errors import InputError
from edgekd.registry import Registry

def _check_builder(key: str, obj: Any) -> None:
    if not callable(obj):
        raise TypeError(f"model {key!r} must be a callable (num_classes=, input_shape=, **params) -> nn.Module")


#: built-in architectures, and plugins' through the ``edgekd.models`` entry-point group
MODELS: Registry[Callable[..., Any]] = Registry("model", group="edgekd.models", check=_check_builder)


def build_model(name: str, *, num_classes: int, input_shape: tuple[int, ...], **kwargs: Any):
    """Build a registered model.

    Args:
        name: registry key, e.g. ``heart_student``.
        num_classes: size of the output layer.
        input_shape: one example's shape, channel first, e.g. ``(1, 32, 188)``.
        kwargs: architecture options the builder accepts (e.g. ``width``).
    """
    builder = MODELS.get(name)
    try:
        return builder(num_classes=num_classes, input_shape=tuple(input_shape), **kwargs)
    except (TypeError, ValueError, ArithmeticError, IndexError, RuntimeError) as exc:
        # parameters the architecture cannot take (kernel: 0, widths: [], a plugin's own checks): the recipe's
        # fault, named, exit 2 (torch reports a zero kernel as a RuntimeError in the shape probe)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise InputError(f"model {name!r}: cannot be built with {kwargs!r:.200}: {first}") from None
