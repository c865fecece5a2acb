"""Add (or refresh) the ``--hash=sha256:...`` of every pin in the lock files, for ``pip install --require-hashes``.

    python requirements/hash_locks.py                  # main.lock + extra.lock (.venv), device*.lock (.venv-device)
    python requirements/hash_locks.py --check          # exit 1 when a pin has no hash or a stale one

The hashes are those of the files pip picks for these pins on this machine kind (CPython 3.11, x86_64 Linux),
as pip itself reports them: ``pip install --dry-run --ignore-installed --no-deps --report`` with the environment's
own interpreter, so nothing is installed. torch 2.13.0+cpu comes from the wheel on disk (pip's find-links), so
its hash is that file's. ``arm64-root.lock``: the aarch64 cp311 wheels of the emulated arm64 root, resolved with
the platform options ``edgekd.runners.emulated_root`` installs them with.

After changing a version in a lock, run this with the venvs made (``make .venv/.edgekd-installed``) and commit.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# lock files → the interpreter whose pip resolves them (numpy<2 for the device set)
GROUPS = {
    ".venv/bin/python": ["main.lock", "extra.lock"],
    ".venv-device/bin/python": ["device.lock", "device-extra.lock"],
}
# the aarch64 cp311 wheels of the emulated arm64 root (edgekd.runners.emulated_root installs them with --target)
ARM64 = {".venv/bin/python": ["arm64-root.lock"]}
ARM64_ARGS = ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
              *[a for p in ("manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux_2_17_aarch64",
                            "manylinux2014_aarch64") for a in ("--platform", p)]]
LOCKS = [n for group in (GROUPS, ARM64) for names in group.values() for n in names]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(lock: Path) -> list[tuple[str, str | None]]:
    """(line, canonical name of its pin or None) per logical line, hash continuations folded away."""
    logical, buf = [], ""
    for raw in lock.read_text().splitlines():
        if buf:
            buf += " " + raw.strip()
        else:
            buf = raw
        if buf.rstrip().endswith("\\"):
            buf = buf.rstrip()[:-1].rstrip()
            continue
        logical.append(buf)
        buf = ""
    if buf:
        logical.append(buf)
    out = []
    for line in logical:
        stripped = line.strip()
        m = PIN.match(stripped)
        if m:
            out.append((re.sub(r"\s+--hash=\S+", "", stripped), canonical(m["name"])))
        else:
            out.append((line, None))
    return out


def report_hashes(python: Path, locks: list[Path], extra: list[str] = ()) -> dict[str, str]:
    """canonical name → sha256 of the file pip would install, from a dry run (``extra``: platform options)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        plain = []
        for lock in locks:  # pip refuses mixing hashed and unhashed pins: resolve from the pins alone
            p = Path(tmp) / lock.name
            p.write_text("\n".join(line for line, name in parse(lock) if name) + "\n")
            plain += ["-r", str(p)]
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed", "--no-deps",
                        "--report", str(report), *extra, *(["--target", str(Path(tmp) / "t")] if extra else []),
                        *plain], check=True)
        data = json.loads(report.read_text())
    hashes = {}
    for item in data["install"]:
        archive = item["download_info"].get("archive_info") or {}
        sha = (archive.get("hashes") or {}).get("sha256")
        if sha is None and "hash" in archive and archive["hash"].startswith("sha256="):
            sha = archive["hash"].split("=", 1)[1]
        if sha is None:
            raise SystemExit(f"no sha256 for {item['metadata']['name']} ({item['download_info'].get('url')})")
        hashes[canonical(item["metadata"]["name"])] = sha
    return hashes


def render(lock: Path, hashes: dict[str, str]) -> str:
    lines = []
    for line, name in parse(lock):
        if name is None:
            lines.append(line)
        else:
            lines.append(f"{line} \\\n    --hash=sha256:{hashes[name]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only check that every pin carries the current hash")
    args = ap.parse_args(argv)
    stale = []
    jobs = [(python, names, []) for python, names in GROUPS.items()]
    jobs += [(python, names, ARM64_ARGS) for python, names in ARM64.items()]
    for python, names, extra in jobs:
        locks = [HERE / n for n in names]
        hashes = report_hashes(ROOT / python, locks, extra)
        for lock in locks:
            text = render(lock, hashes)
            if lock.read_text() != text:
                stale.append(lock.name)
                if not args.check:
                    lock.write_text(text)
    if args.check and stale:
        print(f"stale or missing hashes: {', '.join(stale)} (run python requirements/hash_locks.py)", file=sys.stderr)
        return 1
    print(("hashes current: " if args.check else "written: ") + ", ".join(LOCKS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
