"""Golden vectors: short real inputs with the expected output of every front-end step, the quantized model input
and the model output, so an implementation in another language can prove it matches (``edgekd conformance``).

A golden folder (``NAME.golden/`` beside the artifact in a deploy bundle) holds the input files, one ``.npy``
per step output per input, and ``golden.json``:

- ``artifact_sha256`` / ``sidecar_sha256``: which artifact the vectors belong to (a bundle assembled from two
  runs is refused);
- per input: every step (``index``, ``step``, ``file``, ``shape``, ``dtype``, ``atol``, ``rtol``; a step output over
  512 KB, such as a phone photo's decoded pixels, is not stored: ``stored: false`` with the ``sha256`` of its
  bytes), the model input
  as the artifact takes it (quantized, in its layout), the raw model output, the logits, the window and item
  probabilities and the predicted label;
- the tolerance rule: ``max|got - expected| <= atol + rtol * max|expected|``; the quantized model input
  exactly (``tolerance_lsb`` 0: the spec fixes its arithmetic); integer outputs within ``tolerance_lsb``: 1, or more
  when the runtime's other kernel sets (built-in optimized, reference) differ from the default by more on these
  inputs (``reference_kernels.other_kernels_max_diff_lsb``, measured when the vectors are made).

numpy and a runtime only: it runs on the device too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from edgekd.errors import InputError
from edgekd.hashing import file_sha256

GOLDEN_SCHEMA = "edgekd.golden/1"
TOLERANCE_RULE = "max|got - expected| <= atol + rtol * max|expected|"

#: step -> (atol, rtol): what an independent implementation (another FFT, another JPEG decoder) may differ by
TOLERANCES: dict[str, tuple[float, float]] = {
    "read_wav": (1e-7, 0.0),
    "remove_mean": (1e-6, 1e-6),
    "bandpass": (1e-5, 1e-4),
    "frame": (1e-5, 1e-4),
    "unit_rms": (1e-4, 1e-4),
    "power_spectrogram": (1e-6, 1e-3),
    "mel": (1e-6, 1e-3),
    "log": (2e-3, 0.0),
    "decode_image": (2.0, 0.0),
    "check_size": (2.0, 0.0),
    "resize_shorter": (2.0, 0.0),
    "center_crop": (2.0, 0.0),
    "scale": (2.0 / 255, 0.0),
    "normalize": (0.04, 0.0),
    "load_npy": (0.0, 0.0),
    "check_shape": (0.0, 0.0),
}
LOGIT_ATOL = 0.05  # float outputs; integer outputs are compared within TOLERANCE_LSB
TOLERANCE_LSB = 1  # integer model outputs: another kernel library may round a requantization the other way
INPUT_TOLERANCE_LSB = 0  # the quantized model input is fully specified (float32 arithmetic, ties to even): exact


def tolerance_of(step: str, previous: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """A step's tolerance (a final ``to_model_input`` inherits the step before it)."""
    return TOLERANCES.get(step, previous)


#: a step output larger than this is recorded by its digest only (a phone photo decodes to 36 MB of pixels; the
#: model input and the steps of short inputs are stored)
STORE_MAX_BYTES = 512 * 1024


def array_sha256(array: np.ndarray) -> str:
    """SHA-256 of an array's C-order bytes (how a digest-only golden step is recorded)."""
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _save(folder: Path, name: str, array: np.ndarray, *, digest_only_above: Optional[int] = None) -> dict[str, Any]:
    a = np.asarray(array)
    if a.dtype.kind == "f" and a.dtype != np.float32:
        a = a.astype(np.float32)  # expected values to float32 precision; the tolerances allow for it
    meta = {"file": name, "shape": list(a.shape), "dtype": a.dtype.name}
    if digest_only_above is not None and a.nbytes > digest_only_above:
        return {**meta, "stored": False, "sha256": array_sha256(a)}
    np.save(folder / name, np.ascontiguousarray(a), allow_pickle=False)
    return meta


#: TFLite op resolvers besides the default (XNNPACK): what another app's runtime may run the same file with
OTHER_KERNELS = ("BUILTIN_WITHOUT_DEFAULT_DELEGATES", "BUILTIN_REF")


