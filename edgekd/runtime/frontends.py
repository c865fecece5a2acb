"""The device-side front-ends, by kind: ``logmel`` (audio), ``image`` (photos), ``tensor`` (``.npy``), and plugins'.

Sidecars carry the front-end's settings (``frontend``, with its ``kind``); this
is the one place that maps them to a front-end object, on the training side and
on the device. Every front-end has the same small protocol: ``kind``,
``extensions`` (the files its ``load`` reads), ``from_dict``/``to_dict``,
``input_shape``, ``config_hash()`` and ``load(path, *, resample=False)`` → the
model inputs of one file, ``(n_windows, *input_shape)``. Installed packages add
kinds through the ``edgekd.frontends`` entry-point group.

Example:
    >>> from edgekd.runtime.frontends import build_frontend
    >>> build_frontend({"kind": "tensor", "shape": [1, 8, 8]}).input_shape
    (1, 8, 8)
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Protocol

import numpy as np

from edgekd.errors import InputError
from edgekd.registry import Registry
from edgekd.runtime.frontend import AudioFrontend
from edgekd.runtime.image import ImageFrontend
from edgekd.runtime.tensor import TensorFrontend


class Frontend(Protocol):
    """What every front-end offers (see the module docstring)."""

    kind: str
    extensions: tuple[str, ...]

    @property
    def input_shape(self) -> tuple[int, ...]: ...

    def to_dict(self) -> dict[str, Any]: ...

    def config_hash(self) -> str: ...

    def load(self, path: Any, *, resample: bool = False) -> np.ndarray: ...


def _check_frontend(key: str, obj: Any) -> None:
    for attr in ("from_dict", "extensions", "load"):
        if not hasattr(obj, attr):
            raise TypeError(f"front-end {key!r} has no {attr!r}")


FRONTENDS: Registry[Any] = Registry("front-end", group="edgekd.frontends", check=_check_frontend)
for _cls in (AudioFrontend, ImageFrontend, TensorFrontend):
    FRONTENDS.register(_cls.kind)(_cls)

#: sidecars written before front-ends had a ``kind``: their task says which one
_LEGACY_KIND = {None: "logmel", "audio-classification": "logmel", "image-classification": "image"}


def build_frontend(settings: Mapping[str, Any], kind: Optional[str] = None) -> Frontend:
    """The front-end of ``kind`` (default: ``settings["kind"]``) built from ``settings``.

    Raises:
        InputError: an unknown kind, or a bad setting.
    """
    if not isinstance(settings, Mapping):
        raise InputError(f"front-end: expected a mapping of settings, got {type(settings).__name__}")
    kind = kind or settings.get("kind")
    if kind is None:
        raise InputError("front-end: its settings do not say which kind it is ('kind')")
    return FRONTENDS.get(kind).from_dict(settings)


def frontend_of_sidecar(meta: Mapping[str, Any], where: Any) -> Frontend:
    """The front-end a sidecar describes (older sidecars: the kind its ``task`` implies).

    Raises:
        InputError: no ``frontend`` section, an unknown kind or a bad setting (naming ``where``).
    """
    settings = meta.get("frontend")
    if not isinstance(settings, Mapping):
        raise InputError(f"{where}: the sidecar has no 'frontend' section")
    kind = settings.get("kind") or _LEGACY_KIND.get(meta.get("task"))
    if kind is None:
        raise InputError(f"{where}: the sidecar's front-end has no 'kind' and its task {meta.get('task')!r} "
                         "does not imply one")
    try:
        return build_frontend(settings, kind)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
