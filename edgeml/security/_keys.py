"""Keys: a secret key that hides itself, derivation from passphrases, Ed25519 key pairs.

A :class:`SecretKey` holds the 32 bytes of an AES-256 key. Its ``repr`` and ``str``
show only a fingerprint (:func:`key_id`), so a key never ends up in a log line or a
notebook output by accident; ``bytes(key)`` gives the material when you truly need it.

Ed25519 keys are the ``cryptography`` objects themselves
(``Ed25519PrivateKey`` / ``Ed25519PublicKey``); functions that take them also accept
their raw 32-byte form.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import unicodedata
from typing import Union

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from edgeml.errors import ConfigError, invalid_argument

__all__ = [
    "KEY_SIZE",
    "SCRYPT_N",
    "SCRYPT_P",
    "SCRYPT_R",
    "SecretKey",
    "derive_key",
    "derive_subkey",
    "generate_key",
    "generate_signing_key",
    "key_id",
]

logger = logging.getLogger("edgeml.security")

#: Size in bytes of a :class:`SecretKey` (AES-256).
KEY_SIZE = 32
#: Default scrypt cost parameters of :func:`derive_key`: N = 2**17, r = 8, p = 1 uses
#: 128 MiB of memory and about 0.3 s on one laptop core (OWASP's recommendation).
SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
_MIN_SCRYPT_N = 2**14
_MIN_SALT = 16
_KEY_ID_CONTEXT = b"edgeml key id v1\x00"

KeyMaterial = Union["SecretKey", bytes, bytearray, memoryview]
PrivateKeyLike = Ed25519PrivateKey | bytes | bytearray | memoryview
PublicKeyLike = Ed25519PublicKey | bytes | bytearray | memoryview
AnyKey = Union["SecretKey", Ed25519PrivateKey, Ed25519PublicKey]


class SecretKey:
    """A 32-byte AES-256 key whose ``repr`` shows a fingerprint, never the material.

    Parameters
    ----------
    material : bytes
        Exactly 32 bytes, e.g. from :func:`generate_key`, :func:`derive_key` or a
        secrets manager.

    Attributes
    ----------
    id : str
        The key's fingerprint (:func:`key_id`), safe to log.

    Examples
    --------
    >>> key = SecretKey(bytes(range(32)))
    >>> key
    SecretKey(id='...')
    >>> len(bytes(key)), key == SecretKey(bytes(range(32)))
    (32, True)
    """

    __slots__ = ("_material",)

    def __init__(self, material: bytes | bytearray | memoryview) -> None:
        if not isinstance(material, (bytes, bytearray, memoryview)) or len(material) != KEY_SIZE:
            shown = (
                f"{len(material)} bytes"
                if isinstance(material, (bytes, bytearray, memoryview))
                else type(material).__name__
            )
            raise ConfigError(
                f"The 'material' argument of SecretKey must be exactly {KEY_SIZE} bytes. "
                f"Got {shown} instead. Fix: use edgeml.security.generate_key() or "
                "derive_key(passphrase, salt=...)."
            )
        self._material = bytes(material)

    @property
    def id(self) -> str:
        """The key's fingerprint: 16 hex digits, safe to log (see :func:`key_id`)."""
        return _fingerprint(self._material)

    def __bytes__(self) -> bytes:
        return self._material

    def __repr__(self) -> str:
        return f"SecretKey(id={self.id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretKey):
            return NotImplemented
        return hmac.compare_digest(self._material, other._material)

    def __hash__(self) -> int:
        return hash(self.id)

    def __reduce__(self) -> tuple[type[SecretKey], tuple[bytes]]:
        return (SecretKey, (self._material,))


def _fingerprint(material: bytes) -> str:
    return hashlib.sha256(_KEY_ID_CONTEXT + material).hexdigest()[:16]


