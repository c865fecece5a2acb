"""Golden vectors for the committed benchmark artifacts (``benchmarks/results/artifacts/<task>/``).

``edgekd bundle`` writes golden vectors for a run's artifacts; the committed students did not have them, so
``edgekd conformance`` could not run on them. This script writes ``NAME.golden/`` beside each committed file,
from real items in every form a device meets (``edgekd.runtime.golden_inputs``):

- heart: a normal and an abnormal recording of the in-repo sample (``data/heart-sample``), two windows of each in
  PCM 16-bit, the first also as 24-bit extensible and float WAVs, and the first whole;
- plant: two full-size (240 x 320) MangoLeafBD photos (the in-repo sample is downscaled), the first also
  phone-sized (4032 x 3024 JPEG), as a thumbnail, odd-sized, EXIF-rotated (orientation 6), taller than twice its width
  and with transparency. Needs ``../shared/data/plant-mangoleafbd`` (the committed vectors do not).

Usage: ``.venv/bin/python benchmarks/golden_shipped.py [--task heart|plant]``
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "benchmarks" / "results" / "artifacts"
PLANT = ROOT.parent / "shared" / "data" / "plant-mangoleafbd"
HEART = ROOT / "data" / "heart-sample"
SOURCE_NOTE = {
    "plant": "The photos in `inputs/` are MangoLeafBD images (Ali et al. 2022, Mendeley Data V1, "
             "doi:10.17632/hxsnvwty3r.1), probably CC BY-NC: see `data/plant-sample/SOURCE.md`. Every other input "
             "is made from them by `benchmarks/golden_shipped.py` (resized, cropped, rotated, re-encoded).\n",
    "heart": "The recordings in `inputs/` are PhysioNet/CinC Challenge 2016 recordings (ODC-By 1.0): see "
             "`data/heart-sample/SOURCE.md`. Excerpts and re-encodings are made by `benchmarks/golden_shipped.py`.\n",
}


def heart_sources() -> list[Path]:
    rows = list(csv.DictReader((HEART / "labels.csv").open()))
    first = {}
    for r in sorted(rows, key=lambda r: r["file"]):
        first.setdefault(r["label"], HEART / r["file"])
    return [first["normal"], first["abnormal"]]


def plant_sources() -> list[Path]:
    if not PLANT.is_dir():
        sys.exit(f"{PLANT}: the full MangoLeafBD set is not here (the golden photos are full-size originals)")
    rows = list(csv.DictReader((PLANT / "labels.csv").open()))
    first = {}
    for r in sorted(rows, key=lambda r: r["path"]):
        first.setdefault(r["label"], PLANT / r["path"])
    return [first["anthracnose"], first["healthy"]]


def write(task: str) -> None:
    from edgekd.bundle.assemble import _golden_inputs
    from edgekd.runtime.golden import make_golden
    from edgekd.runtime.sidecar import read_sidecar

    sources = heart_sources() if task == "heart" else plant_sources()
    for art in sorted(p for p in (ARTIFACTS / task).iterdir() if p.suffix in (".tflite", ".onnx")):
        scratch = Path(tempfile.mkdtemp(prefix="edgekd-golden-"))
        folder = art.with_suffix(".golden")
        work = folder.with_name(f".{folder.name}.partial")
        shutil.rmtree(work, ignore_errors=True)
        try:
            inputs = _golden_inputs(read_sidecar(art), sources, scratch)
            manifest = make_golden(art, inputs, work)
            (work / "SOURCE.md").write_text("# Golden inputs: origin and licence\n\n" + SOURCE_NOTE[task])
            shutil.rmtree(folder, ignore_errors=True)
            work.rename(folder)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"{folder.relative_to(ROOT)}: {len(manifest['inputs'])} inputs, {size / 1e6:.1f} MB; predicted "
              + ", ".join(f"{e['source']}={e['predicted']}" for e in manifest["inputs"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["heart", "plant"], action="append")
    for task in parser.parse_args().task or ["heart", "plant"]:
        write(task)


if __name__ == "__main__":
    main()
