"""k-anonymity and l-diversity of a table over its quasi-identifiers.

A table is k-anonymous when every combination of quasi-identifier values (an
*equivalence class*) is shared by at least k rows; it is l-diverse for a sensitive column
when every class holds at least l distinct sensitive values (distinct l-diversity, the
simplest of Machanavajjhala et al., 2007). Missing values form their own category.

Examples
--------
>>> from edgeml.data import k_anonymity, l_diversity
>>> table = {"age": ["30s", "30s", "40s"], "zip": ["941", "941", "100"],
...          "diagnosis": ["flu", "cold", "flu"]}
>>> k_anonymity(table, ["age", "zip"]).k
1
>>> l_diversity(table, ["age", "zip"], "diagnosis").l
1
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeml._display import html_table, markdown_table
from edgeml.data._table import factorize
from edgeml.errors import DataError, invalid_argument

__all__ = [
    "AnonymityResult",
    "DiversityResult",
    "equivalence_classes",
    "k_anonymity",
    "l_diversity",
]


def equivalence_classes(
    columns: Mapping[str, np.ndarray], quasi_identifiers: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Label each row with its equivalence class.

    Parameters
    ----------
    columns : mapping of str to numpy.ndarray
        The table's columns.
    quasi_identifiers : sequence of str
        The columns that define the classes.

    Returns
    -------
    labels : numpy.ndarray
        Class index per row (int64).
    sizes : numpy.ndarray
        Size of each class, indexed by label.

    Examples
    --------
    >>> labels, sizes = equivalence_classes({"a": np.array([1, 1, 2])}, ["a"])
    >>> labels.tolist(), sizes.tolist()
    ([0, 0, 1], [2, 1])
    """
    n_rows = len(next(iter(columns.values()))) if columns else 0
    codes = [factorize(columns[name])[0] for name in quasi_identifiers]
    if not codes:
        return np.zeros(n_rows, dtype=np.int64), np.array([n_rows], dtype=np.int64)
    cardinalities = [int(code.max()) + 1 if code.size else 1 for code in codes]
    if float(np.prod(np.array(cardinalities, dtype=np.float64))) < 2.0**62:
        # One mixed-radix integer per row: a 1-D unique is much faster than unique(axis=0).
        combined = np.zeros(n_rows, dtype=np.int64)
        for code, cardinality in zip(codes, cardinalities, strict=True):
            combined = combined * cardinality + code
        _, labels, sizes = np.unique(combined, return_inverse=True, return_counts=True)
    else:
        stacked = np.stack(codes, axis=1)
        _, labels, sizes = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return labels.reshape(-1).astype(np.int64), sizes.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class AnonymityResult:
    """The k-anonymity of a table.

    Attributes
    ----------
    k : int
        Size of the smallest equivalence class (0 for an empty table).
    quasi_identifiers : tuple of str
        The columns used.
    n_classes : int
        Number of equivalence classes.
    n_rows : int
        Rows in the table.
    class_sizes : dict of int to int
        How many classes have each size, for the sizes below 10 (the risky ones).
    """

    k: int
    quasi_identifiers: tuple[str, ...]
    n_classes: int
    n_rows: int
    class_sizes: Mapping[int, int]

    def rows_below(self, k: int) -> int:
        """Return how many rows sit in classes smaller than ``k`` (``k`` <= 10).

        Only the sizes below 10 are kept, so a larger ``k`` cannot be answered.
        """
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 10:
            raise invalid_argument(
                "AnonymityResult.rows_below",
                "k",
                k,
                "an integer in [1, 10] (class_sizes keeps the sizes below 10 only)",
            )
        return sum(size * count for size, count in self.class_sizes.items() if size < k)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "k": self.k,
            "quasi_identifiers": list(self.quasi_identifiers),
            "n_classes": self.n_classes,
            "n_rows": self.n_rows,
            "class_sizes": {str(size): count for size, count in self.class_sizes.items()},
        }

    def to_markdown(self) -> str:
        """Return the small-class counts as a Markdown table."""
        return markdown_table(["class size", "classes"], sorted(self.class_sizes.items()))

    def _repr_html_(self) -> str:
        return html_table(
            ["class size", "classes"],
            sorted(self.class_sizes.items()),
            caption=f"k-anonymity: k = {self.k}",
        )

    def __repr__(self) -> str:
        return f"AnonymityResult(k={self.k}, n_classes={self.n_classes}, n_rows={self.n_rows})"


