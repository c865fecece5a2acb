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

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Protocol

import numpy as np

from edgekd.errors import InputError
from edgekd.registry import Registry
from edgekd.runtime.frontend import AudioFrontend
from edgekd.runtime.image import IMAGE_EXTENSIONS, ImageFrontend
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


#: the files each reader step takes
_READER_EXTENSIONS = {"read_wav": (".wav",), "decode_image": IMAGE_EXTENSIONS, "load_npy": (".npy",)}


@dataclass(frozen=True)
class StepFrontend:
    """A front-end that is only its step list (a sidecar v2's ``frontend.steps``), run by ``run_steps``.

    The device needs no class of the front-end: the steps say everything, so a plugin's
    front-end made of standard steps runs where the plugin is not installed.
    """

    kind: str
    step_list: tuple
    extensions: tuple[str, ...]
    input_shape: tuple[int, ...]

    def steps(self, *, resample: bool = False) -> list[dict[str, Any]]:
        steps = [dict(s) for s in self.step_list]
        if resample and steps and steps[0].get("step") == "read_wav":
            steps[0]["resample"] = True
        return steps

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "steps": self.steps()}

    def config_hash(self) -> str:
        import hashlib
        import json

        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def load(self, path: Any, *, resample: bool = False) -> np.ndarray:
        from edgekd.runtime.steps import run_file

        return run_file(self.steps(resample=resample), path)


def frontend_of_sidecar(meta: Mapping[str, Any], where: Any) -> Frontend:
    """The front-end a sidecar describes.

    Schema 2: its ``frontend.steps`` are run as they are (every step must be one this runtime
    knows); a front-end without steps (a plugin's) is built from its ``kind`` and ``settings``.
    Schema 1: built from the settings (older sidecars: the kind their ``task`` implies).

    Raises:
        InputError: no ``frontend`` section, an unknown kind or step, or a bad setting (naming ``where``).
    """
    from edgekd.runtime.steps import STEPS

    section = meta.get("frontend")
    if not isinstance(section, Mapping):
        raise InputError(f"{where}: the sidecar has no 'frontend' section")
    steps = section.get("steps")
    kind = section.get("kind") or _LEGACY_KIND.get(meta.get("task") if isinstance(meta.get("task"), str) else None)
    if isinstance(steps, list) and steps:
        unknown = [s.get("step") for s in steps if isinstance(s, Mapping) and s.get("step") not in STEPS]
        if not unknown:
            reader = steps[0].get("step") if isinstance(steps[0], Mapping) else None
            known_kind = kind in FRONTENDS if isinstance(kind, str) else False
            exts = FRONTENDS.get(kind).extensions if known_kind else _READER_EXTENSIONS.get(reader)
            if exts is None:
                raise InputError(f"{where}: the front-end's first step {reader!r} does not read a file")
            shape = (meta.get("input") or {}).get("shape") or []
            return StepFrontend(str(kind), tuple(steps), tuple(exts), tuple(shape[1:]))
        if not (isinstance(kind, str) and kind in FRONTENDS):
            raise InputError(f"{where}: the front-end uses step {unknown[0]!r}, which this runtime does not know "
                             f"(it knows {', '.join(sorted(STEPS))}); a newer edgekd or the plugin that adds it "
                             "can run it")
    settings = section.get("settings", section) if "settings" in section else section
    if kind is None:
        raise InputError(f"{where}: the sidecar's front-end has no 'kind' and its task {meta.get('task')!r} "
                         "does not imply one")
    try:
        return build_frontend({k: v for k, v in settings.items() if k != "steps"}, kind)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
