"""Drop debug strings from a TFLite flatbuffer: names of internal tensors.

litert-torch names every intermediate tensor after its full torch module path
(hundreds of bytes each); in a 20 k-parameter model they are about a fifth of
the file. Input/output tensor names and signatures are kept, so loaders and
sidecars still match; the graph, weights and quantization are untouched. An
internal tensor gets no name at all (the schema's name is optional; runtimes read
it as ""), and the file is written with shared small vectors
(``edgekd.exporting.tflite_write``).
"""

from __future__ import annotations

from pathlib import Path

from edgekd.exporting.tflite_write import write_tflite_compact


def strip_debug_strings(path: str | Path) -> int:
    """Rewrite ``path`` in place without internal tensor names. Returns the bytes saved."""
    from tensorflow.lite.tools import flatbuffer_utils

    path = Path(path)
    before = path.stat().st_size
    model = flatbuffer_utils.read_model(str(path))
    for sg in model.subgraphs:
        keep = set(int(i) for i in sg.inputs) | set(int(i) for i in sg.outputs)
        for i, tensor in enumerate(sg.tensors):
            if i not in keep:
                tensor.name = None
    write_tflite_compact(model, path)
    return before - path.stat().st_size