@dataclasses.dataclass(frozen=True)
class DiversityResult:
    """The distinct l-diversity of a table for one sensitive column.

    Attributes
    ----------
    l : int
        Fewest distinct sensitive values in any equivalence class (0 for an empty table).
    quasi_identifiers : tuple of str
        The columns defining the classes.
    sensitive : str
        The sensitive column.
    n_classes : int
        Number of equivalence classes.
    """

    l: int  # noqa: E741 - the standard name
    quasi_identifiers: tuple[str, ...]
    sensitive: str
    n_classes: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "l": self.l,
            "quasi_identifiers": list(self.quasi_identifiers),
            "sensitive": self.sensitive,
            "n_classes": self.n_classes,
        }

    def __repr__(self) -> str:
        return (
            f"DiversityResult(l={self.l}, sensitive={self.sensitive!r}, n_classes={self.n_classes})"
        )


def _columns(table: Any, needed: Sequence[str], owner: str) -> Mapping[str, np.ndarray]:
    from edgeml.data._table import read_table

    parsed = read_table(table, owner=owner, only=needed)
    missing = [c for c in needed if c not in parsed.columns]
    if missing:
        raise DataError(
            f"{owner}: the table has no column(s) {missing}; it has {sorted(parsed.names)}."
        )
    return parsed.columns


def _qi_list(quasi_identifiers: Sequence[str], owner: str) -> tuple[str, ...]:
    if isinstance(quasi_identifiers, str) or not quasi_identifiers:
        raise invalid_argument(
            owner, "quasi_identifiers", quasi_identifiers, "a non-empty list of column names"
        )
    return tuple(quasi_identifiers)


def k_anonymity(table: Any, quasi_identifiers: Sequence[str]) -> AnonymityResult:
    """Measure the k-anonymity of ``table`` over ``quasi_identifiers``.

    Parameters
    ----------
    table : DataFrame, dict of columns, list of dicts or structured array
        The (already generalized) table.
    quasi_identifiers : sequence of str
        Columns that together could single a person out.

    Returns
    -------
    AnonymityResult
        ``k`` is the size of the smallest equivalence class.

    Examples
    --------
    >>> k_anonymity({"band": ["a", "a", "b", "b"]}, ["band"]).k
    2
    """
    qis = _qi_list(quasi_identifiers, "k_anonymity")
    columns = _columns(table, qis, "k_anonymity")
    n_rows = len(columns[qis[0]])
    if n_rows == 0:
        return AnonymityResult(0, qis, 0, 0, {})
    _, sizes = equivalence_classes(columns, qis)
    small, counts = np.unique(sizes[sizes < 10], return_counts=True)
    histogram = {int(s): int(c) for s, c in zip(small, counts, strict=True)}
    return AnonymityResult(int(sizes.min()), qis, len(sizes), n_rows, histogram)


def l_diversity(table: Any, quasi_identifiers: Sequence[str], sensitive: str) -> DiversityResult:
    """Measure the distinct l-diversity of ``sensitive`` within each equivalence class.

    Parameters
    ----------
    table : DataFrame, dict of columns, list of dicts or structured array
        The table.
    quasi_identifiers : sequence of str
        Columns defining the equivalence classes.
    sensitive : str
        The sensitive column (e.g. a diagnosis).

    Returns
    -------
    DiversityResult
        ``l`` is the fewest distinct sensitive values in any class.

    Examples
    --------
    >>> l_diversity({"q": [1, 1, 2, 2], "s": ["x", "y", "x", "x"]}, ["q"], "s").l
    1
    """
    qis = _qi_list(quasi_identifiers, "l_diversity")
    if not isinstance(sensitive, str) or sensitive in qis:
        raise invalid_argument(
            "l_diversity", "sensitive", sensitive, "a column name that is not a quasi-identifier"
        )
    columns = _columns(table, [*qis, sensitive], "l_diversity")
    if len(columns[sensitive]) == 0:
        return DiversityResult(0, qis, sensitive, 0)
    labels, sizes = equivalence_classes(columns, qis)
    values, _ = factorize(columns[sensitive])
    pairs = np.unique(labels * (int(values.max()) + 1) + values)
    distinct = np.bincount(pairs // (int(values.max()) + 1), minlength=len(sizes))
    return DiversityResult(int(distinct.min()), qis, sensitive, len(sizes))
