"""Malformed and special input files (issue 27): each is one clear refusal naming the file, exit 2.

Never exit 3 (an internal error), never a traceback, never a hang on a FIFO. One behaviour per test, tiny
inline inputs; the artifact is the shipped heart student (56 KB) with its golden manifest. The runtime's
cases are marked ``device``: they run in the device environment too.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekd.cli import main
from edgekd.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "benchmarks" / "results" / "artifacts" / "heart"
fifo_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
device = pytest.mark.device  # numpy and a runtime only: these run in the device environment too


def _cli(args, capfd) -> tuple[int, str]:
    code = main([str(a) for a in args])
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    return code, err


@pytest.fixture
def artifact(tmp_path) -> Path:
    """The shipped heart int8 student, its sidecar and its golden manifest (no golden arrays: none is read)."""
    for name in ("student-tflite-int8.tflite", "student-tflite-int8.edgekd.json"):
        shutil.copyfile(SHIPPED / name, tmp_path / name)
    (tmp_path / "student-tflite-int8.golden").mkdir()
    shutil.copyfile(SHIPPED / "student-tflite-int8.golden" / "golden.json",
                    tmp_path / "student-tflite-int8.golden" / "golden.json")
    return tmp_path / "student-tflite-int8.tflite"


def _fifo(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    os.mkfifo(path)
    return path


def _npy(header: bytes, data: bytes = b"", version: bytes = b"\x01\x00") -> bytes:
    return b"\x93NUMPY" + version + struct.pack("<H" if version == b"\x01\x00" else "<I", len(header)) + header + data


# ------------------------------------------------------------------ FIFOs and special files
@device
@fifo_only
def test_a_fifo_given_as_features_is_refused_before_it_is_opened(artifact, tmp_path, capfd):
    fifo = _fifo(tmp_path, "features.npy")
    code, err = _cli(["conformance", artifact, "--features", fifo], capfd)
    assert code == 2 and f"{fifo}: a FIFO" in err


@fifo_only
def test_a_fifo_report_is_refused_by_the_gate(tmp_path, capfd):
    fifo = _fifo(tmp_path, "report.json")
    code, err = _cli(["gate", fifo], capfd)
    assert code == 2 and f"{fifo}: a FIFO" in err


@fifo_only
def test_a_fifo_recipe_is_refused(tmp_path, capfd):
    fifo = _fifo(tmp_path, "recipe.yaml")
    code, err = _cli(["run", fifo, "--check"], capfd)
    assert code == 2 and f"{fifo}: a FIFO" in err


@device
@fifo_only
def test_a_fifo_sidecar_is_refused(tmp_path):
    from edgekd.runtime.sidecar import read_sidecar

    (tmp_path / "m.tflite").write_bytes(b"x")
    _fifo(tmp_path, "m.edgekd.json")
    with pytest.raises(InputError, match="m.edgekd.json: a FIFO"):
        read_sidecar(tmp_path / "m.tflite")


@device
@fifo_only
def test_a_fifo_golden_manifest_is_refused(artifact, tmp_path, capfd):
    manifest = artifact.with_suffix(".golden") / "golden.json"
    manifest.unlink()
    os.mkfifo(manifest)
    code, err = _cli(["conformance", artifact, "--features", tmp_path / "x.npy"], capfd)
    assert code == 2 and f"{manifest}: a FIFO" in err


@device
@fifo_only
def test_a_fifo_wav_is_refused(tmp_path):
    from edgekd.runtime.audio import read_wav

    fifo = _fifo(tmp_path, "x.wav")
    with pytest.raises(InputError, match="x.wav: a FIFO"):
        read_wav(fifo, sample_rate=2000)


@device
@fifo_only
def test_a_fifo_image_is_refused(tmp_path):
    pytest.importorskip("PIL")
    from edgekd.runtime.pixels import decode_rgb

    fifo = _fifo(tmp_path, "x.jpg")
    with pytest.raises(InputError, match="x.jpg: a FIFO"):
        decode_rgb(fifo)


@device
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_character_device_is_refused_not_read_forever():
    from edgekd.inputfile import read_bytes

    with pytest.raises(InputError, match="/dev/zero: a character device"):
        read_bytes("/dev/zero", "report")


# ------------------------------------------------------------------ .npy files
@device
def test_an_empty_npy_given_as_features_exits_2_naming_it(artifact, tmp_path, capfd):
    empty = tmp_path / "f.npy"
    empty.write_bytes(b"")
    code, err = _cli(["conformance", artifact, "--features", empty], capfd)
    assert code == 2 and f"{empty}: the --features file is empty" in err


@device
def test_an_npy_header_longer_than_the_file_is_refused(tmp_path):
    from edgekd.runtime.npyfile import read_npy

    path = tmp_path / "a.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", 65535) + b" " * 100)
    with pytest.raises(InputError, match="a.npy: the array file is not a plain .npy array"):
        read_npy(path)


@device
def test_an_npy_header_too_large_to_parse_safely_is_refused(tmp_path):
    from edgekd.runtime.npyfile import read_npy

    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }" + b" " * 70000 + b"\n"
    path = tmp_path / "a.npy"
    path.write_bytes(_npy(header, b"\0" * 4, version=b"\x02\x00"))
    with pytest.raises(InputError, match="a.npy: the array file is not a plain .npy array"):
        read_npy(path)


@device
def test_a_garbage_npy_header_is_refused(tmp_path):
    from edgekd.runtime.npyfile import read_npy

    path = tmp_path / "a.npy"
    path.write_bytes(_npy(b"{" + b"[" * 5000 + b"\n"))
    with pytest.raises(InputError, match="a.npy: the array file is not a plain .npy array"):
        read_npy(path)


@device
def test_an_npy_declaring_more_data_than_it_holds_is_refused_without_allocating_it(tmp_path):
    from edgekd.runtime.npyfile import read_npy

    path = tmp_path / "a.npy"
    path.write_bytes(_npy(b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }\n"))
    with pytest.raises(InputError, match="a.npy: the array file is truncated"):
        read_npy(path)


@device
def test_an_npy_of_python_objects_is_refused(tmp_path):
    from edgekd.runtime.npyfile import read_npy

    path = tmp_path / "a.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="holds Python objects"):
        read_npy(path)


@device
def test_the_load_npy_step_of_eval_refuses_an_empty_file(tmp_path):
    from edgekd.runtime.steps import load_npy

    path = tmp_path / "x.npy"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="x.npy: the array file is empty"):
        load_npy(path)


@device
def test_a_plain_npy_still_loads(tmp_path):
    from edgekd.runtime.npyfile import read_npy

    np.save(tmp_path / "a.npy", np.arange(6, dtype=np.int8).reshape(2, 3))
    assert read_npy(tmp_path / "a.npy").tolist() == [[0, 1, 2], [3, 4, 5]]


# ------------------------------------------------------------------ golden.json
def _edit_golden(artifact: Path, edit) -> Path:
    path = artifact.with_suffix(".golden") / "golden.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    return path


@device
def test_a_golden_tolerance_that_is_no_number_exits_2_naming_the_field(artifact, tmp_path, capfd):
    path = _edit_golden(artifact, lambda m: m["inputs"][0]["steps"][1].update(atol="tight"))
    code, err = _cli(["conformance", artifact, "--features", tmp_path / "x.npy"], capfd)
    assert code == 2 and f"{path}: inputs[0].steps[1].atol must be a finite number" in err


@device
def test_a_golden_step_file_climbing_out_of_the_folder_is_refused(artifact, tmp_path, capfd):
    path = _edit_golden(artifact, lambda m: m["inputs"][0]["steps"][0].update(file="../../etc/passwd"))
    code, err = _cli(["conformance", artifact, "--features", tmp_path], capfd)
    assert code == 2 and f"{path}: inputs[0].steps[0].file is '../../etc/passwd'" in err


@device
def test_an_absolute_golden_file_name_is_refused(artifact, tmp_path, capfd):
    path = _edit_golden(artifact, lambda m: m["inputs"][0]["logits"].update(file="/etc/passwd"))
    code, err = _cli(["conformance", artifact, "--outputs", tmp_path / "x.npy"], capfd)
    assert code == 2 and f"{path}: inputs[0].logits.file is '/etc/passwd'" in err


@device
def test_a_golden_manifest_missing_a_key_names_it(artifact, tmp_path, capfd):
    path = _edit_golden(artifact, lambda m: m["inputs"][0].pop("output_raw"))
    code, err = _cli(["conformance", artifact, "--outputs", tmp_path / "x.npy"], capfd)
    assert code == 2 and f"{path}: inputs[0].output_raw is missing" in err


@device
def test_the_shipped_golden_manifests_pass_the_check():
    from edgekd.runtime.golden import check_manifest

    found = sorted((ROOT / "benchmarks" / "results" / "artifacts").glob("*/*.golden/golden.json"))
    assert found
    for path in found:
        check_manifest(json.loads(path.read_text()), path)


# ------------------------------------------------------------------ deep JSON nesting
def test_a_deeply_nested_report_exits_2_naming_it(tmp_path, capfd):
    path = tmp_path / "report.json"
    path.write_text('{"schema": "edgekd.report/1", "artifacts": ' + "[" * 100_000 + "]" * 100_000 + "}")
    code, err = _cli(["gate", path], capfd)
    assert code == 2 and f"{path}: the report file nests JSON 100001 levels deep" in err


def test_deep_json_is_refused_before_the_c_parser_runs(tmp_path, capfd, monkeypatch):
    """torch raises the recursion limit; json's C scanner then overflows the C stack on deep input (a segfault in
    make test), so the depth is counted first and the parser never sees such a file."""
    import json

    def parser_must_not_run(*args, **kwargs):
        raise AssertionError("json.loads ran on a 200,000-level file")

    path = tmp_path / "report.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    monkeypatch.setattr(json, "loads", parser_must_not_run)
    code, err = _cli(["gate", path], capfd)
    assert code == 2 and "levels deep" in err


def test_a_report_nested_deeper_than_any_edgekd_file_is_refused_before_validation(tmp_path, capfd):
    path = tmp_path / "report.json"
    depth = 500  # parses (below the recursion limit) but would overflow a recursive schema validator
    path.write_text('{"schema": "edgekd.report/1", "artifacts": [], "x": ' + "[" * depth + "]" * depth + "}")
    code, err = _cli(["gate", path], capfd)
    assert code == 2 and f"{path}: the report file nests JSON 501 levels deep" in err


@device
def test_a_deeply_nested_sidecar_is_refused(tmp_path):
    from edgekd.runtime.sidecar import read_sidecar

    (tmp_path / "m.tflite").write_bytes(b"x")
    (tmp_path / "m.edgekd.json").write_text("[" * 200_000)  # not getrecursionlimit(): a test may have raised it
    with pytest.raises(InputError, match="m.edgekd.json: the sidecar file nests JSON 200000 levels deep"):
        read_sidecar(tmp_path / "m.tflite")


# ------------------------------------------------------------------ upgrade: a v1 sidecar without its I/O
@device
def test_upgrading_a_v1_sidecar_without_input_exits_2_and_writes_nothing(tmp_path, capfd):
    data = Path(__file__).resolve().parent / "data"
    art = tmp_path / "m.tflite"
    shutil.copyfile(data / "heart-student-tflite-int8.tflite", art)
    meta = json.loads((data / "heart-student-tflite-int8.edgekd.json").read_text())
    assert meta["schema"] == "edgekd.artifact/1"
    del meta["input"]
    sidecar = tmp_path / "m.edgekd.json"
    sidecar.write_text(json.dumps(meta))
    code, err = _cli(["upgrade", art], capfd)
    assert code == 2 and f"{sidecar}: sidecar field 'input' is missing" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.edgekd.json", "m.tflite"]


@device
def test_a_golden_manifest_whose_shape_disagrees_with_its_file_is_refused(tmp_path, capfd):
    for name in ("student-tflite-int8.tflite", "student-tflite-int8.edgekd.json"):
        shutil.copyfile(SHIPPED / name, tmp_path / name)
    shutil.copytree(SHIPPED / "student-tflite-int8.golden", tmp_path / "student-tflite-int8.golden")
    artifact = tmp_path / "student-tflite-int8.tflite"
    raw = [np.load(artifact.with_suffix(".golden") / f"input{k}.output_raw.npy") for k in range(5)]
    np.save(tmp_path / "out.npy", np.concatenate(raw))
    path = _edit_golden(artifact, lambda m: m["inputs"][0]["output_raw"].update(shape=[10**12, 2]))
    code, err = _cli(["conformance", artifact, "--outputs", tmp_path / "out.npy"], capfd)
    assert code == 2 and f"{path}: input0.output_raw.npy has shape [2, 2], the manifest says [1000000000000, 2]" in err


@device
@fifo_only
def test_a_fifo_labels_csv_is_refused(tmp_path):
    from edgekd.runtime.labelled import _csv_rows

    fifo = _fifo(tmp_path, "labels.csv")
    with pytest.raises(InputError, match="labels.csv: a FIFO"):
        _csv_rows(fifo)


@device
@fifo_only
def test_a_fifo_artifact_is_refused_by_kind(tmp_path):
    from edgekd.runtime.artifact import load_artifact

    fifo = _fifo(tmp_path, "m.tflite")
    with pytest.raises(InputError, match="m.tflite: a FIFO"):
        load_artifact(fifo)


@fifo_only
def test_inspect_refuses_a_fifo_artifact(tmp_path, capfd):
    fifo = _fifo(tmp_path, "m.tflite")
    code, err = _cli(["inspect", fifo], capfd)
    assert code == 2 and f"{fifo}: a FIFO" in err


@device
@fifo_only
def test_a_fifo_among_the_per_step_features_is_refused_not_taken_as_missing(artifact, tmp_path, capfd):
    manifest = json.loads((artifact.with_suffix(".golden") / "golden.json").read_text())
    steps = tmp_path / "steps"
    steps.mkdir()
    fifo = _fifo(steps, manifest["inputs"][0]["steps"][0]["file"])
    code, err = _cli(["conformance", artifact, "--features", steps], capfd)
    assert code == 2 and f"{fifo}: a FIFO" in err


def test_the_bench_format_check_reads_past_a_deeply_nested_sidecar(tmp_path):
    from edgekd.runners.registry import check_runs_on
    from edgekd.targets import available_targets, load_target

    art = tmp_path / "m.tflite"
    art.write_bytes(b"x")
    (tmp_path / "m.edgekd.json").write_text("[" * 200_000)  # not getrecursionlimit(): a test may have raised it
    assert check_runs_on(art, load_target(available_targets()["x86_64"])) == "tflite"


@device
@fifo_only
def test_a_fifo_listed_in_labels_csv_is_refused_by_its_kind(tmp_path):
    from edgekd.runtime.labelled import read_labelled_folder

    _fifo(tmp_path, "a.wav")
    (tmp_path / "labels.csv").write_text("file,label\na.wav,normal\n")
    with pytest.raises(InputError, match="a.wav: a FIFO"):
        read_labelled_folder(tmp_path)


def test_an_empty_feature_cache_entry_is_recomputed_not_an_internal_error(tmp_path):
    pytest.importorskip("torch")
    from edgekd.data.features import FeatureCache

    cache = FeatureCache(tmp_path)
    (tmp_path / "k.npy").write_bytes(b"")  # what a killed writer or a full disk leaves
    assert cache.get("k") is None


@device
def test_per_step_features_against_a_one_step_manifest_exit_2_when_none_is_given(artifact, tmp_path, capfd):
    _edit_golden(artifact, lambda m: [e.update(steps=e["steps"][:1]) for e in m["inputs"]])
    (tmp_path / "steps").mkdir()
    code, err = _cli(["conformance", artifact, "--features", tmp_path / "steps"], capfd)
    assert code == 2 and "no step output named like the golden files (e.g. input0.00-read_wav.npy)" in err


@device
def test_golden_inputs_that_end_at_different_steps_exit_2(artifact, tmp_path, capfd):
    golden = artifact.with_suffix(".golden")
    shutil.rmtree(golden)
    shutil.copytree(SHIPPED / "student-tflite-int8.golden", golden)
    path = _edit_golden(artifact, lambda m: m["inputs"][0].update(steps=m["inputs"][0]["steps"][:1]))
    wants = [np.load(golden / e["steps"][-1]["file"]) for e in json.loads(path.read_text())["inputs"]]
    np.save(tmp_path / "f.npy", np.zeros((sum(len(w) for w in wants[1:]), *wants[1].shape[1:]), np.float32))
    code, err = _cli(["conformance", artifact, "--features", tmp_path / "f.npy"], capfd)
    assert code == 2 and f"{path}: the golden inputs' final step outputs do not stack" in err


@device
def test_golden_raw_outputs_and_logits_of_different_lengths_exit_2(artifact, tmp_path, capfd):
    golden = artifact.with_suffix(".golden")
    shutil.rmtree(golden)
    shutil.copytree(SHIPPED / "student-tflite-int8.golden", golden)
    manifest = json.loads((golden / "golden.json").read_text())
    np.save(tmp_path / "out.npy", np.concatenate([np.load(golden / e["output_raw"]["file"]) for e in manifest["inputs"]]))
    np.save(golden / "input0.output_raw.npy", np.ones((3, 2), np.int8))
    path = _edit_golden(artifact, lambda m: m["inputs"][0]["output_raw"].update(shape=[3, 2]))
    code, err = _cli(["conformance", artifact, "--outputs", tmp_path / "out.npy"], capfd)
    assert code == 2 and f"{path}: the raw outputs have shape [28, 2] but the logits [27, 2]" in err
