"""Shared by the hostile-input property suites: run the CLI in-process and check it ended cleanly."""

from __future__ import annotations

from edgekd.cli import main


def run_cli(args, capfd, allowed: set) -> int:
    """``edgekd ARGS`` in this process: its exit code, which must be in ``allowed``, and no traceback printed."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    err = capfd.readouterr().err
    assert code in allowed, (code, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    return code
