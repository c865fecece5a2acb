"""Labelled leaf photos: list and validate a folder, and build one-"window"-per-image sets.

A folder holds one sub-folder per class, or ``labels.csv`` (``file,label``; a
``path`` column is read as ``file``) beside the images. Every image is decoded
once through the device front-end (``edgekd.runtime.image``), which converts
what is safe to convert (grayscale, palette, CMYK, alpha over a flat background,
EXIF orientation) and refuses the rest naming the file. The folder as a whole
must give at least two classes, each with at least one image, and a class
sub-folder may hold only image files.

An image is an item with exactly one window (``edgekd.tasks.image`` featurises it
through the front-end), so splits, evaluation, aggregation and the report are
those of every task.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from edgekd.data.items import Item, file_sha256
from edgekd.errors import InputError
from edgekd.runtime.image import IMAGE_EXTENSIONS
from edgekd.runtime.labelled import read_labelled_folder

_IGNORED = {"thumbs.db", "desktop.ini"}
_STAMP = re.compile(r"(?<!\d)(\d{8})_(\d{6})(?!\d)")  # phone file names: IMG_20211008_113726.jpg


def check_class_folders(root: Path, classes: list[str]) -> None:
    """Refuse non-image files and image-less folders in a class-folder layout.

    Only folders named after a class are checked (others are not part of the data set).

    Raises:
        InputError: a file that is not an image (by extension) in a class folder, or a class
            folder with no images.
    """
    if (root / "labels.csv").is_file():
        return
    for name in classes:
        sub = root / name
        if not sub.is_dir():
            continue
        files = [f for f in sorted(sub.iterdir()) if f.is_file() and not f.name.startswith(".")
                 and f.name.lower() not in _IGNORED]
        for f in files:
            if f.suffix.lower() not in IMAGE_EXTENSIONS:
                raise InputError(f"{f}: not an image file (expected {'/'.join(IMAGE_EXTENSIONS)}) in class "
                                 f"folder '{name}'; move it out of the data folder")
        if not files:
            raise InputError(f"{sub}: class folder '{name}' holds no images")


def list_images(root: str | Path, classes: list[str]) -> list[Item]:
    """List a labelled image folder (no decoding yet) as recordings of one window each.

    Args:
        root: the folder.
        classes: the recipe's classes; every label must be one of them and every
            class must have at least one image.

    Returns:
        Items sorted by file name; ``group`` is ``"all"``.

    Raises:
        InputError: see :func:`check_class_folders`; also fewer than two classes
            with images, or a recipe class with no image.
    """
    root = Path(root)
    if root.is_dir():
        check_class_folders(root, classes)
    items = read_labelled_folder(root, extensions=IMAGE_EXTENSIONS, classes=classes)
    counts = Counter(it.label for it in items)
    if len(counts) < 2:
        only = next(iter(counts))
        raise InputError(f"{root}: every image is labelled '{only}'; a classifier needs at least two classes")
    missing = [c for c in classes if c not in counts]
    if missing:
        raise InputError(f"{root}: no images of class {', '.join(repr(m) for m in missing)} "
                         f"(data.classes lists it; found {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})")
    return [Item(path=it.path, file=it.file, label=it.label, group="all", sha256=file_sha256(it.path))
            for it in items]


def capture_time(rec: Item) -> datetime | None:
    """When a photo was taken: the ``YYYYMMDD_HHMMSS`` stamp of phone file names, else EXIF
    DateTimeOriginal / DateTime, else None."""
    m = _STAMP.search(Path(rec.file).name)
    if m:
        try:
            return datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S")
        except ValueError:
            pass
    from PIL import Image

    try:
        with Image.open(rec.path) as im:
            exif = im.getexif()
            raw = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
        return datetime.strptime(str(raw).strip(), "%Y:%m:%d %H:%M:%S") if raw else None
    except (OSError, ValueError):
        return None


def capture_bursts(recordings: list[Item], seconds: float) -> list[str]:
    """A burst key per photo: photos of one class taken less than ``seconds`` apart (chained) share it.

    Consecutive shots are usually the same leaf; splits keep a burst together
    (``edgekd.data.splits.grouped_stratified_split``). A photo without a capture
    time is a burst of its own.
    """
    keys = [f"{r.label}/{r.file}" for r in recordings]
    by_class: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for i, r in enumerate(recordings):
        t = capture_time(r)
        if t is not None:
            by_class[r.label].append((t, i))
    for label, shots in by_class.items():
        shots.sort()
        start = 0
        for j, (t, i) in enumerate(shots):
            if j and (t - shots[j - 1][0]).total_seconds() > seconds:
                start = j
            keys[i] = f"{label}@{shots[start][0].isoformat()}"
    return keys
