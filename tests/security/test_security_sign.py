"""Detached Ed25519 signatures.

Reference values: RFC 8032, section 7.1, TEST 1 and TEST 2 (key pairs, messages and
signatures copied from the RFC), and the ``cryptography`` Ed25519 primitive called
directly on the signed message as documented in ``edgeml.security._sign``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from edgeml.errors import ConfigError, IntegrityError
from edgeml.security import generate_signing_key, key_id, sign, sign_file, verify

pytestmark = pytest.mark.compat

# RFC 8032, 7.1: (secret key, public key, message, signature)
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
        "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
        "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    private_key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    assert private_key.public_key().public_bytes_raw().hex() == public
    assert private_key.sign(bytes.fromhex(message)).hex() == signature
    # edgeml signs header || data with the same key; check it against the primitive.
    ours = sign(bytes.fromhex(message), bytes.fromhex(secret))
    expected_id = hashlib.sha256(b"edgeml key id v1\x00" + bytes.fromhex(public)).digest()[:8]
    header = b"\x89EMLSIGN" + bytes([1, 1, 0, 0]) + expected_id
    assert ours == header + private_key.sign(header + bytes.fromhex(message))
    verify(bytes.fromhex(message), ours, bytes.fromhex(public))


def test_signature_verifies_with_the_primitive_directly() -> None:
    private_key = generate_signing_key()
    data = b"model bytes" * 10
    signature = sign(data, private_key)
    private_key.public_key().verify(signature[20:], signature[:20] + data)  # no exception


@given(st.binary(max_size=1024))
def test_sign_then_verify(data: bytes) -> None:
    private_key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    signature = sign(data, private_key)
    assert signature == sign(data, private_key)  # deterministic
    verify(data, signature, private_key.public_key())


def test_every_bit_flip_in_signature_or_data_is_refused() -> None:
    private_key = generate_signing_key()
    public_key = private_key.public_key()
    data = b"tiny model"
    signature = sign(data, private_key)
    for bit in range(len(signature) * 8):
        tampered = bytearray(signature)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(IntegrityError):
            verify(data, bytes(tampered), public_key)
    for bit in range(len(data) * 8):
        changed = bytearray(data)
        changed[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(IntegrityError, match="does not match the data"):
            verify(bytes(changed), signature, public_key)


def test_other_publishers_key_is_refused_with_both_ids() -> None:
    publisher, impostor = generate_signing_key(), generate_signing_key()
    signature = sign(b"model", impostor)
    with pytest.raises(IntegrityError, match="not published by") as info:
        verify(b"model", signature, publisher.public_key())
    assert key_id(publisher) in str(info.value)
    assert key_id(impostor) in str(info.value)


def test_forged_key_id_still_fails_the_signature_check() -> None:
    publisher, impostor = generate_signing_key(), generate_signing_key()
    forged = bytearray(sign(b"model", impostor))
    forged[12:20] = bytes.fromhex(key_id(publisher))
    with pytest.raises(IntegrityError, match="does not match"):
        verify(b"model", bytes(forged), publisher.public_key())


@pytest.mark.parametrize("size", [0, 20, 83, 85])
def test_truncated_or_padded_signatures_are_refused(size: int) -> None:
    private_key = generate_signing_key()
    signature = (sign(b"m", private_key) + b"\x00")[:size]
    with pytest.raises(IntegrityError, match="not an edgeml signature"):
        verify(b"m", signature, private_key.public_key())


def test_raw_64_byte_ed25519_signatures_are_not_accepted() -> None:
    private_key = generate_signing_key()
    with pytest.raises(IntegrityError, match="not an edgeml signature"):
        verify(b"m", private_key.sign(b"m"), private_key.public_key())


def test_private_key_given_as_public_key_is_a_config_error() -> None:
    private_key = generate_signing_key()
    with pytest.raises(ConfigError, match="public_key"):
        verify(b"m", sign(b"m", private_key), private_key)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="private_key"):
        sign(b"m", private_key.public_key())  # type: ignore[arg-type]


def test_sign_file_writes_the_signature_next_to_the_model(tmp_path: Path) -> None:
    model = tmp_path / "model.tflite"
    model.write_bytes(b"model bytes")
    private_key = generate_signing_key()
    path = sign_file(model, private_key)
    assert path == tmp_path / "model.tflite.sig"
    public_key: Ed25519PublicKey = private_key.public_key()
    verify(model.read_bytes(), path.read_bytes(), public_key)
