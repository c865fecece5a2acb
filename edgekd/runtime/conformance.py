"""``edgekd conformance``: an outside implementation of an artifact's front-end or I/O against its golden vectors.

What the other implementation computed for the golden inputs (``NAME.golden/inputs/``) is given as:

- ``features``: the model inputs before quantization, either one ``.npy`` with every input's windows stacked in
  the manifest's order, or a folder of per-step outputs named like the golden files
  (``input0.04-unit_rms.npy``): then each step is compared in order and the first that diverges is named;
  with the final features only, a divergence is traced by re-running the reference with each step left out
  (a missing step is the most common mistake) and naming the step whose omission reproduces it;
- ``inputs``: the quantized tensors it feeds the model (the artifact's dtype and layout), within 1 LSB;
- ``outputs``: the raw model outputs (within 1 LSB for integer outputs) or float logits.

numpy only (and the runtime to re-run a step list): it runs on the device too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from edgekd.errors import InputError


@dataclass
class Conformance:
    """The verdict: ``passed``, what was checked, and where the implementation first diverged."""

    passed: bool
    checked: str
    message: str
    first_divergence: Optional[dict] = None
    compared: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _load(path: Path, what: str) -> np.ndarray:
    """A given ``.npy`` (``--features`` and the like): a regular file holding one real-valued array, else one
    ``InputError`` naming it (never a hang on a FIFO, never an internal error on a malformed header)."""
    from edgekd.runtime.npyfile import read_npy

    a = read_npy(path, what)
    if a.dtype.kind not in "biuf":
        raise InputError(f"{path}: {what} must hold real numbers (bool, integer or float), got dtype {a.dtype}")
    return a


def _diff(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if want.size else 0.0


def _within(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> tuple[bool, float, float]:
    d = _diff(got, want)
    limit = atol + rtol * (float(np.max(np.abs(want))) if want.size else 0.0)
    return bool(np.all(np.isfinite(got))) and d <= limit, d, limit


def _expect(folder: Path, entry: dict) -> np.ndarray:
    """A golden array (its name was checked to stay inside the golden folder by ``read_golden``), with the shape
    the manifest records for it: the manifest's shapes are used to split outputs per input, so a manifest that
    disagrees with its own files is refused naming both (exit 2), never trusted."""
    from edgekd.runtime.npyfile import read_npy

    a = read_npy(folder / entry["file"], "golden")
    if "shape" in entry and entry["shape"] != list(a.shape):
        raise InputError(f"{folder / 'golden.json'}: {entry['file']} has shape {list(a.shape)}, the manifest says "
                         f"{entry['shape']!r:.80}")
    return a


def _stack(arrays: list[np.ndarray], folder: Path, what: str) -> np.ndarray:
    """The golden inputs' arrays stacked in the manifest's order; arrays that cannot stack (a manifest whose
    inputs end at different steps or shapes) are refused naming the manifest (exit 2), not a numpy error."""
    try:
        return np.concatenate(arrays)
    except ValueError:
        shapes = ", ".join(str(list(a.shape)) for a in arrays)
        raise InputError(f"{folder / 'golden.json'}: the golden inputs' {what} do not stack (shapes {shapes}): "
                         "every input must end at the model's input shape") from None


def check_features(artifact: Path, features: Path, golden: Optional[Path] = None) -> Conformance:
    """Compare an implementation's front-end outputs with the golden vectors (see the module docstring)."""
    from edgekd.runtime.golden import read_golden

    manifest, folder = read_golden(artifact, golden)
    features = Path(features)
    if features.is_dir():
        return _per_step(manifest, folder, features)
    got = _load(features, "--features")
    if got.dtype != np.float32:
        raise InputError(f"{features}: --features is {got.dtype}; the model inputs before quantization are float32 "
                         "(the last step's output, channel first, every golden input's windows stacked in "
                         "golden.json's order)")
    wants = [_expect(folder, e["steps"][-1]) for e in manifest["inputs"]]
    want = _stack(wants, folder, "final step outputs")
    if got.shape != want.shape:
        raise InputError(f"{features}: --features has shape {list(got.shape)}; the golden inputs' model inputs, "
                         f"stacked in the manifest's order, have shape {list(want.shape)}")
    last = manifest["inputs"][0]["steps"][-1]
    ok, d, limit = _within(got, want, last["atol"], last["rtol"])
    if ok:
        return Conformance(True, "features", f"the features match the golden vectors (max |diff| {d:.3g} <= {limit:.3g})",
                           compared=[{"what": "features", "max_abs_diff": d, "tolerance": limit}])
    culprit = _trace(manifest, folder, got, wants)
    where = (f"step {culprit['index']} '{culprit['step']}': your features match the reference run with that step left "
             "out" if culprit else "the final features (no single left-out step explains it)")
    return Conformance(False, "features", f"diverges at {where}; max |diff| {d:.3g} > tolerance {limit:.3g}",
                       first_divergence={**(culprit or {"step": last["step"], "index": last["index"]}),
                                         "max_abs_diff": d, "tolerance": limit})


