"""The transform base class, the column helpers every transform shares, and chaining.

:class:`Transform` fixes the contract (``check`` a column, ``apply`` to it, ``describe``
it, ``to_dict`` for JSON); the helpers read a column as a 1-D array and as numbers or
text, keeping missing values missing. :class:`Chain` lives here because
:meth:`Transform.then` builds one. The concrete transforms are in
:mod:`edgeml.data._transforms_numeric` and :mod:`edgeml.data._transforms_text`; the
public names are exported by :mod:`edgeml.data.transforms`.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edgeml.errors import DataError, invalid_argument


def _as_column(values: Any) -> np.ndarray:
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise DataError(f"a column must be 1-dimensional; got shape {values.shape}.")
        return values
    from edgeml.data._table import _column_array

    return _column_array("values", list(values), "transform")


def _missing_mask(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.asarray(np.isnan(values))
    if values.dtype.kind == "M":
        return np.asarray(np.isnat(values))
    if values.dtype.kind == "O":
        return np.fromiter((v is None for v in values.tolist()), dtype=bool, count=len(values))
    return np.zeros(len(values), dtype=bool)


def _non_missing(values: np.ndarray) -> list[Any]:
    return [
        v for v, m in zip(values.tolist(), _missing_mask(values).tolist(), strict=True) if not m
    ]


def _numeric(values: np.ndarray, column: str, what: str) -> np.ndarray:
    """Return ``values`` as float64 (missing as NaN) or raise a DataError naming the column."""
    if values.dtype.kind in "iuf":
        return values.astype(np.float64)
    if values.dtype.kind == "b":
        raise DataError(f"column {column!r} holds booleans; {what} needs numbers.")
    if values.dtype.kind == "O":
        items = values.tolist()
        bad = [
            v
            for v in items
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))
        ]
        if not bad:
            return np.array([np.nan if v is None else float(v) for v in items], dtype=np.float64)
        raise DataError(
            f"column {column!r} holds {type(bad[0]).__name__} values such as {bad[0]!r}; "
            f"{what} needs numbers. Fix: convert the column to numbers or choose another "
            "transform."
        )
    raise DataError(f"column {column!r} has dtype {values.dtype}; {what} needs numbers.")


def _strings(values: np.ndarray, column: str, what: str) -> list[Any]:
    if values.dtype.kind == "U":
        return [str(v) for v in values.tolist()]
    items = values.tolist() if values.dtype.kind == "O" else None
    if items is None or not set(map(type, items)) <= {str, type(None)}:
        candidates = items if items is not None else values.tolist()
        sample = next((v for v in candidates if v is not None and not isinstance(v, str)), None)
        raise DataError(
            f"column {column!r} holds {type(sample).__name__} values such as {sample!r}; "
            f"{what} works on text. Fix: store the column as strings (e.g. postcodes with "
            "their leading zeros)."
        )
    return list(items)


def _objects(items: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out


class Transform(abc.ABC):
    """Base of every transform: ``check`` a column, ``apply`` to it, describe it.

    Subclasses are frozen dataclasses with a class attribute ``name`` and JSON-safe fields.
    """

    name: ClassVar[str]

    def __call__(self, values: Any, *, column: str = "values") -> np.ndarray:
        """Validate and transform one column; the input is not modified."""
        array = _as_column(values)
        self.check(array, column)
        return self.apply(array, column)

    @abc.abstractmethod
    def check(self, values: np.ndarray, column: str) -> None:
        """Raise :class:`~edgeml.errors.DataError` if ``values`` cannot be transformed."""

    @abc.abstractmethod
    def apply(self, values: np.ndarray, column: str) -> np.ndarray:
        """Return the transformed column (call :meth:`check` first)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Return a short human-readable description, e.g. ``"truncate to 3 chars"``."""

    @property
    def releases_raw_values(self) -> bool:
        """Whether some input values can appear unchanged in the output."""
        return False

    def then(self, other: Transform) -> Chain:
        """Return the transform that applies ``self``, then ``other``."""
        return chain(self, other)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict that :func:`transform_from_dict` turns back into ``self``."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return {"transform": self.name, **{k: _jsonable(v) for k, v in fields.items()}}


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf" / "-inf": strict JSON has no infinities; float() reads them
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Transform):
        return value.to_dict()
    return value


# ----------------------------------------------------------------------------- chain


@dataclasses.dataclass(frozen=True)
class Chain(Transform):
    """Apply several transforms in order (see :func:`chain`)."""

    name: ClassVar[str] = "chain"
    steps: tuple[Transform, ...]

    @property
    def releases_raw_values(self) -> bool:
        """Whether every step may pass values through unchanged."""
        return all(step.releases_raw_values for step in self.steps)

    def check(self, values: np.ndarray, column: str) -> None:
        """Check the first step on the input and every later step on its predecessor's output."""
        current = values
        for position, step in enumerate(self.steps):
            step.check(current, column)
            if position < len(self.steps) - 1:
                current = step.apply(current, column)

    def apply(self, values: np.ndarray, column: str) -> np.ndarray:
        """Apply the steps in order."""
        for step in self.steps:
            values = step.apply(values, column)
        return values

    def describe(self) -> str:
        """Describe the steps joined by 'then'."""
        return " then ".join(step.describe() for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {"transform": "chain", "steps": [step.to_dict() for step in self.steps]}


def chain(*transforms: Transform) -> Chain:
    """Compose transforms: ``chain(a, b)(x) == b(a(x))``.

    Parameters
    ----------
    *transforms : Transform
        At least one transform; nested chains are flattened.

    Returns
    -------
    Chain
        The composed transform.

    Examples
    --------
    >>> from edgeml.data import bins, round_to
    >>> chain(round_to(10), bins([0, 50, 100]))([12, 47]).tolist()
    ['[0, 50)', '[50, 100]']
    """
    steps: list[Transform] = []
    for transform in transforms:
        if not isinstance(transform, Transform):
            raise invalid_argument("chain", "transforms", transform, "edgeml.data transforms")
        steps.extend(transform.steps if isinstance(transform, Chain) else [transform])
    if not steps:
        raise invalid_argument("chain", "transforms", (), "at least one transform")
    return Chain(tuple(steps))
