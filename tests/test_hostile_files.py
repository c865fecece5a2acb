"""Property-based tests (Hypothesis) of the file formats edgekd reads: golden.json, .npy, sidecars, report.json.

Whatever the file holds (a mutated field, random bytes, a truncation, JSON nested thousands of levels deep, a
garbage ``.npy`` header), the CLI exits 0, 1 or 2 (never 3, an internal error) and prints no traceback; the
``.npy`` reader raises nothing but ``InputError`` naming the file. Settings (so the file's time is known, < 20 s
on a loaded 2-core machine): 40 to 100 examples per property, no deadline (a CI machine is noisy), the
Hypothesis database off (each run explores afresh). Extends tests/test_hostile_inputs.py (recipes, --set,
sidecar values at eval, report figures, WAV and image headers) to issue 27's file formats.
"""

from __future__ import annotations

import copy
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from reportfiles import materialise  # noqa: E402

from edgekd.cli import main  # noqa: E402
from hostile import run_cli  # noqa: E402
from edgekd.errors import InputError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHIPPED = ROOT / "benchmarks" / "results" / "artifacts" / "heart"
ART = "student-tflite-int8"
GOLDEN = json.loads((SHIPPED / f"{ART}.golden" / "golden.json").read_text())
V1_SIDECAR = json.loads((DATA / "heart-student-tflite-int8.edgekd.json").read_text())
CLEAN = {0, 1, 2}  # never 3: malformed input is exit 2

