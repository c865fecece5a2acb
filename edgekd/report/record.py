"""The one artifact record: what a report says of one exported file, and what ``edgekd gate`` judges.

``edgekd.compress``/``edgekd run`` (``edgekd.flow.measuring``), step-by-step results (``Exported.measured``) and
every sweep trial build their rows here, so the gate reads the same keys whichever way a file was measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional


def artifact_record(*, name: str, role: str, target: str, format: str, precision: str, path: str | Path,
                    shown_path: Optional[str] = None, metrics: Mapping[str, Any],
                    latency: Optional[Mapping[str, Any]] = None, audit: Optional[Mapping[str, Any]] = None,
                    **extra: Any) -> dict:
    """One report row (schema ``edgekd.report/1``): identity, the file (size, SHA-256), and its measured figures.

    Args:
        name, role, target, format, precision: what the file is (``role="teacher"``: a reference, never gated).
        path: the file; ``shown_path`` what the report writes for it (relative to the report), default ``path``.
        metrics: ``eval --json`` of the file; latency: ``bench --json``; audit: ``inspect --json``.
        **extra: more keys (backend, parity, qat, ...).

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "m.onnx"; _ = f.write_bytes(b"x")
        >>> r = artifact_record(name="m", role="student", target="x86_64", format="onnx", precision="fp32",
        ...                     path=f, shown_path="m.onnx", metrics={"n": 1})
        >>> r["size_bytes"], r["path"], len(r["sha256"])
        (1, 'm.onnx', 64)
    """
    from edgekd.hashing import file_sha256

    path = Path(path)
    row: dict[str, Any] = {"name": name, "role": role, "target": target, "format": format, "precision": precision,
                           "path": shown_path if shown_path is not None else str(path),
                           "size_bytes": path.stat().st_size,
                           "sha256": file_sha256(path),  # the gate checks the file it gates is the one measured
                           "metrics": dict(metrics)}
    if latency is not None:
        row["latency"] = dict(latency)
    if audit is not None:
        row["audit"] = dict(audit)
    row.update(extra)
    return row
