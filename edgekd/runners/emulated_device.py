"""The far side of the emulated runner: runs inside the arm64 root, under qemu, with numpy + one runtime.

``python3 -m edgekd.runners.emulated_device JOBDIR`` reads ``JOBDIR/request.json``
(artifact file name, runtime, threads, latency settings) and ``JOBDIR/inputs.npy``
(the parity inputs, already in the artifact's dtype and layout, stacked on a new
first axis), runs each input once and saves the raw outputs to ``JOBDIR/outputs.npy``,
then times the artifact with ``edgekd.runtime.latency.measure_latency`` (the local
runner's loop) and, when the request has a ``frontend`` job (``steps``, ``items``
relative to JOBDIR), the front-end's steps on those items (``measure_frontend``),
and writes ``JOBDIR/result.json``.

It imports only the stdlib, numpy and ``edgekd.runtime`` (the files the emulated
runner copies into the root), never pydantic, yaml, torch or TensorFlow.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from edgekd.errors import EdgekdError, InputError
from edgekd.runtime.artifact import load_artifact
from edgekd.runtime.latency import measure_frontend, measure_latency


def run_job(job: Path) -> dict:
    """Run the parity inputs, then the latency loop, for the job in ``job``; return the latency result."""
    request = json.loads((job / "request.json").read_text())
    artifact = load_artifact(job / request["artifact"], threads=request["threads"], runtime=request["runtime"])
    inputs = np.load(job / "inputs.npy")
    outputs = np.stack([artifact.invoke_raw(np.ascontiguousarray(x)) for x in inputs])
    np.save(job / "outputs.npy", outputs)
    result = measure_latency(
        artifact,
        runs=request["runs"],
        warmup=request["warmup"],
        max_seconds=request["max_seconds"],
        cv_target=request["cv_target"],
        x=np.ascontiguousarray(inputs[0]),
    )
    frontend = request.get("frontend")
    if frontend:
        try:
            result["frontend"] = measure_frontend(frontend["steps"], [str(job / p) for p in frontend["items"]],
                                                  runs=request["runs"], warmup=1, max_seconds=request["max_seconds"])
        except InputError as exc:
            result.update(frontend=None, frontend_reason=f"not timed: {exc}")
        except Exception as exc:  # a front-end crash under qemu: the model's figures stand
            result.update(frontend=None, frontend_reason=f"not timed: the front-end failed ({type(exc).__name__}: "
                                                         f"{exc})")
    return result


def main(argv: list[str]) -> int:
    """Entry point: exit 0 with ``result.json`` written, or exit 2/3 with ``error.json`` (message, exit code)."""
    job = Path(argv[0])
    try:
        result = run_job(job)
    except EdgekdError as exc:
        (job / "error.json").write_text(json.dumps({"message": str(exc), "exit_code": exc.exit_code}))
        return exc.exit_code
    except Exception as exc:  # a runtime crash inside the emulated root is a backend failure
        (job / "error.json").write_text(json.dumps({"message": f"{type(exc).__name__}: {exc}", "exit_code": 3}))
        return 3
    (job / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
