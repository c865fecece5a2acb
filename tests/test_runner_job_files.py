"""What a device-side job leaves behind (a result or error JSON) is read as data: a job killed mid-write gives a
BackendError naming the file, never a JSONDecodeError traceback."""

import json
from types import SimpleNamespace

import pytest

from edgekd.errors import BackendError
from edgekd.runners.emulated import _job_json

PROC = SimpleNamespace(stdout="", stderr="Killed")


@pytest.mark.parametrize("content", [b"", b'{"p50_ms": 0.1, "runs', b"\x00\xff", b"[1, 2]", b"[" * 200_000])
def test_a_damaged_result_file_is_a_backend_error_naming_it(tmp_path, content):
    path = tmp_path / "result.json"
    path.write_bytes(content)
    with pytest.raises(BackendError, match="result.json"):
        _job_json(path, "m.tflite", PROC)


def test_an_error_file_without_its_message_is_a_backend_error(tmp_path):
    path = tmp_path / "error.json"
    path.write_text(json.dumps({"exit_code": 2}))
    with pytest.raises(BackendError, match="error.json without the expected keys"):
        _job_json(path, "m.tflite", PROC)


def test_a_whole_result_file_is_read(tmp_path):
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"p50_ms": 0.1}))
    assert _job_json(path, "m.tflite", PROC) == {"p50_ms": 0.1}
