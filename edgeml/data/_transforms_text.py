"""Generalizing transforms for text and categories.

:func:`truncate` keeps a prefix of each string, :func:`top_k` keeps the most frequent
categories and folds the rest into one, :func:`redact` replaces personal data inside text
by typed placeholders, and :func:`suppress` removes the values altogether. Each is a frozen
dataclass built on :class:`edgeml.data._transform_base.Transform`; all are exported by
:mod:`edgeml.data.transforms`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from typing import ClassVar

import numpy as np

from edgeml.data._transform_base import (
    Transform,
    _missing_mask,
    _non_missing,
    _objects,
    _strings,
)
from edgeml.data.pii import PII_TYPES, redact_values
from edgeml.errors import DataError, invalid_argument

# ----------------------------------------------------------------------------- truncate


@dataclasses.dataclass(frozen=True)
class Truncate(Transform):
    """Keep the first ``length`` characters of each string (see :func:`truncate`)."""

    name: ClassVar[str] = "truncate"
    length: int

    def check(self, values: np.ndarray, column: str) -> None:
        """Check that the column holds text."""
        _strings(values, column, "truncate")

    def apply(self, values: np.ndarray, column: str) -> np.ndarray:
        """Cut each string (equal outputs share one string object, which saves memory)."""
        items = _strings(values, column, "truncate")
        shared: dict[str, str] = {}
        cut: dict[str | None, str | None] = {None: None}
        for value in set(items) - {None}:
            cut[value] = shared.setdefault(value[: self.length], value[: self.length])
        return _objects(list(map(cut.__getitem__, items)))

    def describe(self) -> str:
        """Describe the cut."""
        return f"truncate to {self.length} chars"


def truncate(length: int) -> Truncate:
    """Keep the first ``length`` characters of each string (e.g. a postcode's district).

    Parameters
    ----------
    length : int
        Characters to keep, >= 1.

    Returns
    -------
    Truncate
        The transform.

    Examples
    --------
    >>> truncate(2)(["SW1A 1AA", None]).tolist()
    ['SW', None]
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise invalid_argument("truncate", "length", length, "an integer >= 1")
    return Truncate(length)


# ----------------------------------------------------------------------------- top_k


@dataclasses.dataclass(frozen=True)
class TopK(Transform):
    """Keep the ``k`` most frequent values; replace the rest by ``other``."""

    name: ClassVar[str] = "top_k"
    k: int
    other: str

    @property
    def releases_raw_values(self) -> bool:
        """Frequent values are released unchanged."""
        return True

    def check(self, values: np.ndarray, column: str) -> None:
        """Check that the values are hashable."""
        try:
            Counter(_non_missing(values))
        except TypeError:
            raise DataError(
                f"column {column!r} holds unhashable values; top_k needs categories."
            ) from None

    def apply(self, values: np.ndarray, column: str) -> np.ndarray:
        """Replace rare values (ties broken by the values' text, so the result is stable)."""
        counts = Counter(v for v in _non_missing(values) if v != self.other)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
        kept = {value for value, _ in ranked[: self.k]}
        missing = _missing_mask(values).tolist()
        out = [
            None if gone else (v if v in kept or v == self.other else self.other)
            for v, gone in zip(values.tolist(), missing, strict=True)
        ]
        return _objects(out)

    def describe(self) -> str:
        """Describe the cut."""
        return f"keep the {self.k} most frequent values, others -> {self.other!r}"


def top_k(k: int, other: str = "other") -> TopK:
    """Keep the ``k`` most frequent values of a category column; others become ``other``.

    Parameters
    ----------
    k : int
        Values to keep, >= 1.
    other : str, default "other"
        The replacement; it is never counted as one of the ``k``.

    Returns
    -------
    TopK
        The transform.

    Examples
    --------
    >>> top_k(1)(["a", "a", "b", None]).tolist()
    ['a', 'a', 'other', None]
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise invalid_argument("top_k", "k", k, "an integer >= 1")
    if not isinstance(other, str):
        raise invalid_argument("top_k", "other", other, "a string")
    return TopK(k, other)


# ----------------------------------------------------------------------------- redact


@dataclasses.dataclass(frozen=True)
class Redact(Transform):
    """Replace PII spans in free text by typed placeholders (see :func:`redact`)."""

    name: ClassVar[str] = "redact"
    types: tuple[str, ...] | None

    def check(self, values: np.ndarray, column: str) -> None:
        """Check that the column holds text."""
        _strings(values, column, "redact")

    def apply(self, values: np.ndarray, column: str) -> np.ndarray:
        """Redact."""
        return redact_values(
            _objects(_strings(values, column, "redact")), types=self.types, column=column
        )

    def describe(self) -> str:
        """Describe what is redacted."""
        return "redact " + ("all PII types" if self.types is None else ", ".join(self.types))


def redact(types: Iterable[str] | None = None) -> Redact:
    """Replace PII in free text by typed placeholders such as ``<EMAIL>`` or ``<PHONE>``.

    Parameters
    ----------
    types : iterable of str, optional
        Only these types (see :data:`edgeml.data.pii.PII_TYPES`); all by default.

    Returns
    -------
    Redact
        The transform.

    Examples
    --------
    >>> redact()(["write to ann@example.org or 555-867-5309"]).tolist()
    ['write to <EMAIL> or <PHONE>']
    """
    if types is None:
        return Redact(None)
    chosen = tuple(sorted(set(types)))
    known = [t for t in PII_TYPES if t != "column_name"]
    unknown = [t for t in chosen if t not in known]
    if unknown or not chosen:
        raise invalid_argument("redact", "types", types, f"a non-empty subset of {known}")
    return Redact(chosen)


# ----------------------------------------------------------------------------- suppress


@dataclasses.dataclass(frozen=True)
class Suppress(Transform):
    """Replace every value by ``None`` (see :func:`suppress`)."""

    name: ClassVar[str] = "suppress"

    def check(self, values: np.ndarray, column: str) -> None:
        """Accept any column."""

    def apply(self, values: np.ndarray, column: str) -> np.ndarray:
        """Blank the column."""
        return np.full(len(values), None, dtype=object)

    def describe(self) -> str:
        """Describe the suppression."""
        return "suppress all values"


def suppress() -> Suppress:
    """Keep the column's name but none of its values (every value becomes ``None``).

    Returns
    -------
    Suppress
        The transform.

    Examples
    --------
    >>> suppress()(["x", "y"]).tolist()
    [None, None]
    """
    return Suppress()
