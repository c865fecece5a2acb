"""Models given as files: an ONNX teacher run by ONNX Runtime, and ``torch.export`` programs (``.pt2``).

- **ONNX teacher** (``.onnx``): a teacher trained in TensorFlow, Keras, JAX or
  anything that exports ONNX. ``OnnxTeacher`` is a frozen ``nn.Module`` whose
  forward runs the file in ONNX Runtime and returns its logits as a tensor (no
  gradient flows into a teacher). Its input shape and dtype are checked against
  the task's features, and its output size against the number of classes.
  It has no inner layers, so feature-level distillation methods refuse it.
- **``.pt2`` programs** (``torch.export.save``): a teacher or a student. The
  archive is inspected first and refused if anything in it would be unpickled
  (pickled tensor subclasses, custom or opaque objects, legacy ``.pt`` weight
  files): ``torch.export.load`` unpickles those with ``weights_only=False``. A
  student is trained through its ``.module()``, wrapped so ``train()``/``eval()``
  switch its batch-norm and dropout ops (torchao's ``move_exported_model_to_*``).
"""

from __future__ import annotations

import contextlib
import logging
import json
import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from edgekd.errors import InputError
from edgekd.inputfile import parse_json

MODEL_FILE_SUFFIXES = (".onnx", ".pt2")
_ORT_FLOAT = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class OnnxTeacher(nn.Module):
    """A frozen teacher that runs an ONNX file in ONNX Runtime.

    Args:
        path: the ``.onnx`` file.
        input_shape: one example's shape, channel first (the task's features).
        num_classes: the number of classes the student learns.
        threads: ONNX Runtime intra-op threads.

    Raises:
        InputError: unreadable file, an input that is not one float tensor of the features'
            shape, or an output of another size than ``num_classes``.
    """

    def __init__(self, path: str | os.PathLike[str], input_shape: Sequence[int], num_classes: int,
                 threads: int = 1) -> None:
        super().__init__()
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: ONNX teacher not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise InputError(f"{self.path}: ONNX Runtime cannot load it: {_first_line(exc)}") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1:
            raise InputError(f"{self.path}: the teacher has {len(inputs)} inputs; edgekd feeds it one tensor "
                             f"(the task's features, shape (N, {', '.join(map(str, input_shape))}))")
        arg = inputs[0]
        if arg.type not in _ORT_FLOAT:
            raise InputError(f"{self.path}: the teacher's input {arg.name!r} is {arg.type}; the task's features "
                             "are float32")
        self.dtype = _ORT_FLOAT[arg.type]
        want = list(input_shape)
        dims = [d if isinstance(d, int) else None for d in arg.shape]
        if len(dims) != len(want) + 1 or any(d is not None and d != w for d, w in zip(dims[1:], want)):
            shown = ["?" if d is None else d for d in dims]
            raise InputError(f"{self.path}: the teacher's input {arg.name!r} has shape {shown}; the task's "
                             f"features are (N, {', '.join(map(str, want))})")
        self.batch = dims[0]  # None: any batch size
        self.input_name, self.output_name = arg.name, outputs[0].name
        probe = self._run(np.zeros((1 if self.batch is None else self.batch, *want), np.float32))
        if probe.ndim != 2 or probe.shape[1] != num_classes:
            raise InputError(f"{self.path}: the teacher's output {self.output_name!r} has shape "
                             f"{list(probe.shape)} per batch; the data has {num_classes} classes")
        self.num_classes = num_classes
        self.train(False)

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            return self.session.run([self.output_name], {self.input_name: x.astype(self.dtype, copy=False)})[0]
        except Exception as exc:
            from edgekd.errors import BackendError

            raise BackendError(f"{self.path}: ONNX Runtime failed on a batch of shape {list(x.shape)}: "
                               f"{_first_line(exc)}") from None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x.detach().cpu().numpy()
        if self.batch is None or len(a) == self.batch:
            out = self._run(a)
        else:  # a fixed batch size: run in chunks, padding the last one
            parts = []
            for i in range(0, len(a), self.batch):
                chunk = a[i:i + self.batch]
                pad = self.batch - len(chunk)
                if pad:
                    chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
                parts.append(self._run(chunk)[:self.batch - pad])
            out = np.concatenate(parts)
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))

    def train(self, mode: bool = True) -> "OnnxTeacher":
        self.training = False  # a file is always frozen
        return self

    def __repr__(self) -> str:
        return f"OnnxTeacher({str(self.path)!r}, {self.num_classes} classes)"


def check_pt2_archive(path: Path) -> None:
    """Refuse a ``.pt2`` archive whose loading would unpickle anything.

    ``torch.export.load`` reads plain tensors from raw bytes, but unpickles tensor
    subclasses, custom objects and legacy weight files with ``weights_only=False``;
    this reads the archive's payload configs and refuses those.

    Raises:
        InputError: not a zip archive, or a payload that would be unpickled (naming it).
    """
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: not a torch.export archive (.pt2 is a zip file): {_first_line(exc)}") from None
    with archive:
        names = archive.namelist()
        if not any(n.endswith(".json") and "/models/" in n for n in names):
            raise InputError(f"{path}: no exported program inside (expected a torch.export.save archive)")
        for name in names:
            base = name.rsplit("/", 1)[-1]
            if ("/data/weights/" in name or "/data/constants/" in name) and base.endswith(".pt"):
                raise InputError(f"{path}: {name} is a pickled legacy weights file; edgekd never unpickles a "
                                 "model file (re-save it with a current torch.export.save)")
            if "/data/constants/" in name and (base.startswith("custom_obj") or base.startswith("opaque_obj")):
                raise InputError(f"{path}: {name} is a pickled custom object; edgekd never unpickles a model file")
            if base.endswith("_config.json") and ("/data/weights/" in name or "/data/constants/" in name):
                try:
                    config = parse_json(archive.read(name), f"{path}: {name}", "archive")
                except (ValueError, InputError):
                    raise InputError(f"{path}: {name} is not readable JSON") from None
                for fqn, meta in (config.get("config") or {}).items():
                    if isinstance(meta, dict) and meta.get("use_pickle"):
                        raise InputError(f"{path}: {fqn!r} is stored pickled (a tensor subclass); edgekd never "
                                         "unpickles a model file: export plain tensors")


