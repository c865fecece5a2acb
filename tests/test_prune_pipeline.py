"""The pipeline's prune stage on the bundled recordings: the artifacts are of the pruned model, and the report
shows parameters, MACs, int8 size and latency before and after pruning, measured on the exported files.

Training is cut to one epoch per stage; the figures are not the point (benchmarks/ablation.py is).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from edgekd.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pruned-run")
    profile = out / "int8-tflite.yaml"
    profile.write_text("name: int8-tflite\ndescription: int8 TFLite only\narch: x86_64\nformats: [tflite]\n"
                       "precisions: [int8]\nthreads: 1\nbudgets: {}\nrunner: {kind: local}\n")
    import torch

    from edgekd.models import build_model
    from edgekd.recipe import load_recipe
    from edgekd.runtime.frontend import AudioFrontend

    recipe_path = ROOT / "recipes" / "heart-pruned.yaml"
    recipe = load_recipe(recipe_path)
    shape = AudioFrontend.from_dict(recipe.frontend).input_shape
    teacher = build_model(recipe.teacher.model, num_classes=2, input_shape=shape, widths=[4, 8, 8, 8])
    torch.save({"model": teacher.state_dict()}, out / "teacher.pt")  # a small untrained teacher: no teacher training
    code = main([
        "run", str(recipe_path), "--out", str(out),
        "--set", f"data.path={ROOT / 'data' / 'heart-sample'}", "--set", f"data.cache_dir={out / 'cache'}",
        "--set", f"teacher.checkpoint={out / 'teacher.pt'}", "--set", "teacher.train.epochs=0",
        "--set", "teacher.params={widths: [4, 8, 8, 8]}", "--set", "student.train.consistent_teacher=false",
        "--set", "student.train.epochs=1", "--set", "prune.recover.epochs=1",
        "--set", f"export.targets=[{profile}]", "--set", "export.teacher=false",
        "--set", "bench.runs=10", "--set", "bench.warmup=1",
    ])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def report(run_dir):
    return json.loads((run_dir / "report.json").read_text())


def test_report_pairs_the_pruned_artifact_with_its_unpruned_twin(report) -> None:
    p = report["pruning"]
    assert p["after"]["macs"] <= 0.45 * p["before"]["macs"] and p["after"]["params"] < p["before"]["params"]
    [pair] = p["artifacts"]
    assert (pair["format"], pair["precision"]) == ("tflite", "int8")
    assert pair["after"]["size_bytes"] < pair["before"]["size_bytes"]
    assert pair["before"]["p50_ms"] > 0 and pair["after"]["p50_ms"] > 0
    roles = {m["role"]: m for m in report["models"]}
    assert roles["student"]["macs"] == p["after"]["macs"] and roles["student-unpruned"]["macs"] == p["before"]["macs"]


def test_the_deployed_artifact_is_the_pruned_model(report, run_dir) -> None:
    from edgekd.runtime.sidecar import read_sidecar

    student = next(a for a in report["artifacts"] if a["role"] == "student")
    meta = read_sidecar(run_dir / student["path"])
    assert meta["model"]["params"] == report["pruning"]["after"]["params"]
    assert student["budget"]["checked"] and not next(
        a for a in report["artifacts"] if a["role"] == "student-unpruned")["budget"]["checked"]


def test_pruned_checkpoint_reloads_and_matches_the_artifact(report, run_dir) -> None:
    import torch

    from edgekd.models import build_model
    from edgekd.pruning.state import load_pruned
    from edgekd.runtime.artifact import load_artifact

    spec = report["recipe"]["config"]["student"]
    shape = tuple(load_artifact(run_dir / report["artifacts"][0]["path"]).input["shape"])
    model = build_model(spec["model"], num_classes=2, input_shape=(shape[3], shape[1], shape[2]), **spec["params"])
    load_pruned(model, run_dir / "checkpoints" / "prune" / "step1.pt")
    model.eval()
    x = np.random.default_rng(0).normal(0, 1, (4, shape[3], shape[1], shape[2])).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    student = next(a for a in report["artifacts"] if a["role"] == "student")
    got = load_artifact(run_dir / student["path"], threads=1).predict(x)
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.9  # int8 file of these very weights


def test_report_md_shows_before_and_after(run_dir) -> None:
    md = (run_dir / "report.md").read_text()
    assert "## Pruning: before and after" in md
    assert "student-unpruned-tflite-int8.tflite` → `student-tflite-int8.tflite" in md
