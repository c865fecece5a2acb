"""The built wheel works where it is installed: target profiles and schemas are inside the package.

Builds the wheel from a copy of the sources (``pip wheel --no-deps --no-build-isolation``), installs it with its
``[device]`` extra into a fresh venv, offline: the venv sees only the ``edgekd[device]`` dependency closure of the
packages already installed here (symlinked into one folder named by a ``.pth`` file; no torch, no TensorFlow), and
pip runs with ``--no-index`` so nothing is downloaded. Then, from a folder outside the repository (no ``targets/``
to find, no ``$EDGEKD_TARGETS``), the installed ``edgekd`` lists the shipped targets, evaluates a committed
artifact on in-repo data, benches it against ``x86_64`` (measured here) and ``rpi4`` (its estimate
coefficients), and checks it against its golden vectors.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from reportfiles import materialise

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "benchmarks" / "results" / "artifacts"
HEART = ARTIFACTS / "heart" / "student-tflite-int8.tflite"
PLANT = ARTIFACTS / "plant" / "student-onnx-int8-qat.onnx"

pytestmark = pytest.mark.slow


def _name(req: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def device_closure() -> list[md.Distribution]:
    """The installed distributions ``edgekd[device]`` needs, its own dependencies' dependencies included."""
    from packaging.requirements import Requirement

    todo = [Requirement(r) for r in md.requires("edgekd") or []]
    todo = [r for r in todo if r.marker is None or r.marker.evaluate({"extra": "device"})]
    found: dict[str, md.Distribution] = {}
    while todo:
        req = todo.pop()
        key = _name(req.name)
        if key in found:
            continue
        dist = md.distribution(req.name)
        found[key] = dist
        for sub in dist.requires or []:
            r = Requirement(sub)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(r)
    return list(found.values())


def dependency_site(dest: Path) -> Path:
    """A folder holding only the device closure (symlinks to the installed files and their .dist-info)."""
    dest.mkdir()
    for dist in device_closure():
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            if top in ("bin", "__pycache__") or (dest / top).exists():
                continue
            if (base / top).exists():
                (dest / top).symlink_to(base / top)
    return dest


def run(cmd: list, cwd: Path, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, a working folder outside the repository, environment, dependency folder) of the wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / f, src / f)
    shutil.copytree(ROOT / "edgekd", src / "edgekd", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("EDGEKD_TARGETS", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PIP_FIND_LINKS")}
    env["PIP_NO_INDEX"] = "1"  # offline whatever pip.conf says: nothing may be downloaded
    env["PIP_CONFIG_FILE"] = os.devnull
    wheels = tmp / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", wheels, src], tmp, env)
    (wheel,) = wheels.glob("edgekd-*.whl")

    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp, env)
    site = next((venv / "lib").glob("python3*/site-packages"))
    deps = dependency_site(tmp / "deps")
    (site / "edgekd_test_deps.pth").write_text(f"{deps}\n")
    run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-index",
         "--find-links", wheels, f"{wheel}[device]"], tmp, env)

    work = tmp / "elsewhere"
    work.mkdir()
    return venv / "bin", work, env, deps


def test_the_installed_wheel_is_the_package_and_carries_no_training_toolchain(installed):
    bin_dir, work, env, deps = installed
    out = run([bin_dir / "python", "-c",
               "import edgekd, importlib.util as u; print(edgekd.__file__);"
               "print(u.find_spec('torch') is None and u.find_spec('tensorflow') is None)"], work, env).stdout.split()
    assert "site-packages" in out[0] and not out[0].startswith(str(ROOT)) and out[1] == "True"
    names = {p.name.lower() for p in deps.iterdir()}
    assert any(n.startswith("ai_edge_litert") for n in names) and any(n.startswith("onnxruntime") for n in names)


def test_the_installed_wheel_lists_the_shipped_targets_and_schemas(installed):
    bin_dir, work, env, _ = installed
    listed = run([bin_dir / "edgekd", "targets"], work, env).stdout
    shipped = sorted(p.stem for p in (ROOT / "edgekd" / "target_profiles").glob("*.yaml"))
    assert {"rpi4", "x86_64", "cortex-m55-ethos-u55"} <= set(shipped)
    for name in shipped:
        assert name in listed
    found = run([bin_dir / "python", "-c",
                 "from edgekd.report.validation import SCHEMA_FILE as r; from edgekd.runtime.sidecar import "
                 "SCHEMA_FILE as s; print(r.is_file(), s.is_file())"], work, env).stdout.split()
    assert found == ["True", "True"]


def test_the_installed_wheel_evaluates_benches_and_checks_a_committed_artifact(installed):
    bin_dir, work, env, _ = installed
    ev = json.loads(run([bin_dir / "edgekd", "eval", HEART, "--data", ROOT / "data" / "heart-sample", "--json"],
                        work, env).stdout)
    assert ev["n"] == 150 and ev["macc"] > 0.6
    local = json.loads(run([bin_dir / "edgekd", "bench", HEART, "--target", "x86_64", "--runs", "5", "--warmup", "1",
                            "--json"], work, env).stdout)
    assert (local["runner"], local["runs"], local["runtime"]) == ("local", 5, "ai-edge-litert")
    est = json.loads(run([bin_dir / "edgekd", "bench", HEART, "--target", "rpi4", "--runner", "estimate", "--json"],
                         work, env).stdout)
    assert est["estimated"] and "'rpi4'" in est["method"] and est["coefficients"]["cores"] == 4
    for art in (HEART, PLANT):  # the golden inputs through the installed front-end, then `edgekd conformance`
        features = work / f"{art.stem}.features.npy"
        run([bin_dir / "python", "-c", FEATURES, art, features], work, env)
        conf = json.loads(run([bin_dir / "edgekd", "conformance", art, "--features", features, "--json"],
                              work, env).stdout)
        assert conf["passed"], conf


FEATURES = """
import json, sys
from pathlib import Path
import numpy as np
from edgekd.runtime.frontends import frontend_of_sidecar
from edgekd.runtime.sidecar import read_sidecar
art, out = Path(sys.argv[1]), sys.argv[2]
golden = art.with_suffix(".golden")
frontend = frontend_of_sidecar(read_sidecar(art), art)
inputs = json.loads((golden / "golden.json").read_text())["inputs"]
np.save(out, np.concatenate([frontend.load(golden / e["file"]) for e in inputs]))
"""


def test_the_installed_wheel_evaluates_a_photo_model(installed):
    bin_dir, work, env, _ = installed
    ev = json.loads(run([bin_dir / "edgekd", "eval", PLANT, "--data", ROOT / "data" / "plant-sample", "--json"],
                        work, env).stdout)
    assert ev["n"] > 0 and len(ev["labels"]) == 7


def test_the_installed_wheel_gates_against_a_shipped_profile(installed):
    """`edgekd gate --target x86_64` gates on the budgets of the profile inside the installed package."""
    bin_dir, work, env, _ = installed
    report = materialise(ROOT / "tests" / "data" / "reports" / "within.json", work / "gate")
    proc = subprocess.run([str(bin_dir / "edgekd"), "gate", str(report), "--target", "x86_64", "--json"], cwd=work,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    used = json.loads(proc.stdout)["targets"]["x86_64"]
    shipped = yaml.safe_load((ROOT / "edgekd" / "target_profiles" / "x86_64.yaml").read_text())["budgets"]
    assert {k: used["budgets"][k] for k in shipped} == shipped
    (source,) = used["sources"]
    assert "site-packages/edgekd/target_profiles/x86_64.yaml" in source
