"""Resuming from checkpoints safely: only a checkpoint of the same run is resumed, anything else is refused by name.

A checkpoint carries the fingerprint of the run that wrote it (settings, data, seed, model).
``read_resumable`` returns it when the fingerprint matches; a file that cannot be read
(truncated, not a checkpoint, pickled code that ``weights_only=True`` refuses) or that belongs
to another run is an ``InputError`` naming it, so a run never crashes on, nor silently trains
over, what is in its folder. ``edgekd run --fresh`` removes the run's checkpoints first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from edgekd.errors import InputError

FRESH_HINT = "remove it, use another output folder, or start over with `edgekd run --fresh`"


def read_resumable(path: Path, fingerprint: str, what: str) -> Optional[dict[str, Any]]:
    """The checkpoint at ``path`` if it belongs to this run, None if there is none.

    Args:
        path: the checkpoint file.
        fingerprint: this run's identity.
        what: what the checkpoint is of, for the message (``"training"``, ``"pruning step 2"``).

    Raises:
        InputError: the file is corrupt or not a checkpoint, or it belongs to another run.
    """
    import torch

    if not path.is_file():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"{path}: a corrupt or foreign {what} checkpoint ({type(exc).__name__}: {reason}); "
                         f"{FRESH_HINT}") from None
    if not isinstance(ckpt, dict) or "fingerprint" not in ckpt:
        raise InputError(f"{path}: not an edgekd {what} checkpoint; {FRESH_HINT}")
    if ckpt["fingerprint"] != fingerprint:
        raise InputError(f"{path}: a {what} checkpoint of another run (its settings, data, seed or model differ); "
                         f"{FRESH_HINT}")
    return ckpt
