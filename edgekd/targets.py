"""Target device profiles: ``targets/<name>.yaml`` loaded into typed, validated objects.

A profile says what a device can run (formats, precisions, runtime, threads),
the budgets a deploy must meet on it, and how it is measured (runner). Users add
their own by dropping a file in ``targets/`` (or ``$EDGEKD_TARGETS``) or by
passing a path. The shipped profiles are package data (``edgekd/target_profiles/``),
so an installed wheel lists and loads them; the repository's ``targets/`` is a copy.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from edgekd.errors import InputError
from edgekd.yamlconf import read_yaml_mapping, validate

Format = Literal["tflite", "onnx", "pte"]  # pte: ExecuTorch (XNNPACK), run in the main environment
# int8-qat: full-integer int8 after quantization-aware fine-tuning (edgekd.quantize.qat)
# int8-ac: int8 with accuracy control (NNCF): the costliest ops kept in float within budgets.accuracy_drop_pp
Precision = Literal["fp32", "fp16", "int8", "int8-dynamic", "int8-qat", "int8-ac", "int4-weights", "mixed"]


class Budgets(BaseModel):
    """Limits a deploy must meet on the target (any subset).

    Units: ``size_kb`` and ``ram_kb`` are KiB (1024 bytes; the key names keep their historical ``kb`` spelling,
    every message and report writes ``KiB``); latency in ms; ``accuracy_drop_pp`` in points of the selection metric
    (MAcc, else balanced accuracy), judged on paired per-item flips (``edgekd.report.budgets``); ``min_metric`` in [0, 1].
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # `inf` would switch a budget off
    size_kb: Optional[float] = Field(None, gt=0)  # KiB: the file's size_bytes / 1024
    latency_p90_ms: Optional[float] = Field(None, gt=0)
    # per item (a recording, a photo): the front-end's p90 per item + the model's p90 x invokes per item, both
    # measured on the target's runner (``latency.end_to_end.p90_ms``)
    latency_end_to_end_p90_ms: Optional[float] = Field(None, gt=0)
    ram_kb: Optional[float] = Field(None, gt=0)  # KiB: the MCU tensor arena's bytes / 1024
    accuracy_drop_pp: Optional[float] = Field(None, ge=0)
    min_metric: Optional[float] = Field(None, ge=0, le=1)
    # Gate ``latency_p90_ms`` on an estimated figure (runner ``estimate``) instead of skipping it (the end-to-end
    # figure is never estimated: the estimate runner does not time the front-end).
    allow_estimated_latency: bool = False
    # Every quantized artifact must be fully integer (no float op); set from the profile's ``fully_integer``.
    fully_integer: bool = False
    # A budget whose figure was not measured (no latency, only an emulated or refused estimate, no RAM figure,
    # no fp32 twin) is skipped instead of failed. Off by default: the gate fails closed.
    allow_unmeasured: bool = False


RunnerKind = Literal["local", "ssh", "emulated", "estimate"]


class Runner(BaseModel):
    """How latency is measured on the target: ``local`` here, ``ssh``, ``emulated`` or ``estimate``.

    The base of the typed runner sections below; every runner has a ``kind``.
    """

    model_config = ConfigDict(extra="forbid")
    kind: RunnerKind = "local"


class LocalRunner(Runner):
    """Measured on this machine (``edgekd bench`` runs the artifact here)."""

    kind: Literal["local"] = "local"


class SshRunner(Runner):
    """Measured on a real device over SSH with the device's own Python and runtime.

    Key-only login with host-key checking against a pinned known-hosts file:
    ``ssh-keyscan -p PORT HOST > FILE``, then check the fingerprint against the
    device's own (``ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`` on the device).
    ``~`` is expanded; relative paths are relative to the working directory.
    """

    kind: Literal["ssh"] = "ssh"
    host: str = Field(min_length=1)
    port: int = Field(22, ge=1, le=65535)
    user: str = Field(min_length=1)
    key: str = Field(min_length=1, description="private key file (key-only login, no passwords)")
    known_hosts: str = Field(min_length=1, description="pinned known_hosts file holding the device's host key")
    python: str = Field("python3", min_length=1, description="the device's interpreter (absolute path is safest)")
    workdir: str = Field("/tmp", min_length=1, description="remote folder the temporary run folder is made in")
    connect_timeout_s: float = Field(10.0, gt=0)