def secret_key_bytes(key: object, owner: str) -> bytes:
    """Return the 32 bytes of a :class:`SecretKey` or bytes-like key, or raise."""
    if isinstance(key, SecretKey):
        return bytes(key)
    if isinstance(key, (bytes, bytearray, memoryview)) and len(key) == KEY_SIZE:
        return bytes(key)
    shown = (
        f"{len(key)} bytes"
        if isinstance(key, (bytes, bytearray, memoryview))
        else f"a {type(key).__name__}"
    )
    raise ConfigError(
        f"The 'key' argument of {owner} must be a SecretKey or {KEY_SIZE} bytes. "
        f"Got {shown} instead. Fix: use edgeml.security.generate_key() or "
        "derive_key(passphrase, salt=...)."
    )


def private_key_object(key: object, owner: str) -> Ed25519PrivateKey:
    """Return an ``Ed25519PrivateKey`` from the object or its raw 32-byte seed."""
    if isinstance(key, Ed25519PrivateKey):
        return key
    if isinstance(key, (bytes, bytearray, memoryview)) and len(key) == 32:
        return Ed25519PrivateKey.from_private_bytes(bytes(key))
    raise invalid_argument(
        owner,
        "private_key",
        type(key).__name__,
        "an Ed25519PrivateKey or its raw 32 bytes",
        fix="use edgeml.security.generate_signing_key() or load_key(path)",
    )


def public_key_object(key: object, owner: str) -> Ed25519PublicKey:
    """Return an ``Ed25519PublicKey`` from the object or its raw 32 bytes."""
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, Ed25519PrivateKey):
        raise invalid_argument(
            owner,
            "public_key",
            "an Ed25519PrivateKey",
            "an Ed25519PublicKey or its raw 32 bytes",
            fix="pass private_key.public_key(); devices should only hold the public key",
        )
    if isinstance(key, (bytes, bytearray, memoryview)) and len(key) == 32:
        return Ed25519PublicKey.from_public_bytes(bytes(key))
    raise invalid_argument(
        owner,
        "public_key",
        type(key).__name__,
        "an Ed25519PublicKey or its raw 32 bytes",
        fix="use private_key.public_key() or load_key(path)",
    )


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    """Return the raw 32 bytes of an Ed25519 public key."""
    return key.public_bytes_raw()


def key_id(key: AnyKey | bytes | bytearray | memoryview) -> str:
    r"""Return a key's fingerprint: 16 hex digits that identify it and are safe to log.

    The fingerprint is the first 8 bytes of ``SHA-256(b"edgeml key id v1\x00" || k)``,
    where ``k`` is the 32-byte secret key, or the raw 32-byte Ed25519 *public* key (a
    private key and its public key have the same fingerprint). A sealed artifact and a
    signature record the fingerprint of their key, so a wrong key is reported as such.

    Parameters
    ----------
    key : SecretKey, Ed25519PrivateKey, Ed25519PublicKey or bytes
        The key; 32 raw bytes are read as a secret key.

    Returns
    -------
    str
        16 lowercase hex digits.

    Examples
    --------
    >>> key_id(bytes(32))
    '...'
    >>> len(key_id(generate_key()))
    16
    """
    if isinstance(key, (SecretKey, bytes, bytearray, memoryview)):
        return _fingerprint(secret_key_bytes(key, "key_id"))
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return _fingerprint(public_key_bytes(public_key_object(key, "key_id")))


def generate_key() -> SecretKey:
    """Generate a random AES-256 key from the operating system's secure source.

    Returns
    -------
    SecretKey
        32 bytes from :func:`secrets.token_bytes`.

    Examples
    --------
    >>> key = generate_key()
    >>> len(bytes(key)), key == generate_key()
    (32, False)
    """
    return SecretKey(secrets.token_bytes(KEY_SIZE))


