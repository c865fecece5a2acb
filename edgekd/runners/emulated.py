"""The ``emulated`` runner: run an artifact on the aarch64 builds of its runtime, under qemu-user, and check parity.

What it proves: the artifact loads and runs on the ARM (aarch64 Linux) wheels of
ai-edge-litert / ONNX Runtime, and its outputs on the same inputs match this x86
host's (fp32 within ``fp32_atol``, quantized outputs within ``int8_lsb`` steps).
qemu emulates the profile's own core (``-cpu cortex-a72`` for a Pi 4, see
``edgekd.runners.emulated_cpu``) and the runtimes are shown a matching /proc/cpuinfo,
so they select the kernels that core's features allow (XNNPACK included).
What it does not: anything about speed on a real ARM core. qemu translates every
instruction (60-900x slower than native here), with no real caches, memory or
frequency behind it. The latency it reports comes from the local runner's loop
(``edgekd.runtime.latency.measure_latency``) but is marked ``emulated: true``,
``latency_meaningful: false`` and is never gated.

How: the cached arm64 Debian root (``edgekd.runners.emulated_root``, ``make arm64-root``)
gets a job folder with the artifact, its sidecar, the parity inputs and the
device-side code (``edgekd/runtime/*.py`` + ``edgekd.runners.emulated_device``; numpy and
a runtime only); ``chroot ROOT qemu-aarch64-static /usr/bin/python3 -m
edgekd.runners.emulated_device JOB`` runs it with a timeout; the same inputs run
here with the local runtime; the outputs are compared (``edgekd.runners.emulated_parity``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import platform
import time
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from edgekd.runners.emulated_cpu import qemu_cpu, write_cpu_files
from edgekd.runners.emulated_parity import compare_outputs, onnx_output_scale, parity_inputs
from edgekd.runners.emulated_root import check_ready, emulated_command, resolve_root
from edgekd.runners.options import BenchOptions
from edgekd.errors import BackendError, InputError
from edgekd.runtime.artifact import load_artifact
from edgekd.runtime.sidecar import read_sidecar, sidecar_path

#: runtimes the arm64 root has (requirements/arm64-root.lock), by artifact format
ROOT_RUNTIMES = {"tflite": "ai-edge-litert", "onnx": "onnxruntime"}
_FORMATS = {".tflite": "tflite", ".onnx": "onnx"}
_PACKAGE = Path(__file__).resolve().parents[1]  # the edgekd package folder
#: the device-side files copied into the root (numpy + runtime only: no pydantic, yaml, torch)
DEVICE_FILES = ("__init__.py", "errors.py", "inputfile.py", "atomic.py", "registry.py", "runtime/*.py",
                "runners/__init__.py", "runners/emulated_device.py")
#: defaults when the profile's runner is not an ``emulated`` section
DEFAULTS = {"root": None, "fp32_atol": 1e-5, "int8_lsb": 1, "samples": 8}


def _job_json(path: Path, artifact: Any, proc: Any) -> dict:
    """A JSON object the emulated job wrote, or a ``BackendError`` naming it (a job killed mid-write leaves a
    truncated file)."""
    from edgekd.inputfile import parse_json

    try:
        value = parse_json(path.read_bytes(), path, "emulated job output")
    except (InputError, OSError) as exc:
        raise BackendError(f"{artifact}: the emulated aarch64 run left an unreadable {path.name} ({exc}); "
                           f"its output: {(proc.stdout + proc.stderr).strip()[-500:]}") from None
    if not isinstance(value, dict) or ("message" not in value and path.name == "error.json"):
        raise BackendError(f"{artifact}: the emulated aarch64 run wrote {path.name} without the expected keys")
    return value


def run_emulated(artifact: Path, profile: Any, opts: BenchOptions, *,
                 windows: Optional[np.ndarray] = None) -> dict[str, Any]:
    """Run ``artifact`` in the emulated arm64 root: latency (marked meaningless) and parity with x86.

    Args:
        artifact: a ``.tflite`` or ``.onnx`` file with its ``.edgekd.json`` sidecar.
        profile: the target profile; its runner settings (``root``, ``fp32_atol``, ``int8_lsb``,
            ``samples``) apply when present, ``runtime`` names the runtime per format.
        opts: runs, warm-up, threads, time cap and ``timeout_s`` (the whole emulated call).
        windows: optional real float NCHW feature windows to add to the seeded random parity inputs.

    Returns:
        The ``bench --json`` object with ``runner: "emulated"``, ``estimated: false``,
        ``emulated: true``, ``latency_meaningful: false``, ``host`` of the emulated side
        (``machine: aarch64``, ``emulated: true``) and ``parity`` (``n``, ``max_abs_diff``,
        ``max_lsb_diff`` for quantized outputs, ``tolerance``, ``passed``, ``reference``).

    Raises:
        InputError: unknown format, missing sidecar, a runtime the root does not have,
            or the root not built (says to run ``make arm64-root``).
        BackendError: qemu or the runtime fails inside the root, or the call times out.
    """
    artifact = Path(artifact)
    fmt = _FORMATS.get(artifact.suffix.lower())
    if artifact.suffix.lower() == ".pte":
        raise InputError(f"{artifact}: the emulated arm64 root has no ExecuTorch runtime (its Python runtime links "
                         "libtorch, which the root does not carry); run .pte files with the local runner")
    if fmt is None:
        raise InputError(f"{artifact}: the emulated runner runs .tflite and .onnx artifacts, not {artifact.suffix!r}")
    if not artifact.is_file():
        raise InputError(f"{artifact}: artifact not found")
    read_sidecar(artifact)  # the sidecar travels with the artifact; fail early when it is missing
    runtime = _runtime_for(fmt, profile)
    settings = _settings(profile)
    root = resolve_root(settings["root"])
    stamp = check_ready(root)
    threads = opts.threads or getattr(profile, "threads", 1) or 1

    reference = load_artifact(artifact, threads=threads, runtime=runtime)
    inputs, described = parity_inputs(reference, settings["samples"], windows)
    expected = np.stack([reference.invoke_raw(np.ascontiguousarray(x)) for x in inputs])

    cpu, cpu_reason = qemu_cpu(getattr(profile, "cpu", ""))
    result, outputs, log = _run_in_root(root, artifact, inputs, runtime, threads, opts, cpu)
    float_lsb = onnx_output_scale(artifact) if fmt == "onnx" else None
    parity = compare_outputs(expected, outputs, output=reference.output, float_lsb=float_lsb,
                             atol=settings["fp32_atol"], lsb=settings["int8_lsb"])
    parity.update(inputs=described,
                  reference=f"{platform.machine()} {reference.runtime} {reference.runtime_version}",
                  emulated=f"aarch64 {result['runtime']} {result['runtime_version']} under qemu-user")

    host = dict(result.get("host") or {})
    host.update(machine=host.get("machine", "aarch64"), cpu=f"{cpu} (qemu model: {cpu_reason})", qemu_cpu=cpu,
                emulated=True, emulator=_qemu_version(root),
                root=str(root), root_versions=stamp.get("versions"), physical_machine=platform.machine(),
                cpu_detected="Error in cpuinfo" not in log)
    if fmt == "tflite":
        host["xnnpack"] = "XNNPACK delegate" in log  # LiteRT logs the delegate it creates
    result.update(
        artifact=str(artifact),
        runner="emulated",
        estimated=False,
        emulated=True,
        latency_meaningful=False,
        latency_note="qemu-user emulation on an x86 host, tens to hundreds of times slower than a real ARM core: "
                     "proves the artifact runs, says nothing about its speed (or memory); never gated",
        host=host,
        parity=parity,
        method=_method(result, host, parity),
    )
    return result


def _method(result: dict[str, Any], host: dict[str, Any], parity: dict[str, Any]) -> str:
    """One line saying what ran where and how the outputs compared (the CLI prints it)."""
    xnnpack = {True: ", XNNPACK on", False: ", XNNPACK off"}.get(host.get("xnnpack"), "")
    lsb = f", max {parity['max_lsb_diff']} LSB" if "max_lsb_diff" in parity else ""
    verdict = "PASSED" if parity.get("passed") else "FAILED"
    return (f"emulated: qemu-user -cpu {host['qemu_cpu']}, aarch64 {result['runtime']} {result['runtime_version']}"
            f"{xnnpack}; output parity with {parity.get('reference')} {verdict} on {parity.get('n')} inputs "
            f"(max |Δ| {parity.get('max_abs_diff', float('nan')):.3g}{lsb}, tolerance {parity.get('tolerance')} "
            f"{parity.get('tolerance_unit', '')}); the latency is qemu's, not the device's")


def _runtime_for(fmt: str, profile: Any) -> str:
    """The runtime the profile names for ``fmt``, if the arm64 root has it (else ``InputError``)."""
    wanted = (getattr(profile, "runtime", None) or {}).get(fmt, ROOT_RUNTIMES[fmt])
    if wanted != ROOT_RUNTIMES[fmt]:
        raise InputError(
            f"target {getattr(profile, 'name', '?')!r} runs .{fmt} with {wanted!r}, but the emulated arm64 root "
            f"only has {ROOT_RUNTIMES[fmt]!r} for .{fmt} (requirements/arm64-root.lock)"
        )
    return wanted


def _settings(profile: Any) -> dict[str, Any]:
    """The profile's ``emulated`` runner settings, defaults for any it does not set."""
    runner = getattr(profile, "runner", None)
    if getattr(runner, "kind", None) != "emulated":
        return dict(DEFAULTS)
    return {key: getattr(runner, key, default) for key, default in DEFAULTS.items()}


