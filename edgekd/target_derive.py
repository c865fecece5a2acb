"""``edgekd targets derive``: a new profile made from a shipped (or any) one, without editing shipped files.

The base profile's YAML tree is copied, the overrides applied (``--runner estimate``, ``--set budgets.size_kb=256``),
the result validated exactly as ``load_target`` validates a file, then written atomically as ``targets/NAME.yaml``
(the folder ``edgekd`` searches first after ``$EDGEKD_TARGETS``). The new file records ``derived_from``: the base's
name and the SHA-256 of the file it was made from, so a later change to the base is visible.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Optional

import yaml

from edgekd.errors import InputError
from edgekd.yamlconf import parse_overrides, read_yaml_mapping, set_key

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def derive_profile(base: str | Path, name: str, *, runner: Optional[str] = None, overrides: list[str] = (),
                   out: Optional[Path] = None, force: bool = False) -> Path:
    """Write the profile ``name`` derived from ``base`` and return its path.

    Args:
        base: a profile name (``rpi4``) or a profile file.
        name: the new profile's name (letters, digits, ``.``, ``_``, ``-``); the file is ``NAME.yaml``.
        runner: replace the base's runner with this kind's defaults (``estimate`` for a device not at hand,
            ``local`` on the device itself); its settings are then given with ``overrides`` (``runner.host=...``).
        overrides: ``key=value`` strings (values read as YAML), e.g. ``budgets.size_kb=256``.
        out: the file to write (default ``targets/NAME.yaml`` in the current folder).
        force: replace an existing file.

    Raises:
        InputError: unknown base, a bad name or override, a result that is not a valid profile, an existing
            ``out`` without ``force``, or the base itself as ``out``.

    >>> import pathlib, tempfile; out = pathlib.Path(tempfile.mkdtemp()) / "my-pi.yaml"
    >>> path = derive_profile("rpi4", "my-pi", runner="estimate", overrides=["budgets.size_kb=256"], out=out)
    >>> from edgekd.targets import load_target
    >>> p = load_target(path); (p.runner.kind, p.budgets.size_kb, p.derived_from.split(" ")[0])
    ('estimate', 256.0, 'rpi4')
    """
    from edgekd.atomic import write_text
    from edgekd.hashing import file_sha256
    from edgekd.targets import RUNNER_MODELS, check_runner, load_target, TargetProfile
    from edgekd.yamlconf import validate

    if not _NAME.fullmatch(name):
        raise InputError(f"--name {name!r}: a profile name is letters, digits, '.', '_' or '-' (at most 64), "
                         "e.g. my-pi")
    source = Path(load_target(base).source)
    tree: dict[str, Any] = read_yaml_mapping(source, "target profile")
    tree["name"] = name
    tree.pop("derived_from", None)
    if runner is not None:
        if runner not in RUNNER_MODELS:
            raise InputError(f"--runner {runner!r}: one of {', '.join(RUNNER_MODELS)}")
        tree["runner"] = {"kind": runner}
    for key, value in parse_overrides(list(overrides)):
        if key in ("name", "derived_from", "source"):
            raise InputError(f"--set {key}: set by edgekd targets derive, not by --set")
        set_key(tree, key, value, "edgekd targets derive")
    tree["derived_from"] = f"{source.stem} (sha256 {file_sha256(source)[:16]}, {source.name})"
    where = f"the derived profile {name!r}"
    check_runner(tree.get("runner"), where)
    path = Path(out) if out is not None else Path("targets") / f"{name}.yaml"
    calibration = _base_calibration(source, tree, path.resolve().parent)
    if calibration is not None:  # the base's calibration stays the new profile's (it is the same device)
        tree["calibration"] = os.path.relpath(calibration.resolve(), path.resolve().parent)
    profile: TargetProfile = validate(TargetProfile, tree, where)
    if profile.runner.kind == "estimate" and profile.estimate is None and calibration is None:
        raise InputError(f"{where}: runner estimate needs a calibration of {source.stem} (edgekd targets calibrate "
                         f"{source.stem}) or the 'estimate' coefficients, and {source.stem} has neither: give them "
                         "with --set estimate.int8_gmacs=... and the other estimate keys (edgekd targets schema)")
    if path.resolve() == source.resolve():
        raise InputError(f"{path}: that is the base profile itself; give another --out")
    if path.exists() and not force:
        raise InputError(f"{path}: exists; give --force to replace it, or another --name/--out")
    header = (f"# Derived from {source.stem} ({source.name}) by `edgekd targets derive`; edit freely.\n"
              f"# Schema: edgekd/target_profiles/target-profile.schema.json (`edgekd targets schema`).\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, header + yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, width=116))
    return path


def _base_calibration(source: Path, tree: dict[str, Any], new_folder: Path) -> Optional[Path]:
    """The calibration file the new profile should estimate with: the tree's ``calibration`` (as the base file
    means it, relative to the base's folder, or as given to ``--set``, relative to here), else the base's
    ``BASE.calibration.json`` where profiles are searched; ``None`` when there is none."""
    from edgekd.targets import targets_dirs

    own = tree.get("calibration")
    if own:
        path = Path(str(own)).expanduser()
        places = [new_folder, source.parent, Path.cwd()]
        for candidate in ([path] if path.is_absolute() else [p / path for p in places]):
            if candidate.is_file():
                return candidate
        raise InputError(f"the derived profile's calibration {own!r}: no such file (relative to the new profile's "
                         f"folder {new_folder}, to the base's {source.parent}, or here)")
    for folder in [source.parent, *targets_dirs()]:
        candidate = folder / f"{source.stem}.calibration.json"
        if candidate.is_file():
            return candidate
    return None
