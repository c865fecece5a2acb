"""The shared steps of the benchmarks that make the models edgekd ships (heart and plant).

1. ``train_teacher``: the recipe's teacher on the full dev set's train split (selected on val), resumable;
2. ``ship_teacher``: its weights as a plain ``state_dict`` (loads with ``weights_only=True``) with a
   provenance file (command, data hash, seed, versions, the items it saw; ``edgekd.models.provenance``);
3. ``run_student``: the recipe end to end for one training seed, distilled from the shipped teacher on the
   same split (``teacher.train.epochs: 0``), every figure measured on the exported files;
4. ``ship_artifacts``: the final int8 student files with their sidecars, so anyone can ``edgekd eval`` them;
5. table helpers: a figure with its 95 % interval and n, and a mean ± sd over seeds.
"""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent

from edgekd.atomic import write_text  # noqa: E402
from edgekd.pipeline import build_role, default_log, prepare_data, run  # noqa: E402
from edgekd.recipe import load_recipe  # noqa: E402

Log = Callable[[str], None]


def train_teacher(recipe: Any, out: Path, log: Log = default_log) -> tuple[Any, Any, Any]:
    """Train (or resume) the recipe's teacher on its train split, as ``edgekd run`` does.

    Returns:
        (teacher module, the prepared data, the ``Distilled`` result).
    """
    import edgekd

    data = prepare_data(recipe, log)
    teacher = build_role(recipe, "teacher", data.task, len(data.classes))
    result = edgekd.distill(
        teacher, train=data.windows["train"], val=data.windows["val"], task=data.task, classes=data.classes,
        positive=data.positive, loss=recipe.teacher.loss, seed=recipe.seed, workdir=out / "checkpoints" / "teacher",
        log=lambda s: log(f"  [teacher] {s}"), **recipe.teacher.train.model_dump())
    return result.model, data, result


def ship_teacher(recipe: Any, teacher: Any, data: Any, result: Any, dest: Path, command: str) -> Path:
    """Write ``dest`` (a ``state_dict``) and ``dest.json`` (its provenance); returns ``dest``."""
    import tempfile

    import torch

    from edgekd.models.provenance import write_provenance
    from edgekd.versions import versions

    dest.parent.mkdir(parents=True, exist_ok=True)
    if _same_weights(dest, teacher):  # torch.save writes a random serialization id: keep the shipped bytes
        return dest
    with tempfile.NamedTemporaryFile(dir=dest.parent, suffix=".tmp", delete=False) as tmp:
        torch.save({k: v.detach().clone() for k, v in teacher.state_dict().items()}, tmp.name)
    Path(tmp.name).replace(dest)
    val = result.val_metrics
    write_provenance(
        dest, model=recipe.teacher.model, params=recipe.teacher.params, command=command,
        data={"path": str(data.source), "hash": data.data_hash, "split_seed": data.split_seed,
              "split": recipe.data.split.model_dump(mode="json")},
        seed=recipe.seed, train=recipe.teacher.train.model_dump(mode="json"),
        frontend=recipe.frontend, augment=recipe.data.augment,
        selection={"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                   "val_score_smoothed": result.best_score,
                   "val": {k: val[k] for k in ("n", "accuracy", "balanced_accuracy", "macc", "ci95") if k in val},
                   "val_per_group": _val_per_group(result)},
        pretrained=getattr(teacher, "pretrained_source", None),
        versions=versions(), seen={"train": data.train.recordings, "val": data.val.recordings})
    return dest


def _same_weights(path: Path, model: Any) -> bool:
    """Whether ``path`` (a shipped ``state_dict``) holds exactly ``model``'s weights, with its provenance beside it."""
    import torch

    from edgekd.models.provenance import provenance_path

    if not (path.is_file() and provenance_path(path).is_file()):
        return False
    stored = torch.load(path, map_location="cpu", weights_only=True)
    current = model.state_dict()
    return stored.keys() == current.keys() and all(torch.equal(stored[k], current[k]) for k in current)


def _val_per_group(result: Any) -> dict:
    best = [h for h in result.history if h["epoch"] == result.best_epoch]
    return best[0].get("val_group_scores", {}) if best else {}