def _copy_device_code(dest: Path) -> None:
    """Copy the device-side edgekd files (``DEVICE_FILES``) under ``dest/edgekd``."""
    for pattern in DEVICE_FILES:
        for src in sorted(_PACKAGE.glob(pattern)):
            target = dest / "edgekd" / src.relative_to(_PACKAGE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


@contextlib.contextmanager
def _exclusive(root: Path, timeout_s: float) -> Iterator[None]:
    """Hold the root's run lock: the CPU description files are per run, so runs take turns."""
    deadline = time.monotonic() + timeout_s
    with open(root / ".edgekd-run.lock", "a") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise BackendError(f"another emulated run held {root} for {timeout_s:g} s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_in_root(root: Path, artifact: Path, inputs: np.ndarray, runtime: str, threads: int,
                 opts: BenchOptions, cpu: str) -> tuple[dict[str, Any], np.ndarray, str]:
    """Stage the job in ``root/tmp``, run it under qemu (``-cpu cpu``) with ``opts.timeout_s``.

    Returns:
        ``(far-side latency result, stacked raw outputs, the run's stderr)``.
    """
    with _exclusive(root, opts.timeout_s):
        write_cpu_files(root, cpu, cores=threads)
        return _run_job(root, artifact, inputs, runtime, threads, opts, cpu)


def _run_job(root: Path, artifact: Path, inputs: np.ndarray, runtime: str, threads: int,
             opts: BenchOptions, cpu: str) -> tuple[dict[str, Any], np.ndarray, str]:
    """The job itself (see ``_run_in_root``)."""
    (root / "tmp").mkdir(exist_ok=True)
    job = Path(tempfile.mkdtemp(prefix="edgekd-emulated-", dir=root / "tmp"))
    try:
        _copy_device_code(job / "code")
        shutil.copy2(artifact, job / artifact.name)
        shutil.copy2(sidecar_path(artifact), job / sidecar_path(artifact).name)
        np.save(job / "inputs.npy", inputs)
        request = {"artifact": artifact.name, "runtime": runtime, "threads": threads, "runs": opts.runs,
                   "warmup": opts.warmup, "max_seconds": opts.max_seconds, "cv_target": opts.cv_target}
        if opts.frontend is not None:  # the front-end's steps on real items, under qemu too (labelled emulated)
            from edgekd.runners.frontend import staged

            request["frontend"] = staged(opts.frontend, job, "")
        (job / "request.json").write_text(json.dumps(request))
        inside = "/" + str(job.relative_to(root))
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONPATH": f"{inside}/code",
               "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
               "EDGEKD_VERBOSE": "1"}  # the runtime's own log says whether XNNPACK ran; captured here, not shown
        cmd = emulated_command(root, ["/usr/bin/python3", "-m", "edgekd.runners.emulated_device", inside], cpu=cpu)
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=opts.timeout_s)
        except subprocess.TimeoutExpired:
            raise BackendError(f"{artifact}: the emulated aarch64 run timed out after {opts.timeout_s:g} s "
                               f"(fewer --runs, or a larger timeout)") from None
        error = job / "error.json"
        if error.is_file():
            failure = _job_json(error, artifact, proc)
            cls = InputError if failure.get("exit_code") == 2 else BackendError
            hint = " (the root's wheels: requirements/arm64-root.lock, `make arm64-root`)" \
                if "no runtime" in failure["message"] else ""
            raise cls(f"{artifact}: in the emulated arm64 root {root}: {failure['message']}{hint}")
        if proc.returncode != 0 or not (job / "result.json").is_file():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
            raise BackendError(
                f"{artifact}: the emulated aarch64 run failed (exit {proc.returncode}) in {root}:\n{tail}")
        return _job_json(job / "result.json", artifact, proc), np.load(job / "outputs.npy"), proc.stderr
    finally:
        shutil.rmtree(job, ignore_errors=True)


def _qemu_version(root: Path) -> str:
    """``qemu-aarch64-static`` version line (the emulator copied into the root)."""
    try:
        out = subprocess.run([str(root / "usr" / "bin" / "qemu-aarch64-static"), "--version"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "qemu-aarch64-static"
    return out.splitlines()[0].strip() if out else "qemu-aarch64-static"
