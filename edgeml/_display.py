"""Helpers that turn result values into JSON-safe data, Markdown and HTML tables.

Every result object in edgeml offers ``to_dict()`` (JSON-safe), and those that are
tables also offer ``to_markdown()`` and ``_repr_html_()``; they share these helpers.

Examples
--------
>>> import numpy as np
>>> from edgeml._display import to_jsonable, markdown_table
>>> to_jsonable({"a": np.float64(0.5), "b": np.arange(3), "c": (1, None)})
{'a': 0.5, 'b': [0, 1, 2], 'c': [1, None]}
>>> print(markdown_table(["feature", "psi"], [["age", 0.12], ["zip", 0.3]]))
| feature | psi |
| --- | --- |
| age | 0.12 |
| zip | 0.3 |
"""

from __future__ import annotations

import dataclasses
import enum
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

import numpy as np

__all__ = ["format_cell", "html_table", "markdown_table", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` to plain JSON types.

    numpy scalars and arrays become Python numbers and lists, dataclasses and objects
    with ``to_dict`` become dicts, tuples and sets become lists, paths become strings,
    and non-finite floats become ``None`` (JSON has no NaN).

    Parameters
    ----------
    value : Any
        The value to convert.

    Returns
    -------
    Any
        A structure of ``dict``, ``list``, ``str``, ``int``, ``float``, ``bool`` and
        ``None`` only.

    Examples
    --------
    >>> to_jsonable([float("nan"), np.int8(3), {"k": np.bool_(True)}])
    [None, 3, {'k': True}]
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_jsonable(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (Sequence, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return str(value)


def format_cell(value: Any, digits: int = 4) -> str:
    """Format one table cell: floats with ``digits`` significant digits, others as text.

    Parameters
    ----------
    value : Any
        The cell's value.
    digits : int, default 4
        Significant digits for floats.

    Returns
    -------
    str
        The formatted cell.

    Examples
    --------
    >>> format_cell(0.123456), format_cell(None), format_cell(True), format_cell(12)
    ('0.1235', '', 'yes', '12')
    """
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}g}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Render a GitHub-flavoured Markdown table.

    Parameters
    ----------
    headers : sequence of str
        Column titles.
    rows : sequence of sequences
        Cells, formatted with :func:`format_cell`.

    Returns
    -------
    str
        The table, one line per row, without a trailing newline.

    Examples
    --------
    >>> print(markdown_table(["a"], [[1], [2.5]]))
    | a |
    | --- |
    | 1 |
    | 2.5 |
    """

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(list(headers)), line(["---"] * len(headers))]
    out.extend(line([format_cell(c) for c in row]) for row in rows)
    return "\n".join(out)


def html_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, caption: str | None = None
) -> str:
    """Render an HTML table for notebooks (cells are escaped).

    Parameters
    ----------
    headers : sequence of str
        Column titles.
    rows : sequence of sequences
        Cells, formatted with :func:`format_cell`.
    caption : str, optional
        A caption shown above the table.

    Returns
    -------
    str
        An HTML fragment.

    Examples
    --------
    >>> html_table(["x"], [["<b>"]], caption="demo")
    '<table><caption>demo</caption><thead><tr><th>x</th></tr></thead><tbody><tr><td>&lt;b&gt;</td></tr></tbody></table>'
    """
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_cell(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
