"""Target device profiles: ``targets/<name>.yaml`` loaded into typed, validated objects.

A profile says what a device can run (formats, precisions, runtime, threads),
the budgets a deploy must meet on it, and how it is measured (runner). Users add
their own by dropping a file in ``targets/`` (or ``$EDGEKD_TARGETS``) or by
passing a path.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from edgekd.errors import InputError
from edgekd.yamlconf import read_yaml_mapping, validate

Format = Literal["tflite", "onnx"]
Precision = Literal["fp32", "fp16", "int8", "int8-dynamic", "int4-weights", "mixed"]


class Budgets(BaseModel):
    """Limits a deploy must meet on the target (any subset)."""

    model_config = ConfigDict(extra="forbid")
    size_kb: Optional[float] = Field(None, gt=0)
    latency_p90_ms: Optional[float] = Field(None, gt=0)
    ram_kb: Optional[float] = Field(None, gt=0)
    accuracy_drop_pp: Optional[float] = Field(None, ge=0)
    min_metric: Optional[float] = Field(None, ge=0, le=1)
    # Gate ``latency_p90_ms`` on an estimated figure (runner ``estimate``) instead of skipping it.
    allow_estimated_latency: bool = False


class Runner(BaseModel):
    """How latency is measured on the target: ``local`` here, ``ssh``, ``emulated`` or ``estimate``."""

    model_config = ConfigDict(extra="allow")
    kind: Literal["local", "ssh", "emulated", "estimate"] = "local"


class TargetProfile(BaseModel):
    """One device profile."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    arch: Literal["x86_64", "aarch64", "armv7", "cortex-m"]
    cpu: str = ""
    formats: list[Format] = Field(min_length=1)
    precisions: list[Precision] = Field(min_length=1)
    runtime: dict[str, str] = {}
    threads: int = Field(1, ge=1)
    budgets: Budgets = Budgets()
    runner: Runner = Runner()
    source: str = ""


def targets_dirs() -> list[Path]:
    """Folders searched for profiles: ``$EDGEKD_TARGETS`` entries, ./targets, then the repo's targets/."""
    dirs = [Path(p) for p in os.environ.get("EDGEKD_TARGETS", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "targets")
    dirs.append(Path(__file__).resolve().parent.parent / "targets")
    seen, out = set(), []
    for d in dirs:
        key = d.resolve()
        if key not in seen and d.is_dir():
            seen.add(key)
            out.append(d)
    return out


def available_targets() -> dict[str, Path]:
    """Profile name (file stem) → file, first folder wins."""
    found: dict[str, Path] = {}
    for d in targets_dirs():
        for f in sorted(d.glob("*.yaml")):
            found.setdefault(f.stem, f)
    return found


def load_target(name_or_path: str | Path) -> TargetProfile:
    """Load a profile by name (``x86_64``) or by path (``my/board.yaml``).

    Raises:
        InputError: unknown name (with the known ones), unreadable file, bad field.
    """
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        path = candidate
    else:
        known = available_targets()
        if str(name_or_path) not in known:
            close = difflib.get_close_matches(str(name_or_path), known, n=2)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise InputError(
                f"unknown target {str(name_or_path)!r}{hint} (known: {', '.join(sorted(known)) or 'none'})"
            )
        path = known[str(name_or_path)]
    tree = read_yaml_mapping(path, "target profile")
    tree.setdefault("name", path.stem)
    profile: TargetProfile = validate(TargetProfile, tree, str(path))
    return profile.model_copy(update={"source": str(path)})
