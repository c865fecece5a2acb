"""The runnable examples in the public docstrings are run (one behaviour each: the example works as written)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "edgekd.registry",
    "edgekd.runtime.frontends",
    "edgekd.runtime.scoring",
    "edgekd.data.features",
    "edgekd.tasks.base",
    "edgekd.api.datasets",
    "edgekd.api.distilling",
    "edgekd.api.pruning",
    "edgekd.pruning.latency_table",
    "edgekd.pruning.netadapt",
    "edgekd.pruning.check",
    "edgekd.api.exporting",
    "edgekd.api.evaluating",
    "edgekd.api.gating",
    "edgekd.flow.compress",
    "edgekd.api.reporting",
    "edgekd.sweep.stopping",
    "edgekd.sweep.objectives",
    "edgekd.models.pretrained",
    "edgekd.models.efficientnet_lite",
    "edgekd.api.models",
    "edgekd.data.spec_augment",
    "edgekd.report.record",
    "edgekd.report.paired",
    "edgekd.api.wiring",
    "edgekd.training.config",
    "edgekd.runtime.native_log",
    "edgekd.targets",
    "edgekd.target_derive",
    "edgekd.yamlconf",
    "edgekd.inputfile",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    if (name.startswith("edgekd.api.") and name != "edgekd.api.gating") or name.startswith("edgekd.pruning.") \
            or name.startswith("edgekd.models.") or name == "edgekd.data.spec_augment":
        pytest.importorskip("torch")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no runnable example"
    assert result.failed == 0
