"""Exception types that map to the CLI's exit codes.

Every error a user can cause (bad recipe, bad data, unknown target) is an
``InputError`` (exit 2). A backend that fails on valid input (a converter
crash, an op it cannot export) is a ``BackendError`` (exit 3). The CLI prints
the message alone, never a traceback, for both.
"""

from __future__ import annotations


class EdgekdError(Exception):
    """Base class: a failure with a message meant for the user."""

    exit_code = 2


class InputError(EdgekdError):
    """Bad usage, recipe, profile or data (exit code 2)."""

    exit_code = 2


class BackendError(EdgekdError):
    """A backend (exporter, quantizer, runtime) failed (exit code 3)."""

    exit_code = 3


class PluginError(InputError):
    """An installed plugin that cannot be used: it failed to import, or two plugins claim one key (exit code 2)."""

    exit_code = 2


def warn_deprecated(message: str) -> None:
    """A ``DeprecationWarning`` attributed to the user's line: the first caller outside the ``edgekd`` package
    (so Python shows it by default in a script, however many edgekd frames lie between)."""
    import sys
    import warnings

    level, frame = 2, sys._getframe(1)
    while frame is not None and str(frame.f_globals.get("__name__", "")).split(".")[0] == "edgekd":
        frame, level = frame.f_back, level + 1
    warnings.warn(message, DeprecationWarning, stacklevel=level)
