"""edgeml.load opens sealed models and checks publishers' signatures (edgeml.security)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgeml
from edgeml import security
from edgeml.conversion.metadata import _tiny_model_for_examples
from edgeml.errors import ConfigError, IntegrityError

X = np.array([[1.0, 2.0]], dtype=np.float32)


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return _tiny_model_for_examples()


def test_sealed_model_loads_with_its_key_and_predicts_like_the_plain_one(
    tmp_path: Path, model_bytes: bytes
) -> None:
    key = security.generate_key()
    path = tmp_path / "model.tflite.sealed"
    path.write_bytes(security.seal(model_bytes, key, associated_data="card-hash"))
    sealed = edgeml.load(path, key=key, associated_data="card-hash")
    plain = edgeml.load(model_bytes)
    np.testing.assert_array_equal(sealed.predict(X), plain.predict(X))


def test_sealed_model_without_key_names_the_fix(tmp_path: Path, model_bytes: bytes) -> None:
    key = security.generate_key()
    path = tmp_path / "model.sealed"
    path.write_bytes(security.seal(model_bytes, key))
    with pytest.raises(ConfigError, match="key"):
        edgeml.load(path)


def test_wrong_key_tampering_and_plain_file_with_key_are_refused(
    tmp_path: Path, model_bytes: bytes
) -> None:
    key = security.generate_key()
    sealed = security.seal(model_bytes, key)
    with pytest.raises(IntegrityError):
        edgeml.load(sealed, key=security.generate_key())
    tampered = bytearray(sealed)
    tampered[len(tampered) // 2] ^= 0x04
    with pytest.raises(IntegrityError):
        edgeml.load(bytes(tampered), key=key)
    with pytest.raises(IntegrityError):
        edgeml.load(model_bytes, key=key)  # a plain file swapped in for a sealed one


def test_signature_is_checked_before_the_model_runs(tmp_path: Path, model_bytes: bytes) -> None:
    private = security.generate_signing_key()
    public = private.public_key()
    path = tmp_path / "model.tflite"
    path.write_bytes(model_bytes)
    security.sign_file(path, private)
    model = edgeml.load(path, verify_with=public)
    assert model.predict(X).shape == (1, 3)
    other = security.generate_signing_key().public_key()
    with pytest.raises(IntegrityError):
        edgeml.load(path, verify_with=other)
    path.write_bytes(model_bytes[:-1] + bytes([model_bytes[-1] ^ 1]))
    with pytest.raises(IntegrityError):
        edgeml.load(path, verify_with=public)
