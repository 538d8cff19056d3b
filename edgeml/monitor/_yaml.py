"""A minimal block-style YAML writer for the configuration files edgeml generates.

Strings are always quoted: as JSON strings, which YAML reads as double-quoted scalars,
or single-quoted when they contain double quotes (PromQL label matchers), so no value can
be mistaken for a number, a boolean or YAML syntax. This avoids a PyYAML
dependency for writing three small, fixed-shape files.

Examples
--------
>>> from edgeml.monitor._yaml import dump
>>> print(dump({"groups": [{"name": "g", "rules": [{"for": "5m", "n": 2}]}]}), end="")
groups:
  - name: "g"
    rules:
      - for: "5m"
        n: 2
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dump"]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"YAML output cannot hold the non-finite number {value!r}")
        return repr(value)
    if isinstance(value, str):
        if '"' in value and value.isprintable() and value.isascii():
            return "'" + value.replace("'", "''") + "'"  # readable PromQL, no backslashes
        return json.dumps(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        out: list[str] = []
        for key, item in value.items():
            if not isinstance(key, str) or not key.replace("_", "").isalnum():
                raise ValueError(f"unsupported YAML key {key!r}")
            if isinstance(item, (Mapping, list, tuple)) and item:
                out.append(f"{pad}{key}:")
                out.extend(_lines(item, indent + 2))
            else:
                empty = "{}" if isinstance(item, Mapping) else "[]"
                text = empty if isinstance(item, (Mapping, list, tuple)) else _scalar(item)
                out.append(f"{pad}{key}: {text}")
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