def run_student(recipe_path: Path, overrides: Sequence[str], out: Path, log: Log = default_log) -> dict:
    """``edgekd run`` of the recipe with ``overrides`` into ``out`` (resumes); returns the report."""
    recipe = load_recipe(recipe_path, list(overrides))
    return run(recipe, str(recipe_path.relative_to(ROOT)), out, log=log)


def deploy_parser(doc: str, task: str, data: str) -> Any:
    """The command line of a deploy benchmark (``heart_deploy.py``, ``plant_deploy.py``)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--data", default=data, help="the dev folder (default: the full shared set)")
    ap.add_argument("--out", default=str(ROOT / "runs" / f"{task}-deploy"))
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--teacher", default=str(ROOT / "models" / f"{task}-teacher.pt"), help="where the teacher is shipped")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--set", action="append", default=[], help="recipe overrides for teacher and students")
    ap.add_argument("--render", action="store_true", help=f"only re-render {task}_deploy.md from {task}_deploy.json")
    return ap


def stored_results(results: str | Path, stem: str) -> tuple[dict, dict[int, dict]]:
    """A deploy benchmark's stored JSON and its reports keyed by seed (for ``--render``)."""
    import json

    stored = json.loads((Path(results) / f"{stem}.json").read_text())
    return stored, {int(k): v for k, v in stored["reports"].items()}


def best_seed(reports: dict[int, dict]) -> int:
    """The seed whose student has the best validation score (the one shipped; test is not looked at)."""
    return max(reports, key=lambda s: next(m["train"]["best_val_score"] for m in reports[s]["models"]
                                           if m["role"] == "student"))


def artifact(report: dict, role: str, fmt: str, precision: str, target: str = "x86_64") -> dict:
    """The artifact row of ``role`` / ``fmt`` / ``precision`` on ``target`` (KeyError when absent)."""
    for a in report["artifacts"]:
        if (a["role"], a["format"], a["precision"], a["target"]) == (role, fmt, precision, target):
            return a
    raise KeyError(f"{role} {fmt} {precision} on {target} is not in the report")


def ship_artifacts(report: dict, run_dir: Path, dest: Path, roles: Sequence[str] = ("student",),
                   precisions: Sequence[str] = ("int8",), target: str = "x86_64", replace: bool = False) -> list[str]:
    """Copy the run's final files (TFLite and ONNX, with sidecars) to ``dest``; returns the names copied.

    ``replace`` first removes the files of ``roles`` shipped there before (another precision's names would linger).
    """
    dest.mkdir(parents=True, exist_ok=True)
    if replace:
        for old in dest.iterdir():
            if old.name.split("-")[0] in roles:
                old.unlink()
    copied = []
    for a in report["artifacts"]:
        if a["role"] in roles and a["precision"] in precisions and a["target"] == target:
            src = run_dir / a["path"]
            for f in (src, src.with_suffix(".edgekd.json")):  # the file and its sidecar
                shutil.copyfile(f, dest / f.name)
                copied.append(f.name)
    if not copied:
        raise RuntimeError(f"no {'/'.join(precisions)} {'/'.join(roles)} artifact found in {run_dir}")
    return sorted(set(copied))


def ci_of(m: dict, key: str) -> list | None:
    """The 95 % interval of ``m[key]``, computed from the confusion matrix by ``edgekd.runtime.intervals`` (so
    every table uses one method, whenever its runs were made); the stored ``ci95`` when there is no matrix."""
    if "confusion" not in m:
        return (m.get("ci95") or {}).get(key)
    from edgekd.runtime.intervals import metric_intervals

    labels = m.get("labels") or []
    pos = labels.index(m["positive"]) if m.get("positive") in labels else None
    return metric_intervals(m["confusion"], pos).get(key)


def with_ci(m: dict, key: str) -> str:
    """``0.812 [0.74, 0.87]``: a figure with its 95 % interval (``ci_of``)."""
    pair = ci_of(m, key)
    interval = f" [{pair[0]:.2f}, {pair[1]:.2f}]" if pair and None not in pair else ""
    return f"{m[key]:.3f}{interval}"


def mean_sd(values: Sequence[float]) -> str:
    """``0.763 ± 0.006`` (sample sd; ``± –`` for one value)."""
    if len(values) < 2:
        return f"{values[0]:.3f} ± –"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def write_md(path: Path, text: str) -> None:
    """Write a results table atomically and echo it."""
    write_text(path, text)
    print(text, file=sys.stdout)