SETTINGS = settings(max_examples=100, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FEW = settings(SETTINGS, max_examples=40)

scalars = (st.none() | st.booleans() | st.integers(min_value=-10**12, max_value=10**12)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
           | st.sampled_from(["../../etc/passwd", "/etc/passwd", "tight", "", "..", "input0.logits.npy"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                           max_size=3), max_leaves=6)


def _cli(args, capfd) -> int:
    return run_cli(args, capfd, CLEAN)


def _locations(node, prefix=()) -> list[tuple]:
    """Every key path of a JSON tree (list indices included; only the first golden input is walked)."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node[:1] if prefix == ("inputs",) else node) \
        if isinstance(node, list) else ()
    for k, v in items:
        out.append((*prefix, k))
        out.extend(_locations(v, (*prefix, k)))
    return out


def _put(tree, location: tuple, value) -> None:
    node = tree
    for k in location[:-1]:
        node = node[k]
    node[location[-1]] = value


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    """The shipped heart student with its whole golden folder (copied once; each example rewrites golden.json)."""
    folder = tmp_path_factory.mktemp("art")
    for name in (f"{ART}.tflite", f"{ART}.edgekd.json"):
        shutil.copyfile(SHIPPED / name, folder / name)
    shutil.copytree(SHIPPED / f"{ART}.golden", folder / f"{ART}.golden")
    return folder / f"{ART}.tflite"


@pytest.fixture(scope="module")
def outputs(artifact) -> Path:
    """The golden raw outputs, stacked: what a conforming implementation gives ``--outputs``."""
    golden = artifact.with_suffix(".golden")
    path = golden.parent / "outputs.npy"
    np.save(path, np.concatenate([np.load(golden / e["output_raw"]["file"]) for e in GOLDEN["inputs"]]))
    return path


@pytest.fixture(scope="module")
def features(artifact) -> Path:
    """The golden features (the last step's outputs), stacked: what a conforming front-end gives ``--features``."""
    golden = artifact.with_suffix(".golden")
    path = golden.parent / "features.npy"
    np.save(path, np.concatenate([np.load(golden / e["steps"][-1]["file"]) for e in GOLDEN["inputs"]]))
    return path


def _write_golden(artifact: Path, content: str | bytes) -> None:
    path = artifact.with_suffix(".golden") / "golden.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)


# ------------------------------------------------------------------ golden.json
@SETTINGS
@given(location=st.sampled_from(_locations(GOLDEN)), value=values)
def test_conformance_with_any_value_at_any_golden_key_exits_cleanly(capfd, artifact, outputs, location, value):
    manifest = copy.deepcopy(GOLDEN)
    _put(manifest, location, value)
    _write_golden(artifact, json.dumps(manifest))
    _cli(["conformance", artifact, "--outputs", outputs], capfd)


@FEW
@given(location=st.sampled_from([loc for loc in _locations(GOLDEN) if "steps" in loc or "model_input" in loc]),
       value=values, per_step=st.booleans())
def test_conformance_of_features_with_any_value_at_any_step_key_exits_cleanly(capfd, artifact, features, location,
                                                                              value, per_step):
    manifest = copy.deepcopy(GOLDEN)
    _put(manifest, location, value)
    _write_golden(artifact, json.dumps(manifest))
    _cli(["conformance", artifact, "--features", artifact.with_suffix(".golden") if per_step else features], capfd)


def _lists(node, prefix=()) -> list[tuple]:
    """Key paths of every list in the first golden input (and the inputs list itself)."""
    return [loc for loc in [("inputs",), *_locations(GOLDEN)] if isinstance(_get(GOLDEN, loc), list)]


def _get(tree, location: tuple):
    for k in location:
        tree = tree[k]
    return tree


@SETTINGS
@given(location=st.sampled_from(_lists(GOLDEN)), keep=st.integers(0, 3),
       flag=st.sampled_from(["--outputs", "--features", "--per-step"]))
def test_conformance_with_any_golden_list_cut_short_exits_cleanly(capfd, artifact, outputs, features, location, keep,
                                                                  flag):
    manifest = copy.deepcopy(GOLDEN)
    _put(manifest, location, _get(manifest, location)[:keep])
    _write_golden(artifact, json.dumps(manifest))
    given = {"--outputs": outputs, "--features": features, "--per-step": artifact.with_suffix(".golden")}[flag]
    _cli(["conformance", artifact, "--features" if flag == "--per-step" else flag, given], capfd)


@SETTINGS
@given(k=st.integers(0, len(GOLDEN["inputs"]) - 1), key=st.sampled_from(["output_raw", "logits", "model_input", "last"]),
       shape=st.lists(st.integers(0, 4), min_size=0, max_size=4), dtype=st.sampled_from(["int8", "uint8", "float32",
                                                                                           "float64", "int32"]),
       flag=st.sampled_from(["--outputs", "--features", "--inputs"]), rows=st.none() | st.integers(0, 4))
def test_conformance_with_a_golden_array_of_any_shape_and_dtype_exits_cleanly(capfd, artifact, outputs, features, k,
                                                                               key, shape, dtype, flag, rows):
    manifest = copy.deepcopy(GOLDEN)
    entry = manifest["inputs"][k]["steps"][-1] if key == "last" else manifest["inputs"][k][key]
    if rows is not None:  # the recorded shape with another number of windows: stacks, but disagrees elsewhere
        shape = [rows, *entry["shape"][1:]]
    golden = artifact.with_suffix(".golden")
    target = golden / entry["file"]
    before = target.read_bytes()
    np.save(target, np.ones(shape, dtype=dtype))
    entry.update(shape=list(shape), dtype=dtype)
    _write_golden(artifact, json.dumps(manifest))
    inputs = golden.parent / "inputs.npy"
    if not inputs.exists():
        np.save(inputs, np.concatenate([np.load(golden / e["model_input"]["file"]) for e in GOLDEN["inputs"]]))
    try:
        _cli(["conformance", artifact, flag, {"--outputs": outputs, "--features": features, "--inputs": inputs}[flag]],
             capfd)
    finally:
        target.write_bytes(before)


@FEW
@given(cut=st.integers(min_value=0, max_value=len(json.dumps(GOLDEN)) - 1))
def test_a_truncated_golden_json_exits_2(capfd, artifact, outputs, cut):
    _write_golden(artifact, json.dumps(GOLDEN)[:cut])
    assert _cli(["conformance", artifact, "--outputs", outputs], capfd) == 2


@FEW
@given(content=st.binary(max_size=200))
def test_random_bytes_as_golden_json_exit_2(capfd, artifact, outputs, content):
    _write_golden(artifact, content)
    assert _cli(["conformance", artifact, "--outputs", outputs], capfd) == 2


def test_the_unchanged_golden_vectors_conform(capfd, artifact, outputs):
    _write_golden(artifact, json.dumps(GOLDEN))
    assert _cli(["conformance", artifact, "--outputs", outputs], capfd) == 0


# ------------------------------------------------------------------ .npy headers
def _npy(version: int, header: bytes, data: bytes) -> bytes:
    size = struct.pack("<H" if version == 1 else "<I", len(header) % (1 << (16 if version == 1 else 32)))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header + data


header_dicts = st.fixed_dictionaries({
    "descr": st.sampled_from(["<f4", "|i1", "<i8", "|O", "<U3", "V8", "<f16", "float32", "", "<c8"]) | st.text(max_size=6),
    "fortran_order": st.booleans() | st.integers(-1, 2),
    "shape": st.lists(st.integers(-3, 10**13), max_size=4).map(tuple) | st.integers(-3, 5),
}).map(lambda d: (repr(d) + "\n").encode())


@SETTINGS
@given(version=st.sampled_from([1, 2, 3, 9]), header=header_dicts | st.binary(max_size=120),
       data=st.binary(max_size=64), cut=st.integers(0, 400))
def test_the_npy_reader_on_any_header_raises_only_input_errors(tmp_path_factory, version, header, data, cut):
    from edgekd.runtime.npyfile import read_npy

    path = tmp_path_factory.mktemp("npy") / "x.npy"
    path.write_bytes(_npy(version, header, data)[:cut or None])
    try:
        a = read_npy(path, "--features")
    except InputError as exc:
        assert str(exc).startswith(str(path)), exc
    else:
        assert isinstance(a, np.ndarray) and not a.dtype.hasobject


@FEW
@given(header=header_dicts, data=st.binary(max_size=64))
def test_conformance_with_any_npy_as_outputs_exits_cleanly(capfd, tmp_path_factory, artifact, header, data):
    _write_golden(artifact, json.dumps(GOLDEN))
    path = tmp_path_factory.mktemp("npy") / "out.npy"
    path.write_bytes(_npy(1, header, data))
    _cli(["conformance", artifact, "--outputs", path], capfd)


# ------------------------------------------------------------------ sidecars (upgrade: schema 1 -> 2)
@SETTINGS
@given(location=st.sampled_from(_locations(V1_SIDECAR)), value=values)
def test_upgrade_of_a_v1_sidecar_with_any_value_at_any_key_exits_0_or_2(capfd, tmp_path_factory, location, value):
    folder = tmp_path_factory.mktemp("up")
    art = folder / "m.tflite"
    shutil.copyfile(DATA / "heart-student-tflite-int8.tflite", art)
    meta = copy.deepcopy(V1_SIDECAR)
    _put(meta, location, value)
    sidecar = folder / "m.edgekd.json"
    sidecar.write_text(json.dumps(meta))
    before = sidecar.read_bytes()
    code = _cli(["upgrade", art], capfd)
    assert code in (0, 2)
    if code == 2:  # refused: nothing written, the sidecar untouched
        assert sorted(p.name for p in folder.iterdir()) == ["m.edgekd.json", "m.tflite"]
        assert sidecar.read_bytes() == before


@FEW
@given(content=st.binary(max_size=120) | st.integers(0, len(json.dumps(V1_SIDECAR)) - 1).map(
    lambda cut: json.dumps(V1_SIDECAR)[:cut].encode()))
def test_upgrade_of_a_garbage_or_truncated_sidecar_exits_2(capfd, tmp_path_factory, content):
    folder = tmp_path_factory.mktemp("up")
    shutil.copyfile(DATA / "heart-student-tflite-int8.tflite", folder / "m.tflite")
    (folder / "m.edgekd.json").write_bytes(content)
    assert _cli(["upgrade", folder / "m.tflite"], capfd) == 2


# ------------------------------------------------------------------ report.json
@pytest.fixture(scope="module")
def report_text(tmp_path_factory) -> str:
    return materialise(DATA / "reports" / "within.json", tmp_path_factory.mktemp("rep")).read_text()


@FEW
@given(depth=st.integers(1, 5000), opener=st.sampled_from(["[", '{"a":']), where=st.sampled_from(
    ["top", "artifact", "metrics"]))
def test_gate_on_a_report_nested_to_any_depth_exits_cleanly(capfd, tmp_path_factory, monkeypatch, report_text,
                                                            depth, opener, where):
    monkeypatch.setenv("EDGEKD_TARGETS", str(DATA / "targets"))
    closer = "]" if opener == "[" else "}"
    deep = opener * depth + "0" + closer * depth
    report = json.loads(report_text)
    node = report if where == "top" else report["artifacts"][3] if where == "artifact" \
        else report["artifacts"][3]["metrics"]
    node["deep"] = "@@DEEP@@"
    path = tmp_path_factory.mktemp("rep") / "report.json"
    path.write_text(json.dumps(report).replace('"@@DEEP@@"', deep))
    _cli(["gate", path], capfd)


@FEW
@given(cut=st.integers(min_value=0, max_value=20_000), junk=st.binary(max_size=16))
def test_gate_on_a_truncated_report_exits_cleanly(capfd, tmp_path_factory, monkeypatch, report_text, cut, junk):
    monkeypatch.setenv("EDGEKD_TARGETS", str(DATA / "targets"))
    path = tmp_path_factory.mktemp("rep") / "report.json"
    path.write_bytes(report_text.encode()[:min(cut, len(report_text) - 1)] + junk)
    _cli(["gate", path], capfd)


REPORT = json.loads((DATA / "reports" / "within.json").read_text())
REPORT_KEYS = [loc for loc in _locations(REPORT) if loc[0] != "artifacts" or len(loc) <= 3] + [
    ("recipe", "config", "export", "budgets", "x86_64", "size_kb"), ("targets", 0, "budgets", "size_kb")]


@SETTINGS
@given(location=st.sampled_from(REPORT_KEYS), value=values, target=st.sampled_from([None, "x86_64", "nowhere"]))
def test_gate_with_any_value_at_any_report_key_exits_cleanly(capfd, tmp_path_factory, monkeypatch, location, value,
                                                             target):
    monkeypatch.setenv("EDGEKD_TARGETS", str(DATA / "targets"))

    def edit(report):
        node = report
        for k in location[:-1]:
            if isinstance(node, dict) and not isinstance(node.get(k), (dict, list)):
                node[k] = {}
            node = node[k] if isinstance(node, dict) or (isinstance(node, list) and k < len(node)) else {}
        if isinstance(node, dict) or (isinstance(node, list) and location[-1] < len(node)):
            node[location[-1]] = value

    folder = tmp_path_factory.mktemp("rep")
    if location == ("artifacts",):  # no artifact list to give files to: the report alone
        report = copy.deepcopy(REPORT)
        report["artifacts"] = value
        path = folder / "report.json"
        path.write_text(json.dumps(report))
    else:
        path = materialise(DATA / "reports" / "within.json", folder, edit=edit)
    _cli(["gate", path, *(["--target", target] if target else [])], capfd)
