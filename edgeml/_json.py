"""Decode untrusted JSON with bounds: nesting depth, integer size, text type.

:func:`json.loads` alone lets three things through as the wrong exception: a document
nested a thousand levels deep raises :class:`RecursionError`, an integer of more than
4,300 digits raises a plain :class:`ValueError` (Python's limit on int parsing), and
bytes that are not UTF-8 raise :class:`UnicodeDecodeError`. :func:`loads_bounded` checks
the nesting depth *before* decoding (on the text with its strings blanked, in C-speed
passes) and turns every failure into one :class:`~edgeml.errors.DataError` that says
what was wrong. It is the one place where edgeml reads JSON it did not write: policies
and the server's request bodies.

Examples
--------
>>> from edgeml._json import loads_bounded
>>> loads_bounded('{"inputs": [[1, 2]]}')
{'inputs': [[1, 2]]}
>>> loads_bounded("[" * 100 + "]" * 100, max_depth=32)
Traceback (most recent call last):
...
edgeml.errors.DataError: The document is nested 100 levels deep; at most 32 are accepted. Fix: flatten the document.
"""  # noqa: E501

from __future__ import annotations

import json
import re
from typing import Any

from edgeml.errors import DataError

__all__ = ["json_depth", "loads_bounded"]

#: A JSON string literal (with escapes); blanked before brackets are counted.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BOOLEAN = re.compile(r"\b(?:true|false)\b")
_DEPTH_STEP = str.maketrans({"[": "\x01", "{": "\x01", "]": "\x02", "}": "\x02"})


def json_depth(skeleton: str) -> int:
    """Return the deepest nesting of brackets in JSON text whose strings are blanked.

    Parameters
    ----------
    skeleton : str
        JSON text with every string literal replaced (e.g. by ``""``).

    Returns
    -------
    int
        0 for a scalar, 1 for ``[1, 2]``, 2 for ``[[1]]``...

    Examples
    --------
    >>> json_depth('{"": [[1], [2, [3]]]}')
    4
    """
    brackets = _NOT_BRACKET.sub("", skeleton)
    if not brackets:
        return 0
    import numpy as np

    steps = np.frombuffer(brackets.translate(_DEPTH_STEP).encode("ascii"), dtype=np.int8)
    levels = np.cumsum(np.where(steps == 1, 1, -1), dtype=np.int64)
    return int(levels.max(initial=0))


def loads_bounded(
    data: str | bytes | bytearray,
    *,
    max_depth: int = 64,
    allow_booleans: bool = True,
    what: str = "The document",
) -> Any:
    """Decode JSON from an untrusted source, raising :class:`DataError` for any bad input.

    Parameters
    ----------
    data : str, bytes or bytearray
        The document (bytes must be UTF-8).
    max_depth : int, default 64
        Most nesting levels of arrays and objects accepted; checked before decoding.
    allow_booleans : bool, default True
        With False, ``true`` and ``false`` outside strings are refused (where only
        numbers are meaningful, JSON booleans would otherwise become 1 and 0).
    what : str, default "The document"
        How the document is named in messages, e.g. ``"The request body"``.

    Returns
    -------
    object
        The decoded value.

    Raises
    ------
    DataError
        Not text, not UTF-8, invalid JSON, nested deeper than ``max_depth``, a booleans
        where none are allowed, or an integer beyond Python's 4,300-digit parsing limit.

    Examples
    --------
    >>> loads_bounded(b"[1.5, 2]")
    [1.5, 2]
    >>> loads_bounded("[true]", allow_booleans=False)
    Traceback (most recent call last):
    ...
    edgeml.errors.DataError: The document holds true or false where numbers are expected. Fix: send 1 and 0, or numbers.
    """  # noqa: E501
    if isinstance(data, (bytes, bytearray)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})."
            ) from None
    elif isinstance(data, str):
        text = data
    else:
        raise DataError(
            f"{what} must be text (str or bytes); got a {type(data).__name__}. "
            "Fix: pass the JSON document as a string."
        )
    skeleton = _STRING.sub('""', text)
    depth = json_depth(skeleton)
    if depth > max_depth:
        raise DataError(
            f"{what} is nested {depth} levels deep; at most {max_depth} are accepted. "
            "Fix: flatten the document."
        )
    if not allow_booleans and _BOOLEAN.search(skeleton):
        raise DataError(
            f"{what} holds true or false where numbers are expected. Fix: send 1 and 0, or numbers."
        )
    try:
        return json.loads(text)
    except RecursionError:  # pragma: no cover - the depth check above comes first
        raise DataError(f"{what} is nested too deeply. Fix: flatten the document.") from None
    except ValueError as exc:  # JSONDecodeError, and int() beyond 4,300 digits
        reason = str(exc)
        if "integer string conversion" in reason or "digits" in reason:
            raise DataError(
                f"{what} holds an integer with more digits than can be parsed safely "
                "(more than 4,300). Fix: send numbers that fit a float."
            ) from None
        raise DataError(f"{what} is invalid JSON: {reason}.") from None
