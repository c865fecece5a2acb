"""Hostile but plausible inputs to the CLI: one clear line and the right exit code, never a traceback.

One test per case that was seen to crash or to be accepted silently (issue 14): sidecars, recipes,
``--set`` strings, ``--out``, checkpoints, data files, ``bench`` flags, missing artifacts, degenerate audio.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from edgekd.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
HEART = ROOT / "data" / "heart-sample"
TFLITE = DATA / "heart-student-tflite-int8.tflite"


def _cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, err


def _one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _artifact_copy(tmp_path: Path, edit) -> Path:
    """The committed int8 heart student with an edited copy of its sidecar."""
    art = tmp_path / "m.tflite"
    shutil.copyfile(TFLITE, art)
    meta = json.loads(TFLITE.with_suffix(".edgekd.json").read_text())
    edit(meta)
    art.with_suffix(".edgekd.json").write_text(json.dumps(meta))
    return art


def _small_folder(tmp_path: Path, n: int = 4) -> Path:
    folder = tmp_path / "wavs"
    folder.mkdir()
    rows = ["file,label"]
    for i, wav in enumerate(sorted(HEART.glob("*.wav"))[:n]):
        shutil.copyfile(wav, folder / wav.name)
        rows.append(f"{wav.name},{'normal' if i % 2 else 'abnormal'}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


# ---------------------------------------------------------------- eval: sidecars
@pytest.mark.parametrize("edit,expected", [
    (lambda m: m.pop("labels"), "sidecar field 'labels' must list at least two class names"),
    (lambda m: m.pop("frontend"), "sidecar field 'frontend' is missing"),
    (lambda m: m.update(decision={"threshold": "high"}), "'decision.threshold' must be a probability in [0, 1], got 'high'"),
    (lambda m: m.update(labels=["normal", "abnormal", "other"]), "the sidecar lists 3 labels"),
    (lambda m: m.update(positive="sick"), "sidecar field 'positive' is 'sick'"),
])
def test_eval_refuses_a_broken_sidecar_in_one_line(tmp_path, capsys, edit, expected):
    art = _artifact_copy(tmp_path, edit)
    code, _, err = _cli(["eval", art, "--data", _small_folder(tmp_path)], capsys)
    assert code == 2 and expected in _one_line(err)


@pytest.mark.parametrize("command", [["eval", "{a}", "--data", "{d}"], ["bench", "{a}"], ["inspect", "{a}"]])
def test_a_missing_artifact_is_named_as_such(tmp_path, capsys, command):
    args = [c.format(a=tmp_path / "nope.tflite", d=HEART) for c in command]
    code, _, err = _cli(args, capsys)
    assert code == 2 and "nope.tflite: artifact not found" in _one_line(err)


# ---------------------------------------------------------------- run: recipes, --set, --out
def test_a_recipe_that_is_not_utf8_exits_2(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_bytes((ROOT / "recipes" / "heart.yaml").read_bytes() + b"\n# caf\xe9\n")
    code, _, err = _cli(["run", recipe, "--check"], capsys)
    assert code == 2 and "not UTF-8 text" in _one_line(err)


@pytest.mark.parametrize("pair,expected", [
    ("student.train.epochs=[1,", "--set student.train.epochs: '[1,' is not a YAML value"),
    ("=5", "expected KEY=VALUE"),
    ("student..epochs=3", "is not a dotted key"),
    ("student.train.epochs", "expected KEY=VALUE"),
])
def test_a_broken_set_string_exits_2(capsys, pair, expected):
    code, _, err = _cli(["run", ROOT / "recipes" / "heart.yaml", "--check", "--set", pair], capsys)
    assert code == 2 and expected in _one_line(err)


def test_out_pointing_at_a_file_exits_2(tmp_path, capsys):
    out = tmp_path / "report.txt"
    out.write_text("not a folder")
    code, _, err = _cli(["run", ROOT / "recipes" / "heart.yaml", "--out", out, "--set", f"data.path={_small_folder(tmp_path, 24)}"],
                        capsys)
    assert code == 2 and "exists and is not a folder" in err and out.read_text() == "not a folder"


@pytest.mark.slow
def test_a_garbage_checkpoint_is_refused_by_name_and_fresh_starts_over(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "run"
    ckpt = out / "checkpoints" / "teacher" / "last.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"this is not a checkpoint")
    args = ["run", ROOT / "recipes" / "heart.yaml", "--out", out, "--set", "teacher.train.epochs=1",
            "--set", "student.train.epochs=1", "--set", "export.teacher=false", "--set", "bench.runs=5",
            "--set", "bench.warmup=1", "--set", f"data.cache_dir={tmp_path / 'cache'}"]
    code, _, err = _cli(args, capsys)
    assert code == 2 and f"{ckpt}: a corrupt or foreign training checkpoint" in err and "--fresh" in err
    assert not (out / "report.json").exists()
    code, _, err = _cli([*args, "--fresh"], capsys)
    assert code == 0, err
    assert (out / "report.json").is_file()


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    from edgekd.training.checkpoints import read_resumable
    from edgekd.errors import InputError

    path = tmp_path / "last.pt"
    torch.save({"fingerprint": "other-run", "model": {}}, path)
    with pytest.raises(InputError, match=r"a training checkpoint of another run"):
        read_resumable(path, "this-run", "training")
    assert read_resumable(tmp_path / "none.pt", "this-run", "training") is None


def test_an_unreadable_wav_in_run_exits_2_naming_it(tmp_path, capsys, monkeypatch):
    folder = _small_folder(tmp_path)
    victim = sorted(folder.glob("*.wav"))[1]
    real_open = open

    def guarded(path, *args, **kwargs):  # root reads any file, so the denial is simulated
        if Path(path) == victim:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("edgekd.hashing.open", guarded, raising=False)
    code, _, err = _cli(["run", ROOT / "recipes" / "heart.yaml", "--check", "--set", f"data.path={folder}"], capsys)
    assert code == 2 and f"{victim}: cannot read the file (Permission denied)" in _one_line(err)


def test_a_file_name_that_is_not_utf8_exits_2(tmp_path, capsys):
    folder = tmp_path / "classes"
    (folder / "normal").mkdir(parents=True)
    (folder / "abnormal").mkdir()
    wav = sorted(HEART.glob("*.wav"))[0].read_bytes()
    (folder / "normal" / "ok.wav").write_bytes(wav)
    with open(os.path.join(os.fsencode(folder / "abnormal"), b"bad\xff.wav"), "wb") as f:
        f.write(wav)
    code, _, err = _cli(["run", ROOT / "recipes" / "heart.yaml", "--check", "--set", f"data.path={folder}"], capsys)
    assert code == 2 and "is not valid UTF-8; rename it" in _one_line(err)


# ---------------------------------------------------------------- bench flags
@pytest.mark.parametrize("flag,value", [("--runs", "0"), ("--runs", "-1"), ("--threads", "0"), ("--threads", "-1"),
                                        ("--warmup", "-1"), ("--cv-target", "-1"), ("--cv-target", "nan"),
                                        ("--timeout", "0"), ("--max-seconds", "inf")])
def test_bench_refuses_a_flag_out_of_range_naming_it(capsys, flag, value):
    with pytest.raises(SystemExit) as exc:
        main(["bench", str(TFLITE), flag, value])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"argument {flag}: {value!r} is not" in err


def test_the_api_refuses_bench_options_out_of_range():
    from edgekd.errors import InputError
    from edgekd.runners.options import BenchOptions

    with pytest.raises(InputError, match=r"bench runs: 0 is not a positive integer"):
        BenchOptions(runs=0)
    with pytest.raises(InputError, match=r"bench cv_target: -1 is not a positive number"):
        BenchOptions(cv_target=-1)


# ---------------------------------------------------------------- degenerate audio
def _wav(path: Path, samples: np.ndarray, *, float_format: bool = False, rate: int = 2000) -> Path:
    if float_format:
        data, tag, bits = samples.astype("<f4").tobytes(), 3, 32
    else:
        data, tag, bits = np.clip(samples * 32767, -32768, 32767).astype("<i2").tobytes(), 1, 16
    fmt = struct.pack("<HHIIHH", tag, 1, rate, rate * bits // 8, bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.mark.parametrize("samples,float_format,expected", [
    (np.zeros(20000), False, "the signal is constant (silence)"),
    (np.full(20000, 0.3), False, "the signal is constant (silence)"),
    (np.full(20000, 3e38), True, "float samples reach 3e+38"),
    (np.sign(np.sin(np.arange(20000) / 3.0)), False, "of the samples are at full scale (clipped"),
    (np.random.default_rng(0).normal(0, 1e-6, 20000), True, "the signal is silent"),
])
def test_a_degenerate_recording_is_refused_not_scored(tmp_path, capsys, samples, float_format, expected):
    folder = tmp_path / "wavs"
    (folder / "normal").mkdir(parents=True)
    (folder / "abnormal").mkdir()
    _wav(folder / "normal" / "bad.wav", np.asarray(samples, dtype=np.float64), float_format=float_format)
    shutil.copyfile(sorted(HEART.glob("*.wav"))[0], folder / "abnormal" / "ok.wav")
    code, _, err = _cli(["eval", TFLITE, "--data", folder], capsys)
    assert code == 2 and "bad.wav" in err and expected in _one_line(err)


def test_every_real_sample_recording_passes_the_degenerate_audio_rules():
    from edgekd.runtime.audio import read_wav

    for wav in sorted(HEART.glob("*.wav")):
        read_wav(wav, sample_rate=2000)


# ---------------------------------------------------------------- the error boundary
def test_an_unexpected_error_exits_3_with_one_line_and_a_saved_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EDGEKD_CRASH_DIR", str(tmp_path))

    def boom(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("edgekd.audit.inspect_artifact", boom)
    code, _, err = _cli(["inspect", TFLITE], capsys)
    line = _one_line(err)
    assert code == 3 and "internal error: ZeroDivisionError: a bug" in line and "--debug" in line
    saved = list(tmp_path.glob("inspect-*.txt"))
    assert len(saved) == 1 and "Traceback" in saved[0].read_text() and str(saved[0]) in line


def test_debug_prints_the_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EDGEKD_CRASH_DIR", str(tmp_path))
    monkeypatch.setattr("edgekd.audit.inspect_artifact", lambda *a, **k: 1 / 0)
    code = main(["--debug", "inspect", str(TFLITE)])
    assert code == 3 and "Traceback" in capsys.readouterr().err
