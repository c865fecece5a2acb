"""The C99 front-end of the MCU bundle (edgekd/bundle/csrc) on real heart recordings, against golden vectors.

The front-end and a driver (tests/c_frontend_driver.c) are compiled with the host C compiler (``cc -std=c99 -Wall
-Werror -O2``; `make cc` installs Debian's gcc; no compiler is a failure, not a skip), configured from the
sidecar of the shipped heart model, and fed the ``read_wav`` output of each golden input: three whole in-repo
recordings whose band-pass FFT lengths are even (73,728) and odd (16,875 = 3^3 5^4; 19,683 = 3^9).

- The double build (``-DEDGEKD_FE_DOUBLE``) gives the golden int8 model input exactly, and the log-mel within 1e-4.
- The float32 build (the default) is held to the same 1e-4 on the log-mel and misses it (2.2e-4 here, 3.9e-3 on
  one dev-set recording: benchmarks/results/c_frontend.md): a strict expected failure, so it is seen when it
  changes. What float32 does keep is checked separately: int8 values at most one step away.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgekd.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT = ROOT / "benchmarks/results/artifacts/heart/student-tflite-int8.tflite"
DRIVER = ROOT / "tests/c_frontend_driver.c"
WAVS = [ROOT / "tests/data/a0011.wav", ROOT / "data/heart-sample/b0273.wav", ROOT / "data/heart-sample/e01962.wav"]
MAX_SECONDS = 40.0  # a0011 is 35.6 s
BUILDS = {"float32": [], "double": ["-DEDGEKD_FE_DOUBLE"]}
CFLAGS = ["-std=c99", "-Wall", "-Werror", "-O2"]


def _compiler() -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no host C compiler (cc/gcc): `make cc` installs Debian's gcc")
    return cc


def _meta() -> dict:
    return json.loads(ARTIFACT.with_suffix(".edgekd.json").read_text())


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """Golden vectors of the shipped heart model for the three recordings: (manifest, folder)."""
    from edgekd.runtime.golden import make_golden

    folder = tmp_path_factory.mktemp("golden") / "student-tflite-int8.golden"
    return make_golden(ARTIFACT, WAVS, folder), folder


@pytest.fixture(scope="module")
def drivers(tmp_path_factory) -> dict[str, Path]:
    """The driver compiled against the generated config, once per arithmetic: build -> executable."""
    from edgekd.bundle.cfrontend import write_c_frontend

    cc, folder = _compiler(), tmp_path_factory.mktemp("cfe")
    write_c_frontend(_meta(), folder, MAX_SECONDS)
    out = {}
    for name, flags in BUILDS.items():
        out[name] = folder / f"driver-{name}"
        subprocess.run([cc, *CFLAGS, *flags, "-I", str(folder), str(folder / "edgekd_frontend.c"), str(DRIVER),
                        "-o", str(out[name]), "-lm"], check=True, capture_output=True, text=True)
    return out


def _run(exe: Path, samples: np.ndarray, folder: Path, *extra: str) -> dict:
    """The driver on ``samples``: its return code, figures and outputs (when it accepted them)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.asarray(samples, dtype=np.float32).tofile(folder / "in.f32")
    run = subprocess.run([str(exe), str(folder / "in.f32"), str(folder / "out"), *extra], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode in (0, 3), run.stderr
    got: dict = {k: int(v) for k, v in (kv.split("=") for kv in run.stdout.split())}
    if got["rc"] == 0:
        got["bandpass"] = np.fromfile(folder / "out.bandpass.f32", np.float32)
        got["log"] = np.fromfile(folder / "out.features.f32", np.float32).reshape(got["windows"], 32, 180)
        got["int8"] = np.fromfile(folder / "out.input.i8", np.int8)
    return got


@pytest.fixture(scope="module")
def results(golden, drivers, tmp_path_factory) -> list[dict]:
    """Per build and golden input: the C outputs beside the golden ones."""
    manifest, folder = golden
    scratch = tmp_path_factory.mktemp("runs")
    out = []
    for k, entry in enumerate(manifest["inputs"]):
        steps = {s["step"]: np.load(folder / s["file"]) for s in entry["steps"] if s.get("stored", True)}
        for build, exe in drivers.items():
            out.append({"build": build, "source": entry["source"], "got": _run(exe, steps["read_wav"], scratch / f"{k}"),
                        "log": steps["to_model_input"][:, 0],  # the log step as (windows, mels, frames), always stored
                        "bandpass": steps["bandpass"], "int8": np.load(folder / entry["model_input"]["file"]).ravel()})
    return out


def _of(results: list[dict], build: str) -> list[dict]:
    return [r for r in results if r["build"] == build]


def test_the_double_build_gives_the_golden_int8_input_exactly_and_the_log_mel_within_1e_4(results):
    for r in _of(results, "double"):
        got = r["got"]
        assert got["rc"] == 0 and got["windows"] == len(r["log"]), r["source"]
        assert np.abs(got["log"] - r["log"]).max() <= 1e-4, r["source"]
        np.testing.assert_array_equal(got["int8"], r["int8"], err_msg=r["source"])
        np.testing.assert_allclose(got["bandpass"], r["bandpass"], rtol=0, atol=1e-5, err_msg=r["source"])


@pytest.mark.xfail(strict=True, reason="float32 arithmetic: the log-mel of weak bins in quiet frames differ by up to "
                                       "2.2e-4 on these recordings (benchmarks/results/c_frontend.md)")
def test_the_float32_build_gives_the_log_mel_within_1e_4(results):
    worst = max(float(np.abs(r["got"]["log"] - r["log"]).max()) for r in _of(results, "float32"))
    assert worst <= 1e-4, f"max |log-mel difference| {worst:.3g}"


def test_the_float32_build_puts_an_int8_value_at_most_one_step_away(results):
    for r in _of(results, "float32"):
        got = r["got"]
        assert got["rc"] == 0 and got["int8"].shape == r["int8"].shape, r["source"]
        assert np.abs(got["int8"].astype(int) - r["int8"]).max() <= 1, r["source"]


def test_samples_written_into_the_working_buffer_give_the_same_outputs(drivers, golden, tmp_path):
    manifest, folder = golden
    samples = np.load(folder / manifest["inputs"][1]["steps"][0]["file"])
    for exe in drivers.values():
        apart, inside = _run(exe, samples, tmp_path / "apart"), _run(exe, samples, tmp_path / "inside", "1", "slot")
        for key in ("bandpass", "log", "int8"):
            np.testing.assert_array_equal(inside[key], apart[key])


def test_the_c_front_end_refuses_what_the_reference_refuses(drivers, tmp_path):
    """Shorter than a window or longer than the compiled maximum; non-finite, constant, silent, clipped."""
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(8000)).astype(np.float32)
    nan = noise.copy()
    nan[100] = np.nan
    clipped = np.sign(noise) * np.float32(0.9995)
    cases = {-2: noise[:5999], -3: 0.1 * rng.standard_normal(int(MAX_SECONDS * 2000) + 1), -5: nan,
             -6: np.full(8000, 0.25), -7: noise * 1e-4, -8: clipped}
    for exe in drivers.values():
        for code, samples in cases.items():
            assert _run(exe, samples, tmp_path)["rc"] == code, code
        assert _run(exe, noise[:6000], tmp_path)["windows"] == 1  # exactly one window


