"""The front-end beside the model: which real items ``bench`` times it on, and the figures every runner returns.

The front-end is the sidecar's step list (``edgekd.runtime.steps``), timed by
``edgekd.runtime.latency.measure_frontend`` on the runner that times the model:
here (``local``), on the device (``ssh``: ``benchmain --frontend``), under qemu
(``emulated``: labelled so). The ``estimate`` runner has no figure for it.

The items are, in order of preference: the files given (``--items``), a labelled
folder (``--data``), the golden inputs beside the artifact (``NAME.golden/inputs/``);
without any, ``frontend`` is null and ``frontend_reason`` says why. ``finish``
adds the per-item ``end_to_end`` sum (``edgekd.runtime.latency.end_to_end``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from edgekd.errors import InputError

#: at most this many items are timed (a labelled folder is sampled evenly through its sorted list)
MAX_ITEMS = 50


@dataclass(frozen=True)
class FrontendJob:
    """What to time: the step list (JSON, so the options stay hashable), the item files and where they came from."""

    steps_json: str
    items: tuple[str, ...]
    source: str  # "items", "data", "golden" or "test split"

    @property
    def steps(self) -> list[dict[str, Any]]:
        return json.loads(self.steps_json)


def sidecar_steps(artifact: Path) -> tuple[Optional[list], Optional[str], tuple[str, ...]]:
    """``(steps, None, extensions)`` of the artifact's front-end, or ``(None, why not, ())``."""
    import os

    from edgekd.runtime.frontends import frontend_of_sidecar
    from edgekd.runtime.sidecar import read_sidecar, sidecar_path

    if not os.path.lexists(sidecar_path(artifact)):
        return None, "the artifact has no sidecar (NAME.edgekd.json) to say its front-end", ()
    meta = read_sidecar(artifact)  # a sidecar that is there but broken is refused (exit 2), never "not timed"
    try:
        frontend = frontend_of_sidecar(meta, f"{artifact} (sidecar)")
    except InputError as exc:  # a plugin's front-end that is not installed here
        return None, f"the sidecar's front-end cannot be run here ({exc})", ()
    if not hasattr(frontend, "steps"):
        return None, f"its front-end ({getattr(frontend, 'kind', '?')}) has no step list to run", ()
    return frontend.steps(), None, tuple(getattr(frontend, "extensions", ()))


def spread(paths: Sequence[Path], n: int = MAX_ITEMS) -> list[Path]:
    """At most ``n`` of ``paths``, evenly spaced through them (all when there are fewer)."""
    if len(paths) <= n:
        return list(paths)
    if n <= 1:
        return list(paths[:n])
    step = (len(paths) - 1) / (n - 1)
    return [paths[round(i * step)] for i in range(n)]


def _regular_items(items: Sequence[Any]) -> tuple[list[Path], list[str]]:
    """The given item files, and why each one that is not an existing regular file is refused (a missing file, a
    folder, a FIFO, socket or device: ``edgekd.inputfile.regular_file``'s message, naming it by its kind)."""
    from edgekd.inputfile import regular_file

    paths, refused = [], []
    for item in items:
        try:
            paths.append(regular_file(item, "--items"))
        except InputError as exc:
            refused.append(str(exc))
    return paths, refused


