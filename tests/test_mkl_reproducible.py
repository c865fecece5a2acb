"""`import edgekd` asks Intel MKL for strict reproducibility, so two identical runs train to the same weights."""

import os
import subprocess
import sys


def _mkl_cbwr_after_import(env: dict) -> str:
    code = "import edgekd, os; print(os.environ.get('MKL_CBWR', ''))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_edgekd_sets_mkl_strict_reproducibility():
    env = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}
    assert _mkl_cbwr_after_import(env) == "AUTO,STRICT"


def test_a_users_own_mkl_cbwr_is_kept():
    assert _mkl_cbwr_after_import({**os.environ, "MKL_CBWR": "COMPATIBLE"}) == "COMPATIBLE"


def test_the_run_records_the_mode_among_its_versions():
    from edgekd.versions import versions

    assert versions()["mkl_cbwr"] == os.environ.get("MKL_CBWR", "")
