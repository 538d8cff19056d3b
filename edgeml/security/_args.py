"""Argument checks shared by sealing and signing."""

from __future__ import annotations

from edgeml.errors import invalid_argument

BytesLike = bytes | bytearray | memoryview


def require_bytes(value: object, owner: str, name: str) -> bytes:
    """Return ``value`` as ``bytes``, or raise the edgeml error for a non-bytes argument.

    Examples
    --------
    >>> require_bytes(bytearray(b"ab"), "seal", "model_bytes")
    b'ab'
    >>> require_bytes("model.tflite", "seal", "model_bytes")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    edgeml.errors.ConfigError: The 'model_bytes' argument of seal must be bytes. Got 'str' ...
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise invalid_argument(
        owner,
        name,
        type(value).__name__,
        "bytes",
        fix="read the file first, e.g. pathlib.Path(path).read_bytes()",
    )
