"""``edgekd sweep --export-best FILE``: the chosen trial as a recipe that ``edgekd run`` re-runs and gates.

The recipe is the sweep's base recipe with the trial's values set; a teacher the sweep trained (and
cached) becomes ``teacher.checkpoint`` with ``train.epochs: 0``, so the re-run distils from the same
teacher. Read from ``sweep.json`` only: no study, no database.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

from edgekd.errors import InputError


def choose_trial(summary: dict, pick: Optional[int] = None) -> dict:
    """Trial ``pick``, or the front's most accurate trial (ties: the smaller file)."""
    rows = summary.get("trials") or []
    if pick is not None:
        row = next((r for r in rows if r["number"] == pick), None)
        if row is None:
            raise InputError(f"--pick {pick}: no such trial (the study has {len(rows)})")
        if row["state"] != "COMPLETE":
            raise InputError(f"--pick {pick}: trial {pick} is {row['state']}, not complete")
        return row
    front = [r for r in rows if r.get("pareto")]
    if not front:
        raise InputError("sweep.json: no feasible trial is on the front yet; nothing to export (see its trials)")
    return max(front, key=lambda r: (r["figures"]["metric"], -r["figures"]["size_kb"]))


def read_summary(out: Path) -> dict:
    """``out/sweep.json``, checked to hold what ``--export-best`` reads (else exit 2 naming the file and key)."""
    path = out / "sweep.json"
    if not path.is_file():
        raise InputError(f"--out {out}: no sweep.json there; run the sweep first")
    try:
        from edgekd.inputfile import parse_json

        summary = parse_json(path.read_bytes(), path, "sweep summary")
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InputError(f"{path}: not JSON ({' '.join(str(exc).split())[:200]})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not isinstance(summary, dict) or summary.get("schema") != "edgekd.sweep/1":
        raise InputError(f"{path}: not an edgekd.sweep/1 file")
    check_summary(summary, path)
    return summary


def _need(node: Any, key: str, kind: Any, where: str, path: Path) -> Any:
    value = node.get(key) if isinstance(node, dict) else None
    ok = isinstance(value, kind) and not (isinstance(value, bool) and kind in ((int, float), int))
    if not ok or (isinstance(value, float) and not math.isfinite(value)):
        names = "/".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise InputError(f"{path}: {where}{key}: missing or not a {'finite ' if 'float' in names else ''}{names} "
                         f"(got {value!r:.60}); a damaged or hand-edited sweep.json: run the sweep again")
    return value


def check_summary(summary: dict, path: Path) -> None:
    """The keys ``--export-best`` reads, with their kinds: a truncated or edited file is refused naming the key.

    Raises:
        InputError: ``FILE: trials[3].figures.metric: missing or not a finite int/float``.
    """
    recipe = _need(summary, "recipe", dict, "", path)
    _need(recipe, "base", dict, "recipe.", path)
    _need(recipe, "name", str, "recipe.", path)
    target = _need(summary, "target", dict, "", path)
    _need(target, "name", str, "target.", path)
    _need(target, "budgets", dict, "target.", path)
    _need(summary, "study", str, "", path)
    for i, row in enumerate(_need(summary, "trials", list, "", path)):
        where = f"trials[{i}]."
        if not isinstance(row, dict):
            raise InputError(f"{path}: trials[{i}]: not a trial (a JSON object)")
        _need(row, "number", int, where, path)
        state = _need(row, "state", str, where, path)
        if state == "COMPLETE" or row.get("pareto"):
            _need(row, "parameters", dict, where, path)
            figures = _need(row, "figures", dict, where, path)
            for key in ("metric", "size_kb", "latency_p90_ms"):
                _need(figures, key, (int, float), f"{where}figures.", path)
            _need(figures, "metric_name", str, f"{where}figures.", path)


def _trial_recipe(summary: dict, row: dict, dest: Path) -> dict:
    """The base recipe with the trial's values, the sweep's cached teacher, and the fp32 twin the gate compares."""
    from edgekd.sweep.trial import trial_tree

    tree = trial_tree(summary["recipe"]["base"], row["parameters"], str(dest))
    ckpt = row["figures"].get("teacher_checkpoint")
    if ckpt and tree.get("teacher", {}).get("train", {}).get("epochs", 1) != 0:
        tree["teacher"]["checkpoint"] = ckpt
        tree["teacher"].setdefault("train", {})["epochs"] = 0
    tree["name"] = f"{summary['recipe']['name']}-trial{row['number']}"
    precisions = tree.setdefault("export", {}).get("precisions")
    if "accuracy_drop_pp" in summary["target"]["budgets"] and precisions and "fp32" not in precisions:
        tree["export"]["precisions"] = ["fp32", *precisions]  # the gate compares the int8 file with its fp32 twin
    return tree


def export_best(out: Path, dest: Path, pick: Optional[int] = None) -> tuple[dict, Path]:
    """Write the chosen trial's recipe to ``dest`` (atomically). Returns ``(trial row, dest)``."""
    import yaml

    from edgekd.atomic import write_text
    from edgekd.recipe import recipe_from_tree

    summary = read_summary(out)
    row = choose_trial(summary, pick)
    try:
        tree = _trial_recipe(summary, row, dest)
    except (AttributeError, KeyError, TypeError) as exc:  # a base recipe edited into another shape
        raise InputError(f"{out / 'sweep.json'}: recipe.base: trial {row['number']}'s recipe cannot be built from it "
                         f"({type(exc).__name__}: {exc})") from None
    try:
        recipe_from_tree(tree, str(dest))  # what is written must load
    except InputError as exc:
        raise InputError(f"{out / 'sweep.json'}: trial {row['number']}'s recipe does not load: {exc}") from None
    f = row["figures"]
    header = (f"# Trial {row['number']} of sweep study {summary['study']!r} ({out / 'sweep.json'}): the recipe's values "
              f"with {json.dumps(row['parameters'])}\n"
              f"# validation {f['metric_name']} {f['metric']:.3f}, {f['size_kb']:.1f} KiB, latency p90 "
              f"{f['latency_p90_ms']:.3f} ms on {summary['target']['name']}"
              f"{' (estimated)' if f.get('latency_estimated') else ''}; within budgets: {row.get('feasible')}\n"
              f"# Re-run and gate: edgekd run {dest} && edgekd gate runs/{tree['name']}/report.json "
              f"--target {summary['target']['name']}\n")
    write_text(dest, header + yaml.safe_dump(tree, sort_keys=False))
    return row, dest
