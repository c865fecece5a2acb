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