class McuSettings(BaseModel):
    """An MCU board: accelerator, memories, and the Vela settings the MCU analysis compiles with."""

    model_config = ConfigDict(extra="forbid")
    accelerator: Optional[str] = Field(None, description="Vela accelerator config, e.g. ethos-u55-128; none: CPU only")
    system_config: str = "Ethos_U55_High_End_Embedded"
    memory_mode: str = "Shared_Sram"
    config_file: Optional[str] = Field(None, description="a Vela .ini with the system config (default: Vela's own)")
    cpu_mhz: Optional[float] = Field(None, gt=0)
    sram_kb: float = Field(gt=0)
    flash_kb: float = Field(gt=0)


class EstimateRunner(Runner):
    """Not measured: latency estimated from per-op MACs and bytes with the profile's ``estimate`` coefficients.

    ``mcu`` describes a microcontroller board (arena/flash and an Ethos-U compile).
    """

    kind: Literal["estimate"] = "estimate"
    mcu: Optional[McuSettings] = None


class EmulatedRunner(Runner):
    """Run under qemu-user in an arm64 Debian root: proves the ARM runtimes load and run the artifact
    and that outputs match x86; its latency is marked emulated and never gated."""

    kind: Literal["emulated"] = "emulated"
    root: Optional[str] = Field(None, description="the arm64 root (default: $EDGEKD_ARM64_ROOT or the cache)")
    fp32_atol: float = Field(1e-5, gt=0, description="max |aarch64 - x86| for float outputs")
    int8_lsb: int = Field(1, ge=0, description="max difference of integer outputs, in LSB")
    samples: int = Field(8, ge=1, description="inputs compared for parity")


#: kind → its typed settings.
RUNNER_MODELS: dict[str, type[Runner]] = {
    "local": LocalRunner,
    "ssh": SshRunner,
    "emulated": EmulatedRunner,
    "estimate": EstimateRunner,
}

class PluginRunner(Runner):
    """A runner an installed plugin registers (``edgekd.runners`` entry point): its own settings, unchecked here."""

    model_config = ConfigDict(extra="allow")
    kind: str  # type: ignore[assignment]


BuiltinRunner = Annotated[Union[LocalRunner, SshRunner, EmulatedRunner, EstimateRunner], Field(discriminator="kind")]
AnyRunner = Annotated[Union[BuiltinRunner, PluginRunner], Field(union_mode="left_to_right")]


class EstimateCoefficients(BaseModel):
    """Throughput coefficients for the ``estimate`` runner, per thread, with where they come from.

    latency = invoke_overhead + sum over ops of (op_overhead + MACs / (GMAC/s x speed-up) + bytes / bandwidth),
    speed-up = 1 + (threads - 1) x thread_efficiency (threads capped at ``cores``).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    int8_gmacs: float = Field(gt=0, description="effective GMAC/s of one thread on int8 conv/matmul")
    fp32_gmacs: float = Field(gt=0, description="effective GMAC/s of one thread on fp32 conv/matmul")
    mem_gbps: float = Field(gt=0, description="effective memory bandwidth, GB/s")
    op_overhead_us: float = Field(ge=0, description="fixed cost per op (dispatch, packing), µs")
    invoke_overhead_us: float = Field(0.0, ge=0, description="fixed cost per invoke (set/get tensors, Python), µs")
    thread_efficiency: float = Field(0.7, gt=0, le=1)
    cores: int = Field(1, ge=1)
    sources: list[str] = Field(min_length=1, description="where each figure comes from")


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
    # Output channels the device's int8 kernels compute at once (its SIMD/GEMM tile width): pruning with
    # ``prune.round_to: auto`` keeps channel counts that are multiples of it. None: no preferred width.
    simd_width: Optional[int] = Field(None, ge=1)
    budgets: Budgets = Budgets()
    runner: AnyRunner = LocalRunner()
    estimate: Optional[EstimateCoefficients] = None
    # The ``estimate`` runner's calibration (``edgekd targets calibrate``): a file relative to this profile. Unset:
    # NAME.calibration.json where profiles are searched, if there is one; else the roofline ``estimate`` above.
    calibration: Optional[str] = Field(None, min_length=1)
    # Export backend per format (``edgekd.exporting.backends``), e.g. ``{tflite: onnx2tf}``; unset: the default one.
    backends: dict[Format, str] = {}
    # The device runs only integer graphs (MCU, NPU): pick a backend whose int8 graphs are fully integer,
    # and flag any quantized artifact with a float op as a budget violation.
    fully_integer: bool = False
    # Written by ``edgekd targets derive``: the profile this one was made from, with that file's SHA-256.
    derived_from: str = ""
    source: str = ""


# The shipped profiles, inside the package (package data), so an installed wheel has them. This copy is the
# source of truth; the repository's ``targets/`` holds the same files for users who look there, and
# ``tests/test_targets.py`` fails when the two differ.
PACKAGE_TARGETS = Path(__file__).resolve().parent / "target_profiles"
#: The published JSON Schema of a profile file (package data; ``edgekd targets schema`` prints it), generated from
#: ``TargetProfile``; ``python -m edgekd.targets --write-schema`` rewrites it and a test keeps the two equal.
PROFILE_SCHEMA = PACKAGE_TARGETS / "target-profile.schema.json"


def profile_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a target profile YAML, for editors and other tools.

    ``source`` is left out: edgekd records where a profile was read from, a file never sets it.

    >>> profile_schema()["properties"]["arch"]["enum"]
    ['x86_64', 'aarch64', 'armv7', 'cortex-m']
    """
    schema = TargetProfile.model_json_schema()
    schema["properties"].pop("source", None)
    schema["required"] = [k for k in schema.get("required", []) if k != "name"]  # default: the file's stem
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://edgekd.dev/schemas/target-profile.schema.json",
            "title": "edgekd target profile", **{k: v for k, v in schema.items() if k != "title"}}


