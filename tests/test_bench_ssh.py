"""The ssh runner against a real OpenSSH server on 127.0.0.1, started and stopped by the tests.

The "device" is this machine: sshd with its own config (key-only, random free port), a
pinned known_hosts file, and the device venv's Python (numpy<2 + tflite-runtime 2.14 +
onnxruntime, like an older Pi) as the remote interpreter. `make sshd-deps` installs
Debian's openssh-server; `make device-env` builds the device venv (`make test` does both).
"""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from edgekd.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sshserver import SSHD, free_port as _free_port, keygen, sshd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
TFLITE = DATA / "heart-student-tflite-int8.tflite"
ONNX = DATA / "heart-student-onnx-int8.onnx"
DEVICE_PYTHON = ROOT / ".venv-device" / "bin" / "python"

pytestmark = [
    pytest.mark.skipif(not SSHD.is_file() or shutil.which("ssh") is None,
                       reason="needs Debian's openssh-server and client: make sshd-deps"),
    pytest.mark.skipif(not DEVICE_PYTHON.is_file(), reason="needs the device venv: make device-env"),
]


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    """A loopback sshd: yields its port, the user key, the pinned known_hosts and a spare host key."""
    d = tmp_path_factory.mktemp("sshd")
    with sshd(d) as server:
        keygen(d / "other_host_key")
        other = (d / "other_host_key.pub").read_text().split()[:2]
        (d / "wrong_known_hosts").write_text(f"[127.0.0.1]:{server['port']} {' '.join(other)}\n")
        yield server


def _profile(device, tmp_path, **changes) -> Path:
    """A target profile whose ssh runner points at the loopback device (``changes`` override runner keys)."""
    workdir = tmp_path / "remote"
    workdir.mkdir(exist_ok=True)
    runner = {
        "kind": "ssh", "host": "127.0.0.1", "port": device["port"], "user": getpass.getuser(),
        "key": str(device["dir"] / "user_key"), "known_hosts": str(device["dir"] / "known_hosts"),
        "python": str(DEVICE_PYTHON), "workdir": str(workdir), "connect_timeout_s": 5,
    }
    runner.update(changes.pop("runner", {}))
    profile = {"name": "loopback", "arch": "x86_64", "formats": ["tflite", "onnx"], "precisions": ["fp32", "int8"],
               "threads": 1, "runner": runner, **changes}
    path = tmp_path / "loopback.yaml"
    path.write_text(json.dumps(profile))  # JSON is YAML
    return path


def _bench(artifact: Path, profile: Path, capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["bench", str(artifact), "--target", str(profile), "--runs", "20", "--warmup", "2",
                 "--timeout", "60", *extra])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("artifact", [TFLITE, ONNX], ids=["tflite", "onnx"])
def test_bench_over_ssh_measures_on_the_device(device, tmp_path, capsys, artifact):
    code, out, err = _bench(artifact, _profile(device, tmp_path), capsys, "--json")
    assert code == 0, err
    result = json.loads(out)
    for key in ("artifact", "runtime", "runtime_version", "threads", "runs", "warmup", "p50_ms", "p90_ms",
                "p99_ms", "mean_ms", "cv", "runner", "estimated", "host"):
        assert key in result, key
    assert result["runner"] == "ssh" and result["estimated"] is False and result["emulated"] is False
    assert result["runs"] == 20 and result["threads"] == 1 and result["p50_ms"] > 0
    assert result["device"]["executable"].startswith(str(ROOT / ".venv-device"))
    assert result["peak_rss_kb"] > 0 and result["artifact"] == str(artifact)
    assert list((tmp_path / "remote").iterdir()) == []  # the run folder was removed


def test_unknown_host_key_is_refused(device, tmp_path, capsys):
    profile = _profile(device, tmp_path, runner={"known_hosts": str(device["dir"] / "wrong_known_hosts")})
    code, _, err = _bench(TFLITE, profile, capsys)
    assert code == 2 and "host key refused" in err and "wrong_known_hosts" in err


def test_unreachable_port_fails_fast_with_a_clear_message(device, tmp_path, capsys):
    profile = _profile(device, tmp_path, runner={"port": _free_port()})
    code, _, err = _bench(TFLITE, profile, capsys)
    assert code == 2 and "device unreachable" in err and "Connection refused" in err


def test_remote_without_python_is_named(device, tmp_path, capsys):
    profile = _profile(device, tmp_path, runner={"python": "/nonexistent/bin/python3"})
    code, _, err = _bench(TFLITE, profile, capsys)
    assert code == 2 and "no Python at '/nonexistent/bin/python3'" in err and "runner.python" in err


def test_remote_python_without_runtime_is_named(device, tmp_path, capsys):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    profile = _profile(device, tmp_path, runner={"python": str(bare / "bin" / "python")})
    code, _, err = _bench(ONNX, profile, capsys)
    assert code == 2 and "has no numpy and no onnxruntime" in err


