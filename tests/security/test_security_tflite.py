"""End to end on a real .tflite (made by TensorFlow's own converter): a sealed, signed
model opens to the exact bytes and runs identically in LiteRT; any flipped bit is
refused before the interpreter sees anything.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeml.errors import IntegrityError
from edgeml.security import generate_key, generate_signing_key, open_model_bytes, seal, sign_file

pytestmark = [pytest.mark.tf, pytest.mark.slow]


@pytest.fixture(scope="module")
def tflite() -> bytes:
    tf = pytest.importorskip("tensorflow")
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((4,)),
            tf.keras.layers.Dense(8, activation="relu"),
            tf.keras.layers.Dense(2),
        ]
    )
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def _outputs(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def test_sealed_signed_model_opens_and_runs_identically(tflite: bytes, tmp_path: Path) -> None:
    key, publisher = generate_key(), generate_signing_key()
    path = tmp_path / "model.sealed"
    path.write_bytes(seal(tflite, key))
    sign_file(path, publisher)
    opened = open_model_bytes(path, key=key, verify_with=publisher.public_key())
    assert opened == tflite
    x = np.linspace(-1, 1, 4, dtype=np.float32).reshape(1, 4)
    np.testing.assert_array_equal(_outputs(opened, x), _outputs(tflite, x))


def test_flipped_bits_in_a_sealed_model_are_refused(tflite: bytes) -> None:
    key = generate_key()
    sealed = seal(tflite, key)
    rng = np.random.default_rng(0)
    # Every bit of the header, then 200 random bits across the ciphertext and tag.
    bits = list(range(32 * 8)) + list(rng.integers(32 * 8, len(sealed) * 8, size=200))
    for bit in bits:
        tampered = bytearray(sealed)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(IntegrityError):
            open_model_bytes(bytes(tampered), key=key)
