"""Reports checked against their published JSON Schema (``report.schema.json``, schema ``edgekd.report/1``).

``schema_errors`` lists every violation with its location. The gate splits them:
a report it cannot even read (not an object, no artifacts, an artifact without a
name, target, format or precision) is bad input (exit 2); a malformed *figure*
(``size_bytes: "big"``, ``metrics.macc: null``, a missing ``sha256``) is left to the
budget checks, which fail that artifact's budgets naming the figure (exit 1).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Mapping

from edgekd.errors import InputError

SCHEMA_FILE = Path(__file__).with_name("report.schema.json")
#: fields that say which artifact a record is: without them nothing can be gated
IDENTITY = ("name", "target", "format", "precision", "role")


@functools.lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """The published JSON Schema of ``report.json``."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def schema_errors(report: Any) -> list[tuple[tuple, str]]:
    """Every violation of the schema: ``(location, message)``, location as a tuple of keys and indices."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(report_schema())
    return [(tuple(e.absolute_path), e.message) for e in sorted(validator.iter_errors(report), key=lambda e: list(
        map(str, e.absolute_path)))]


def _is_figure(location: tuple) -> bool:
    return len(location) >= 3 and location[0] == "artifacts" and isinstance(location[1], int) \
        and location[2] not in IDENTITY


def check_structure(report: Any, label: str) -> None:
    """Refuse a report the gate cannot read at all; malformed figures are left to the budget checks.

    Raises:
        InputError: one line naming the report and the first structural problem.
    """
    if not isinstance(report, Mapping):
        raise InputError(f"{label}: a report is a JSON object, got {type(report).__name__}")
    for location, message in schema_errors(report):
        if _is_figure(location):
            continue
        if len(location) == 2 and location[0] == "artifacts" and "is a required property" in message \
                and not any(f"'{k}'" in message for k in IDENTITY):
            continue  # a missing figure (size_bytes, sha256, metrics): the checks fail it by name
        where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in location).replace(".[", "[")
        raise InputError(f"{label}: {where or 'report'}: {message}")
