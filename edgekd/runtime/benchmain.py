"""Device-side benchmark entry point: ``python -m edgekd.runtime.benchmain ARTIFACT [options]`` prints one JSON object.

This is what the ssh runner executes on a device with the device's own Python.
It needs only numpy and a runtime: the ssh runner ships this module with the few
``edgekd`` files it imports (``SHIPPED_FILES``) into a temporary folder, so the
device does not need edgekd installed, and the code that measures is the same
version as the host's.

Exit codes as the CLI: 0 ok, 2 bad input (e.g. the runtime cannot load the file),
3 the runtime failed while running.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

#: Package files (relative to the folder that holds ``edgekd/``) this module needs on a device.
SHIPPED_FILES = (
    "edgekd/__init__.py",
    "edgekd/errors.py",
    "edgekd/runtime/__init__.py",
    "edgekd/runtime/artifact.py",
    "edgekd/runtime/native_log.py",  # what LiteRT prints on loading, held back
    "edgekd/runtime/pte.py",  # imported only for a .pte (which needs executorch and torch on the device)
    "edgekd/runtime/latency.py",
    "edgekd/runtime/benchmain.py",
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
    return p


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
