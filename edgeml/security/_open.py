"""One call that turns a distributed artifact into trusted model bytes (for loaders)."""

from __future__ import annotations

import os
from pathlib import Path

from edgeml.errors import IntegrityError, invalid_argument
from edgeml.security._args import BytesLike
from edgeml.security._keys import KeyMaterial, PublicKeyLike
from edgeml.security._seal import is_sealed, sealed_key_id, unseal
from edgeml.security._sign import SIGNATURE_SUFFIX, verify

__all__ = ["open_model_bytes"]

Source = BytesLike | str | os.PathLike[str]


def _read(source: object, name: str) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            state = "is a directory" if path.is_dir() else "does not exist"
            raise invalid_argument(
                "open_model_bytes", name, str(path), f"an existing file (it {state})"
            )
        return path.read_bytes()
    raise invalid_argument("open_model_bytes", name, type(source).__name__, "bytes or a file path")


def open_model_bytes(
    source: Source,
    *,
    key: KeyMaterial | None = None,
    verify_with: PublicKeyLike | None = None,
    signature: Source | None = None,
    associated_data: bytes | str | None = None,
) -> bytes:
    """Read an artifact once, check its signature, unseal it, and return the model bytes.

    The steps run in this order, each only when asked for:

    1. With ``verify_with``: verify the Ed25519 signature over the bytes *as read*
       (sealed or not). The signature is ``signature``, or, when ``source`` is a path,
       the file ``<source>.sig`` next to it.
    2. With ``key``: the bytes must be sealed (an unsealed file is refused, since it may
       have been swapped in for the sealed one) and are unsealed with ``key`` and
       ``associated_data``.

    Without ``key``, sealed bytes are refused with a message asking for the key.

    Parameters
    ----------
    source : bytes or str or os.PathLike
        The artifact's bytes or its path. A path is read exactly once, so the bytes
        checked are the bytes returned.
    key : SecretKey or bytes, optional
        The key the artifact was sealed with.
    verify_with : Ed25519PublicKey or bytes, optional
        The publisher's public key.
    signature : bytes or str or os.PathLike, optional
        The detached signature or its path; defaults to ``<source>.sig``.
    associated_data : bytes or str, optional
        Passed to :func:`~edgeml.security.unseal` (e.g. ``card.hash``).

    Returns
    -------
    bytes
        The model bytes, verified and unsealed as requested.

    Raises
    ------
    IntegrityError
        When the signature is missing or invalid, when ``key`` is given but the bytes
        are not sealed, or when unsealing fails.
    ConfigError
        When the bytes are sealed but no ``key`` was given, or ``signature`` is given
        without ``verify_with``.

    Examples
    --------
    >>> from edgeml.security import generate_key, generate_signing_key, seal, sign
    >>> key, publisher = generate_key(), generate_signing_key()
    >>> sealed = seal(b"model", key)
    >>> signature = sign(sealed, publisher)
    >>> open_model_bytes(sealed, key=key, verify_with=publisher.public_key(),
    ...                  signature=signature)
    b'model'
    >>> open_model_bytes(b"model", key=key)
    Traceback (most recent call last):
    ...
    edgeml.errors.IntegrityError: A key was given, so a sealed artifact was expected...
    """
    content = _read(source, "source")
    if signature is not None and verify_with is None:
        raise invalid_argument(
            "open_model_bytes",
            "verify_with",
            None,
            "the publisher's Ed25519 public key when a signature is given",
        )
    if verify_with is not None:
        verify(content, _signature_for(source, signature), verify_with)
    if key is None:
        if is_sealed(content):
            raise invalid_argument(
                "open_model_bytes",
                "key",
                None,
                f"the key this artifact was sealed with (key id {sealed_key_id(content)})",
                fix="pass key=... (a SecretKey or its 32 bytes)",
            )
        return content
    if not is_sealed(content):
        raise IntegrityError(
            "A key was given, so a sealed artifact was expected, but these bytes are not "
            "sealed: an unsealed file may have been put in place of the sealed one. "
            "Refusing it. Fix: load it without key= if it is meant to be unsealed."
        )
    return unseal(content, key, associated_data=associated_data)


def _signature_for(source: object, signature: Source | None) -> bytes:
    if signature is not None:
        return _read(signature, "signature")
    if not isinstance(source, (str, os.PathLike)):
        raise invalid_argument(
            "open_model_bytes",
            "signature",
            None,
            "the detached signature when the model is given as bytes",
            fix="pass signature=... (bytes or the .sig file's path)",
        )
    path = Path(os.fspath(source) + SIGNATURE_SUFFIX)
    if not path.is_file():
        raise IntegrityError(
            f"No signature found for {os.fspath(source)!r}: expected it at {str(path)!r} "
            "because verify_with= was given. Refusing an unsigned model. "
            "Fix: ship the .sig file written by edgeml.security.sign next to the model."
        )
    return path.read_bytes()