def _per_step(manifest: dict, folder: Path, given: Path) -> Conformance:
    """Every golden step output must be in ``given``; the first missing or diverging one is named. A step file
    that exists but is no regular file (a FIFO, a folder) is refused by its kind (exit 2), not taken as missing."""
    import os

    from edgekd.inputfile import regular_file

    for entry in manifest["inputs"]:
        for step in entry["steps"]:
            if os.path.lexists(given / step["file"]):
                regular_file(given / step["file"], f"step {step['step']}")
    compared: list = []
    stored = [(k, step) for k, entry in enumerate(manifest["inputs"]) for step in entry["steps"]
              if step.get("stored", True)]
    missing = [(k, step) for k, step in stored if not (given / step["file"]).is_file()]
    total = len(stored)
    if len(missing) == total:
        first = manifest["inputs"][0]["steps"]  # a manifest may list a single step
        raise InputError(f"{given}: no step output named like the golden files (e.g. "
                         f"{first[min(1, len(first) - 1)]['file']})")
    for k, entry in enumerate(manifest["inputs"]):
        for step in entry["steps"]:
            where = {"input": entry["file"], "step": step["step"], "index": step["index"]}
            path = given / step["file"]
            if not step.get("stored", True):  # only its digest is recorded: an exact match is noted, not required
                if path.is_file():
                    from edgekd.runtime.golden import array_sha256

                    compared.append({"input": entry["file"], "step": step["step"],
                                     "digest_match": array_sha256(_load(path, f"step {step['step']}")) == step["sha256"]})
                continue
            if not path.is_file():
                return Conformance(False, "features (per step)", f"input {k} ({entry['file']}): step {step['index']} "
                                   f"'{step['step']}' is missing: {step['file']} is not in {given} ({len(missing)} of "
                                   f"the {total} stored golden step outputs are missing; give every step's output)",
                                   first_divergence={**where, "missing": step["file"]}, compared=compared)
            got = _load(path, f"step {step['step']}")
            want = _expect(folder, step)
            if got.shape != want.shape:
                return Conformance(False, "features (per step)", f"input {k}: step {step['index']} '{step['step']}' "
                                   f"has shape {list(got.shape)}, expected {list(want.shape)}",
                                   first_divergence={**where, "shape": list(got.shape)}, compared=compared)
            ok, d, limit = _within(got, want, step["atol"], step["rtol"])
            compared.append({"input": entry["file"], "step": step["step"], "max_abs_diff": d, "tolerance": limit})
            if not ok:
                return Conformance(False, "features (per step)", f"input {k} ({entry['file']}): diverges at step "
                                   f"{step['index']} '{step['step']}': max |diff| {d:.3g} > tolerance {limit:.3g}",
                                   first_divergence={**where, "max_abs_diff": d, "tolerance": limit},
                                   compared=compared)
    checked = [c for c in compared if "digest_match" not in c]
    inexact = [c for c in checked if c["max_abs_diff"] > 0]
    note = "" if not inexact else "; not exact (within tolerance): " + ", ".join(
        f"{c['step']} on {c['input']} (max |diff| {c['max_abs_diff']:.3g})" for c in inexact[:4]) + (
        f" and {len(inexact) - 4} more" if len(inexact) > 4 else "")
    return Conformance(True, "features (per step)", f"all {len(checked)} stored step outputs match the golden vectors"
                       + note, compared=compared)


