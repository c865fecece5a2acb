"""``edgekd sweep --export-best FILE``: the chosen trial as a recipe that ``edgekd run`` re-runs and gates.

The recipe is the sweep's base recipe with the trial's values set; a teacher the sweep trained (and
cached) becomes ``teacher.checkpoint`` with ``train.epochs: 0``, so the re-run distils from the same
teacher. Read from ``sweep.json`` only: no study, no database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

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
    path = out / "sweep.json"
    if not path.is_file():
        raise InputError(f"--out {out}: no sweep.json there; run the sweep first")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{path}: not JSON ({exc})") from None
    if summary.get("schema") != "edgekd.sweep/1":
        raise InputError(f"{path}: not an edgekd.sweep/1 file")
    return summary


def export_best(out: Path, dest: Path, pick: Optional[int] = None) -> tuple[dict, Path]:
    """Write the chosen trial's recipe to ``dest`` (atomically). Returns ``(trial row, dest)``."""
    import yaml

    from edgekd.atomic import write_text
    from edgekd.recipe import recipe_from_tree
    from edgekd.sweep.trial import trial_tree

    summary = read_summary(out)
    row = choose_trial(summary, pick)
    tree = trial_tree(summary["recipe"]["base"], row["parameters"], str(dest))
    ckpt = row["figures"].get("teacher_checkpoint")
    if ckpt and tree.get("teacher", {}).get("train", {}).get("epochs", 1) != 0:
        tree["teacher"]["checkpoint"] = ckpt
        tree["teacher"].setdefault("train", {})["epochs"] = 0
    tree["name"] = f"{summary['recipe']['name']}-trial{row['number']}"
    precisions = tree.setdefault("export", {}).get("precisions")
    if "accuracy_drop_pp" in summary["target"]["budgets"] and precisions and "fp32" not in precisions:
        tree["export"]["precisions"] = ["fp32", *precisions]  # the gate compares the int8 file with its fp32 twin
    recipe_from_tree(tree, str(dest))  # what is written must load
    f = row["figures"]
    header = (f"# Trial {row['number']} of sweep study {summary['study']!r} ({out / 'sweep.json'}): the recipe's values "
              f"with {json.dumps(row['parameters'])}\n"
              f"# validation {f['metric_name']} {f['metric']:.3f}, {f['size_kb']:.1f} KiB, latency p90 "
              f"{f['latency_p90_ms']:.3f} ms on {summary['target']['name']}"
              f"{' (estimated)' if f['latency_estimated'] else ''}; within budgets: {row['feasible']}\n"
              f"# Re-run and gate: edgekd run {dest} && edgekd gate runs/{tree['name']}/report.json "
              f"--target {summary['target']['name']}\n")
    write_text(dest, header + yaml.safe_dump(tree, sort_keys=False))
    return row, dest