@contextlib.contextmanager
def _weights_only() -> Iterator[None]:
    """While loading an archive: every ``torch.load`` is ``weights_only=True`` and ``pickle.loads`` refuses.

    ``torch.export.load`` falls back to ``weights_only=False`` for sample inputs it cannot
    read safely; under this guard that fallback fails instead of running the pickle.
    """
    real_load, real_loads = torch.load, pickle.loads

    def load(*args: Any, **kwargs: Any) -> Any:
        kwargs["weights_only"] = True
        return real_load(*args, **kwargs)

    def loads(*args: Any, **kwargs: Any) -> Any:
        raise pickle.UnpicklingError("edgekd refuses to unpickle objects from a model file")

    torch.load, pickle.loads = load, loads
    logger = logging.getLogger("torch")  # torch logs the refused fallback's traceback before raising: ours is the message
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.load, pickle.loads = real_load, real_loads
        logger.setLevel(level)


def load_pt2(path: str | os.PathLike[str]) -> Any:
    """Load a ``.pt2`` archive safely (see ``check_pt2_archive``) and return its ``ExportedProgram``.

    Raises:
        InputError: missing, unsafe or unreadable archive.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    check_pt2_archive(path)
    try:
        with _weights_only():
            return torch.export.load(str(path))
    except Exception as exc:
        raise InputError(f"{path}: torch.export.load cannot read it safely: {_first_line(exc)}") from None


class ExportedModule(nn.Module):
    """A ``torch.export`` program's module as an ordinary trainable ``nn.Module``.

    ``ExportedProgram.module()`` refuses ``.train()``/``.eval()``; here they switch the
    graph's batch-norm and dropout ops with torchao's helpers. Parameters are the
    program's, so training updates them and export sees the trained weights.
    """

    def __init__(self, graph: nn.Module, source: Path) -> None:
        super().__init__()
        self.graph = graph
        self.source = source
        self.training = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(x)

    def train(self, mode: bool = True) -> "ExportedModule":
        from torchao.quantization.pt2e import move_exported_model_to_eval, move_exported_model_to_train

        (move_exported_model_to_train if mode else move_exported_model_to_eval)(self.graph)
        self.training = mode
        return self

    def __repr__(self) -> str:
        return f"ExportedModule({str(self.source)!r})"


def _check_batch(module: nn.Module, input_shape: Sequence[int], path: Path, role: str) -> None:
    """The program must take the task's features at batch sizes 1 and 3 (a dynamic batch dim)."""
    for n in (1, 3):
        try:
            with torch.no_grad():
                module(torch.zeros(n, *input_shape))
        except Exception as exc:
            raise InputError(f"{path}: the {role} program cannot run on features of shape "
                             f"({n}, {', '.join(map(str, input_shape))}): {_first_line(exc)} (export it with "
                             "the task's input shape and a dynamic batch dim: dynamic_shapes={'x': {0: Dim('batch')}})"
                             ) from None


def load_model_file(path: str | os.PathLike[str], *, role: str, input_shape: Sequence[int], num_classes: int,
                    threads: int = 1) -> nn.Module:
    """A teacher or student given as a file, checked against the task's features and classes.

    Args:
        path: ``.onnx`` (teacher only) or ``.pt2``.
        role: ``teacher`` or ``student`` (a student must be trainable: a ``.pt2`` with parameters).
        input_shape: one example's shape (the task's features).
        num_classes: the number of classes.
        threads: ONNX Runtime threads for an ONNX teacher.

    Raises:
        InputError: unknown suffix, an ONNX student, a file that does not fit, an untrainable student.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MODEL_FILE_SUFFIXES:
        raise InputError(f"{role}.file: {path}: a model file is .onnx (teacher) or .pt2 (torch.export), "
                         f"not {suffix or 'a file without suffix'!r}")
    if suffix == ".onnx":
        if role != "teacher":
            raise InputError(f"{role}.file: {path}: an ONNX file cannot be trained; give the student as a "
                             "torch.export program (.pt2) or an nn.Module")
        return OnnxTeacher(path, input_shape, num_classes, threads=threads)
    program = load_pt2(path)
    module = ExportedModule(program.module(), path)
    if role == "student":
        params = [p for p in module.parameters() if p.is_floating_point()]
        if not params:
            raise InputError(f"{role}.file: {path}: the program has no parameters to train (its weights were "
                             "lifted to constants); export the student module itself with torch.export.export")
        for p in params:
            p.requires_grad_(True)
    module.eval()
    _check_batch(module, input_shape, path, role)
    with torch.no_grad():
        out = module(torch.zeros(1, *input_shape))
    if out.ndim != 2 or out.shape[1] != num_classes:
        raise InputError(f"{role}.file: {path}: the {role}'s output has shape {list(out.shape)}; the data has "
                         f"{num_classes} classes")
    return module