def _source_checkout_targets() -> Optional[Path]:
    """The repository's ``targets/`` when edgekd runs from a source checkout (editable install), else ``None``."""
    root = Path(__file__).resolve().parent.parent
    return root / "targets" if (root / "pyproject.toml").is_file() else None


def targets_dirs() -> list[Path]:
    """Folders searched for profiles, first wins: ``$EDGEKD_TARGETS`` entries, ./targets, the repository's
    targets/ (source checkout only), then the profiles shipped inside the package."""
    dirs = [Path(p) for p in os.environ.get("EDGEKD_TARGETS", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "targets")
    checkout = _source_checkout_targets()
    if checkout is not None:
        dirs.append(checkout)
    dirs.append(PACKAGE_TARGETS)
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
    check_runner(tree.get("runner"), str(path))
    profile: TargetProfile = validate(TargetProfile, tree, str(path))
    return profile.model_copy(update={"source": str(path)})


_MACHINE_ARCH = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "armv7l": "armv7", "armv8l": "armv7"}


def arch_of(machine: str) -> str:
    """A machine name as ``uname -m``/``platform.machine()`` gives it, in a profile's words.

    >>> arch_of("arm64"), arch_of("AMD64"), arch_of("x86_64")
    ('aarch64', 'x86_64', 'x86_64')
    """
    m = str(machine).lower()
    return _MACHINE_ARCH.get(m, m)


def check_runner(section: Any, source: str) -> None:
    """Validate a profile's ``runner`` section against its kind's typed settings, with messages
    that name the key as written (``runner.hsot``), not pydantic's union branch.

    Raises:
        InputError: not a mapping, unknown kind, unknown or missing key, wrong value.
    """
    if section is None:
        return
    if not isinstance(section, dict):
        raise InputError(f"{source}: runner: a mapping with a 'kind' ({', '.join(RUNNER_MODELS)}), got {section!r}")
    kind = section.get("kind", "local")
    if kind not in RUNNER_MODELS:
        from edgekd.registry import entry_points_of

        plugins = [ep.name for ep in entry_points_of("edgekd.runners")]
        if kind in plugins:
            return  # a plugin's runner checks its own settings when it runs
        known = [*RUNNER_MODELS, *plugins]
        close = difflib.get_close_matches(str(kind), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"{source}: runner.kind: unknown runner {kind!r}{hint} (known: {', '.join(known)})")
    wrapper = create_model("Profile", __config__=ConfigDict(extra="forbid"), runner=(RUNNER_MODELS[kind], ...))
    validate(wrapper, {"runner": section}, source)


if __name__ == "__main__":  # python -m edgekd.targets --write-schema
    import json
    import sys

    from edgekd.atomic import write_text

    text = json.dumps(profile_schema(), indent=2, sort_keys=True) + "\n"
    if sys.argv[1:] == ["--write-schema"]:
        write_text(PROFILE_SCHEMA, text)
        print(PROFILE_SCHEMA)
    else:
        sys.stdout.write(text)
