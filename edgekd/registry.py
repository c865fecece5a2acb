"""Name → object registries: one per kind (models, losses, exporters, runners).

A recipe names registered keys, never import paths, so a config file can never
run arbitrary code (unlike torchdistill's ``!import_call``).
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from edgekd.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of builders of one kind.

    Args:
        kind: what the entries are ("model", "loss", ...), used in messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@MODELS.register("heart_student")``."""

        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        """Return the entry, or raise ``InputError`` naming the close matches."""
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._items, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            known = ", ".join(sorted(self._items)) or "none"
            raise InputError(f"unknown {self.kind} {name!r}{hint} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
