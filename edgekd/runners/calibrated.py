"""A target's calibration file: its fitted latency model, the device identity it was taken on, and the check that
an estimate is not made with another device's calibration without saying so.

``edgekd targets calibrate NAME`` writes ``targets/NAME.calibration.json``; an estimate for profile ``NAME`` finds
it by the profile's ``calibration`` key (a path relative to the profile file), else as ``NAME.calibration.json``
in the folders profiles are searched in (``edgekd.targets.targets_dirs``), or takes one named with
``--calibration``.

Identity: machine, CPU model, the ISA flags that change kernel speed (``SPEED_FLAGS``), runtime name and version
per format, and threads. An estimate is **refused** when the calibration's architecture is not the profile's, when
it was timed with another thread count, or when it holds no model for the artifact's format; it is **flagged**
(``calibration.matches: false`` with the differences, and a warning) when the device at hand — this machine for a
``local`` profile — or the profile's runtime differs from the calibration's.

Example:
    >>> from edgekd.runners.calibrated import identity_differences
    >>> a = {"machine": "x86_64", "cpu": "A", "isa": ["avx2"], "threads": 1,
    ...      "runtimes": {"tflite": {"runtime": "ai-edge-litert", "version": "2.3.0"}}}
    >>> identity_differences(a, {**a, "cpu": "B"}, "tflite")
    ["cpu: calibrated on 'A', here 'B'"]
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from edgekd.errors import InputError
from edgekd.runners.kernelmodel import KernelModel
from edgekd.targets import TargetProfile, arch_of, targets_dirs



class RuntimeId(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runtime: str
    version: str


class Identity(BaseModel):
    """The device a calibration was timed on."""

    model_config = ConfigDict(extra="allow")
    machine: str
    cpu: str
    isa: list[str]
    threads: int = Field(ge=1)
    runtimes: dict[str, RuntimeId]


class FitError(BaseModel):
    """Leave-cases-out error of the fit on the suite: each case predicted by a fit that never saw it."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    n: int = Field(ge=0)
    mae_pct: float = Field(ge=0)
    within_15_pct: float = Field(ge=0, le=100)
    worst_pct: float


