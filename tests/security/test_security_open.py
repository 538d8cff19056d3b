"""open_model_bytes: the loader's path from a distributed file to trusted bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeml.errors import ConfigError, IntegrityError
from edgeml.security import (
    generate_key,
    generate_signing_key,
    open_model_bytes,
    seal,
    sign,
    sign_file,
)

pytestmark = pytest.mark.compat

KEY = generate_key()
PUBLISHER = generate_signing_key()


def test_plain_bytes_pass_through() -> None:
    assert open_model_bytes(b"model") == b"model"


def test_sealed_and_signed_file_opens(tmp_path: Path) -> None:
    path = tmp_path / "model.sealed"
    path.write_bytes(seal(b"model", KEY, associated_data="card"))
    sign_file(path, PUBLISHER)
    opened = open_model_bytes(
        path, key=KEY, verify_with=PUBLISHER.public_key(), associated_data="card"
    )
    assert opened == b"model"


def test_sealed_bytes_without_a_key_ask_for_it() -> None:
    with pytest.raises(ConfigError, match=f"key id {KEY.id}"):
        open_model_bytes(seal(b"model", KEY))


def test_a_key_refuses_unsealed_bytes() -> None:
    with pytest.raises(IntegrityError, match="not sealed"):
        open_model_bytes(b"model", key=KEY)


def test_missing_signature_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(b"model")
    with pytest.raises(IntegrityError, match=r"model\.tflite\.sig"):
        open_model_bytes(path, verify_with=PUBLISHER.public_key())


def test_tampered_file_fails_at_the_signature_before_decryption(tmp_path: Path) -> None:
    path = tmp_path / "model.sealed"
    sealed = bytearray(seal(b"model", KEY))
    signature = sign(bytes(sealed), PUBLISHER)
    sealed[-1] ^= 0x80
    path.write_bytes(bytes(sealed))
    with pytest.raises(IntegrityError, match="signature does not match"):
        open_model_bytes(path, key=KEY, verify_with=PUBLISHER.public_key(), signature=signature)


def test_bytes_source_needs_an_explicit_signature() -> None:
    with pytest.raises(ConfigError, match="'signature' argument"):
        open_model_bytes(b"model", verify_with=PUBLISHER.public_key())


def test_signature_without_public_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'verify_with' argument"):
        open_model_bytes(b"model", signature=sign(b"model", PUBLISHER))


def test_signature_path_is_accepted(tmp_path: Path) -> None:
    sig = tmp_path / "detached.sig"
    sig.write_bytes(sign(b"model", PUBLISHER))
    assert open_model_bytes(b"model", verify_with=PUBLISHER.public_key(), signature=sig) == (
        b"model"
    )


def test_missing_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        open_model_bytes(tmp_path / "absent.tflite")
    with pytest.raises(ConfigError, match="is a directory"):
        open_model_bytes(tmp_path)
    with pytest.raises(ConfigError, match="'signature' argument"):
        open_model_bytes(
            b"model", verify_with=PUBLISHER.public_key(), signature=tmp_path / "absent.sig"
        )
