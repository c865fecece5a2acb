"""Installed plugins: the entry points of every ``edgekd.*`` group, loaded or not, and from which distribution.

An installed package extends edgekd by declaring entry points (``pyproject.toml``)::

    [project.entry-points."edgekd.models"]
    ecg_net = "my_pkg.models:build_ecg_net"      # (num_classes=, input_shape=, **params) -> nn.Module
    [project.entry-points."edgekd.tasks"]
    ecg-classification = "my_pkg.tasks:EcgTask"  # a subclass of edgekd.tasks.Task

Recipes then name the key (``model: ecg_net``); they never hold an import path.
A plugin that fails to import is listed with its error and the others keep
working; a key claimed by two distributions is refused when used, naming both.
"""

from __future__ import annotations

import importlib
from typing import Any

from edgekd.registry import PluginEntry

#: entry-point group -> (module, registry attribute) that loads it
GROUPS: dict[str, tuple[str, str]] = {
    "edgekd.models": ("edgekd.models.registry", "MODELS"),
    "edgekd.tasks": ("edgekd.tasks", "TASKS"),
    "edgekd.losses": ("edgekd.training.losses", "LOSSES"),
    "edgekd.distill_methods": ("edgekd.distillation.methods", "METHODS"),
    "edgekd.runners": ("edgekd.runners.registry", "RUNNERS"),
    "edgekd.frontends": ("edgekd.runtime.frontends", "FRONTENDS"),
    "edgekd.importances": ("edgekd.pruning.importance", "IMPORTANCES"),
}


def registry_of(group: str) -> Any:
    """The registry that a group's entry points extend (importing it registers the built-ins)."""
    module, attr = GROUPS[group]
    return getattr(importlib.import_module(module), attr)


def installed_plugins() -> list[PluginEntry]:
    """Every installed edgekd plugin entry, loaded through its registry (errors recorded, never raised)."""
    from edgekd.registry import entry_points_of

    found: list[PluginEntry] = []
    for group in GROUPS:
        if not entry_points_of(group):
            continue  # no need to import the registry (and torch) for an empty group
        found.extend(registry_of(group).plugin_entries())
    return found
