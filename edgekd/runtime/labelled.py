"""List a labelled folder of recordings (no audio decoding), for ``edgekd eval``.

Three layouts are accepted, tried in this order:

1. ``labels.csv`` with a ``file,label`` header (extra columns ignored; a ``path`` column stands for ``file``);
2. a PhysioNet challenge ``REFERENCE.csv`` (rows ``a0001,1``; 1 = abnormal, -1 = normal);
3. one sub-folder per class, holding the recordings.

Row numbers in messages count the file's lines from 1, header included.

Every item is a regular file (symlinks followed): a FIFO, socket, device or dangling link named like an item (in a
class sub-folder, or listed in a CSV), a ``labels.csv`` or ``REFERENCE.csv`` that is not a regular file, and a
folder path that is not a folder are refused by their kind, naming them (``edgekd.inputfile``), never skipped nor
opened. A folder inside a class sub-folder is not an item and is passed over, as are files of other suffixes.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from edgekd.errors import InputError
from edgekd.inputfile import existing_folder, read_bytes, regular_file

_PHYSIONET_LABELS = {"1": "abnormal", "-1": "normal"}


@dataclass(frozen=True)
class LabelledItem:
    """One recording: its path, its name relative to the folder, and its label."""

    path: Path
    file: str
    label: str


def _csv_rows(csv_path: Path) -> list[tuple[int, list[str]]]:
    """(line number, stripped cells) for every non-blank row of a CSV file (a regular file, read without blocking:
    a FIFO or a device is refused by its kind, naming it)."""
    data = read_bytes(csv_path, "labels CSV")
    try:
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        return [(reader.line_num, [c.strip() for c in row]) for row in reader if any(c.strip() for c in row)]
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{csv_path}: not a readable CSV file ({e})") from None


def _from_labels_csv(root: Path) -> Iterator[tuple[str, str, str]]:
    """Yield (file, label, where) from labels.csv."""
    csv_path = root / "labels.csv"
    rows = _csv_rows(csv_path)
    header = rows[0][1] if rows else []
    if "file" not in header and "path" in header:  # data sets that name the column 'path'
        header = ["file" if c == "path" else c for c in header]
    missing = [c for c in ("file", "label") if c not in header]
    if missing:
        raise InputError(f"{csv_path}: no {' or '.join(repr(m) for m in missing)} column "
                         f"(the header must be file,label; found {','.join(header) or 'nothing'})")
    i_file, i_label = header.index("file"), header.index("label")
    for line, row in rows[1:]:
        row = row + [""] * (len(header) - len(row))  # a short row reads as empty cells
        yield row[i_file], row[i_label], f"labels.csv row {line}"


def _from_reference_csv(root: Path) -> Iterator[tuple[str, str, str]]:
    """Yield (file, label, where) from a PhysioNet REFERENCE.csv."""
    for line, row in _csv_rows(root / "REFERENCE.csv"):
        where = f"REFERENCE.csv row {line}"
        if len(row) < 2 or row[1] not in _PHYSIONET_LABELS:
            raise InputError(f"{root}: {where} is {','.join(row)!r}; expected 'record,1' (abnormal) "
                             "or 'record,-1' (normal)")
        yield row[0] + ".wav", _PHYSIONET_LABELS[row[1]], where


def _class_folders(root: Path, extensions: Sequence[str]) -> list[tuple[str, str, str]]:
    """(file, label, where) for every item file in a class sub-folder of ``root``.

    A name with one of ``extensions`` that is not a regular file (a FIFO, socket, device or dangling link) is
    refused, naming it, rather than skipped (the metrics would silently leave it out); a folder is passed over.
    """
    found = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        _check_name(sub, root)
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() in extensions and not f.is_dir():
                _check_name(f, root)
                regular_file(f, "labelled item")
                found.append((f"{sub.name}/{f.name}", sub.name, f"sub-folder {sub.name}/"))
    return found


def _check_name(path: Path, root: Path) -> None:
    """Refuse a file or folder name that is not valid UTF-8 (it cannot go into a report, a sidecar or a CSV)."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        shown = path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise InputError(f"{root}: the name {shown!r} (in {path.parent.name or root}) is not valid UTF-8; "
                         "rename it") from None


def read_labelled_folder(
    root: str | os.PathLike[str],
    *,
    extensions: Sequence[str] = (".wav",),
    classes: list[str] | None = None,
) -> list[LabelledItem]:
    """List the labelled recordings of ``root``, sorted by file name.

    Args:
        root: the folder.
        extensions: audio file suffixes to accept (case-insensitive).
        classes: when given, every label must be one of these.

    Raises:
        InputError: no such folder (or not a folder), no known layout, a ``labels.csv`` or ``REFERENCE.csv``
            that is not a regular file, a bad header or row, a listed file that does not exist, an item that is
            not a regular file (a FIFO, socket or device), an unknown label, a duplicate row, or no items at all.
    """
    root = existing_folder(root)
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    # lexists, not is_file: a labels.csv that is a FIFO, a folder or a dangling link is refused by its kind
    if os.path.lexists(root / "labels.csv"):
        rows: Iterable[tuple[str, str, str]] = _from_labels_csv(root)
    elif os.path.lexists(root / "REFERENCE.csv"):
        rows = _from_reference_csv(root)
    else:
        rows = _class_folders(root, exts)
        if not rows:
            raise InputError(f"{root}: no labels.csv (file,label), no REFERENCE.csv and no class "
                             f"sub-folders holding {'/'.join(exts)} files")
    items: dict[str, LabelledItem] = {}
    seen_at: dict[str, str] = {}
    for file, label, where in rows:
        if not file or not label:
            raise InputError(f"{root}: {where} has an empty file or label")
        if file in items:
            raise InputError(f"{root}: '{file}' is listed twice ({seen_at[file]} and {where})")
        path = root / file
        if not path.is_file():
            if os.path.lexists(path):  # a FIFO, device or folder: refused by its kind, never opened
                regular_file(path, "labelled item")
            raise InputError(f"{path}: listed in {where} but the file does not exist")
        if path.suffix.lower() not in exts:
            raise InputError(f"{path}: listed in {where} but is not a {'/'.join(exts)} file")
        if classes is not None and label not in classes:
            raise InputError(f"{root}: label '{label}' ({where}) is not one of the classes {', '.join(classes)}")
        items[file] = LabelledItem(path=path, file=file, label=label)
        seen_at[file] = where
    if not items:
        raise InputError(f"{root}: the folder lists no recordings")
    return sorted(items.values(), key=lambda item: item.file)