def test_wrong_architecture_is_refused(device, tmp_path, capsys):
    code, _, err = _bench(TFLITE, _profile(device, tmp_path, arch="aarch64"), capsys)
    assert code == 2 and "the device is x86_64" in err and "says arch aarch64" in err


def test_a_host_that_never_answers_times_out_instead_of_hanging(device, tmp_path, capsys):
    """A port that accepts TCP but never speaks SSH: ConnectTimeout also bounds the handshake."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        profile = _profile(device, tmp_path, runner={"port": silent.getsockname()[1], "connect_timeout_s": 1})
        code, _, err = _bench(TFLITE, profile, capsys)
    assert code == 2 and "device unreachable" in err and "timed out" in err


def test_the_onnx_int8_export_times_its_forms_on_the_ssh_device(device, tmp_path, monkeypatch):
    """The exporter's latency probe for an ssh target measures each candidate file on the device."""
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    from edgekd.exporting.ort_forms import quantize_fastest
    from edgekd.exporting.onnx_export import export_onnx
    from edgekd.runners.probe import latency_probe
    from edgekd.targets import load_target

    probe = latency_probe(load_target(str(_profile(device, tmp_path))), runs=10, warmup=2)
    assert probe.where.startswith(f"ssh {getpass.getuser()}@127.0.0.1:{device['port']}")
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(16 * 8 * 8, 2)).eval()
    export_onnx(net, torch.zeros(1, 2, 8, 8), tmp_path / "fp32.onnx")
    cal = np.random.default_rng(0).standard_normal((8, 2, 8, 8)).astype(np.float32)
    form = quantize_fastest(tmp_path / "fp32.onnx", tmp_path / "int8.onnx", cal, method="minmax", probe=probe,
                            cache_dir=tmp_path / "cache")
    assert form["measured"] and form["runner"] == probe.where
    assert all(c["p50_ms"] > 0 for c in form["candidates"] if c["agrees"])
    assert list((tmp_path / "remote").iterdir()) == []


def test_a_latency_table_for_pruning_is_measured_on_the_ssh_device(device, tmp_path):
    """The pruner's latency table goes through the same runner: each artifact is copied to the device and timed."""
    torch = pytest.importorskip("torch")
    from edgekd.api.pruning import latency_probe
    from edgekd.exporting.backends import choose_backend
    from edgekd.pruning.latency_table import build_latency_table, deploy_exporter
    from edgekd.pruning.prune import resolve_ignored
    from edgekd.targets import load_target

    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(32, 2)).eval()
    shape = (1, 16, 16)
    profile = load_target(_profile(device, tmp_path, formats=["tflite"]))
    logs: list[str] = []
    export, exported = deploy_exporter(profile, shape, choose_backend)
    table = build_latency_table(model, shape, resolve_ignored(model, [], shape), export=export,
                                measure=latency_probe(profile).measure, identity={"target": profile.name, **exported},
                                round_to=16, rounds=1, cache_dir=tmp_path / "tables", log=logs.append)
    assert table.meta["measured_by"]["runner"] == "ssh" and len(logs) == 4  # unpruned, 16 channels, floor, saved
    assert set(table.entries["0"]) == {16} and table.base_ms > 0 and table.floor_measured_ms is not None
    assert list((tmp_path / "remote").iterdir()) == []  # every remote run folder was removed


def test_the_front_end_is_timed_on_the_device_beside_the_model(device, tmp_path, capsys):
    code, out, err = _bench(TFLITE, _profile(device, tmp_path), capsys, "--items", str(DATA / "a0011.wav"), "--json")
    assert code == 0, err
    result = json.loads(out)
    fe, e2e = result["frontend"], result["end_to_end"]
    assert (fe["runner"], fe["emulated"], fe["items"], fe["windows_per_item"]["p50"]) == ("ssh", False, 1, 22)
    assert e2e["p50_ms"] == pytest.approx(fe["per_item"]["p50_ms"] + result["p50_ms"] * 22, rel=1e-12)
    assert list((tmp_path / "remote").iterdir()) == []  # items and all removed with the run folder


def test_calibrate_times_the_suite_on_the_ssh_device(device, tmp_path, capsys):
    """`edgekd targets calibrate` over ssh: the suite is copied once, timed by the device's Python, and the
    calibration carries the device's identity (its runtime, not the host's)."""
    out = tmp_path / "loopback.calibration.json"
    code = main(["targets", "calibrate", str(_profile(device, tmp_path)), "--suite", "smoke", "--formats", "tflite",
                 "--rounds", "1", "--out", str(out), "--cache", str(tmp_path / "cache")])
    assert code == 0, capsys.readouterr().err
    data = json.loads(out.read_text())
    assert data["runner"] == "ssh" and data["device"]["executable"].startswith(str(ROOT / ".venv-device"))
    assert data["identity"]["runtimes"]["tflite"]["runtime"] == "tflite-runtime"
    assert len(data["measurements"]) == 8 and all(m["ms"] > 0 and m["ms_ctx"] > 0 for m in data["measurements"])
    assert list((tmp_path / "remote").iterdir()) == []  # the run folder was removed
