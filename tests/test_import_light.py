"""`import edgekd` and `edgekd --help` must not import torch or TensorFlow (fast CLI, device installs)."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.device

HEAVY = ("torch", "tensorflow", "onnx", "litert_torch", "ai_edge_litert", "onnxruntime", "executorch", "nncf")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_edgekd_is_light():
    assert _loaded_after("import edgekd, edgekd.cli") == set()


def test_help_is_light():
    assert _loaded_after(
        "import contextlib, io\nfrom edgekd.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        main(['--help'])\n    except SystemExit:\n        pass"
    ) == set()


def test_the_api_verbs_resolve_without_importing_torch():
    assert _loaded_after("import edgekd\nfor verb in edgekd.__all__: getattr(edgekd, verb)") == set()


def test_plugins_help_and_listing_are_light_without_plugins_of_heavy_kinds():
    assert _loaded_after(
        "import contextlib, io\nfrom edgekd.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        main(['plugins', '--help'])\n"
        "    except SystemExit:\n        pass"
    ) == set()