def kernel_spread(art: Any, raw_in: np.ndarray, raw_out: np.ndarray) -> dict[str, int]:
    """Largest |diff| (LSB) between ``raw_out`` (the default kernels) and the runtime's other kernel sets.

    Integer kernels round inside each requantization in their own way, and the differences add up layer after
    layer: on the shipped heart student they stay within 1 LSB, on the 60-layer plant student they reach 15
    (``benchmarks/results/conformance_spread.md``). The golden output tolerance is this measured spread.
    """
    import importlib

    from edgekd.runtime.artifact import _RUNTIMES
    from edgekd.runtime.native_log import quiet_native

    if art.format != "tflite" or np.dtype(art.output["dtype"]).kind not in "iu":
        return {}
    module = importlib.import_module(_RUNTIMES[art.runtime][1])
    spread = {}
    for name in OTHER_KERNELS:
        with quiet_native():
            it = module.Interpreter(model_path=str(art.path), num_threads=1,
                                    experimental_op_resolver_type=getattr(module.OpResolverType, name))
            it.allocate_tensors()
        i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
        rows = []
        for window in raw_in:
            it.set_tensor(i, window[None])
            it.invoke()
            rows.append(it.get_tensor(o)[0].astype(np.int32))
        spread[name] = int(np.max(np.abs(np.stack(rows) - raw_out.astype(np.int32)))) if rows else 0
    return spread


