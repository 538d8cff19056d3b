"""Keys: generation, derivation (scrypt, HKDF), fingerprints and key files.

Reference values: RFC 7914 section 12 (scrypt test vector 3) via :func:`hashlib.scrypt`,
RFC 5869 appendix A.1 (HKDF-SHA256 test case 1) via a from-the-RFC HKDF written with
:mod:`hmac` below, and the fingerprint formula documented in ``key_id``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import stat
import unicodedata
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgeml.errors import ConfigError
from edgeml.security import (
    SecretKey,
    derive_key,
    derive_subkey,
    generate_key,
    generate_signing_key,
    key_id,
    load_key,
    save_key,
)

pytestmark = pytest.mark.compat

SALT = bytes.fromhex("000102030405060708090a0b0c0d0e0f")


def _hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    # RFC 5869, section 2.2 and 2.3, written from the text.
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def test_reference_hkdf_matches_rfc5869_case_1() -> None:
    okm = _hkdf_sha256(bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_derive_subkey_is_hkdf_sha256_with_documented_info() -> None:
    master = bytes(range(32))
    derived = derive_subkey(master, purpose="seal")
    assert bytes(derived) == _hkdf_sha256(master, b"", b"edgeml v1 seal", 32)
    salted = derive_subkey(master, purpose="seal", salt=SALT)
    assert bytes(salted) == _hkdf_sha256(master, SALT, b"edgeml v1 seal", 32)
    assert derive_subkey(master, purpose="pseudonymize") != derived


def test_reference_scrypt_matches_rfc7914_vector_3() -> None:
    out = hashlib.scrypt(b"pleaseletmein", salt=b"SodiumChloride", n=16384, r=8, p=1, dklen=64)
    assert out.hex() == (
        "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
        "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"
    )


def test_derive_key_is_scrypt_with_given_parameters() -> None:
    key = derive_key("pleaseletmein", salt=SALT, n=2**14, r=8, p=1)
    assert bytes(key) == hashlib.scrypt(b"pleaseletmein", salt=SALT, n=2**14, r=8, p=1, dklen=32)


def test_derive_key_defaults_are_the_documented_ones() -> None:
    key = derive_key(b"pw", salt=SALT)
    expected = hashlib.scrypt(b"pw", salt=SALT, n=2**17, r=8, p=1, dklen=32, maxmem=2**28)
    assert bytes(key) == expected


def test_passphrases_are_nfc_normalized() -> None:
    composed, decomposed = "caf\u00e9", unicodedata.normalize("NFD", "caf\u00e9")
    assert composed != decomposed
    assert derive_key(composed, salt=SALT, n=2**14) == derive_key(decomposed, salt=SALT, n=2**14)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"passphrase": "", "salt": SALT}, "passphrase"),
        ({"passphrase": "pw", "salt": b"short"}, "salt"),
        ({"passphrase": "pw", "salt": SALT, "n": 3000}, "n"),
        ({"passphrase": "pw", "salt": SALT, "n": 2**10}, "n"),
        ({"passphrase": "pw", "salt": SALT, "r": 0}, "r"),
        ({"passphrase": 42, "salt": SALT}, "passphrase"),
    ],
)
def test_derive_key_rejects_weak_or_bad_arguments(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=f"'{name}' argument of derive_key"):
        derive_key(**kwargs)  # type: ignore[arg-type]


def test_generated_keys_are_random_and_32_bytes() -> None:
    keys = {bytes(generate_key()) for _ in range(20)}
    assert len(keys) == 20
    assert {len(k) for k in keys} == {32}


def test_secret_key_never_shows_its_bytes() -> None:
    material = bytes(range(100, 132))
    key = SecretKey(material)
    for text in (repr(key), str(key), f"{key}", f"{key!r}", repr([key])):
        assert material.hex() not in text
        assert repr(material) not in text
        assert key.id in text


def test_key_id_formula() -> None:
    material = bytes(range(32))
    expected = hashlib.sha256(b"edgeml key id v1\x00" + material).hexdigest()[:16]
    assert key_id(material) == key_id(SecretKey(material)) == SecretKey(material).id == expected
    private_key = Ed25519PrivateKey.from_private_bytes(material)
    public_raw = private_key.public_key().public_bytes_raw()
    expected_public = hashlib.sha256(b"edgeml key id v1\x00" + public_raw).hexdigest()[:16]
    assert key_id(private_key) == key_id(private_key.public_key()) == expected_public


def test_secret_key_equality_and_validation() -> None:
    assert SecretKey(bytes(32)) == SecretKey(bytearray(32))
    assert SecretKey(bytes(32)) != SecretKey(bytes(31) + b"\x01")
    assert len({SecretKey(bytes(32)), SecretKey(bytes(32))}) == 1
    with pytest.raises(ConfigError, match=r"exactly 32 bytes\. Got 16 bytes"):
        SecretKey(bytes(16))


def test_save_and_load_each_key_type(tmp_path: Path) -> None:
    secret, private_key = generate_key(), generate_signing_key()
    public_key = private_key.public_key()
    for name, key, mode in (
        ("seal.key", secret, 0o600),
        ("publisher.pem", private_key, 0o600),
        ("publisher.pub", public_key, 0o644),
    ):
        path = save_key(tmp_path / name, key)
        assert stat.S_IMODE(path.stat().st_mode) == mode
        assert key_id(load_key(path)) == key_id(key)
    assert load_key(tmp_path / "seal.key") == secret
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "publisher.pem",
        "publisher.pub",
        "seal.key",
    ]


def test_ed25519_key_files_are_standard_pem(tmp_path: Path) -> None:
    private_key = generate_signing_key()
    save_key(tmp_path / "k.pem", private_key)
    save_key(tmp_path / "k.pub", private_key.public_key())
    loaded = serialization.load_pem_private_key((tmp_path / "k.pem").read_bytes(), None)
    assert isinstance(loaded, Ed25519PrivateKey)
    public = serialization.load_pem_public_key((tmp_path / "k.pub").read_bytes())
    assert isinstance(public, Ed25519PublicKey)
    assert (tmp_path / "k.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_save_key_never_overwrites_unless_asked(tmp_path: Path) -> None:
    first, second = generate_key(), generate_key()
    path = save_key(tmp_path / "seal.key", first)
    with pytest.raises(ConfigError, match="overwrite=True"):
        save_key(path, second)
    assert load_key(path) == first
    save_key(path, second, overwrite=True)
    assert load_key(path) == second
    assert [p.name for p in tmp_path.iterdir()] == ["seal.key"]


def test_save_key_rejects_raw_bytes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SecretKey"):
        save_key(tmp_path / "k", bytes(32))  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_loading_a_world_readable_secret_key_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = generate_key()
    path = save_key(tmp_path / "seal.key", key)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="edgeml.security"):
        assert load_key(path) == key
    assert "chmod 600" in caplog.text
    assert bytes(key).hex() not in caplog.text


def test_load_key_rejects_other_files(tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"not a key")
    with pytest.raises(ConfigError, match="'path' argument of load_key"):
        load_key(tmp_path / "junk")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.pem").write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match="Ed25519 only"):
        load_key(tmp_path / "ec.pem")


# --- issue 15: key files on paths that cannot be used raise edgeml errors -----------------
@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p / "missing.pem", "does not exist"),
        (lambda p: p, "is a folder"),
        (lambda p: Path("/dev/null"), "not a regular file"),
    ],
)
def test_load_key_on_a_path_that_is_no_key_file_raises_path_error(
    tmp_path: Path, make: object, problem: str
) -> None:
    from edgeml.errors import EdgeMLError, PathError

    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(PathError, match=problem) as info:
        load_key(path)
    assert isinstance(info.value, EdgeMLError)
    assert isinstance(info.value, OSError)
    assert "load_key" in str(info.value)


def test_load_key_on_a_fifo_does_not_block(tmp_path: Path) -> None:
    import os

    from edgeml.errors import PathError

    os.mkfifo(tmp_path / "key.pipe")
    with pytest.raises(PathError, match="FIFO"):
        load_key(tmp_path / "key.pipe")


@pytest.mark.parametrize("bad", [None, 5, b"\0", "a\0b"])
def test_key_functions_refuse_non_paths_with_config_error(bad: object) -> None:
    with pytest.raises(ConfigError):
        load_key(bad)  # type: ignore[arg-type]
    if not isinstance(bad, bytes):
        with pytest.raises(ConfigError):
            save_key(bad, generate_key())  # type: ignore[arg-type]


def test_save_key_into_a_missing_or_unwritable_folder_raises_path_error(tmp_path: Path) -> None:
    from edgeml.errors import PathError

    with pytest.raises(PathError, match="folder that does not exist") as info:
        save_key(tmp_path / "no" / "k.pem", generate_key())
    assert info.value.filename == str(tmp_path / "no" / "k.pem")
    # /proc refuses new files even for root (the tests may run as root, for whom
    # permission bits do not stop writes)
    with pytest.raises(PathError):
        save_key(Path("/proc/edgeml-test.pem"), generate_key())