def _trace(manifest: dict, folder: Path, got: np.ndarray, wants: list[np.ndarray]) -> Optional[dict]:
    """The step whose omission from the reference reproduces ``got`` (None when no single omission does)."""
    from edgekd.runtime.sidecar import read_sidecar
    from edgekd.runtime.steps import run_file, run_steps

    artifact = folder.parent / manifest["artifact_file"]
    meta = read_sidecar(artifact) if artifact.is_file() else None
    if meta is None or not isinstance(meta.get("frontend", {}).get("steps"), list):
        return None
    steps = meta["frontend"]["steps"]
    last = manifest["inputs"][0]["steps"][-1]
    for skip in range(1, len(steps) - 1):  # never the reader, never the final arrangement
        outs = []
        try:
            for entry in manifest["inputs"]:
                stored = entry["steps"][skip - 1].get("stored", True)  # else re-run the reference up to there
                before = _expect(folder, entry["steps"][skip - 1]) if stored else run_file(steps[:skip], folder / entry["file"])
                outs.append(run_steps(steps[skip + 1:], before))
            alt = np.concatenate(outs)
        except (InputError, ValueError, IndexError, TypeError):
            continue
        if alt.shape == got.shape and _within(got, alt, last["atol"], last["rtol"])[0]:
            return {"step": steps[skip]["step"], "index": skip}
    return None


def check_inputs(artifact: Path, inputs: Path, golden: Optional[Path] = None) -> Conformance:
    """Compare the quantized tensors an implementation feeds the model with the golden ones (1 LSB)."""
    from edgekd.runtime.golden import read_golden

    manifest, folder = read_golden(artifact, golden)
    got = _load(Path(inputs), "--inputs")
    want = _stack([_expect(folder, e["model_input"]) for e in manifest["inputs"]], folder, "model inputs")
    if got.shape != want.shape or got.dtype != want.dtype:
        raise InputError(f"{inputs}: --inputs is {got.dtype} {list(got.shape)}; the model takes {want.dtype} "
                         f"{list(want.shape)} (every golden input's windows, in the artifact's layout)")
    spec = manifest["inputs"][0]["model_input"]
    limit = spec["tolerance_lsb"] if spec.get("tolerance_lsb") is not None else spec["atol"]
    d = _diff(got, want)
    ok = d <= limit
    where = _first_input_beyond(manifest, got, want, limit)
    return Conformance(ok, "inputs", f"quantized inputs {'match' if ok else 'diverge'}: max |diff| {d:g} "
                       f"({'<=' if ok else '>'} {limit:g})" + (f"; {where['message']}" if where else ""),
                       None if ok else {"step": "quantize input", "max_abs_diff": d, "tolerance": limit, **(where or {})},
                       [{"what": "inputs", "max_abs_diff": d, "tolerance": limit}])


def _first_input_beyond(manifest: dict, got: np.ndarray, want: np.ndarray, limit: float) -> Optional[dict]:
    """The first golden input whose rows differ beyond ``limit``: its file, source and how many values differ."""
    start = 0
    for entry in manifest["inputs"]:
        n = int(entry["model_input"]["shape"][0])
        bad = np.abs(got[start:start + n].astype(np.float64) - want[start:start + n].astype(np.float64)) > limit
        if bad.any():
            return {"input": entry["file"], "source": entry.get("source"), "values_differing": int(bad.sum()),
                    "message": f"first at {entry['file']} ({entry.get('source')}): {int(bad.sum())} of {bad.size} "
                               "values differ (check its per-step outputs with --features FOLDER)"}
        start += n
    return None


