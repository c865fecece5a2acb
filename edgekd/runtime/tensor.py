"""The tensor front end: a ``.npy`` file the user already preprocessed -> model inputs (numpy only).

The escape hatch for any modality (ECG, IMU, spectrograms made elsewhere): the
file holds one example of the model's input shape, ``shape``, or a stack of
windows of one recording, ``(n, *shape)``, whose predictions are aggregated.
Arrays are read with ``allow_pickle=False`` (an ``.npy`` holding Python objects
is refused, never unpickled), must be numeric and finite, and are cast to float32.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Optional

import numpy as np

from edgekd.errors import InputError


@dataclass(frozen=True)
class TensorFrontend:
    """No transform: ``.npy`` arrays are the model input.

    Attributes:
        shape: one example's shape without the batch dim (e.g. ``[1, 32, 188]``); None until known
            (the tensor task reads it from the first file or array).
    """

    kind: ClassVar[str] = "tensor"
    extensions: ClassVar[tuple[str, ...]] = (".npy",)

    shape: Optional[tuple[int, ...]] = None

    def __post_init__(self) -> None:
        if self.shape is None:
            return
        if not isinstance(self.shape, (list, tuple)) or not self.shape or any(
            isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0 for d in self.shape
        ):
            raise InputError(f"front-end: 'shape' must be a list of positive integers, got {self.shape!r}")
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "shape": None if self.shape is None else list(self.shape)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TensorFrontend":
        from edgekd.runtime.settings import dataclass_from_settings, pop_kind

        return dataclass_from_settings(cls, pop_kind(d, cls.kind))

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.shape is None:
            raise InputError("front-end: the tensor front-end's 'shape' is not known yet")
        return self.shape

    def config_hash(self) -> str:
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True, default=list).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:16]

    def windows_of(self, array: Any, where: Any) -> np.ndarray:
        """One example or a stack of windows -> (n, *shape) float32, checked.

        Raises:
            InputError: non-numeric, non-finite, or a shape other than ``shape`` / ``(n, *shape)``.
        """
        a = np.asarray(array)
        if a.dtype.kind not in "biuf":
            raise InputError(f"{where}: expected a numeric array, got dtype {a.dtype}")
        a = a.astype(np.float32, copy=False)
        if self.shape is not None:
            if a.shape == self.shape:
                a = a[None]
            elif a.ndim != len(self.shape) + 1 or a.shape[1:] != self.shape or a.shape[0] == 0:
                raise InputError(f"{where}: array of shape {list(a.shape)} fits neither the input shape "
                                 f"{list(self.shape)} nor a stack (n, {', '.join(map(str, self.shape))})")
        if not np.all(np.isfinite(a)):
            raise InputError(f"{where}: the array contains NaN or infinity")
        return np.ascontiguousarray(a)

    def steps(self) -> list[dict[str, Any]]:
        """The front-end as steps: read the array, check its shape, cast (sidecar v2, ``run_steps``)."""
        return [{"step": "load_npy", "allow_pickle": False},
                {"step": "check_shape", "shape": list(self.input_shape)},
                {"step": "to_model_input", "layout": "as-is", "dtype": "float32"}]

    def load(self, path: str | os.PathLike[str], *, resample: bool = False) -> np.ndarray:
        """One ``.npy`` file -> (n, *shape) float32 (``resample`` is audio's and ignored here)."""
        from edgekd.runtime.steps import load_npy, run_file

        if self.shape is None:
            return self.windows_of(load_npy(path), path)
        return run_file(self.steps(), path)
