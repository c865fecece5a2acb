"""`edgekd bundle RUN_DIR --target NAME`: per target a folder and a zip with the artifacts, their v2 sidecars,
golden vectors and a model card; for the Cortex-M target the model as a C array that the host C compiler
builds, its bytes equal to the .tflite file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from edgekd.cli import main

pytestmark = pytest.mark.slow

TARGETS = ("x86_64", "rpi4", "cortex-m55-ethos-u55")


@pytest.fixture(scope="module")
def bundles(heart_run):
    """Each target's bundle of the session's heart run: target -> folder."""
    out = {}
    for target in TARGETS:
        assert main(["bundle", str(heart_run), "--target", target, "--out", str(heart_run / "b" / target)]) == 0
        out[target] = heart_run / "b" / target
    return out


@pytest.mark.parametrize("target", TARGETS)
def test_a_bundle_holds_each_deployed_artifact_with_sidecar_golden_vectors_and_card(bundles, heart_run, target):
    folder = bundles[target]
    manifest = json.loads((folder / "bundle.json").read_text())
    report = json.loads((heart_run / "report.json").read_text())
    deployed = sorted(Path(a["path"]).name for a in report["artifacts"]
                      if a["target"] == target and a["role"] == "student")
    assert manifest["target"] == target and sorted(f["artifact"] for f in manifest["files"]) == deployed
    for f in manifest["files"]:
        sidecar = json.loads((folder / f["sidecar"]).read_text())
        golden = json.loads((folder / f["golden"] / "golden.json").read_text())
        assert sidecar["schema"] == "edgekd.artifact/2" and golden["artifact_file"] == f["artifact"]
        assert {e["predicted"] for e in golden["inputs"]} <= {"normal", "abnormal"}
        # two recordings: the first as 16-bit, 24-bit extensible and float WAV excerpts and whole; the second excerpted
        assert [e["source"] for e in golden["inputs"]] == ["excerpt0-pcm16.wav", "excerpt0-pcm24-extensible.wav",
                                                           "excerpt0-float32-list-chunk.wav", "whole0.wav", "excerpt1.wav"]
    assert (folder / "MODEL_CARD.md").is_file()


@pytest.mark.parametrize("target", TARGETS)
def test_the_zip_holds_the_same_files_as_the_folder(bundles, target):
    folder = bundles[target]
    with zipfile.ZipFile(folder.with_suffix(".zip")) as z:
        zipped = {n for n in z.namelist() if not n.endswith("/")}
    on_disk = {f"{target}/{p.relative_to(folder)}" for p in folder.rglob("*") if p.is_file()}
    assert zipped == on_disk


def test_every_sidecar_of_the_run_and_its_bundles_validates_against_the_schema(bundles, heart_run):
    from jsonschema import Draft202012Validator

    from edgekd.runtime.sidecar import SCHEMA_FILE

    validator = Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    sidecars = list(heart_run.glob("artifacts/*/*.edgekd.json")) + list(heart_run.glob("b/*/*.edgekd.json"))
    assert len(sidecars) >= 20  # teacher and student files of three targets, and the bundled copies
    for path in sidecars:
        assert [e.message for e in validator.iter_errors(json.loads(path.read_text()))] == [], path


def test_the_heart_model_card_says_screening_aid_with_n_intervals_gate_and_licence(bundles):
    card = (bundles["x86_64"] / "MODEL_CARD.md").read_text()
    assert "screening aid" in card and "not a diagnosis" in card
    assert "| 48 |" in card and "[95 % CI]" in card  # the test split's n, with intervals
    assert "subset training-a" in card and "subset training-e" in card
    assert "`edgekd gate` on this target: **" in card
    assert "ODC-By" in card and "Known limitations" in card


def test_the_mcu_bundle_c_array_compiles_and_its_bytes_equal_the_tflite_file(bundles, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no host C compiler (cc/gcc): the MCU bundle's C array cannot be checked")
    folder = bundles["cortex-m55-ethos-u55"]
    entry = json.loads((folder / "bundle.json").read_text())["files"][0]
    assert entry["c_array"]["arena_bytes"] > 0
    main_c = tmp_path / "dump.c"
    main_c.write_text(
        '#include <stdio.h>\n#include "model_data.h"\n#include "model_constants.h"\n'
        "int main(int argc, char** argv) {\n"
        '  FILE* f = fopen(argv[1], "wb");\n'
        "  fwrite(model_data, 1, model_data_len, f);\n  fclose(f);\n"
        '  printf("%d %d %d\\n", EDGEKD_ARENA_BYTES, EDGEKD_NUM_CLASSES, EDGEKD_INPUT_ZERO_POINT);\n'
        "  return ((unsigned long)model_data % 16) != 0;\n}\n")
    exe = tmp_path / "dump"
    subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-I", str(folder), str(main_c), str(folder / "model_data.c"),
                    "-o", str(exe)], check=True, capture_output=True, text=True)
    run = subprocess.run([str(exe), str(tmp_path / "model.bin")], capture_output=True, text=True)
    assert run.returncode == 0  # 16-byte aligned
    assert (tmp_path / "model.bin").read_bytes() == (folder / entry["artifact"]).read_bytes()
    sidecar = json.loads((folder / entry["sidecar"]).read_text())
    arena, classes, zero_point = map(int, run.stdout.split())
    assert (arena, classes, zero_point) == (entry["c_array"]["arena_bytes"], 2,
                                           sidecar["input"]["quantization"]["zero_point"][0])


def test_only_the_mcu_bundle_has_a_c_array(bundles):
    assert not list(bundles["x86_64"].glob("*.c")) and not list(bundles["rpi4"].glob("*.c"))


def test_a_bundle_for_a_target_the_run_has_not_exits_2(heart_run, capsys):
    assert main(["bundle", str(heart_run), "--target", "rpi5"]) == 2
    err = capsys.readouterr().err
    assert "no deployed artifact for target 'rpi5'" in err and "x86_64" in err


def test_a_tampered_artifact_is_refused_and_nothing_half_written(heart_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(heart_run, run, ignore=shutil.ignore_patterns("cache", "checkpoints", "b", "bundles"))
    art = run / "artifacts" / "rpi4" / "student-onnx-int8.onnx"
    with open(art, "ab") as f:
        f.write(b"\0")
    assert main(["bundle", str(run), "--target", "rpi4"]) == 2
    assert "student-onnx-int8" in capsys.readouterr().err
    assert not (run / "bundles" / "rpi4").exists() and not (run / "bundles" / "rpi4.zip").exists()
    leftovers = list((run / "bundles").iterdir()) if (run / "bundles").exists() else []
    assert leftovers == []


def test_a_folder_without_a_report_exits_2(tmp_path, capsys):
    assert main(["bundle", str(tmp_path), "--target", "x86_64"]) == 2
    assert "report.json" in capsys.readouterr().err


def test_the_constants_header_of_an_image_model_compiles_with_arrays_and_nested_parameters(tmp_path):
    from edgekd.bundle.carray import constants_header
    from edgekd.tasks import build_task

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no host C compiler (cc/gcc)")
    meta = {"name": "leafnet", "schema": "edgekd.artifact/2", **build_task("image-classification").sidecar(),
            "labels": ["healthy", "sick"],
            "input": {"dtype": "int8", "shape": [1, 96, 96, 3], "layout": "NHWC",
                      "quantization": {"scale": [0.02], "zero_point": [-3]}},
            "output": {"dtype": "int8", "shape": [1, 2], "positive_index": None}}
    (tmp_path / "model_constants.h").write_text(constants_header(meta, 4096))
    (tmp_path / "main.c").write_text('#include <stdio.h>\n#include "model_constants.h"\nint main(void) {\n'
                                     '  printf("%.3f %d %d\\n", EDGEKD_STEP5_NORMALIZE_MEAN[0] * 1000.0f, '
                                     "EDGEKD_STEP3_CENTER_CROP_SIZE, EDGEKD_INPUT_ZERO_POINT);\n  return 0;\n}\n")
    subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-I", str(tmp_path), str(tmp_path / "main.c"), "-o",
                    str(tmp_path / "main")], check=True, capture_output=True, text=True)
    out = subprocess.run([str(tmp_path / "main")], capture_output=True, text=True, check=True).stdout.split()
    steps = meta["frontend"]["steps"]
    assert [s["step"] for s in steps][3] == "center_crop" and steps[5]["step"] == "normalize"
    assert out == [f"{steps[5]['mean'][0] * 1000:.3f}", str(steps[3]["size"]), "-3"]


def test_a_non_empty_out_that_is_not_a_bundle_is_refused_and_kept(heart_run, tmp_path, capsys):
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "thesis.tex").write_text("do not lose me")
    assert main(["bundle", str(heart_run), "--target", "x86_64", "--out", str(keep)]) == 2
    assert "not empty" in capsys.readouterr().err and (keep / "thesis.tex").read_text() == "do not lose me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no partial bundle, no zip


def test_out_the_run_itself_is_refused(heart_run, capsys):
    assert main(["bundle", str(heart_run), "--target", "x86_64", "--out", str(heart_run)]) == 2
    assert (heart_run / "report.json").is_file() and "holds the run" in capsys.readouterr().err


def test_a_target_name_that_climbs_out_is_refused(heart_run, tmp_path, capsys):
    assert main(["bundle", str(heart_run), "--target", "../../../escaped"]) == 2
    assert "not a target name" in capsys.readouterr().err


def test_rebundling_into_an_earlier_bundle_of_the_target_replaces_it(bundles, heart_run):
    out = bundles["rpi4"]
    (out / "stale.txt").write_text("from an older bundle")
    assert main(["bundle", str(heart_run), "--target", "rpi4", "--out", str(out)]) == 0
    assert not (out / "stale.txt").exists() and (out / "bundle.json").is_file()


def test_a_zip_of_the_users_where_the_bundle_zips_is_refused_and_kept(heart_run, tmp_path, capsys):
    out, theirs = tmp_path / "z", tmp_path / "z.zip"
    theirs.write_text("my notes, not a bundle")
    assert main(["bundle", str(heart_run), "--target", "x86_64", "--out", str(out)]) == 2
    assert "z.zip exists and is not an earlier bundle's zip" in capsys.readouterr().err
    assert theirs.read_text() == "my notes, not a bundle" and not out.exists()


def test_force_replaces_the_users_zip_and_a_dotted_name_keeps_its_dots(heart_run, tmp_path):
    out = tmp_path / "x86_64.v2"
    (tmp_path / "x86_64.v2.zip").write_text("old")
    assert main(["bundle", str(heart_run), "--target", "x86_64", "--out", str(out), "--force"]) == 0
    with zipfile.ZipFile(tmp_path / "x86_64.v2.zip") as z:
        assert "x86_64.v2/bundle.json" in z.namelist()
    assert not (tmp_path / "x86_64.zip").exists()
