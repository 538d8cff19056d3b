r"""Sealed artifacts: AES-256-GCM encryption with a versioned, authenticated header.

Format, version 1 (all integers are single bytes)::

    offset  size  field
    0       8     magic        b"\x89EMLSEAL"
    8       1     version      1
    9       1     algorithm    1 = AES-256-GCM
    10      1     flags        bit 0 set: sealed with non-empty associated data
    11      1     reserved     0
    12      8     key id       first 8 bytes of SHA-256(b"edgeml key id v1\x00" || key)
    20      12    nonce        random (os.urandom via secrets), new for every seal
    32      n     ciphertext   AES-256-GCM of the model bytes
    32 + n  16    tag          GCM authentication tag

The GCM associated data is the 32-byte header followed by the caller's
``associated_data``, so a change to any bit of the header, nonce, ciphertext or tag, a
wrong key, or different associated data makes :func:`unseal` raise
:class:`~edgeml.errors.IntegrityError`; it never returns unauthenticated bytes. The key
is used directly as the AES key, so a device can open the file with any AES-GCM
implementation (mbedTLS, BoringSSL...) from this table alone.

A random 96-bit nonce is safe for up to 2**32 seals with one key (NIST SP 800-38D);
rotate keys long before that.
"""

from __future__ import annotations

import logging
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from edgeml.errors import IntegrityError, invalid_argument
from edgeml.security._args import BytesLike, require_bytes
from edgeml.security._keys import KeyMaterial, _fingerprint, secret_key_bytes

__all__ = ["SEALED_MAGIC", "is_sealed", "seal", "sealed_key_id", "unseal"]

logger = logging.getLogger("edgeml.security")

#: The first 8 bytes of every sealed artifact.
SEALED_MAGIC = b"\x89EMLSEAL"
_VERSION = 1
_AES_256_GCM = 1
_FLAG_ASSOCIATED_DATA = 0x01
_HEADER_SIZE = 32
_NONCE_SIZE = 12
_TAG_SIZE = 16
_MIN_SIZE = _HEADER_SIZE + _TAG_SIZE


def _associated(associated_data: object, owner: str) -> bytes:
    if associated_data is None:
        return b""
    if isinstance(associated_data, str):
        return associated_data.encode("utf-8")
    if isinstance(associated_data, (bytes, bytearray, memoryview)):
        return bytes(associated_data)
    raise invalid_argument(
        owner,
        "associated_data",
        type(associated_data).__name__,
        "bytes, a str (encoded as UTF-8) or None",
        fix="pass card.hash to bind a model card",
    )


def is_sealed(data: object) -> bool:
    r"""Return whether ``data`` starts like a sealed artifact (checks the magic bytes only).

    This does not authenticate anything and needs no key; :func:`unseal` does the
    checking.

    Parameters
    ----------
    data : bytes
        Any bytes, e.g. the content of a model file.

    Returns
    -------
    bool
        ``True`` when ``data`` begins with :data:`SEALED_MAGIC`.

    Examples
    --------
    >>> is_sealed(b"\x89EMLSEAL" + bytes(40)), is_sealed(b"\x1c\x00\x00\x00TFL3")
    (True, False)
    """
    return isinstance(data, (bytes, bytearray, memoryview)) and bytes(data[:8]) == SEALED_MAGIC


def sealed_key_id(sealed: BytesLike) -> str:
    """Return the fingerprint of the key a sealed artifact claims to be sealed with.

    The claim is authenticated only when :func:`unseal` succeeds; use it to pick a key
    from a key ring or to explain a failure, not to trust the artifact.

    Parameters
    ----------
    sealed : bytes
        A sealed artifact.

    Returns
    -------
    str
        16 hex digits, comparable with :func:`~edgeml.security.key_id`.

    Raises
    ------
    IntegrityError
        When ``sealed`` is not a sealed artifact.

    Examples
    --------
    >>> from edgeml.security import SecretKey, key_id
    >>> key = SecretKey(bytes(32))
    >>> sealed_key_id(seal(b"model", key)) == key_id(key)
    True
    """
    content = require_bytes(sealed, "sealed_key_id", "sealed")
    _check_header(content)
    return content[12:20].hex()


def seal(
    model_bytes: BytesLike,
    key: KeyMaterial,
    *,
    associated_data: bytes | str | None = None,
) -> bytes:
    """Encrypt and authenticate bytes with AES-256-GCM under a versioned header.

    Parameters
    ----------
    model_bytes : bytes
        What to protect, typically a ``.tflite`` file's content (with its card
        embedded).
    key : SecretKey or bytes
        A 32-byte key from :func:`~edgeml.security.generate_key` or
        :func:`~edgeml.security.derive_key`.
    associated_data : bytes or str, optional
        Data that is authenticated but neither encrypted nor stored, such as
        ``card.hash``: :func:`unseal` then succeeds only when given the same value,
        which binds the sealed model to that card. A ``str`` is encoded as UTF-8.

    Returns
    -------
    bytes
        The sealed artifact: 48 bytes longer than ``model_bytes``. Sealing the same
        bytes twice gives different results (fresh random nonce).

    Raises
    ------
    ConfigError
        When the key is not 32 bytes or an argument has the wrong type.

    See Also
    --------
    unseal, is_sealed

    Examples
    --------
    >>> from edgeml.security import generate_key
    >>> key = generate_key()
    >>> sealed = seal(b"model bytes", key, associated_data="card-hash")
    >>> is_sealed(sealed), len(sealed) - len(b"model bytes")
    (True, 48)
    >>> unseal(sealed, key, associated_data="card-hash")
    b'model bytes'
    """
    material = secret_key_bytes(key, "seal")
    plaintext = require_bytes(model_bytes, "seal", "model_bytes")
    extra = _associated(associated_data, "seal")
    nonce = secrets.token_bytes(_NONCE_SIZE)
    flags = _FLAG_ASSOCIATED_DATA if extra else 0
    header = (
        SEALED_MAGIC
        + bytes([_VERSION, _AES_256_GCM, flags, 0])
        + bytes.fromhex(_fingerprint(material))
        + nonce
    )
    ciphertext_and_tag: bytes = AESGCM(material).encrypt(nonce, plaintext, header + extra)
    logger.debug("Sealed %d bytes with key id %s.", len(plaintext), _fingerprint(material))
    return header + ciphertext_and_tag