class ModelData(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    runtime: str
    version: str
    invoke_us: float = Field(ge=0)
    coef: dict[str, dict[str, float]]
    ctx_invoke_us: float = Field(0.0, ge=0)
    ctx: dict[str, dict[str, float]] = {}
    cache_kb: float = Field(0.0, ge=0)
    layout: str = ""


class CalibrationFile(BaseModel):
    """The JSON ``edgekd targets calibrate`` writes."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    kind: Literal["edgekd-calibration"]
    format_version: Literal[1]
    target: str
    arch: str
    taken: str
    runner: str
    identity: Identity
    suite: dict[str, Any]
    models: dict[str, ModelData] = Field(min_length=1)
    error: dict[str, dict[str, FitError]] = {}


class Calibration:
    """A calibration read from ``path``: ``data`` (the validated file), ``sha256``, and a ``KernelModel`` per format."""

    def __init__(self, path: Path, data: CalibrationFile, sha256: str) -> None:
        self.path, self.data, self.sha256 = path, data, sha256

    def model(self, fmt: str) -> Optional[KernelModel]:
        m = self.data.models.get(fmt)
        return None if m is None else KernelModel.from_dict(m.model_dump())

    def summary(self, fmt: str) -> dict:
        """What an estimate records about the calibration it used."""
        d = self.data
        return {"file": str(self.path), "sha256": self.sha256, "target": d.target, "taken": d.taken,
                "suite": d.suite.get("name"),
                "runner": d.runner, "identity": d.identity.model_dump(),
                "fit_error": {p: e.model_dump() for p, e in d.error.get(fmt, {}).items()}}


def read_calibration(path: str | os.PathLike[str]) -> Calibration:
    """Read and validate a calibration file.

    Raises:
        InputError: missing, unreadable, not JSON, or a key missing or of the wrong type (the message names it).
    """
    from edgekd.inputfile import parse_json, regular_file
    from edgekd.yamlconf import validate

    path = Path(path).expanduser()
    regular_file(path, "calibration")
    raw = path.read_bytes()
    tree = parse_json(raw, path, "calibration")
    if not isinstance(tree, dict):
        raise InputError(f"{path}: a calibration file is a JSON object (from edgekd targets calibrate)")
    data: CalibrationFile = validate(CalibrationFile, tree, str(path))
    return Calibration(path, data, hashlib.sha256(raw).hexdigest())


def find_calibration(profile: TargetProfile, explicit: Optional[str] = None) -> Optional[Calibration]:
    """The calibration to estimate ``profile`` with: ``explicit``, the profile's ``calibration`` key, or
    ``NAME.calibration.json`` where profiles are searched; ``None`` when there is none."""
    if explicit:
        return read_calibration(explicit)
    key = getattr(profile, "calibration", None)
    if key:
        base = Path(profile.source).parent if profile.source else Path.cwd()
        path = Path(key).expanduser()
        return read_calibration(path if path.is_absolute() else base / path)
    for folder in targets_dirs():
        candidate = folder / f"{profile.name}.calibration.json"
        if candidate.is_file():
            return read_calibration(candidate)
    return None


def identity_here(fmt: str, threads: int) -> dict:
    """This machine's identity for ``fmt`` (the runtime edgekd would load it with here)."""
    from edgekd.runtime.artifact import _import_runtime
    from edgekd.runtime.latency import host_info

    host = host_info()
    runtimes = {}
    try:
        name, version, _ = _import_runtime(fmt, None)
        runtimes[fmt] = {"runtime": name, "version": version}
    except InputError:
        pass
    return {"machine": arch_of(host["machine"]), "cpu": host["cpu"], "isa": host["isa"],
            "threads": threads, "runtimes": runtimes}


def identity_differences(calibrated: dict, here: dict, fmt: str) -> list[str]:
    """What differs between the calibration's identity and the device's, for ``fmt`` (empty: the same)."""
    out = []
    for key in ("machine", "cpu"):
        if calibrated.get(key) != here.get(key):
            out.append(f"{key}: calibrated on {calibrated.get(key)!r}, here {here.get(key)!r}")
    a, b = set(calibrated.get("isa") or ()), set(here.get("isa") or ())
    if a != b:
        parts = ([f"missing here {sorted(a - b)}"] if a - b else []) + ([f"extra here {sorted(b - a)}"] if b - a else [])
        out.append("isa: " + ", ".join(parts))
    ra, rb = (calibrated.get("runtimes") or {}).get(fmt), (here.get("runtimes") or {}).get(fmt)
    if ra != rb:
        def show(r: Optional[dict]) -> str:
            return f"{r['runtime']} {r['version']}" if r else "none"

        out.append(f"{fmt} runtime: calibrated with {show(ra)}, here {show(rb)}")
    if calibrated.get("threads") != here.get("threads"):
        out.append(f"threads: calibrated with {calibrated.get('threads')}, here {here.get('threads')}")
    return out


def check_use(cal: Calibration, profile: TargetProfile, fmt: str, threads: int) -> list[str]:
    """Refuse a calibration that cannot serve this estimate; return the identity differences to flag.

    Raises:
        InputError: another architecture, another thread count, or no model for ``fmt``.
    """
    ident = cal.data.identity
    arch = arch_of(ident.machine)
    where = f"{cal.path} (calibrated on {ident.cpu or ident.machine})"
    if arch != profile.arch:
        raise InputError(f"{where}: taken on an {arch} device, and target {profile.name!r} is {profile.arch}: "
                         "a calibration from another architecture is refused")
    if ident.threads != threads:
        raise InputError(f"{where}: timed with {ident.threads} thread(s), the estimate asks for {threads}: "
                         f"calibrate again with --threads {threads}")
    if fmt not in cal.data.models:
        raise InputError(f"{where}: holds no {fmt} model (it has {', '.join(cal.data.models)}): calibrate with "
                         f"--formats {fmt}")
    if profile.runner.kind == "local":  # the device is this machine: compare with it
        return identity_differences(ident.model_dump(), identity_here(fmt, threads), fmt)
    wanted = profile.runtime.get(fmt)
    have = ident.runtimes.get(fmt)
    if wanted and have is not None and wanted != have.runtime:
        return [f"{fmt} runtime: calibrated with {have.runtime} {have.version}, target {profile.name!r} runs {wanted}"]
    return []
