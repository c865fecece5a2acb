"""Run one model file's raw int8 inputs through a TFLite interpreter with each op resolver; write the raw outputs.

Runs in either environment (LiteRT in `.venv`, tflite-runtime 2.14 in `.venv-device`): numpy and the
interpreter only. Called by ``benchmarks/conformance_spread.py``.

Usage: ``python benchmarks/kernel_worker.py MODEL.tflite INPUTS.npy OUT.npz RESOLVER...`` where RESOLVER is
``AUTO`` (the default: XNNPACK where it applies), ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (the built-in
optimized kernels) or ``BUILTIN_REF`` (the reference kernels).
"""

from __future__ import annotations

import sys

import numpy as np


def main(model: str, inputs: str, out: str, resolvers: list[str]) -> None:
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        runtime = "ai-edge-litert"
    except ImportError:
        from tflite_runtime.interpreter import Interpreter, OpResolverType

        runtime = "tflite-runtime"
    import importlib.metadata as md

    version = md.version(runtime)
    x = np.load(inputs)
    results = {}
    for name in resolvers:
        it = Interpreter(model_path=model, num_threads=1,
                         experimental_op_resolver_type=getattr(OpResolverType, name))
        it.allocate_tensors()
        i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
        rows = []
        for window in x:
            it.set_tensor(i, window[None])
            it.invoke()
            rows.append(it.get_tensor(o)[0].copy())
        results[f"{runtime}=={version}:{name}"] = np.stack(rows)
    np.savez(out, **results)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
