"""Sealing: round trips, the documented byte layout, and tamper resistance.

Reference values come from the ``cryptography`` AES-GCM primitive called directly on the
layout documented in ``edgeml.security._seal`` (not from edgeml's own code), and from
the published GCM test vectors of McGrew & Viega, "The Galois/Counter Mode of
Operation", test cases 13 and 14 (AES-256, zero key and IV).
"""

from __future__ import annotations

import hashlib
import logging

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from edgeml.errors import ConfigError, IntegrityError
from edgeml.security import SecretKey, generate_key, is_sealed, seal, sealed_key_id, unseal
from edgeml.security import _seal as seal_module

pytestmark = pytest.mark.compat

KEY = SecretKey(bytes(range(32)))


def _reference_key_id(material: bytes) -> bytes:
    # The fingerprint as documented: first 8 bytes of SHA-256(context || key).
    return hashlib.sha256(b"edgeml key id v1\x00" + material).digest()[:8]


def test_gcm_primitive_matches_published_vectors() -> None:
    # McGrew & Viega test cases 13 and 14: K = 0^256, IV = 0^96.
    aead = AESGCM(bytes(32))
    assert aead.encrypt(bytes(12), b"", None).hex() == "530f8afbc74536b9a963b4f1c4cb738b"
    assert aead.encrypt(bytes(12), bytes(16), None).hex() == (
        "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919"
    )


def test_seal_matches_the_documented_layout_with_a_fixed_nonce(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(seal_module.secrets, "token_bytes", lambda n: bytes(n))
    material = bytes(32)
    sealed = seal(bytes(16), material, associated_data=b"card")
    header = b"\x89EMLSEAL" + bytes([1, 1, 1, 0]) + _reference_key_id(material) + bytes(12)
    expected = header + AESGCM(material).encrypt(bytes(12), bytes(16), header + b"card")
    assert sealed == expected


def test_layout_fields_and_size() -> None:
    sealed = seal(b"abc", KEY)
    assert sealed[:8] == b"\x89EMLSEAL"
    assert sealed[8:12] == bytes([1, 1, 0, 0])  # version, AES-256-GCM, no AD, reserved
    assert sealed[12:20] == _reference_key_id(bytes(KEY))
    assert len(sealed) == 3 + 48
    assert sealed_key_id(sealed) == _reference_key_id(bytes(KEY)).hex()


def test_a_reference_decryption_of_the_layout_recovers_the_bytes() -> None:
    sealed = seal(b"the model", KEY, associated_data="card-hash")
    plain = AESGCM(bytes(KEY)).decrypt(sealed[20:32], sealed[32:], sealed[:32] + b"card-hash")
    assert plain == b"the model"


def test_fresh_nonce_every_time() -> None:
    first, second = seal(b"same", KEY), seal(b"same", KEY)
    assert first != second
    assert first[20:32] != second[20:32]


@given(
    st.binary(max_size=2048),
    st.one_of(st.none(), st.binary(min_size=1, max_size=64), st.text(min_size=1, max_size=20)),
)
def test_unseal_inverts_seal(data: bytes, associated: bytes | str | None) -> None:
    assert unseal(seal(data, KEY, associated_data=associated), KEY, associated_data=associated) == (
        data
    )


def test_every_single_bit_flip_is_refused() -> None:
    sealed = seal(b"sixteen byte msg", KEY, associated_data=b"ad")
    assert len(sealed) == 64
    for bit in range(len(sealed) * 8):
        tampered = bytearray(sealed)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(IntegrityError):
            unseal(bytes(tampered), KEY, associated_data=b"ad")


def test_every_truncation_and_an_extension_are_refused() -> None:
    sealed = seal(b"weights", KEY)
    for size in range(len(sealed)):
        with pytest.raises(IntegrityError):
            unseal(sealed[:size], KEY)
    with pytest.raises(IntegrityError, match="truncated"):
        unseal(sealed[:40], KEY)
    with pytest.raises(IntegrityError, match="tag mismatch"):
        unseal(sealed + b"\x00", KEY)


def test_wrong_key_is_refused_and_named() -> None:
    other = generate_key()
    with pytest.raises(IntegrityError, match="Wrong key") as info:
        unseal(seal(b"weights", KEY), other)
    assert other.id in str(info.value)
    assert KEY.id in str(info.value)


def test_wrong_key_with_forged_key_id_still_fails_authentication() -> None:
    other = generate_key()
    sealed = bytearray(seal(b"weights", KEY))
    sealed[12:20] = bytes.fromhex(other.id)  # claim the other key
    with pytest.raises(IntegrityError, match="tag mismatch"):
        unseal(bytes(sealed), other)


@pytest.mark.parametrize(
    ("sealed_with", "opened_with", "hint"),
    [
        (b"card-A", b"card-B", "differs"),
        (b"card-A", None, "not given"),
        (None, b"card-A", "sealed without it"),
    ],
)
def test_associated_data_must_match(
    sealed_with: bytes | None, opened_with: bytes | None, hint: str
) -> None:
    sealed = seal(b"weights", KEY, associated_data=sealed_with)
    with pytest.raises(IntegrityError, match=hint):
        unseal(sealed, KEY, associated_data=opened_with)


def test_str_associated_data_is_utf8() -> None:
    sealed = seal(b"w", KEY, associated_data="héllo")
    assert unseal(sealed, KEY, associated_data="héllo".encode()) == b"w"


def test_unsealed_bytes_are_not_sealed() -> None:
    assert not is_sealed(b"\x1c\x00\x00\x00TFL3" + bytes(40))
    assert not is_sealed("not bytes")
    with pytest.raises(IntegrityError, match="not a sealed edgeml artifact"):
        unseal(b"\x1c\x00\x00\x00TFL3" + bytes(60), KEY)


def test_newer_version_is_refused_with_upgrade_hint() -> None:
    sealed = bytearray(seal(b"w", KEY))
    sealed[8] = 2
    with pytest.raises(IntegrityError, match="upgrade edgeml"):
        unseal(bytes(sealed), KEY)


@pytest.mark.parametrize("key", [b"short", bytes(16), "a" * 32, None])
def test_bad_keys_are_config_errors(key: object) -> None:
    with pytest.raises(ConfigError, match="'key' argument of seal"):
        seal(b"w", key)  # type: ignore[arg-type]


def test_bad_payload_types_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="'model_bytes' argument of seal"):
        seal("model.tflite", KEY)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'associated_data' argument of unseal"):
        unseal(seal(b"w", KEY), KEY, associated_data=3)  # type: ignore[arg-type]


def test_keys_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="edgeml")
    unseal(seal(b"weights", KEY), KEY)
    assert caplog.records, "sealing logs at debug level"
    text = caplog.text
    assert bytes(KEY).hex() not in text
    assert repr(bytes(KEY)) not in text
