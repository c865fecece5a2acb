"""Is a space key a recipe key? Walks the typed recipe, with did-you-mean, before any trial runs.

``student.params.X`` is checked against the registered model's own arguments; other free-form sections
(``frontend``, ``data.augment``, ``*.loss.params``) are checked by building a recipe with each value
(``edgekd.sweep.check``).
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from typing import Any, Optional

from pydantic import BaseModel

from edgekd.errors import InputError


def _model_of(annotation: Any) -> Optional[type]:
    """The pydantic model an annotation holds (through Optional/Union), or None for a free-form value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _hint(word: str, known: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean {prefix + close[0]!r}?)" if close else ""


def model_arguments(model_key: str) -> Optional[list[str]]:
    """The keyword arguments a registered model accepts beyond ``num_classes``/``input_shape`` (None: any)."""
    from edgekd.models.registry import MODELS

    builder = MODELS.get(model_key)
    params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return [n for n in params if n not in ("num_classes", "input_shape")]


def check_recipe_key(key: str, recipe_model: type, student_model: Optional[str], source: str) -> None:
    """Refuse a dotted key that names no recipe setting.

    Raises:
        InputError: ``SPACE: params.student.train.epoch: not a recipe key (did you mean 'student.train.epochs'?)``.
    """
    parts = key.split(".")
    current: Optional[type] = recipe_model
    for i, part in enumerate(parts):
        fields = current.model_fields if current is not None else {}
        prefix = ".".join(parts[:i]) + ("." if i else "")
        if part not in fields:
            raise InputError(f"{source}: params.{key}: not a recipe key{_hint(part, list(fields), prefix)}")
        field = fields[part]
        nxt = _model_of(field.annotation)
        if nxt is None:
            rest = parts[i + 1:]
            if prefix + part == "student.params" and rest and student_model is not None:
                accepted = model_arguments(student_model)
                if accepted is not None and rest[0] not in accepted:
                    raise InputError(f"{source}: params.{key}: model {student_model!r} has no argument {rest[0]!r}"
                                     f"{_hint(rest[0], accepted, 'student.params.')}; it takes "
                                     f"{', '.join(accepted) or 'none'}")
            return
        current = nxt