def _check_header(content: bytes) -> None:
    """Raise IntegrityError unless ``content`` has a well-formed version 1 header."""
    if len(content) < _MIN_SIZE:
        raise IntegrityError(
            f"The sealed artifact is truncated: {len(content)} bytes, but a sealed "
            f"artifact has at least {_MIN_SIZE} (header, nonce and tag). "
            "Fix: copy or download the file again."
        )
    if content[:8] != SEALED_MAGIC:
        raise IntegrityError(
            f"These bytes are not a sealed edgeml artifact: they start with "
            f"{content[:8]!r}, not {SEALED_MAGIC!r}. Either they were never sealed "
            "(load them without key=) or the header was altered."
        )
    version, algorithm, flags, reserved = content[8:12]
    if version != _VERSION or algorithm != _AES_256_GCM:
        raise IntegrityError(
            f"The sealed artifact declares format version {version} and algorithm "
            f"{algorithm}; this edgeml reads version {_VERSION} with algorithm "
            f"{_AES_256_GCM} (AES-256-GCM). The header was altered, or a newer edgeml "
            "sealed it: upgrade edgeml."
        )
    if flags & ~_FLAG_ASSOCIATED_DATA or reserved:
        raise IntegrityError(
            f"The sealed artifact's header has unknown flag bits ({flags:#04x}, "
            f"{reserved:#04x}): it was altered or written by a newer edgeml."
        )


def unseal(
    sealed: BytesLike,
    key: KeyMaterial,
    *,
    associated_data: bytes | str | None = None,
) -> bytes:
    """Authenticate and decrypt an artifact written by :func:`seal`.

    Parameters
    ----------
    sealed : bytes
        The sealed artifact.
    key : SecretKey or bytes
        The key it was sealed with.
    associated_data : bytes or str, optional
        The same associated data that was given to :func:`seal`.

    Returns
    -------
    bytes
        The original bytes, returned only after the tag has been verified.

    Raises
    ------
    IntegrityError
        When anything does not authenticate: a changed bit anywhere, a truncated or
        extended artifact, a wrong key (reported with both key ids), or different
        associated data. No partial or unverified output is ever returned.
    ConfigError
        When the key is not 32 bytes or an argument has the wrong type.

    Examples
    --------
    >>> from edgeml.security import generate_key
    >>> key = generate_key()
    >>> sealed = bytearray(seal(b"weights", key))
    >>> sealed[40] ^= 1
    >>> unseal(bytes(sealed), key)
    Traceback (most recent call last):
    ...
    edgeml.errors.IntegrityError: The sealed artifact failed authentication...
    """
    material = secret_key_bytes(key, "unseal")
    content = require_bytes(sealed, "unseal", "sealed")
    extra = _associated(associated_data, "unseal")
    _check_header(content)
    stored_id, given_id = content[12:20].hex(), _fingerprint(material)
    if stored_id != given_id:
        raise IntegrityError(
            f"Wrong key: the artifact was sealed with key id {stored_id}, but the key "
            f"given has id {given_id} (or the header's key id was altered). "
            "Fix: pass the key the artifact was sealed with."
        )
    header, body = content[:_HEADER_SIZE], memoryview(content)[_HEADER_SIZE:]  # no copy
    try:
        plaintext: bytes = AESGCM(material).decrypt(header[20:], body, header + extra)
    except InvalidTag:
        sealed_with_extra = bool(content[10] & _FLAG_ASSOCIATED_DATA)
        hint = _associated_data_hint(sealed_with_extra, bool(extra))
        raise IntegrityError(
            "The sealed artifact failed authentication (AES-GCM tag mismatch): its bytes "
            f"were altered or truncated{hint}. Nothing was decrypted. "
            "Fix: obtain an intact copy from its publisher."
        ) from None
    logger.debug("Unsealed %d bytes with key id %s.", len(plaintext), given_id)
    return plaintext


def _associated_data_hint(sealed_with_extra: bool, given_extra: bool) -> str:
    if sealed_with_extra and not given_extra:
        return ", or it was sealed with associated_data that was not given to unseal"
    if given_extra and not sealed_with_extra:
        return ", or associated_data was given but the artifact was sealed without it"
    if given_extra:
        return ", or the associated_data differs from the one it was sealed with"
    return ""
