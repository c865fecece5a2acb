"""``edgekd bundle RUN_DIR --target NAME``: assemble a target's deploy bundle from a run's measured artifacts.

For each deployed (student) artifact of the target: the file (checked to be the one the report measured),
its sidecar (schema ``edgekd.artifact/2``; a run's older sidecar is upgraded), golden vectors made from real
test items of the run (audio: an excerpt of two windows; photos and arrays: the file), the model card, and
for microcontroller targets (``arch: cortex-m``) each int8 TFLite file as a C array plus a header of the
front-end constants and the TFLM arena size. Written to a temporary folder, then renamed, then zipped: a
failure leaves no half bundle.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from edgekd.errors import InputError
from edgekd.atomic import temp_dir
from edgekd.inputfile import read_json

BUNDLE_SCHEMA = "edgekd.bundle/1"


def _data_folder(report: dict, run_dir: Path) -> Optional[Path]:
    """The run's data folder: as recorded (relative to the working directory), else relative to the run's parents."""
    recorded = (report.get("data") or {}).get("path")
    if not isinstance(recorded, str):
        return None
    candidates = [Path(recorded)] + [parent / recorded for parent in [run_dir, *run_dir.resolve().parents]]
    return next((c for c in candidates if c.is_dir()), None)


def _golden_sources(report: dict, data_path: Optional[Path], extensions: tuple, count: int) -> list[Path]:
    """Up to ``count`` test items of the run, one per class first (so every label has a golden input)."""
    from edgekd.runtime.labelled import read_labelled_folder

    if data_path is None:
        recorded = (report.get("data") or {}).get("path")
        if not isinstance(recorded, str):
            raise InputError("the report names no data folder: golden vectors are made from real test items, so "
                             "write the report with its data (`edgekd.write_report(path, records, data=prepared)`, "
                             "the `edgekd.prepare` result of a folder)")
        raise InputError(f"the run's data folder {recorded!r} is not at hand: golden "
                         "vectors are made from real test items; run `edgekd bundle` where the run's data is")
    test = set((report.get("data") or {}).get("test_files") or [])
    items = [it for it in read_labelled_folder(data_path, extensions=extensions) if it.file in test]
    if not items:
        raise InputError(f"{data_path}: none of the run's test files is there")
    chosen, seen = [], set()
    for it in sorted(items, key=lambda i: i.file):
        if it.label not in seen:
            chosen.append(it.path)
            seen.add(it.label)
    return chosen[:count]


def _golden_inputs(meta: dict, sources: list[Path], folder: Path) -> list[Path]:
    """Golden inputs in the forms a device meets, from real items (``edgekd.runtime.golden_inputs``).

    Audio: two windows of each recording; the first also as 24-bit extensible and float WAVs, plus its whole
    length (the band-pass runs over the whole recording). Images: the first photo also phone-sized, as a
    thumbnail, odd-sized, EXIF-rotated, taller than twice its width and with transparency; the others as they are.
    """
    from edgekd.runtime.audio import read_wav, wav_excerpt
    from edgekd.runtime.golden_inputs import image_variants, wav_variants

    steps = (meta.get("frontend") or {}).get("steps") or []
    out: list[Path] = []
    for k, src in enumerate(sources):
        if steps and steps[0].get("step") == "read_wav":
            framing = next((s for s in steps if s.get("step") == "frame"), None)
            rate = int(steps[0]["sample_rate"])
            frames = (framing["window_samples"] + framing["hop_samples"]) if framing else 10 * rate
            if k == 0:
                samples = read_wav(src, sample_rate=rate)[:frames]
                out += wav_variants(samples, rate, folder, f"excerpt{k}")
                out.append(folder / f"whole{k}{src.suffix.lower()}")
                out[-1].write_bytes(Path(src).read_bytes())
            else:
                wav_excerpt(src, folder / f"excerpt{k}.wav", frames)
                out.append(folder / f"excerpt{k}.wav")
        elif steps and steps[0].get("step") == "decode_image" and k == 0:
            out += image_variants(Path(src), folder, f"photo{k}")
        else:
            out.append(src)
    return out


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_out(out: Path, run_dir: Path, target: str, force: bool) -> None:
    """Refuse an ``out`` whose replacement would lose what the user did not ask to replace.

    A bundle replaces its folder whole, so the folder must be empty, absent, or an earlier bundle of the same
    target (``bundle.json``); anything else needs ``force``. The run itself, or a folder holding it, never.
    """
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file, not a folder")
    if out.resolve() == run_dir.resolve() or out.resolve() in run_dir.resolve().parents:
        raise InputError(f"--out {out}: holds the run {run_dir}; a bundle replaces its folder, so give it one of its own")
    zipped = bundle_zip(out)
    if force:
        return
    if os.path.lexists(zipped) and not _earlier_bundle_zip(zipped, out.name, target):
        raise InputError(f"--out {out}: {zipped} exists and is not an earlier bundle's zip of target {target!r}; "
                         "the bundle writes its zip there, so nothing was written (pass --force to replace it)")
    if not out.is_dir() or not any(out.iterdir()):
        return
    try:
        previous = read_json(out / "bundle.json", "bundle")
    except (OSError, ValueError, InputError):
        previous = None
    if not (isinstance(previous, dict) and previous.get("schema") == BUNDLE_SCHEMA and previous.get("target") == target):
        raise InputError(f"--out {out}: the folder is not empty and is not an earlier bundle of target {target!r}; "
                         "a bundle replaces its folder whole, so nothing was written (pass --force to replace it)")


def bundle_zip(out: Path) -> Path:
    """Where the bundle in folder ``out`` is zipped: ``OUT.zip`` beside it (``x86_64.v2`` → ``x86_64.v2.zip``)."""
    return out.with_name(f"{out.name}.zip")


def _earlier_bundle_zip(path: Path, name: str, target: str) -> bool:
    """``path`` is a zip ``edgekd bundle`` wrote for ``target`` (its ``NAME/bundle.json`` says so)."""
    import zipfile

    if path.is_symlink() or not path.is_file():
        return False
    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(f"{name}/bundle.json")
            if info.file_size > 1 << 20:
                return False
            meta = json.loads(z.read(info))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, RecursionError):
        return False
    return isinstance(meta, dict) and meta.get("schema") == BUNDLE_SCHEMA and meta.get("target") == target


def make_bundle(run_dir: Path, target: str, out: Optional[Path] = None, *, golden_items: int = 2,
                force: bool = False, log: Callable[[str], None] = lambda s: None) -> Path:
    """Write ``target``'s deploy bundle of the run in ``run_dir`` (see the module docstring); returns its folder.

    Raises:
        InputError: no report, a target without deployed artifacts, a file that is not the one measured,
            the run's data not at hand (golden vectors need real items).
    """
    from edgekd.bundle.modelcard import render_model_card
    from edgekd.report.budgets import check_file, confined_path
    from edgekd.report.gate import gate_report
    from edgekd.report.schema import load_report
    from edgekd.runtime.frontends import frontend_of_sidecar
    from edgekd.hashing import file_sha256
    from edgekd.runtime.golden import make_golden
    from edgekd.runtime.sidecar import read_sidecar, sidecar_path, upgrade_sidecar, write_sidecar

    run_dir = Path(run_dir)
    if not _NAME.match(target):
        raise InputError(f"--target {target!r}: not a target name (letters, digits, '_', '.', '-'; no path)")
    report = load_report(run_dir / "report.json")
    arts = [a for a in report["artifacts"] if a.get("target") == target and a.get("role", "student") == "student"]
    if not arts:
        targets = sorted({str(a.get("target")) for a in report["artifacts"]})
        raise InputError(f"{run_dir / 'report.json'}: no deployed artifact for target {target!r} "
                         f"(the run's targets: {', '.join(targets)})")
    for a in arts:  # before anything is written: a path outside the run is never bundled
        confined_path(a, run_dir / "report.json")
    profile = _profile(target, report)
    out = Path(out) if out else run_dir / "bundles" / target
    _check_out(out, run_dir, target, force)
    data_path = _data_folder(report, run_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.partial-*"):  # what a killed bundle left behind
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))  # same filesystem: rename works
    try:
        files = []
        for a in arts:
            check = check_file(a, run_dir)
            if check.status != "pass":
                raise InputError(f"{a['name']}: {check.detail}")
            src = run_dir / a["path"]
            dst = work / src.name
            shutil.copyfile(src, dst)
            meta = upgrade_sidecar(read_sidecar(src), src)
            write_sidecar(dst, meta)
            fe = frontend_of_sidecar(meta, dst)
            sources = _golden_sources(report, data_path, tuple(fe.extensions), golden_items)
            with temp_dir("golden") as scratch:
                golden = make_golden(dst, _golden_inputs(meta, sources, scratch), dst.with_suffix(".golden"))
            entry = {"artifact": dst.name, "sha256": file_sha256(dst), "sidecar": sidecar_path(dst).name,
                     "golden": dst.with_suffix(".golden").name, "format": a["format"], "precision": a["precision"]}
            if profile is not None and profile.arch == "cortex-m" and a["format"] == "tflite":
                entry["c_array"] = _c_files(dst, meta, work)
            files.append(entry)
            log(f"  {dst.name}: sidecar, golden vectors ({len(golden['inputs'])} inputs from {len(sources)} test items)"
                + (", C array" if "c_array" in entry else ""))
        gate = gate_report(report, str(run_dir / "report.json"), base=run_dir, target=target, confined=True,
                           require_budgets=False)
        (work / "MODEL_CARD.md").write_text(render_model_card(report, arts, target, gate, data_path), encoding="utf-8")
        (work / "bundle.json").write_text(json.dumps({
            "schema": BUNDLE_SCHEMA, "target": target, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run": {"report_created": report.get("created"), "data_hash": (report.get("data") or {}).get("hash"),
                    "recipe": (report.get("recipe") or {}).get("name")},
            "gate": {"passed": gate.passed, "violations": [c.to_dict() for c in gate.violations]},
            "files": files}, indent=2) + "\n")
        if out.exists():
            old = out.with_name(f".{out.name}.partial-old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)  # checked by _check_out: empty, an earlier bundle, or --force
            work.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    archive = shutil.make_archive(str(out.parent / f".{out.name}.zip-partial"), "zip", root_dir=out.parent,
                                  base_dir=out.name)
    Path(archive).replace(bundle_zip(out))
    return out


def _profile(target: str, report: dict) -> Any:
    from edgekd.targets import available_targets, load_target

    known = available_targets()
    return load_target(known[target]) if target in known else None


def _c_files(tflite: Path, meta: dict, folder: Path) -> dict[str, Any]:
    """The model as a C array, the constants header with the TFLM arena (measured on the golden inputs) and, for
    an audio model, the front-end in C99 (``edgekd.bundle.cfrontend``)."""
    import numpy as np

    from edgekd.bundle.carray import c_array, constants_header
    from edgekd.bundle.cfrontend import is_audio, write_c_frontend
    from edgekd.runners.mcu_tflm import tflm_run

    symbol = "model_data"
    header, source = c_array(tflite, symbol)
    (folder / f"{symbol}.h").write_text(header)
    (folder / f"{symbol}.c").write_text(source)
    golden = tflite.with_suffix(".golden")
    manifest = read_json(golden / "golden.json", "golden vectors")
    inputs = np.concatenate([np.load(golden / e["model_input"]["file"]) for e in manifest["inputs"]])[:, None]
    arena = int(tflm_run(tflite, inputs)["arena_bytes"])
    frontend = write_c_frontend(meta, folder) if is_audio(meta) else None  # audio: the front-end in C99 too
    (folder / "model_constants.h").write_text(constants_header(meta, arena, frontend))
    return {"header": f"{symbol}.h", "source": f"{symbol}.c", "constants": "model_constants.h", "arena_bytes": arena,
            **({"frontend": frontend} if frontend else {})}