def test_the_config_states_the_working_buffer_the_c_code_uses(drivers, tmp_path):
    from edgekd.bundle.cfrontend import config_header, frontend_params, work_bytes
    from edgekd.runtime.steps import next_fast_len

    params = frontend_params(_meta(), MAX_SECONDS)
    noise = np.random.default_rng(1).standard_normal(9000).astype(np.float32) * 0.1
    for build, exe in drivers.items():
        assert _run(exe, noise, tmp_path)["work_bytes"] == work_bytes(params, double=build == "double")
    assert params["max_fft"] == next_fast_len(80000 + 2000) == 82944 and params["n_frames"] == 180
    header = config_header(_meta(), 20.0)
    assert "EDGEKD_FE_WORK_BYTES = 174340 bytes" in header and "348680 bytes with -DEDGEKD_FE_DOUBLE" in header
    assert "#define EDGEKD_FE_INPUT_SCALE 0.08603557199239731f" in header


def test_an_image_model_has_no_c_front_end():
    from edgekd.bundle.cfrontend import frontend_params, is_audio

    meta = json.loads((ROOT / "tests/data/plant-student-tflite-int8.edgekd.json").read_text())
    assert not is_audio(meta)
    with pytest.raises(InputError, match="implements the audio steps"):
        frontend_params(meta)


def test_the_mcu_bundle_files_include_the_front_end_and_compile_together(golden, tmp_path):
    """What `edgekd bundle` writes for a Cortex-M target (``_c_files``): the C array, the constants header with
    the front-end's working buffer, and the front-end sources with its config and README."""
    from edgekd.bundle.assemble import _c_files

    _, folder = golden
    tflite = folder.parent / ARTIFACT.name
    shutil.copyfile(ARTIFACT, tflite)
    entry = _c_files(tflite, _meta(), tmp_path)
    fe = entry["frontend"]
    assert {fe[k] for k in ("header", "source", "config", "readme")} <= {p.name for p in tmp_path.iterdir()}
    assert fe["work_bytes"] == 174340 and fe["max_seconds"] == 20.0
    constants = (tmp_path / "model_constants.h").read_text()
    assert "#define EDGEKD_FRONTEND_WORK_BYTES 174340" in constants and "edgekd_fe_prepare" in constants
    assert "174,340 bytes" in (tmp_path / fe["readme"]).read_text()
    (tmp_path / "main.c").write_text(
        '#include "edgekd_frontend.h"\n#include "model_constants.h"\n#include "model_data.h"\n'
        "static edgekd_fe_real work[EDGEKD_FE_WORK_REALS];\n"
        "int main(void) {\n  edgekd_fe_state st;\n  static float x[EDGEKD_FE_WINDOW_SAMPLES];\n"
        "  int rc = edgekd_fe_prepare(&st, x, EDGEKD_FE_WINDOW_SAMPLES, work, sizeof work);\n"
        "  return !(rc == EDGEKD_FE_ERR_CONSTANT && EDGEKD_FE_WORK_BYTES == EDGEKD_FRONTEND_WORK_BYTES &&\n"
        "           model_data_len > 0 && EDGEKD_FE_INPUT_VALUES == EDGEKD_INPUT_DIM1 * EDGEKD_INPUT_DIM2);\n}\n")
    exe = tmp_path / "main"
    subprocess.run([_compiler(), *CFLAGS, "-I", str(tmp_path), str(tmp_path / "main.c"), str(tmp_path / fe["source"]),
                    str(tmp_path / "model_data.c"), "-o", str(exe), "-lm"], check=True, capture_output=True, text=True)
    assert subprocess.run([str(exe)]).returncode == 0
