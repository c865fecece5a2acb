"""Device-side benchmark entry point: ``python -m edgekd.runtime.benchmain ARTIFACT [options]`` prints one JSON object.

This is what the ssh runner executes on a device with the device's own Python.
It needs only numpy and a runtime: the ssh runner ships this module with the few
``edgekd`` files it imports (``SHIPPED_FILES``) into a temporary folder, so the
device does not need edgekd installed, and the code that measures is the same
version as the host's.

With ``--frontend JOB.json`` (``{"steps": [...], "items": [paths]}``, paths relative to the JSON file) it
also times the front-end's step list on those items after the model (``measure_frontend``) and adds
``frontend`` (or ``frontend: null`` with ``frontend_reason``) and ``end_to_end``.

Exit codes as the CLI: 0 ok, 2 bad input (e.g. the runtime cannot load the file),
3 the runtime failed while running.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional, Sequence

#: Package files (relative to the folder that holds ``edgekd/``) this module needs on a device.
SHIPPED_FILES = (
    "edgekd/__init__.py",
    "edgekd/errors.py",
    "edgekd/inputfile.py",  # every input file is checked to be a regular file before it is opened
    "edgekd/runtime/__init__.py",
    "edgekd/runtime/artifact.py",
    "edgekd/runtime/native_log.py",  # what LiteRT prints on loading, held back
    "edgekd/runtime/pte.py",  # imported only for a .pte (which needs executorch and torch on the device)
    "edgekd/runtime/latency.py",
    "edgekd/runtime/benchmain.py",
    "edgekd/runtime/steps.py",  # the front-end's steps (--frontend), and what they read with
    "edgekd/runtime/audio.py",
    "edgekd/runtime/pixels.py",
    "edgekd/runtime/npyfile.py",
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m edgekd.runtime.benchmain", description=__doc__.splitlines()[0])
    p.add_argument("artifact")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--cv-target", type=float, default=None)
    p.add_argument("--min-runs", type=int, default=30)
    p.add_argument("--runtime", default=None, help="force ai-edge-litert, tflite-runtime, onnxruntime or executorch")
    p.add_argument("--frontend", default=None, metavar="JOB.json",
                   help='also time the front-end: {"steps": [...], "items": [files relative to JOB.json]}')
    return p


def frontend_timing(job_file: str, model: dict, art: Any, runs: int, max_seconds: float) -> dict:
    """``frontend`` (or null and ``frontend_reason``) and ``end_to_end`` for the job in ``job_file``."""
    import os

    from edgekd.errors import InputError
    from edgekd.runtime.latency import end_to_end, measure_frontend, windows_per_invoke

    try:
        with open(job_file, encoding="utf-8") as f:
            job = json.load(f)
        base = os.path.dirname(os.path.abspath(job_file))
        steps, items = list(job["steps"]), [os.path.join(base, item) for item in job["items"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--frontend {job_file}: not a front-end job ({exc})") from None
    try:
        fe = measure_frontend(steps, items, runs=runs, warmup=1, max_seconds=max_seconds)
    except InputError as exc:
        return {"frontend": None, "frontend_reason": f"not timed: {exc}", "end_to_end": None}
    except Exception as exc:  # the front-end crashed: the model's figure stands, the reason says what happened
        return {"frontend": None, "frontend_reason": f"not timed: the front-end failed ({type(exc).__name__}: {exc})",
                "end_to_end": None}
    return {"frontend": fe, "end_to_end": end_to_end(model, fe, windows_per_invoke(art.input))}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from edgekd.errors import EdgekdError
    from edgekd.runtime.artifact import load_artifact
    from edgekd.runtime.latency import measure_latency

    try:
        art = load_artifact(args.artifact, threads=args.threads, runtime=args.runtime)
        result = measure_latency(
            art, runs=args.runs, warmup=args.warmup, max_seconds=args.max_seconds,
            cv_target=args.cv_target, min_runs=args.min_runs,
        )
        if args.frontend:
            result.update(frontend_timing(args.frontend, result, art, args.runs, args.max_seconds))
    except EdgekdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # a runtime crash mid-run: report it as a backend failure
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