def check_outputs(artifact: Path, outputs: Path, golden: Optional[Path] = None) -> Conformance:
    """Compare an implementation's model outputs (raw integer outputs or float logits) with the golden ones.

    Raw integer outputs conform within 1 LSB; the verdict also says how many item predictions the given outputs
    change (an item on its decision threshold can flip within 1 LSB: reported, not hidden).
    """
    from edgekd.runtime.golden import read_golden

    manifest, folder = read_golden(artifact, golden)
    got = _load(Path(outputs), "--outputs")
    raw = _stack([_expect(folder, e["output_raw"]) for e in manifest["inputs"]], folder, "raw outputs")
    logits = _stack([_expect(folder, e["logits"]) for e in manifest["inputs"]], folder, "logits")
    if raw.shape != logits.shape:  # one row per window in both: a manifest that disagrees with itself is bad input
        raise InputError(f"{folder / 'golden.json'}: the raw outputs have shape {list(raw.shape)} but the logits "
                         f"{list(logits.shape)}: the golden vectors disagree with themselves")
    if got.shape != logits.shape:
        raise InputError(f"{outputs}: --outputs has shape {list(got.shape)}; expected {list(logits.shape)}")
    if got.dtype.kind in "iu" and raw.dtype.kind in "iu" and manifest["inputs"][0]["output_raw"].get("tolerance_lsb") \
            is not None:
        want, limit, what = raw, manifest["inputs"][0]["output_raw"]["tolerance_lsb"], "raw outputs"
    else:
        want, limit, what = logits, manifest["inputs"][0]["logits"]["atol"], "logits"
    d = _diff(got, want)
    agree = float(np.mean(got.astype(np.float64).argmax(-1) == want.astype(np.float64).argmax(-1)))
    flips = _flipped_items(Path(artifact), manifest, got, what == "raw outputs")
    ok = d <= limit
    flip_note = f"; {len(flips)} of {len(manifest['inputs'])} item predictions differ" + (
        f" ({', '.join(flips)})" if flips else "")
    return Conformance(ok, "outputs", f"{what} {'match' if ok else 'diverge'}: max |diff| {d:g} "
                       f"({'<=' if ok else '>'} {limit:g}), window argmax agreement {agree:.3f}{flip_note}",
                       None if ok else {"step": "model output", "max_abs_diff": d, "tolerance": limit,
                                        "argmax_agreement": agree, "flipped_items": flips},
                       [{"what": what, "max_abs_diff": d, "tolerance": limit, "argmax_agreement": agree,
                         "flipped_items": flips}])


def _flipped_items(artifact: Path, manifest: dict, got: np.ndarray, raw: bool) -> list[str]:
    """The golden inputs whose item prediction, decided from ``got`` as the spec says, is not the golden one."""
    from edgekd.runtime.artifact import _dequantize
    from edgekd.runtime.metrics import softmax
    from edgekd.runtime.scoring import aggregate, aggregation_name
    from edgekd.runtime.sidecar import read_sidecar
    from edgekd.runtime.threshold import decide

    meta = read_sidecar(artifact)
    labels = list(meta["labels"])
    logits = _dequantize(got, meta["output"]) if raw else got.astype(np.float32)
    probs = softmax(logits.astype(np.float64)).astype(np.float32)
    sizes = [int(e["output_raw"]["shape"][0]) for e in manifest["inputs"]]
    group = np.repeat(np.arange(len(sizes)), sizes)
    _, items = aggregate(probs, group, aggregation_name(meta.get("aggregation"), artifact))
    pos = labels.index(meta["positive"]) if meta.get("positive") in labels else None
    predicted = decide(items, pos, (meta.get("decision") or {}).get("threshold"))
    return [e["file"] for e, p in zip(manifest["inputs"], predicted) if labels[int(p)] != e["predicted"]]
