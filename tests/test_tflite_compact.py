"""The compact TFLite writer: shared small vectors make the file smaller and change nothing a runtime reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from ai_edge_litert.interpreter import Interpreter  # noqa: E402
from tensorflow.lite.tools import flatbuffer_utils  # noqa: E402

from edgekd.exporting.tflite_write import write_tflite_compact  # noqa: E402

STUDENT = Path(__file__).parent / "data" / "heart-student-tflite-int8.tflite"


def _details_and_outputs(path: Path) -> tuple[list, np.ndarray]:
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    outputs = []
    for x in np.random.default_rng(0).integers(-128, 128, size=(8, *inp["shape"]), dtype=np.int8):
        it.set_tensor(inp["index"], x)
        it.invoke()
        outputs.append(it.get_tensor(out["index"]).copy())
    details = [(d["name"], tuple(d["shape"]), d["dtype"], d["quantization_parameters"]["scales"].tolist(),
                d["quantization_parameters"]["zero_points"].tolist()) for d in it.get_tensor_details()]
    return details, np.stack(outputs)


@pytest.fixture(scope="module")
def compact(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("compact") / "student.tflite"
    write_tflite_compact(flatbuffer_utils.read_model(str(STUDENT)), path)
    return path


def test_compact_file_is_smaller_than_the_plain_writer(compact, tmp_path):
    plain = tmp_path / "plain.tflite"
    flatbuffer_utils.write_model(flatbuffer_utils.read_model(str(STUDENT)), str(plain))
    # the int8 student's weight and bias zero points (66 int64 zeros each) are stored once
    assert compact.stat().st_size <= plain.stat().st_size - 66 * 8


def test_compact_file_has_the_same_tensors_and_outputs(compact):
    details, outputs = _details_and_outputs(STUDENT)
    compact_details, compact_outputs = _details_and_outputs(compact)
    assert compact_details == details
    np.testing.assert_array_equal(compact_outputs, outputs)
