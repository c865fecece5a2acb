"""``edgekd.write_report``: step-by-step results (prepare → distill → prune → export → evaluate → bench) as a
portable ``report.json`` (schema ``edgekd.report/1``) that ``edgekd gate`` reads.

Paths are written relative to the report's folder, so the folder can be moved or checked out elsewhere with
its artifacts; the file is written atomically (temp file + rename).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from edgekd.errors import InputError


def _record_of(item: Any, i: int) -> dict:
    """One artifact record from ``Exported.measured(...)``'s dict or an ``(Exported, Evaluation[, Benchmark])``."""
    if isinstance(item, Mapping):
        return dict(item)
    if isinstance(item, (tuple, list)) and len(item) in (2, 3) and hasattr(item[0], "measured"):
        return item[0].measured(item[1], item[2] if len(item) == 3 else None)
    raise InputError(f"artifacts[{i}]: expected a record from Exported.measured(evaluation, benchmark) or an "
                     f"(exported, evaluation, benchmark) tuple, got {type(item).__name__}")


def _relative(path: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:  # another drive (Windows): only an absolute path can say where it is
        return str(path)


def _portable(record: dict, i: int, folder: Path, base: Path) -> dict:
    """The record with its file checked (present, SHA-256) and its paths relative to the report's folder."""
    from edgekd.hashing import file_sha256

    missing = [k for k in ("name", "target", "format", "precision", "path") if not record.get(k)]
    if missing:
        raise InputError(f"artifacts[{i}]: the record lacks {', '.join(missing)} (make it with "
                         "Exported.measured(evaluation, benchmark))")
    file = Path(record["path"])
    file = (file if file.is_absolute() else base / file).resolve()
    if not file.is_file():
        raise InputError(f"artifacts[{i}] ({record['name']}): {file} not found")
    sha = file_sha256(file)
    if record.get("sha256", sha) != sha:
        raise InputError(f"artifacts[{i}] ({record['name']}): {file} changed since it was measured (SHA-256 "
                         f"{sha[:12]}... is not the record's {str(record['sha256'])[:12]}...): measure it again")
    rel = _relative(file, folder)
    if Path(rel).is_absolute() or ".." in Path(rel).parts:  # the gate and edgekd bundle refuse such a report
        raise InputError(f"artifacts[{i}] ({record['name']}): {file} is outside the report's folder {folder}: a "
                         "report describes the files beside or below it; write it in a folder that holds them")
    out = {"role": "student", **record, "path": rel, "sha256": sha,
           "size_bytes": file.stat().st_size}
    for key in ("metrics", "latency"):
        if isinstance(out.get(key), Mapping) and "artifact" in out[key]:
            out[key] = {**out[key], "artifact": out["path"]}
    return out


def _data_section(data: Any) -> tuple[dict, dict]:
    """The report's ``data`` and ``frontend`` from a ``Prepared`` (empty without one)."""
    if data is None:
        return {}, {}
    from edgekd.api.datasets import Prepared

    if not isinstance(data, Prepared):
        raise InputError(f"data: expected the result of edgekd.prepare, got {type(data).__name__}")
    from edgekd.report.schema import build_report

    whole = build_report(recipe={}, seed=0, data=data, frontend={}, models=[], targets=[], artifacts=[], seconds=0)
    return whole["data"], data.task.frontend.to_dict()


def _budgets_by_target(rows: list[dict], budgets: Mapping[str, Any]) -> tuple[dict, list[dict]]:
    """Each target's budgets (its profile's, if one of that name exists, with ``budgets[target]`` over them)."""
    from edgekd.report.budgets import layered_budgets
    from edgekd.targets import Budgets, available_targets, load_target
    from edgekd.yamlconf import validate

    names = list(dict.fromkeys(r["target"] for r in rows))
    unknown = sorted(set(budgets) - set(names))
    if unknown:
        raise InputError(f"budgets: {', '.join(map(repr, unknown))} is not a target of these artifacts "
                         f"({', '.join(names)})")
    known = available_targets()
    by_target, targets = {}, []
    for name in names:
        override = budgets.get(name)
        if name in known:
            profile = load_target(name)
            b = layered_budgets(profile, override, where=f"budgets.{name}")
            targets.append({"name": name, "arch": profile.arch, "threads": profile.threads,
                            "budgets": b.model_dump(exclude_none=True), "source": profile.source})
        else:  # no profile of that name ("local"): only the budgets given here
            b = validate(Budgets, dict(override or {}), f"budgets.{name}")
            targets.append({"name": name, "budgets": b.model_dump(exclude_none=True), "source": "budgets="})
        by_target[name] = b
    return by_target, targets


def _unique_rows(rows: list[dict]) -> list[dict]:
    """The rows, refused when two share a name on one target (the gate could not tell them apart)."""
    seen: set[tuple[str, str]] = set()
    for r in rows:
        if (r["name"], r["target"]) in seen:
            raise InputError(f"artifacts: two records are called {r['name']!r} on {r['target']!r}; give each file "
                             "its own name (export(..., name=...))")
        seen.add((r["name"], r["target"]))
    return rows


def write_report(path: Union[str, Path], artifacts: Sequence[Any], *, data: Any = None,
                 models: Optional[Sequence[Mapping[str, Any]]] = None,
                 budgets: Optional[Mapping[str, Mapping[str, Any]]] = None, seed: Optional[int] = None,
                 name: str = "steps") -> Path:
    """Write ``report.json`` from step-by-step results, for ``edgekd gate`` (the CLI or ``edgekd.gate``).

    Every artifact's file must exist and be the file that was measured (its SHA-256 is recorded, and checked
    again by the gate). Paths are written relative to the report's folder; the write is atomic. Each
    artifact's ``budget`` verdict is filled in with the gate's own checker (the profile of its target, with
    ``budgets`` over it), so the report says what ``edgekd gate`` will say.

    Args:
        path: the report file (``.../report.json``), or a folder to write ``report.json`` into.
        artifacts: one record per file, from ``exported.measured(edgekd.evaluate(...), edgekd.bench(...))``
            (``role="teacher"`` marks a reference that is never gated), or ``(exported, evaluation, benchmark)``
            tuples. For the accuracy-drop budget, include the int8 file's fp32 twin (same format and target).
        data: the ``edgekd.prepare`` result: classes, split sizes and the data's hash go into the report.
        models: the report's ``models`` entries, as you want them recorded (optional).
        budgets: ``{target: {"size_kb": 64, ...}}`` layered over each target's profile; recorded where the gate
            reads a run's own budgets (``recipe.config.export.budgets``).
        seed: the run's seed, recorded. name: what the report calls the run.

    Returns:
        The path of ``report.json``.

    Raises:
        InputError: no artifacts, a record without its identity or file, a file changed since it was
            measured, a file outside the report's folder (its path would climb out with ``..``, which the gate
            refuses), two records of one name on one target, budgets for a target the artifacts lack.

    Example:
        >>> import pathlib, tempfile, numpy as np, torch, edgekd
        >>> run = pathlib.Path(tempfile.mkdtemp())
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
        >>> art = edgekd.export(net, run / "artifacts" / "net.onnx", example=torch.zeros(1, 1, 4, 4), target="x86_64",
        ...                     log=lambda s: None)
        >>> x = np.random.default_rng(0).normal(size=(10, 1, 4, 4)).astype("float32")
        >>> record = art.measured(edgekd.evaluate(art.path, (x, np.arange(10) % 2)), edgekd.bench(art.path, "x86_64"))
        >>> report = edgekd.write_report(run / "report.json", [record], budgets={"x86_64": {"accuracy_drop_pp": None}})
        >>> import json; json.loads(report.read_text())["artifacts"][0]["path"]
        'artifacts/net.onnx'
    """
    from edgekd.atomic import write_json
    from edgekd.report.budgets import apply_budgets
    from edgekd.report.validation import check_structure

    path = Path(path) if Path(path).suffix.lower() == ".json" and not Path(path).is_dir() else Path(path) / "report.json"
    folder = path.parent.resolve()
    artifacts = [artifacts] if isinstance(artifacts, Mapping) or not isinstance(artifacts, (list, tuple)) else artifacts
    if not artifacts:
        raise InputError("artifacts: give at least one measured artifact (Exported.measured(evaluation, benchmark))")
    rows = _unique_rows([_portable(_record_of(a, i), i, folder, Path.cwd()) for i, a in enumerate(artifacts)])
    overrides = {k: dict(v) for k, v in (budgets or {}).items()}
    by_target, targets = _budgets_by_target(rows, overrides)
    apply_budgets(rows, by_target)
    report = _report(rows, targets, overrides, data=data, models=models, seed=seed, name=name)
    check_structure(report, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, report)
    return path


def _report(rows: list[dict], targets: list[dict], overrides: dict, *, data: Any,
            models: Optional[Sequence[Mapping[str, Any]]], seed: Optional[int], name: str) -> dict:
    """The ``report.json`` object (schema ``edgekd.report/1``) around the portable artifact records."""
    from edgekd.report.schema import SCHEMA
    from edgekd.versions import versions

    data_section, frontend = _data_section(data)
    return {
        "schema": SCHEMA,
        "recipe": {"path": None, "name": name, "config": {"export": {"budgets": overrides}}},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": 0.0,
        "versions": versions(),
        **({"seed": int(seed)} if seed is not None else {}),
        "data": data_section,
        "frontend": frontend,
        "models": [dict(m) for m in models or []],
        "targets": targets,
        "artifacts": rows,
    }
