"""Reading typed YAML files (recipes, target profiles): safe loading and messages that name the key.

``yaml.SafeLoader`` only (a subclass that also refuses a key given twice): a config can never construct Python
objects or run code, and an alias bomb is refused before anything expands it.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from edgekd.errors import InputError
from edgekd.inputfile import read_bytes

# A config's tree once its aliases are expanded: a recipe or profile has hundreds of values. The cap refuses a
# "billion laughs" file (nine aliases of nine aliases... load as a few shared lists, then expand to 10^9 values
# in whatever walks them: validation, JSON, a report) and an alias that contains itself (a list that is its own
# element), which would recurse without end.
MAX_EXPANDED_VALUES = 100_000


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(key, line)
        self.key, self.line = key, line


class _StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (YAML keeps the last one silently, so
    ``lr: 0.01`` ... ``lr: 0.1`` further down would train with 0.1 without a word)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: SafeLoader's own error names it
                duplicate = False
            if duplicate:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
            try:
                seen.add(key)
            except TypeError:
                pass
        return super().construct_mapping(node, deep=deep)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` that also refuses duplicate keys (``_DuplicateKey``)."""
    return yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass: no Python objects


def expanded_size(tree: Any, where: str) -> int:
    """How many nodes ``tree`` holds (mappings, lists, keys, values) with every alias expanded; ``InputError``
    naming ``where`` when it refers to itself or exceeds ``MAX_EXPANDED_VALUES``.

    >>> expanded_size({"a": [1, 2], "b": "x"}, "r.yaml")  # the mapping, 2 keys, the list and its 2 items, "x"
    7
    """
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise InputError(f"{where}: an alias refers to the mapping or list that contains it (an endless value)")
        open_.add(key)
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        total = 1 + sum(size(child) for child in children)
        open_.discard(key)
        sizes[key] = total
        if total > MAX_EXPANDED_VALUES:
            raise InputError(f"{where}: its aliases expand to more than {MAX_EXPANDED_VALUES:,} values "
                             "(an alias bomb, not a config)")
        return total

    try:
        return size(tree)
    except RecursionError:
        raise InputError(f"{where}: nests too deeply to read") from None


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """Load ``path`` as a YAML mapping, or raise ``InputError`` naming the file.

    Args:
        path: the file.
        what: what it is, for messages (``"recipe"``, ``"target profile"``).
    """
    data = read_bytes(path, what)  # a regular file: a FIFO or device is refused before it is opened
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); save the {what} as UTF-8") from None
    try:
        tree = safe_load(text)
    except _DuplicateKey as dup:
        raise InputError(f"{path}: line {dup.line}: key {dup.key!r} is given twice in the same section "
                         "(YAML would keep the last silently)") from None
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())
        raise InputError(f"{path}: not valid YAML: {first}") from None
    except RecursionError:  # thousands of nested [ or {: the YAML composer recurses per level
        raise InputError(f"{path}: the {what} file nests too deeply to read (not an edgekd {what} file)") from None
    if not isinstance(tree, dict):
        raise InputError(f"{path}: a {what} is a mapping of keys")
    expanded_size(tree, str(path))
    return tree


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (nested) model that holds the key at ``loc``, for did-you-mean hints."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        current = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def validation_message(exc: ValidationError, source: str, model: type[BaseModel]) -> str:
    """One line per problem: ``FILE: unknown key 'data.clases' (did you mean 'data.classes'?)``."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), _known_keys(model, loc), n=1)
            hint = f" (did you mean {'.'.join([*map(str, loc[:-1]), close[0]])!r}?)" if close else ""
            lines.append(f"{source}: unknown key {key!r}{hint}")
        elif err["type"] == "missing":
            lines.append(f"{source}: missing key {key!r}")
        elif not loc:  # a rule across keys (a model validator): its message names them
            lines.append(f"{source}: {err['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"{source}: {key}: {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)


def parse_value(raw: str, where: str) -> Any:
    """A command-line value read as YAML (``5``, ``[fp32, int8]``, ``{a: 1}``), or an ``InputError`` naming ``where``."""
    try:
        value = safe_load(raw)
    except _DuplicateKey as dup:
        raise InputError(f"{where}: {raw!r}: key {dup.key!r} is given twice") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}: {raw!r} is not a YAML value ({problem})") from None
    except RecursionError:
        raise InputError(f"{where}: the value nests too deeply to read") from None
    expanded_size(value, where)
    return value


def validate(model: type[BaseModel], tree: dict[str, Any], source: str) -> Any:
    """``model.model_validate(tree)``, turning validation errors into one ``InputError``."""
    try:
        return model.model_validate(tree)
    except ValidationError as exc:
        raise InputError(validation_message(exc, source, model)) from None


def set_key(tree: dict, dotted: str, value: Any, source: str) -> None:
    """Set ``a.b.c`` in a config tree (a recipe's or a profile's ``--set``, a sweep trial's parameters), creating
    sections on the way.

    >>> tree = {"student": {}}; set_key(tree, "student.train.epochs", 5, "r.yaml"); tree
    {'student': {'train': {'epochs': 5}}}
    """
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        nxt = node.setdefault(k, {})
        if not isinstance(nxt, dict):
            raise InputError(f"{source}: --set {dotted}: {k!r} is not a section")
        node = nxt
    node[keys[-1]] = value


def parse_overrides(pairs: list[str]) -> list[tuple[str, Any]]:
    """``["student.train.epochs=5"]`` → ``[("student.train.epochs", 5)]`` (values parsed as YAML).

    >>> parse_overrides(["budgets.size_kb=256"])
    [('budgets.size_kb', 256)]
    """
    out = []
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set student.train.epochs=5")
        if any(not part.strip() for part in key.split(".")):
            raise InputError(f"--set {pair!r}: {key!r} is not a dotted key "
                             "(e.g. student.train.epochs, budgets.size_kb)")
        out.append((key, parse_value(raw, f"--set {key}")))
    return out
