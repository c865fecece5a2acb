"""Reading a front-end's settings from a recipe or sidecar mapping: unknown keys fail with a hint.

Shared by the audio and image front-ends (numpy-free, runtime-safe).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Mapping

from edgekd.errors import InputError


def dataclass_from_settings(cls: Any, d: Any, where: str = "front-end") -> Any:
    """``cls(**d)`` for a dataclass ``cls``, refusing a non-mapping or an unknown key (with a did-you-mean)."""
    if not isinstance(d, Mapping):
        raise InputError(f"{where}: expected a mapping of settings, got {type(d).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    for key in d:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f"; known keys: {', '.join(names)}"
            raise InputError(f"{where}: unknown key '{key}'{hint}")
    return cls(**d)


def pop_kind(d: Any, kind: str) -> Any:
    """``d`` without its ``kind`` key, after checking the key (when present) names ``kind``.

    A mapping is copied; anything else is returned as it is (``dataclass_from_settings`` refuses it).
    """
    if not isinstance(d, Mapping):
        return d
    d = dict(d)
    found = d.pop("kind", kind)
    if found != kind:
        raise InputError(f"front-end: kind {found!r} given to the {kind!r} front-end")
    return d
