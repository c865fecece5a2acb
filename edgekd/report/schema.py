"""Build, write and read ``report.json`` (schema ``edgekd.report/1``, see CONTRACTS.md)."""

from __future__ import annotations

import json
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


def build_report(recipe, recipe_path, data, frontend, trained, artifacts, targets, *, seconds: float) -> dict:
    """Assemble the report from the stages' outputs (no measurement happens here)."""
    from edgekd.report.budgets import recipe_budgets
    from edgekd.versions import versions

    return {
        "schema": SCHEMA,
        "recipe": {"path": str(recipe_path), "name": recipe.name, "config": recipe.model_dump(mode="json")},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "versions": versions(),
        "seed": recipe.seed,
        "data": {
            "name": Path(recipe.data.path).name,
            "path": recipe.data.path,
            "classes": data.classes,
            "positive": data.positive,
            "hash": data.data_hash,
            "split_seed": recipe.seed if recipe.data.split.seed is None else recipe.data.split.seed,
            "splits": _split_summary(data.windows),
            "test_files": [r.file for r in data.windows["test"].recordings],
        },
        "frontend": frontend.to_dict(),
        "models": [
            {
                "name": t.spec.model,
                "role": t.role,
                "params": t.params,
                "macs": t.macs,
                "loss": {"name": t.spec.loss.name, **t.spec.loss.params},
                "train": {
                    "best_epoch": t.train.best_epoch,
                    "best_val_score": t.train.best_score,
                    "epochs_run": t.train.epochs_run,
                    "resumed_from": t.train.resumed_from,
                    "seconds": round(t.train.seconds, 1),
                },
                "metrics_torch": t.torch_metrics,
            }
            for t in trained
        ],
        "targets": [{"name": t.name, "arch": t.arch, "threads": t.threads, "budgets": recipe_budgets(recipe, t).model_dump(exclude_none=True),
                     "source": t.source} for t in targets],
        "artifacts": artifacts,
    }


def write_report(report: dict, out: Path) -> Path:
    """Write ``out/report.json`` atomically."""
    path = out / "report.json"
    write_json(path, report)
    return path


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a report, refusing an unknown or older schema with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: report not found")
    try:
        report = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc})") from None
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        got = report.get("schema") if isinstance(report, dict) else None
        raise InputError(f"{path}: schema {got!r} is not {SCHEMA!r}")
    return report