def make_golden(artifact_path: Path, inputs: Sequence[Path], folder: Path, *, threads: int = 1) -> dict[str, Any]:
    """Write the golden vectors of ``artifact_path`` for ``inputs`` (real files the front-end reads) into ``folder``.

    Returns:
        The manifest written to ``folder/golden.json``.
    """
    from edgekd.runtime.artifact import _quantize, channels_last, load_artifact
    from edgekd.runtime.frontends import frontend_of_sidecar
    from edgekd.runtime.metrics import softmax
    from edgekd.runtime.scoring import aggregate, aggregation_name
    from edgekd.runtime.sidecar import read_sidecar, sidecar_path
    from edgekd.runtime.steps import run_file
    from edgekd.runtime.threshold import decide

    artifact_path = Path(artifact_path)
    meta = read_sidecar(artifact_path)
    frontend = frontend_of_sidecar(meta, artifact_path)
    if not hasattr(frontend, "steps"):
        raise InputError(f"{artifact_path}: its front-end has no step list, so it has no golden vectors")
    steps = frontend.steps()
    art = load_artifact(artifact_path, threads=threads)
    labels = list(meta["labels"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "inputs").mkdir(exist_ok=True)
    entries, spreads = [], []
    for k, src in enumerate(inputs):
        src = Path(src)
        copy = folder / "inputs" / f"input{k}{src.suffix.lower()}"
        shutil.copyfile(src, copy)
        record: list = []
        run_file(steps, copy, record)
        step_entries, tol = [], (0.0, 0.0)
        for i, (name, out) in enumerate(record):
            tol = tolerance_of(name, tol)
            last = i == len(record) - 1  # the model input is always stored
            step_entries.append({"index": i, "step": name, **_save(folder, f"input{k}.{i:02d}-{name}.npy", out,
                                                                   digest_only_above=None if last else STORE_MAX_BYTES),
                                 "atol": tol[0], "rtol": tol[1]})
        x = np.asarray(record[-1][1], dtype=np.float32)
        if channels_last(art.input.get("layout")) and x.ndim >= 3:
            x = np.moveaxis(x, 1, -1)
        raw_in = np.ascontiguousarray(_quantize(x, art.input))
        batch = art.input["shape"][0] or len(raw_in)
        raw_out = np.concatenate([art.invoke_raw(raw_in[i:i + batch]) for i in range(0, len(raw_in), batch)])
        spreads.append(kernel_spread(art, raw_in, raw_out))
        logits = art.predict(np.asarray(record[-1][1], dtype=np.float32))
        probs = softmax(logits.astype(np.float64)).astype(np.float32)
        how = aggregation_name(meta.get("aggregation"), artifact_path)
        _, item = aggregate(probs, np.zeros(len(probs), dtype=np.int64), how)
        pos = labels.index(meta["positive"]) if meta.get("positive") in labels else None
        predicted = int(decide(item, pos, (meta.get("decision") or {}).get("threshold"))[0])
        integer_in = np.dtype(art.input["dtype"]).kind in "iu"
        features = np.asarray(record[-1][1])
        same = raw_in.dtype == features.dtype and raw_in.shape == features.shape and np.array_equal(raw_in, features)
        stored_in = ({"file": step_entries[-1]["file"], "shape": list(raw_in.shape), "dtype": raw_in.dtype.name}
                     if same else _save(folder, f"input{k}.model_input.npy", raw_in))  # a float NCHW input: the features
        entries.append({
            "file": f"inputs/{copy.name}", "sha256": file_sha256(copy), "source": src.name,
            "steps": step_entries,
            "model_input": {**stored_in, "layout": art.input.get("layout"),
                            "tolerance_lsb": INPUT_TOLERANCE_LSB if integer_in else None,
                            "atol": None if integer_in else step_entries[-1]["atol"]},
            "output_raw": {**_save(folder, f"input{k}.output_raw.npy", raw_out),
                           "tolerance_lsb": TOLERANCE_LSB if np.dtype(art.output["dtype"]).kind in "iu" else None},
            "logits": {**_save(folder, f"input{k}.logits.npy", logits), "atol": LOGIT_ATOL},
            "probabilities": _save(folder, f"input{k}.probabilities.npy", probs),
            "item_probabilities": [float(v) for v in item[0]],
            "predicted": labels[predicted],
        })
    spread = {name: max(sp.get(name, 0) for sp in spreads) for name in (spreads[0] if spreads else {})}
    for entry in entries:  # the output tolerance: 1 LSB, or what the runtime's own kernel sets differ by
        if entry["output_raw"]["tolerance_lsb"] is not None:
            entry["output_raw"]["tolerance_lsb"] = max([TOLERANCE_LSB, *spread.values()])
    manifest = {
        "schema": GOLDEN_SCHEMA,
        "reference_kernels": {"runtime": f"{art.runtime}=={art.runtime_version}", "kernels": "default (XNNPACK "
                              "where it applies)" if art.format == "tflite" else "default", "threads": threads,
                              "other_kernels_max_diff_lsb": spread},
        "artifact": meta.get("name", artifact_path.stem),
        "artifact_file": artifact_path.name,
        "artifact_sha256": file_sha256(artifact_path),
        "sidecar_sha256": file_sha256(sidecar_path(artifact_path)),
        "tolerance_rule": TOLERANCE_RULE,
        "inputs": entries,
    }
    (folder / "golden.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _inside(name: Any) -> bool:
    """Whether ``name`` is a relative file name that stays inside its folder (no absolute path, no ``..``, no
    drive or backslash tricks): golden file names are joined to the golden folder, so a manifest must not point
    a reader at ``../../etc/passwd``."""
    from pathlib import PurePosixPath, PureWindowsPath

    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return False
    posix, win = PurePosixPath(name), PureWindowsPath(name)
    return not posix.is_absolute() and not win.drive and not win.root and ".." not in posix.parts \
        and posix.parts not in ((), (".",))


def check_manifest(manifest: dict[str, Any], path: Any) -> None:
    """Every field ``edgekd conformance`` reads from a golden manifest, typed and in range, and every file name
    confined to the golden folder.

    Why: a manifest is input like any other file; a missing key, ``atol: "tight"`` or a step file
    ``../../etc/passwd`` must be one clear refusal naming the manifest and the field (exit 2), never an internal
    error or a read outside the folder.

    Raises:
        InputError: naming ``path`` and the first bad field (``inputs[0].steps[2].atol``).
    """
    import math

    def bad(where: str, why: str) -> InputError:
        return InputError(f"{path}: {where} {why}")

    def mapping(node: Any, where: str) -> dict:
        if not isinstance(node, dict):
            raise bad(where, "is missing" if node is None else f"must be an object, got {node!r:.80}")
        return node

    def tolerance(node: dict, key: str, where: str, *, optional: bool = False) -> None:
        value = node.get(key)
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise bad(f"{where}.{key}", f"must be a finite number >= 0, got {value!r:.80}")

    def file_name(node: dict, where: str) -> None:
        if not _inside(node.get("file")):
            raise bad(f"{where}.file", f"is {node.get('file')!r:.120}: a golden file name must be a relative path "
                                       "inside the golden folder (no absolute path, no '..')")

    sha = manifest.get("sidecar_sha256")
    if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise bad("sidecar_sha256", f"must be the SHA-256 (64 hex digits) of the sidecar the vectors were made with, "
                                    f"got {sha!r:.80}")
    if not _inside(manifest.get("artifact_file")):
        raise bad("artifact_file", f"is {manifest.get('artifact_file')!r:.120}: the artifact's file name, beside "
                                   "the golden folder")
    inputs = manifest.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise bad("inputs", "must list at least one golden input")
    for k, entry in enumerate(inputs):
        at = f"inputs[{k}]"
        mapping(entry, at)
        file_name(entry, at)
        if not isinstance(entry.get("predicted"), str):
            raise bad(f"{at}.predicted", f"must be a label, got {entry.get('predicted')!r:.80}")
        steps = entry.get("steps")
        if not isinstance(steps, list) or not steps:
            raise bad(f"{at}.steps", "must list at least one front-end step")
        for i, step in enumerate(steps):
            where = f"{at}.steps[{i}]"
            mapping(step, where)
            file_name(step, where)
            if not isinstance(step.get("step"), str) or not step["step"]:
                raise bad(f"{where}.step", f"must be a step name, got {step.get('step')!r:.80}")
            if isinstance(step.get("index"), bool) or not isinstance(step.get("index"), int):
                raise bad(f"{where}.index", f"must be a whole number, got {step.get('index')!r:.80}")
            tolerance(step, "atol", where)
            tolerance(step, "rtol", where)
            if not isinstance(step.get("stored", True), bool):
                raise bad(f"{where}.stored", f"must be true or false, got {step.get('stored')!r:.80}")
            if step.get("stored", True) is False and not isinstance(step.get("sha256"), str):
                raise bad(f"{where}.sha256", "must be the digest of a step output that is not stored")
        model_input = mapping(entry.get("model_input"), f"{at}.model_input")
        file_name(model_input, f"{at}.model_input")
        tolerance(model_input, "tolerance_lsb", f"{at}.model_input", optional=True)
        tolerance(model_input, "atol", f"{at}.model_input", optional=True)
        if model_input.get("tolerance_lsb") is None and model_input.get("atol") is None:
            raise bad(f"{at}.model_input", "needs a tolerance_lsb (integer input) or an atol (float input)")
        raw = mapping(entry.get("output_raw"), f"{at}.output_raw")
        file_name(raw, f"{at}.output_raw")
        tolerance(raw, "tolerance_lsb", f"{at}.output_raw", optional=True)
        shape = raw.get("shape")
        if not isinstance(shape, list) or not shape or isinstance(shape[0], bool) or not isinstance(shape[0], int) \
                or shape[0] < 0:
            raise bad(f"{at}.output_raw.shape", f"must list the output's dimensions, got {shape!r:.80}")
        logits = mapping(entry.get("logits"), f"{at}.logits")
        file_name(logits, f"{at}.logits")
        tolerance(logits, "atol", f"{at}.logits")


def read_golden(artifact_path: Path, folder: Path | None = None) -> tuple[dict[str, Any], Path]:
    """The golden manifest of ``artifact_path`` (default folder ``NAME.golden/`` beside it), checked to belong to it.

    Raises:
        InputError: the artifact is missing or not a regular file, no golden vectors, a manifest that is not a
            regular file of JSON, an unknown schema, a malformed field or a file name outside the folder
            (``check_manifest``), vectors of another artifact or made with another sidecar (its SHA-256 differs
            from ``sidecar_sha256``), or a sidecar ``read_sidecar`` refuses.
    """
    import os

    from edgekd.inputfile import read_json, regular_file
    from edgekd.runtime.sidecar import read_sidecar, sidecar_path

    artifact_path = Path(artifact_path)
    if not artifact_path.is_file():  # the artifact first: a FIFO is refused by its kind, not "no golden vectors"
        if os.path.lexists(artifact_path):
            regular_file(artifact_path, "artifact")
        raise InputError(f"{artifact_path}: artifact not found")
    folder = Path(folder) if folder is not None else artifact_path.with_suffix(".golden")
    path = folder / "golden.json"
    if not os.path.lexists(path):
        raise InputError(f"{path}: no golden vectors (an `edgekd bundle` writes them beside each artifact)")
    manifest = read_json(path, "golden.json")  # a regular file (never a FIFO), no deeper than an edgekd file
    if not isinstance(manifest, dict) or manifest.get("schema") != GOLDEN_SCHEMA:
        raise InputError(f"{path}: golden schema is {manifest.get('schema') if isinstance(manifest, dict) else None!r},"
                         f" expected {GOLDEN_SCHEMA!r}")
    check_manifest(manifest, path)
    if manifest.get("artifact_sha256") != file_sha256(artifact_path):
        raise InputError(f"{path}: these golden vectors belong to another artifact than {artifact_path} (its SHA-256 "
                         "differs): a bundle assembled from two runs?")
    sidecar = sidecar_path(artifact_path)
    if not os.path.lexists(sidecar):
        raise InputError(f"{sidecar}: sidecar not found (every artifact needs one; the golden vectors were made "
                         "with it)")
    have = file_sha256(regular_file(sidecar, "sidecar"))
    if manifest["sidecar_sha256"] != have:
        raise InputError(f"{path}: these golden vectors were made for another sidecar than {sidecar} (golden.json "
                         f"records sidecar SHA-256 {manifest['sidecar_sha256'][:16]}..., the sidecar's is "
                         f"{have[:16]}...): the sidecar was edited after `edgekd bundle` made them; restore it or "
                         "make the vectors again")
    read_sidecar(artifact_path)  # and the sidecar itself is one this runtime reads (typed, the model's)
    return manifest, folder
