"""Name → object registries, one per kind (models, tasks, losses, methods, runners, ...), open to plugins.

A recipe names registered keys, never import paths, so a config file can never
run arbitrary code (unlike torchdistill's ``!import_call``). Installed packages
add keys through standard entry points: a registry with ``group="edgekd.models"``
loads every entry point of that group the first time it is asked for a key
(``importlib.metadata``), each entry point's name being the key and its object
the value. A plugin that fails to import is recorded with its error and the
others keep working; a key that two distributions register is refused when
used, naming both. Nothing here imports torch.

Example:
    >>> from edgekd.registry import Registry
    >>> COLOURS = Registry("colour")
    >>> _ = COLOURS.register("red")("#f00")
    >>> COLOURS.get("red")
    '#f00'
    >>> COLOURS.get("rde")
    Traceback (most recent call last):
    ...
    edgekd.errors.InputError: unknown colour 'rde'; did you mean red? (known: red)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, Optional, TypeVar

from edgekd.errors import InputError, PluginError

T = TypeVar("T")


@dataclass
class PluginEntry:
    """One entry point of an installed distribution, as loaded (or not).

    Attributes:
        group: the entry-point group (``edgekd.models``, ...).
        key: the registry key (the entry point's name).
        value: ``module:attribute`` it points at.
        distribution: the installed distribution that declares it (``name version``).
        error: why it is not usable (import failure, duplicate key), or None.
    """

    group: str
    key: str
    value: str
    distribution: str
    error: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "kind": self.group.split(".", 1)[-1], "key": self.key, "value": self.value,
                "distribution": self.distribution, "error": self.error}


def entry_points_of(group: str) -> list[Any]:
    """The installed entry points of ``group`` (``importlib.metadata``), sorted by name."""
    from importlib.metadata import entry_points

    return sorted(entry_points(group=group), key=lambda ep: (ep.name, ep.value))


def _distribution(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown distribution"
    return f"{dist.metadata['Name']} {dist.version}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):  # the plugin's module called sys.exit() while it was imported
        return f"SystemExit: it called sys.exit({exc.code!r}) while being imported"
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Registry(Generic[T]):
    """A named table of builders of one kind, filled by edgekd and by installed plugins.

    Args:
        kind: what the entries are ("model", "loss", ...), used in messages.
        group: the entry-point group plugins register under (None: built-ins only).
        check: called as ``check(key, obj)`` on every plugin object before it is accepted;
            raises (any exception) when the object is not of the right kind.
    """

    def __init__(self, kind: str, group: Optional[str] = None, check: Optional[Callable[[str, Any], None]] = None) -> None:
        self.kind = kind
        self.group = group
        self._check = check
        self._items: dict[str, T] = {}
        self._plugins: dict[str, PluginEntry] = {}  # key -> the plugin entry that provided it (or failed to)
        self._loaded = group is None

    # ------------------------------------------------------------ built-ins
    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@MODELS.register("heart_student")``."""

        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    # ------------------------------------------------------------ plugins
    def _load_plugins(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        seen: dict[str, PluginEntry] = {}
        builtin = set(self._items)
        for ep in entry_points_of(self.group):
            entry = PluginEntry(self.group, ep.name, ep.value, _distribution(ep))
            if ep.name in builtin:
                entry.error = f"key {ep.name!r} is built into edgekd; the built-in is used"
                seen.setdefault(f"{ep.name}#builtin-{entry.distribution}", entry)
                continue
            if ep.name in seen:
                first = seen[ep.name]
                message = (f"{self.kind} {ep.name!r} is registered by two plugins: {first.distribution} "
                           f"({first.value}) and {entry.distribution} ({entry.value}); uninstall one")
                first.error = entry.error = message
                self._items.pop(ep.name, None)
                seen[f"{ep.name}#dup-{entry.distribution}"] = entry
                continue
            seen[ep.name] = entry
            try:
                obj = ep.load()
                if self._check is not None:
                    self._check(ep.name, obj)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a broken plugin must not break the others, even one that calls
                # sys.exit() (SystemExit) or raises another BaseException while it is imported
                entry.error = f"cannot load {ep.value}: {_reason(exc)}"
                continue
            self._items[ep.name] = obj
        self._plugins = seen

    def plugin_entries(self) -> list[PluginEntry]:
        """Every entry point of this registry's group, with its error if it is not usable."""
        self._load_plugins()
        return list(self._plugins.values())

    # ------------------------------------------------------------ lookup
    def get(self, name: str) -> T:
        """Return the entry, or raise ``InputError`` naming the close matches (or the plugin's problem)."""
        self._load_plugins()
        entry = self._plugins.get(name)
        if entry is not None and entry.error is not None and name not in self._items:
            raise PluginError(f"{self.kind} {name!r} comes from the plugin {entry.distribution}, which is not "
                              f"usable: {entry.error}")
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), list(self._items), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            known = ", ".join(sorted(self._items)) or "none"
            raise InputError(f"unknown {self.kind} {name!r}{hint} (known: {known})") from None

    def source(self, name: str) -> str:
        """Where a key comes from: ``"edgekd"`` or the plugin distribution."""
        self._load_plugins()
        entry = self._plugins.get(name)
        return entry.distribution if entry is not None and entry.error is None else "edgekd"

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