def derive_key(
    passphrase: str | bytes,
    *,
    salt: bytes,
    n: int = SCRYPT_N,
    r: int = SCRYPT_R,
    p: int = SCRYPT_P,
) -> SecretKey:
    """Derive an AES-256 key from a passphrase with scrypt (RFC 7914).

    The same passphrase, salt and parameters always give the same key, so store the
    salt (it is not secret) and the parameters next to the sealed artifact. A text
    passphrase is normalized to Unicode NFC and encoded as UTF-8 first, so the same
    passphrase typed on different systems gives the same key.

    Parameters
    ----------
    passphrase : str or bytes
        A non-empty passphrase.
    salt : bytes
        At least 16 random bytes, e.g. ``os.urandom(16)``; one per key.
    n : int, default 2**17
        CPU/memory cost, a power of two >= 2**14. Memory use is ``128 * n * r`` bytes
        (128 MiB with the defaults).
    r : int, default 8
        Block size.
    p : int, default 1
        Parallelization.

    Returns
    -------
    SecretKey
        The derived key.

    Raises
    ------
    ConfigError
        For an empty passphrase, a salt shorter than 16 bytes, or parameters out of range.

    Examples
    --------
    >>> salt = bytes.fromhex("00112233445566778899aabbccddeeff")
    >>> derive_key("correct horse battery staple", salt=salt) == derive_key(
    ...     "correct horse battery staple", salt=salt)
    True
    """
    if isinstance(passphrase, str):
        secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    elif isinstance(passphrase, (bytes, bytearray)):
        secret = bytes(passphrase)
    else:
        raise invalid_argument(
            "derive_key", "passphrase", type(passphrase).__name__, "a str or bytes"
        )
    if not secret:
        raise invalid_argument("derive_key", "passphrase", "''", "a non-empty passphrase")
    if not isinstance(salt, (bytes, bytearray)) or len(salt) < _MIN_SALT:
        raise invalid_argument(
            "derive_key",
            "salt",
            salt,
            f"at least {_MIN_SALT} bytes",
            fix="use salt=os.urandom(16) and store it with the artifact",
        )
    if not isinstance(n, int) or n < _MIN_SCRYPT_N or n & (n - 1):
        raise invalid_argument("derive_key", "n", n, "a power of two >= 2**14")
    for name, value in (("r", r), ("p", p)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise invalid_argument("derive_key", name, value, "an integer >= 1")
    kdf = Scrypt(salt=bytes(salt), length=KEY_SIZE, n=n, r=r, p=p)
    return SecretKey(kdf.derive(secret))


def derive_subkey(key: KeyMaterial, *, purpose: str, salt: bytes | None = None) -> SecretKey:
    """Derive an independent key for one purpose from a master key (HKDF-SHA256).

    Use one master secret for several jobs without reusing it: sealing models,
    pseudonymizing records (``edgeml.data``), signing requests... Each ``purpose`` gives
    a different key, and knowing one derived key reveals nothing about the master or
    the others. The HKDF ``info`` is ``b"edgeml v1 " + purpose`` (UTF-8).

    Parameters
    ----------
    key : SecretKey or bytes
        The 32-byte master key.
    purpose : str
        A non-empty label, e.g. ``"seal"`` or ``"pseudonymize"``.
    salt : bytes, optional
        HKDF salt; ``None`` uses HKDF's default (zeros).

    Returns
    -------
    SecretKey
        The derived key.

    Examples
    --------
    >>> master = SecretKey(bytes(32))
    >>> derive_subkey(master, purpose="seal") == derive_subkey(master, purpose="seal")
    True
    >>> derive_subkey(master, purpose="seal") == derive_subkey(master, purpose="pseudonymize")
    False
    """
    material = secret_key_bytes(key, "derive_subkey")
    if not isinstance(purpose, str) or not purpose:
        raise invalid_argument("derive_subkey", "purpose", purpose, "a non-empty string")
    if salt is not None and not isinstance(salt, (bytes, bytearray)):
        raise invalid_argument("derive_subkey", "salt", salt, "bytes or None")
    kdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_SIZE,
        salt=None if salt is None else bytes(salt),
        info=b"edgeml v1 " + purpose.encode("utf-8"),
    )
    return SecretKey(kdf.derive(material))


def generate_signing_key() -> Ed25519PrivateKey:
    """Generate an Ed25519 private key for :func:`~edgeml.security.sign`.

    Returns
    -------
    cryptography.hazmat.primitives.asymmetric.Ed25519PrivateKey
        Keep it on the publisher's machine; give devices ``key.public_key()``.

    Examples
    --------
    >>> private_key = generate_signing_key()
    >>> key_id(private_key) == key_id(private_key.public_key())
    True
    """
    return Ed25519PrivateKey.generate()
