"""Build, write and read ``report.json`` (schema ``edgekd.report/1``, see CONTRACTS.md)."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgekd.atomic import write_json
from edgekd.errors import InputError

SCHEMA = "edgekd.report/1"


def _split_summary(windows: dict) -> dict:
    out = {}
    for split, ws in windows.items():
        groups: dict[str, dict[str, int]] = {}
        for r in ws.recordings:
            groups.setdefault(r.group, {}).setdefault(r.label, 0)
            groups[r.group][r.label] += 1
        out[split] = {"recordings": len(ws.recordings), "windows": int(len(ws.x)), "by_group": groups}
    return out


def build_report(*, recipe: dict, seed: int, data: Any, frontend: dict, models: list[dict], targets: list[dict],
                 artifacts: list[dict], seconds: float) -> dict:
    """Assemble the report from the stages' outputs (no measurement happens here).

    Args:
        recipe: ``{"path", "name", "config"}`` of the run (the recipe, or the API call's settings).
        seed: the run's seed.
        data: the prepared data (``classes``, ``positive``, ``data_hash``, ``source``, ``split_seed``,
            ``windows`` per split).
        frontend: the front-end's settings. models: one entry per trained model (``name``, ``role``,
            ``params``, ``macs``, ``loss``, ``train``, ``metrics_torch``).
        targets: ``{"name", "arch", "threads", "budgets", "source"}`` per target.
        artifacts: the measured artifacts. seconds: the run's duration.
    """
    from edgekd.versions import versions

    return {
        "schema": SCHEMA,
        "recipe": recipe,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "versions": versions(),
        "seed": seed,
        "data": {
            "name": Path(data.source).name,
            "path": data.source,
            "classes": data.classes,
            "positive": data.positive,
            "hash": data.data_hash,
            "split_seed": data.split_seed,
            "splits": _split_summary(data.windows),
            "test_files": [r.file for r in data.windows["test"].recordings],
        },
        "frontend": frontend,
        "models": models,
        "targets": targets,
        "artifacts": artifacts,
    }


def write_report(report: dict, out: Path) -> Path:
    """Write ``out/report.json`` atomically."""
    path = out / "report.json"
    write_json(path, report)
    return path


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a report, refusing an unknown or older schema with a clear message."""
    from edgekd.inputfile import read_json

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a report.json")
    if not os.path.lexists(path):
        raise InputError(f"{path}: report not found")
    report = read_json(path, "report")  # a regular file (never a FIFO), JSON nested no deeper than a report
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        got = report.get("schema") if isinstance(report, dict) else None
        raise InputError(f"{path}: schema {got!r} is not {SCHEMA!r}")
    return report
