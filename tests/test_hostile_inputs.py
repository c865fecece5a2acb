"""Property-based tests (Hypothesis) of the CLI's input contract.

Generated recipes, ``--set`` strings, sidecars, reports, WAV headers and image headers are thrown at the
CLI. Whatever the input: the exit code is one of 0, 1, 2, 3; stderr holds no traceback; nothing is left
half-written. Settings (stated so the suite's time is known): ``max_examples`` 80 per property (40 for
the slower ones), no deadline (a CI machine is noisy), the Hypothesis database off (each run explores
afresh, so a result does not depend on what an earlier run stored).
"""

from __future__ import annotations

import copy
import json
import shutil
import struct
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from reportfiles import materialise  # noqa: E402

from edgekd.cli import main  # noqa: E402
from hostile import run_cli  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
HEART = ROOT / "data" / "heart-sample"
TFLITE = DATA / "heart-student-tflite-int8.tflite"
RECIPE = yaml.safe_load((ROOT / "recipes" / "heart.yaml").read_text())
REPORT = json.loads((DATA / "reports" / "within.json").read_text())
SIDECAR = json.loads(TFLITE.with_suffix(".edgekd.json").read_text())
EXIT_CODES = {0, 1, 2, 3}

SETTINGS = settings(max_examples=80, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SLOW = settings(SETTINGS, max_examples=40)

# JSON-like values of every type, including the awkward ones (NaN, infinities, huge numbers, empty strings).
scalars = (st.none() | st.booleans() | st.integers(min_value=-10**12, max_value=10**12)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                           max_size=3), max_leaves=6)


def _cli(args, capfd) -> int:
    return run_cli(args, capfd, EXIT_CODES)


def _paths(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in tree.items():
        key = f"{prefix}{k}"
        out.append(key)
        if isinstance(v, dict):
            out.extend(_paths(v, key + "."))
    return out


def _set(tree: dict, dotted: str, value) -> None:
    node = tree
    parts = dotted.split(".")
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    rows = ["file,label"]
    for i, wav in enumerate(sorted(HEART.glob("*.wav"))[:6]):
        shutil.copyfile(wav, folder / wav.name)
        rows.append(f"{wav.name},{'normal' if i % 2 else 'abnormal'}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


@SETTINGS
@given(key=st.sampled_from(_paths(RECIPE)), value=values)
def test_a_recipe_with_any_value_at_any_key_is_checked_without_a_traceback(tmp_path_factory, capfd, small_data,
                                                                          key, value):
    tree = copy.deepcopy(RECIPE)
    _set(tree, key, value)
    recipe = tmp_path_factory.mktemp("r") / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(tree, allow_unicode=True))
    code = _cli(["run", recipe, "--check", "--set", f"data.path={small_data}"], capfd)
    if code == 2:  # refused: a real run is refused the same way and leaves nothing in --out
        out = recipe.parent / "out"
        assert _cli(["run", recipe, "--out", out, "--set", f"data.path={small_data}"], capfd) == 2
        assert not out.exists() or not any(out.rglob("*")), sorted(map(str, out.rglob("*")))


@SETTINGS
@given(pair=st.text(max_size=40))
def test_any_set_string_is_refused_or_applied_without_a_traceback(capfd, small_data, pair):
    _cli(["run", ROOT / "recipes" / "heart.yaml", "--check", "--set", pair, "--set", f"data.path={small_data}"], capfd)


@SLOW
@given(key=st.sampled_from(sorted(SIDECAR)), value=values)
def test_eval_with_any_sidecar_value_never_crashes(tmp_path_factory, capfd, small_data, key, value):
    folder = tmp_path_factory.mktemp("art")
    art = folder / "m.tflite"
    shutil.copyfile(TFLITE, art)
    meta = copy.deepcopy(SIDECAR)
    meta[key] = value
    art.with_suffix(".edgekd.json").write_text(json.dumps(meta))
    code = _cli(["eval", art, "--data", small_data, "--json"], capfd)
    assert code in (0, 2)


def _figure_paths(artifact: dict) -> list[str]:
    keys = [k for k in artifact if k not in ("budget",)]
    nested = [f"{k}.{j}" for k in ("metrics", "latency", "audit") if isinstance(artifact.get(k), dict)
              for j in artifact[k]]
    return keys + nested


@SETTINGS
@given(index=st.integers(min_value=0, max_value=len(REPORT["artifacts"]) - 1),
       key=st.sampled_from(_figure_paths(REPORT["artifacts"][3])), value=values)
def test_gate_on_any_report_value_exits_0_1_or_2(tmp_path_factory, capfd, index, key, value, monkeypatch):
    monkeypatch.setenv("EDGEKD_TARGETS", str(DATA / "targets"))

    def edit(report):
        node = report["artifacts"][index]
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {}) if isinstance(node.get(p), dict) else node
        node[parts[-1]] = value

    path = materialise(DATA / "reports" / "within.json", tmp_path_factory.mktemp("rep"), edit=edit)
    assert _cli(["gate", path], capfd) in (0, 1, 2)


@SETTINGS
@given(fmt_chunk=st.binary(max_size=40), data=st.binary(max_size=200), declared=st.integers(0, 2**32 - 1),
       tag=st.sampled_from([1, 3, 2, 0xFFFE, 0]), bits=st.sampled_from([8, 16, 24, 32, 64, 7]))
def test_read_wav_on_any_header_raises_only_input_errors(tmp_path_factory, fmt_chunk, data, declared, tag, bits):
    from edgekd.errors import InputError
    from edgekd.runtime.audio import read_wav

    fmt = struct.pack("<HHIIHH", tag, 1, 2000, 4000, max(bits // 8, 1), bits) + fmt_chunk
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", declared) + data
    path = tmp_path_factory.mktemp("wav") / "x.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    try:
        read_wav(path, sample_rate=2000)
    except InputError as exc:
        assert str(exc).startswith(str(path))


@SETTINGS
@given(head=st.sampled_from([b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"BM", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP"]),
       tail=st.binary(max_size=300))
def test_the_image_front_end_on_any_header_raises_only_input_errors(tmp_path_factory, head, tail):
    pytest.importorskip("PIL")
    from edgekd.errors import InputError
    from edgekd.runtime.image import ImageFrontend

    path = tmp_path_factory.mktemp("img") / "x.jpg"
    path.write_bytes(head + tail)
    try:
        ImageFrontend().load(path)
    except InputError as exc:
        assert str(path) in str(exc)


@SLOW
@given(flag=st.sampled_from(["--runs", "--threads", "--warmup", "--cv-target", "--timeout", "--max-seconds"]),
       value=st.text(max_size=8) | st.integers(-5, 5).map(str) | st.floats().map(str))
def test_bench_flags_of_any_value_exit_cleanly(capfd, flag, value):
    _cli(["bench", TFLITE, flag, value, "--runs" if flag != "--runs" else "--warmup", "3", "--json"], capfd)
