"""Rebuild this sample from the full MangoLeafBD dev subset: 10 photos per class, shorter side 128 px.

Photos are picked evenly over each class's file list (sorted by name), downscaled
with Pillow (bilinear, antialiased) and saved as JPEG quality 90 with their EXIF
block kept (so the orientation tag of sideways phone photos still applies).

Run:  .venv/bin/python data/plant-sample/make_sample.py [--src ../shared/data/plant-mangoleafbd]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
PER_CLASS, SHORTER = 10, 128


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=str(HERE.parent.parent.parent / "shared" / "data" / "plant-mangoleafbd"))
    src = Path(ap.parse_args().src)
    for cls in sorted(p for p in src.iterdir() if p.is_dir()):
        files = sorted(cls.glob("*.jpg"))
        picks = [files[int(i * len(files) / PER_CLASS)] for i in range(PER_CLASS)]
        out = HERE / cls.name
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        for f in picks:
            with Image.open(f) as im:
                w, h = im.size
                k = SHORTER / min(w, h)
                small = im.convert("RGB").resize((round(w * k), round(h * k)), Image.Resampling.BILINEAR)
                small.save(out / f.name, quality=90, exif=im.info.get("exif", b""))
    shutil.copyfile(src / "SOURCE.md", HERE / "SOURCE.md")


if __name__ == "__main__":
    main()