def frontend_job(artifact: Path, items: Optional[Sequence[Any]] = None, data: Optional[Any] = None,
                 source: Optional[str] = None) -> tuple[Optional[FrontendJob], Optional[str]]:
    """The front-end timing ``bench`` does for ``artifact``: ``(job, None)`` or ``(None, why it is not timed)``.

    Raises:
        InputError: a given item that is not an existing regular file (a folder, a FIFO, a socket or a device is
            refused by its kind), or a labelled folder that cannot be read.
    """
    steps, why, extensions = sidecar_steps(artifact)
    if steps is None:
        return None, f"not timed: {why}"
    if items:
        paths, refused = _regular_items(items)
        if refused:
            raise InputError(refused[0] + (f" (and {len(refused) - 1} more of the --items refused)"
                                           if len(refused) > 1 else ""))
        where = source or "items"
    elif data is not None:
        from edgekd.runtime.labelled import read_labelled_folder

        paths = [it.path for it in read_labelled_folder(Path(data), extensions=extensions or (".wav",))]
        where = source or "data"
    else:
        golden = artifact.with_suffix(".golden") / "inputs"
        paths = sorted(p for p in golden.iterdir() if p.is_file()) if golden.is_dir() else []
        if not paths:
            return None, (f"not timed: no items to run it on (give --items FILE... or --data DIR; there are no "
                          f"golden inputs beside the artifact in {golden})")
        where = "golden"
    chosen = spread(paths)
    return FrontendJob(json.dumps(steps), tuple(os.fspath(p) for p in chosen), where), None


def time_here(job: FrontendJob, opts: Any) -> dict[str, Any]:
    """``measure_frontend`` in this process: ``{"frontend": ...}`` or ``{"frontend": None, "frontend_reason": ...}``."""
    from edgekd.runtime.latency import measure_frontend

    try:
        return {"frontend": measure_frontend(job.steps, list(job.items), runs=opts.runs, warmup=1,
                                             max_seconds=opts.max_seconds)}
    except InputError as exc:
        return {"frontend": None, "frontend_reason": f"not timed: {exc}"}
    except Exception as exc:  # a front-end crash: the model's figures stand, the reason says what happened
        return {"frontend": None, "frontend_reason": f"not timed: the front-end failed ({type(exc).__name__}: {exc})"}


def finish(result: dict[str, Any], artifact: Path, job: Optional[FrontendJob], reason: Optional[str]) -> dict:
    """Fill ``frontend`` / ``frontend_reason`` / ``end_to_end`` of a runner's ``bench --json`` result, in place."""
    from edgekd.runtime.latency import end_to_end

    runner = result.get("runner", "?")
    if "frontend" not in result:  # the runner did not time it
        if job is None:
            why = reason or "not timed: no items to run it on"
        elif runner == "estimate" or result.get("estimated"):
            why = ("not measured: the estimate runner estimates the model's invoke from its graph and has no figure "
                   "for the front-end (the local, ssh or emulated runner times it)")
        else:
            why = f"not timed: the {runner} runner does not time the front-end"
        result["frontend"] = None
        result["frontend_reason"] = why
    fe = result["frontend"]
    if fe:
        fe.update(runner=runner, emulated=bool(result.get("emulated")), source=job.source if job else fe.get("source"))
        if result.get("emulated"):
            fe["note"] = "timed under qemu-user emulation: says nothing about the device's speed"
    per_invoke = _per_invoke(artifact)
    result["end_to_end"] = end_to_end(result, fe, per_invoke)
    if result["end_to_end"] is None:
        result["end_to_end_reason"] = ("the front-end was not timed" if not fe else "the model has no latency figure")
    return result


def _per_invoke(artifact: Path) -> int:
    from edgekd.runtime.latency import windows_per_invoke

    try:
        from edgekd.runtime.sidecar import read_sidecar

        return windows_per_invoke(read_sidecar(artifact).get("input"))
    except InputError:
        return 1


def staged(job: FrontendJob, into: Path, prefix: str) -> dict[str, Any]:
    """Copy the job's items into ``into/items/`` and return the device's job: ``{"steps", "items"}`` with the
    item paths as ``prefix + "items/<name>"`` (the device reads them from there)."""
    import shutil

    (into / "items").mkdir(parents=True, exist_ok=True)
    names = []
    for k, item in enumerate(job.items):
        name = f"{k:03d}-{Path(item).name}"
        shutil.copyfile(item, into / "items" / name)
        names.append(f"{prefix}items/{name}")
    return {"steps": job.steps, "items": names}
