"""Sidecar fields fail closed: each broken field is one exit-2 line naming the sidecar and the field.

The artifact is the committed int8 heart student given a tensor-classification sidecar (schema 2, a ``.npy``
front-end), so the tests need no torch and run in the device environment too.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgekd.cli import main

pytestmark = pytest.mark.device

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
TFLITE = DATA / "heart-student-tflite-int8.tflite"
SHIPPED = ROOT / "benchmarks" / "results" / "artifacts" / "heart" / "student-tflite-int8"
SHAPE = [1, 32, 180]


def _tensor_sidecar() -> dict:
    from edgekd.runtime.sidecar import contract_io

    v1 = json.loads(TFLITE.with_suffix(".edgekd.json").read_text())
    io = contract_io({"input": v1["input"], "output": v1["output"]}, v1["labels"], v1["positive"])
    steps = [{"step": "load_npy", "allow_pickle": False}, {"step": "check_shape", "shape": SHAPE},
             {"step": "to_model_input", "layout": "as-is", "dtype": "float32"}]
    return {"schema": "edgekd.artifact/2", "name": "m", "task": "tensor-classification", "labels": v1["labels"],
            "positive": v1["positive"], "frontend": {"kind": "tensor", "settings": {"kind": "tensor", "shape": SHAPE},
                                                     "steps": steps},
            "aggregation": "mean", "format": "tflite", "precision": "int8", **io, "versions": {}}


@pytest.fixture()
def tensor_model(tmp_path):
    """``(artifact, labelled folder of .npy arrays)``."""
    art = tmp_path / "m.tflite"
    shutil.copyfile(TFLITE, art)
    art.with_suffix(".edgekd.json").write_text(json.dumps(_tensor_sidecar()))
    rng = np.random.default_rng(0)
    for label in ("normal", "abnormal"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for k in range(2):
            np.save(tmp_path / "data" / label / f"{k}.npy", rng.normal(size=SHAPE).astype(np.float32))
    return art, tmp_path / "data"


def _edit(art: Path, edit) -> Path:
    path = art.with_suffix(".edgekd.json")
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))
    return path


def _cli(args, capsys) -> tuple[int, str]:
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    return code, (lines[0] if len(lines) == 1 else err)


def _set(*keys_value):
    *keys, value = keys_value

    def edit(meta):
        node = meta
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return edit


TYPED = {  # sidecar fields of the wrong type or out of range, whatever the model
    "scale not a number": (_set("input", "quantization", "scale", "x"), "input.quantization.scale"),
    "scale zero": (_set("input", "quantization", "scale", [0]), "input.quantization.scale"),
    "dtype not real": (_set("input", "dtype", "complex128"), "input.dtype"),
    "unknown layout": (_set("input", "layout", "WHAT"), "input.layout"),
    "shape of another rank": (_set("input", "shape", [1, 2]), "input.shape"),
    "no steps": (_set("frontend", "steps", []), "frontend.steps"),
    "unknown step": (lambda m: m["frontend"]["steps"].insert(1, {"step": "rm_rf"}), "frontend.steps[1]"),
    "step parameter mistyped": (_set("frontend", "steps", 1, "shape", "x"), "frontend.steps[1].shape"),
    "step parameter unknown": (_set("frontend", "steps", 1, "gain", 2), "frontend.steps[1].gain"),
    "labels against output.shape": (_set("labels", ["normal", "abnormal", "other"]), "labels"),
}


def test_the_tensor_sidecar_as_written_is_accepted(tensor_model, capsys):
    art, data = tensor_model
    assert _cli(["eval", art, "--data", data], capsys)[0] == 0


@pytest.mark.parametrize("case", sorted(TYPED))
def test_eval_refuses_a_mistyped_sidecar_field_naming_the_file_and_field(tensor_model, capsys, case):
    art, data = tensor_model
    edit, field = TYPED[case]
    path = _edit(art, edit)
    code, line = _cli(["eval", art, "--data", data], capsys)
    assert code == 2 and f"{path}: sidecar field '{field}'" in line


def test_an_unknown_step_is_refused_by_name(tensor_model, capsys):
    art, data = tensor_model
    _edit(art, TYPED["unknown step"][0])
    code, line = _cli(["eval", art, "--data", data], capsys)
    assert code == 2 and "uses step 'rm_rf', which this runtime does not know" in line


MODEL = {  # well-typed fields that describe another model than the file
    "input shape": (_set("input", "shape", [1, 32, 180, 2]), "input.shape"),
    "input dtype": (lambda m: m["input"].update(dtype="int16", quantization={**m["input"]["quantization"],
                                                                              "qmin": -32768, "qmax": 32767}),
                    "input.dtype"),
    "input layout": (_set("input", "layout", "NCHW"), "input.layout"),
    "input scale": (_set("input", "quantization", "scale", [0.5]), "input.quantization"),
    "output quantization": (_set("output", "quantization", None), "output.quantization"),
    "labels against the model": (lambda m: (m.update(labels=["a", "b", "c"], positive=None),
                                            m["output"].update(shape=[1, 3], label_order=["a", "b", "c"],
                                                               positive_index=None)), "labels"),
}


@pytest.mark.parametrize("case", sorted(MODEL))
def test_eval_refuses_a_sidecar_that_describes_another_model(tensor_model, capsys, case):
    art, data = tensor_model
    edit, field = MODEL[case]
    path = _edit(art, edit)
    code, line = _cli(["eval", art, "--data", data], capsys)
    assert code == 2 and f"{path}: sidecar field '{field}'" in line and "does not describe this model" in line


def test_read_sidecar_compares_the_label_count_with_the_models_outputs(tensor_model):
    from edgekd.errors import InputError
    from edgekd.runtime.sidecar import read_sidecar

    art, _ = tensor_model
    _edit(art, lambda m: (m.update(labels=["a", "b", "c"], positive=None), m.pop("output")))
    with pytest.raises(InputError, match="the sidecar lists 3 labels .* but the model has 2 outputs"):
        read_sidecar(art)


def test_bench_refuses_a_broken_sidecar(tensor_model, capsys):
    art, _ = tensor_model
    _edit(art, _set("labels", ["normal", "abnormal", "other"]))
    assert _cli(["bench", art, "--runs", 3, "--warmup", 1], capsys)[0] == 2


def test_bench_of_a_file_without_a_sidecar_still_times_the_model(tensor_model, capsys):
    art, _ = tensor_model
    bare = art.with_name("bare" + art.suffix)
    bare.write_bytes(art.read_bytes())
    code, _ = _cli(["bench", bare, "--runs", 3, "--warmup", 1], capsys)
    assert code == 0


def test_read_sidecar_refuses_a_fifo_artifact_by_its_kind(tmp_path):
    from edgekd.errors import InputError
    from edgekd.runtime.sidecar import read_sidecar

    fifo = tmp_path / "m.tflite"
    os.mkfifo(fifo)
    fifo.with_suffix(".edgekd.json").write_text(json.dumps(_tensor_sidecar()))
    with pytest.raises(InputError, match="FIFO"):
        read_sidecar(fifo)


@pytest.fixture()
def shipped(tmp_path):
    """A copy of a shipped artifact with its sidecar and golden vectors, and its golden features stacked."""
    art = tmp_path / SHIPPED.with_suffix(".tflite").name
    for suffix in (".tflite", ".edgekd.json"):
        shutil.copyfile(SHIPPED.with_suffix(suffix), art.with_suffix(suffix))
    shutil.copytree(SHIPPED.with_suffix(".golden"), art.with_suffix(".golden"))
    golden = art.with_suffix(".golden")
    manifest = json.loads((golden / "golden.json").read_text())
    features = tmp_path / "F.npy"
    np.save(features, np.concatenate([np.load(golden / e["steps"][-1]["file"]) for e in manifest["inputs"]]))
    return art, features


def test_conformance_of_the_shipped_vectors_passes(shipped, capsys):
    art, features = shipped
    assert main(["conformance", str(art), "--features", str(features)]) == 0
    assert "CONFORMS" in capsys.readouterr().out


def test_conformance_refuses_golden_vectors_made_for_another_sidecar(shipped, capsys):
    from edgekd.hashing import file_sha256

    art, features = shipped
    recorded = json.loads((art.with_suffix(".golden") / "golden.json").read_text())["sidecar_sha256"]
    path = _edit(art, lambda m: m.update(created="edited"))  # still a valid sidecar
    code, line = _cli(["conformance", art, "--features", features], capsys)
    assert code == 2 and "golden vectors were made for another sidecar" in line
    assert recorded[:16] in line and file_sha256(path)[:16] in line


def test_conformance_refuses_an_edited_sidecar_with_an_unknown_step(shipped, capsys):
    art, features = shipped
    _edit(art, lambda m: m["frontend"]["steps"].insert(3, {"step": "rm_rf"}))
    code, line = _cli(["conformance", art, "--features", features], capsys)
    assert code == 2 and "CONFORMS" not in line


def test_conformance_refuses_a_manifest_without_the_sidecars_digest(shipped, capsys):
    art, features = shipped
    golden = art.with_suffix(".golden") / "golden.json"
    manifest = json.loads(golden.read_text())
    del manifest["sidecar_sha256"]
    golden.write_text(json.dumps(manifest))
    code, line = _cli(["conformance", art, "--features", features], capsys)
    assert code == 2 and f"{golden}: sidecar_sha256" in line


def test_conformance_refuses_a_fifo_artifact_by_its_kind(tmp_path, capsys):
    fifo = tmp_path / "m.tflite"
    os.mkfifo(fifo)
    code, line = _cli(["conformance", fifo, "--features", tmp_path / "F.npy"], capsys)
    assert code == 2 and "FIFO" in line and "golden" not in line


@pytest.mark.parametrize("path", sorted([*DATA.glob("*.edgekd.json"),
                                         *(ROOT / "benchmarks" / "results" / "artifacts").rglob("*.edgekd.json")]),
                         ids=lambda p: p.parent.name + "/" + p.name)
def test_every_committed_sidecar_is_accepted_with_its_model(path):
    from edgekd.runtime.sidecar import check_sidecar_fits, read_sidecar

    art = next(p for p in (path.with_name(path.name.replace(".edgekd.json", s)) for s in (".tflite", ".onnx"))
               if p.is_file())
    meta = read_sidecar(art)
    from edgekd.runtime.artifact import load_artifact

    loaded = load_artifact(art, threads=1)
    check_sidecar_fits(meta, {"input": loaded.input, "output": loaded.output}, path)  # compared, not skipped
