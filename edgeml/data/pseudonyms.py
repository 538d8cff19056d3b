"""Keyed pseudonyms: HMAC-SHA256, never a bare hash.

A bare hash of an identifier can be reversed by hashing every candidate (all phone
numbers, all emails in a leaked list) and comparing. A keyed HMAC cannot be recomputed
without the key, yet is deterministic for one key, so the same person gets the same
pseudonym across tables (joins and per-user splits keep working) and a different one
under another key.

A pseudonym reads ``"p" + <4 hex key tag> + "_" + <hex digest>``. The tag is derived from
the key by the same HMAC (it reveals nothing about the key) and lets a value that already
is a pseudonym under this key pass through unchanged, so minimizing twice equals
minimizing once. The key itself is never stored or logged.

Examples
--------
>>> from edgeml.data import pseudonymize
>>> key = b"a key of at least 16 bytes"
>>> a = pseudonymize(["alice", "bob", "alice"], key=key)
>>> a[0] == a[2] != a[1], len(a[0])
(True, 22)
>>> pseudonymize(a, key=key).tolist() == a.tolist()
True
"""

from __future__ import annotations

import hashlib
import hmac
import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeml.data._table import _objects, factorize
from edgeml.errors import ConfigError, invalid_argument

__all__ = ["MIN_KEY_BYTES", "pseudonymize", "validate_key"]

#: Shortest accepted key; use ``secrets.token_bytes(32)``.
MIN_KEY_BYTES = 16
_HEX = frozenset(string.hexdigits.lower())


def validate_key(key: Any, *, owner: str = "pseudonymize") -> bytes:
    """Return ``key`` as bytes, or raise a :class:`~edgeml.errors.ConfigError`.

    Parameters
    ----------
    key : bytes or str
        The secret; ``str`` is encoded as UTF-8. At least 16 bytes.
    owner : str, default "pseudonymize"
        The public function receiving it, for the message.

    Returns
    -------
    bytes
        The key bytes.

    Examples
    --------
    >>> validate_key("short")
    Traceback (most recent call last):
    ...
    edgeml.errors.ConfigError: The 'key' argument of pseudonymize must be bytes or str of at least 16 bytes. Got a str of 5 bytes instead. Fix: generate one with secrets.token_bytes(32) and keep it in a secret store.
    """  # noqa: E501
    fix = "generate one with secrets.token_bytes(32) and keep it in a secret store"
    if key is None:
        raise ConfigError(
            f"{owner} needs a secret key to pseudonymize (keyed HMAC-SHA256); got none. "
            f"Fix: {fix}, then pass key=..."
        )
    if isinstance(key, str):
        raw = key.encode("utf-8")
    elif isinstance(key, (bytes, bytearray)):
        raw = bytes(key)
    else:
        raise ConfigError(
            f"The 'key' argument of {owner} must be bytes or str. Got a "
            f"{type(key).__name__} instead. Fix: {fix}."
        )
    if len(raw) < MIN_KEY_BYTES:
        # The message never shows the key, only its type and length.
        raise ConfigError(
            f"The 'key' argument of {owner} must be bytes or str of at least "
            f"{MIN_KEY_BYTES} bytes. Got a {type(key).__name__} of {len(raw)} bytes instead. "
            f"Fix: {fix}."
        )
    return raw


def _prefix(key: bytes) -> str:
    tag = hmac.digest(key, b"edgeml.data.pseudonym-tag", hashlib.sha256).hex()[:4]
    return f"p{tag}_"


def _is_pseudonym(value: str, prefix: str, length: int) -> bool:
    return (
        len(value) == len(prefix) + length
        and value.startswith(prefix)
        and set(value[len(prefix) :]) <= _HEX
    )


def _pseudonyms(values: list[Any], key: bytes, prefix: str, length: int) -> list[str | None]:
    """Return the pseudonym of each (distinct) value; the hot loop of :func:`pseudonymize`."""
    digest = hmac.digest
    out: list[str | None] = []
    append = out.append
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            append(None)
            continue
        text = value if isinstance(value, str) else str(value)
        if text.startswith(prefix) and _is_pseudonym(text, prefix, length):
            append(text)
        else:
            append(prefix + digest(key, text.encode("utf-8"), "sha256").hex()[:length])
    return out


def pseudonymize(
    values: Sequence[Any] | np.ndarray, *, key: bytes | str, length: int = 16
) -> np.ndarray:
    """Replace each value by a keyed HMAC-SHA256 pseudonym.

    Values are encoded as UTF-8 text (``str(value)`` for non-strings, so ``42`` and
    ``"42"`` share a pseudonym); missing values (``None``, NaN) stay ``None``. Each
    distinct value is hashed once.

    Parameters
    ----------
    values : sequence or numpy.ndarray
        Identifiers.
    key : bytes or str
        Secret of at least 16 bytes. Keep it: the same key gives the same pseudonyms.
    length : int, default 16
        Hex characters of the digest kept (8-64); 16 hex = 64 bits, so collisions are
        unlikely below about a billion distinct values.

    Returns
    -------
    numpy.ndarray
        Object array of pseudonyms.

    Examples
    --------
    >>> k1, k2 = b"0123456789abcdef", b"fedcba9876543210"
    >>> pseudonymize([7], key=k1)[0] != pseudonymize([7], key=k2)[0]
    True
    """
    raw_key = validate_key(key)
    if isinstance(length, bool) or not isinstance(length, int) or not 8 <= length <= 64:
        raise invalid_argument("pseudonymize", "length", length, "an integer in [8, 64]")
    prefix = _prefix(raw_key)
    array = values if isinstance(values, np.ndarray) else _objects(list(values))
    codes, uniques = factorize(array)
    pseudonyms = _objects(_pseudonyms(uniques, raw_key, prefix, length))
    return pseudonyms[codes] if len(codes) else _objects([])
