r"""Detached Ed25519 signatures, so a device can refuse a model its owner did not publish.

Format, version 1 (84 bytes)::

    offset  size  field
    0       8     magic        b"\x89EMLSIGN"
    8       1     version      1
    9       1     algorithm    1 = Ed25519 (RFC 8032, pure)
    10      2     reserved     0, 0
    12      8     key id       fingerprint of the signer's public key (see key_id)
    20      64    signature    Ed25519 over (bytes 0-20 of this signature || the data)

The signed message is the 20-byte signature header followed by the data, so the
version, algorithm and key id cannot be swapped without breaking the signature. The
data is the file *as distributed*: sign a sealed artifact to let a device check the
publisher before it decrypts. By convention the signature of ``model.tflite`` is stored
next to it as ``model.tflite.sig``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature

from edgeml._io import atomic_write
from edgeml.errors import IntegrityError
from edgeml.security._args import BytesLike, require_bytes
from edgeml.security._keys import (
    PrivateKeyLike,
    PublicKeyLike,
    _fingerprint,
    private_key_object,
    public_key_bytes,
    public_key_object,
)

__all__ = ["SIGNATURE_MAGIC", "SIGNATURE_SIZE", "SIGNATURE_SUFFIX", "sign", "sign_file", "verify"]

logger = logging.getLogger("edgeml.security")

#: The first 8 bytes of every edgeml signature.
SIGNATURE_MAGIC = b"\x89EMLSIGN"
#: Size in bytes of a version 1 signature.
SIGNATURE_SIZE = 84
#: Suffix of the detached signature file stored next to a model file.
SIGNATURE_SUFFIX = ".sig"
_VERSION = 1
_ED25519 = 1
_HEADER_SIZE = 20


def sign(model_bytes: BytesLike, private_key: PrivateKeyLike) -> bytes:
    """Sign bytes with Ed25519 and return an 84-byte detached signature.

    Parameters
    ----------
    model_bytes : bytes
        The artifact exactly as it will be distributed (plain or sealed).
    private_key : Ed25519PrivateKey or bytes
        The publisher's key (:func:`~edgeml.security.generate_signing_key`), or its raw
        32-byte seed.

    Returns
    -------
    bytes
        The signature; Ed25519 is deterministic, so the same key and data give the same
        signature.

    See Also
    --------
    verify

    Examples
    --------
    >>> from edgeml.security import generate_signing_key
    >>> private_key = generate_signing_key()
    >>> signature = sign(b"model bytes", private_key)
    >>> len(signature)
    84
    >>> verify(b"model bytes", signature, private_key.public_key())
    """
    data = require_bytes(model_bytes, "sign", "model_bytes")
    key = private_key_object(private_key, "sign")
    fingerprint = _fingerprint(public_key_bytes(key.public_key()))
    header = SIGNATURE_MAGIC + bytes([_VERSION, _ED25519, 0, 0]) + bytes.fromhex(fingerprint)
    signature: bytes = key.sign(header + data)
    logger.debug("Signed %d bytes with key id %s.", len(data), fingerprint)
    return header + signature


def verify(model_bytes: BytesLike, signature: BytesLike, public_key: PublicKeyLike) -> None:
    """Check a detached signature from :func:`sign`; raise if it does not hold.

    Parameters
    ----------
    model_bytes : bytes
        The artifact as received.
    signature : bytes
        The 84-byte signature.
    public_key : Ed25519PublicKey or bytes
        The publisher's public key, or its raw 32 bytes.

    Returns
    -------
    None
        Returning at all means the signature is valid.

    Raises
    ------
    IntegrityError
        When the data or the signature changed, the signature is malformed or
        truncated, or it was made with another key (reported with both key ids).

    Examples
    --------
    >>> from edgeml.security import generate_signing_key
    >>> private_key = generate_signing_key()
    >>> signature = sign(b"model bytes", private_key)
    >>> verify(b"model bytes!", signature, private_key.public_key())
    Traceback (most recent call last):
    ...
    edgeml.errors.IntegrityError: The signature does not match the data...
    """
    data = require_bytes(model_bytes, "verify", "model_bytes")
    raw_signature = require_bytes(signature, "verify", "signature")
    key = public_key_object(public_key, "verify")
    if len(raw_signature) != SIGNATURE_SIZE or raw_signature[:8] != SIGNATURE_MAGIC:
        raise IntegrityError(
            f"This is not an edgeml signature: expected {SIGNATURE_SIZE} bytes starting "
            f"with {SIGNATURE_MAGIC!r}, got {len(raw_signature)} bytes starting with "
            f"{raw_signature[:8]!r}. Fix: pass the .sig file written for this model."
        )
    version, algorithm, *reserved = raw_signature[8:12]
    if version != _VERSION or algorithm != _ED25519 or any(reserved):
        raise IntegrityError(
            f"The signature declares format version {version} and algorithm {algorithm}; "
            f"this edgeml reads version {_VERSION} with algorithm {_ED25519} (Ed25519). "
            "It was altered, or a newer edgeml wrote it: upgrade edgeml."
        )
    signed_by, expected = raw_signature[12:20].hex(), _fingerprint(public_key_bytes(key))
    if signed_by != expected:
        raise IntegrityError(
            f"The signature was made with key id {signed_by}, not with the public key "
            f"given (key id {expected}): this model was not published by that key's "
            "owner, or the signature was altered. Refusing it."
        )
    try:
        key.verify(raw_signature[_HEADER_SIZE:], raw_signature[:_HEADER_SIZE] + data)
    except InvalidSignature:
        raise IntegrityError(
            f"The signature does not match the data ({len(data)} bytes): the model or "
            f"its signature was altered after signing by key id {expected}. Refusing it."
        ) from None


def sign_file(path: str | os.PathLike[str], private_key: PrivateKeyLike) -> Path:
    """Sign a file and write its signature next to it as ``<path>.sig`` (atomically).

    Parameters
    ----------
    path : str or os.PathLike
        The artifact to publish (plain or sealed).
    private_key : Ed25519PrivateKey or bytes
        The publisher's key.

    Returns
    -------
    pathlib.Path
        The path of the signature file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from edgeml.security import generate_signing_key
    >>> model = pathlib.Path(tempfile.mkdtemp()) / "model.tflite"
    >>> _ = model.write_bytes(b"model bytes")
    >>> private_key = generate_signing_key()
    >>> sign_file(model, private_key).name
    'model.tflite.sig'
    >>> verify(model.read_bytes(), pathlib.Path(f"{model}.sig").read_bytes(),
    ...        private_key.public_key())
    """
    source = Path(path)
    return atomic_write(Path(f"{source}{SIGNATURE_SUFFIX}"), sign(source.read_bytes(), private_key))
