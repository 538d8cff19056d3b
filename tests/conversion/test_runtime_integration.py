"""The promise between layers: what convert() writes, edgeml.runtime.load reads and checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeml.conversion import convert
from edgeml.conversion.metadata import read_metadata
from edgeml.errors import IntegrityError

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def saved_int8(mlp: Any, digits: Any, tmp_path_factory: Any) -> tuple[Any, Path]:
    tfl = convert(mlp, quantization="int8", representative_data=digits.x_train, io="int8")
    return tfl, tfl.save(tmp_path_factory.mktemp("models") / "digits.tflite")


def test_runtime_loads_verifies_and_agrees(saved_int8: tuple[Any, Path], digits: Any) -> None:
    from edgeml.runtime import load

    tfl, path = saved_int8
    edge = load(path)
    np.testing.assert_allclose(edge.predict(digits.x_test), tfl.predict(digits.x_test), atol=1e-6)


def test_conversion_time_predict_rounds_ties_like_the_device(
    saved_int8: tuple[Any, Path], digits: Any
) -> None:
    # Inputs that sit exactly between two integer levels: x / scale = k + 0.5. The old
    # conversion-time path rounded them away from zero in float64; the interpreter (and
    # edgeml.runtime) multiplies by the float32 reciprocal and rounds half to even.
    from edgeml.runtime import load

    tfl, path = saved_int8
    edge = load(path)
    spec = edge.inputs[0]
    assert spec.quantization is not None
    scale = float(spec.quantization.scale[0])
    levels = np.arange(-60, 60, dtype=np.float32) + np.float32(0.5)
    ties = np.resize(levels * np.float32(scale), (8, digits.x_test.shape[1])).astype(np.float32)
    np.testing.assert_array_equal(tfl.predict(ties), edge.predict(ties))
    np.testing.assert_array_equal(tfl.predict(digits.x_test[:50]), edge.predict(digits.x_test[:50]))


def test_flipped_weight_byte_is_caught(saved_int8: tuple[Any, Path], tmp_path: Path) -> None:
    from edgeml.runtime import load

    tfl, _ = saved_int8
    content = bytearray(tfl.bytes)
    # Flip a byte inside the largest weight buffer: find the int8 kernel's bytes by value.
    from ai_edge_litert.tools import flatbuffer_utils

    parsed = flatbuffer_utils.convert_bytearray_to_object(bytearray(tfl.bytes))
    kernel = max((b.data for b in parsed.buffers if b.data is not None), key=len)
    offset = bytes(content).find(bytes(kernel))
    assert offset > 0
    content[offset + 10] ^= 0xFF
    corrupted = tmp_path / "corrupted.tflite"
    corrupted.write_bytes(bytes(content))
    assert read_metadata(corrupted)["edgeml"] == read_metadata(tfl.bytes)["edgeml"]
    with pytest.raises(IntegrityError):
        load(corrupted)
