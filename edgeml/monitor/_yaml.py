"""A minimal block-style YAML writer for the configuration files edgeml generates.

Strings are always quoted: double-quoted with YAML escapes for anything not printable,
or single-quoted when they are printable ASCII containing double quotes (PromQL label
matchers stay readable), so no value can be mistaken for a number, a boolean or YAML
syntax; keys that YAML 1.1 reads as booleans or null (``n``, ``on``, ``null``...) are
quoted too. This avoids a PyYAML dependency for writing three small, fixed-shape files.

Examples
--------
>>> from edgeml.monitor._yaml import dump
>>> print(dump({"groups": [{"name": "g", "rules": [{"for": "5m", "n": 2}]}]}), end="")
groups:
  - name: "g"
    rules:
      - for: "5m"
        "n": 2
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dump"]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


_RESERVED_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"})


def _escape(char: str) -> str:
    """One character inside a YAML double-quoted scalar."""
    if char in '"\\':
        return "\\" + char
    code = ord(char)
    # Printable characters stay; controls, YAML's own line breaks (U+0085, U+2028,
    # U+2029), surrogates and non-characters are escaped by code point.
    if char.isprintable() and code not in (0x85, 0x2028, 0x2029, 0xFEFF):
        return char
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"YAML output cannot hold the non-finite number {value!r}")
        text = repr(value)
        # YAML 1.1 readers (PyYAML) need a dot in the mantissa and a signed exponent.
        mantissa, _, exponent = text.partition("e")
        if "." not in mantissa:
            mantissa += ".0"
        return mantissa + ("e" + exponent if exponent else "")
    if isinstance(value, str):
        if '"' in value and value.isprintable() and value.isascii():
            return "'" + value.replace("'", "''") + "'"  # readable PromQL, no backslashes
        return '"' + "".join(_escape(c) for c in value) + '"'
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        out: list[str] = []
        for key, item in value.items():
            if not isinstance(key, str) or not _KEY.match(key):
                raise ValueError(f"unsupported YAML key {key!r}")
            # YAML 1.1 readers (PyYAML) turn bare on/off/yes/no/null keys into bools/None.
            name = _scalar(key) if key.lower() in _RESERVED_WORDS else key
            if isinstance(item, (Mapping, list, tuple)) and item:
                out.append(f"{pad}{name}:")
                out.extend(_lines(item, indent + 2))
            else:
                empty = "{}" if isinstance(item, Mapping) else "[]"
                text = empty if isinstance(item, (Mapping, list, tuple)) else _scalar(item)
                out.append(f"{pad}{name}: {text}")
        return out
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            return [pad + "[]"]
        out = []
        for item in value:
            inner = _lines(item, indent + 2)
            out.append(pad + "- " + inner[0].lstrip())
            out.extend(inner[1:])
        return out
    return [pad + _scalar(value)]


def dump(document: Mapping[str, Any]) -> str:
    """Return ``document`` as block-style YAML ending with a newline.

    Parameters
    ----------
    document : mapping
        Nested dicts and lists of ``str``, ``int``, ``float`` and ``bool``.

    Returns
    -------
    str
        The YAML text.
    """
    return "\n".join(_lines(document, 0)) + "\n"
