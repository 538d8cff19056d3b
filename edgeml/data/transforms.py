"""Generalizing transforms: small, composable, serializable column functions.

Each transform is a frozen dataclass. Calling it on a column (list or 1-D array) returns a
new numpy array and never changes its input. ``check`` validates a column without
transforming it, so :func:`~edgeml.data.minimize` can validate every column before it
transforms any. Missing values (``None``, ``NaN``, ``NaT``) stay missing. Every transform
is idempotent: applying it to its own output changes nothing, so minimizing twice is the
same as minimizing once. ``a.then(b)`` (or :func:`chain`) composes transforms, and
``to_dict`` / :func:`transform_from_dict` round-trip them through JSON.

Examples
--------
>>> from edgeml.data import bins, truncate, top_k
>>> bins([0, 18, 65, 120])([17, 40, 90]).tolist()
['[0, 18)', '[18, 65)', '[65, 120]']
>>> truncate(3)(["94107", "10001"]).tolist()
['941', '100']
>>> truncate(3).then(top_k(1))(["94107", "94110", "10001"]).tolist()
['941', '941', 'other']
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as _dt
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from edgeml.data.pii import PII_TYPES, redact_values
from edgeml.errors import ConfigError, DataError, invalid_argument

__all__ = [
    "Chain",
    "Transform",
    "bins",
    "chain",
    "coarsen_geo",
    "coarsen_time",
    "redact",
    "round_to",
    "suppress",
    "top_k",
    "transform_from_dict",
    "truncate",
]


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


# ----------------------------------------------------------------------------- bins


def _format_edge(edge: float) -> str:
    return str(int(edge)) if float(edge).is_integer() else repr(float(edge))


@dataclasses.dataclass(frozen=True)
class Bins(Transform):
    """Replace numbers by the label of the interval holding them (see :func:`bins`)."""

    name: ClassVar[str] = "bins"
    edges: tuple[float, ...]
    labels: tuple[str, ...]

    def check(self, values: np.ndarray, column: str) -> None:
        """Check that every value is a number within the edges (or already a label)."""
        numbers = self._numbers(values, column)
        finite = numbers[~np.isnan(numbers)]
        outside = finite[(finite < self.edges[0]) | (finite > self.edges[-1])]
        if outside.size:
            raise DataError(
                f"column {column!r} has {outside.size} values outside the bin edges "
                f"[{_format_edge(self.edges[0])}, {_format_edge(self.edges[-1])}], e.g. "
                f"{outside[0]:g}. Fix: widen the first or last edge (e.g. use -inf or inf)."
            )

    def _numbers(self, values: np.ndarray, column: str) -> np.ndarray:
        if values.dtype.kind == "O":
            labels = set(self.labels)
            items = values.tolist()
            if any(isinstance(v, str) for v in items):
                unknown = [v for v in items if isinstance(v, str) and v not in labels]
                if unknown:
                    raise DataError(
                        f"column {column!r} holds text such as {unknown[0]!r} that is not one "
                        f"of the bin labels; bins needs numbers."
                    )
                return _numeric(
                    _objects([None if isinstance(v, str) else v for v in items]), column, "bins"
                )
        return _numeric(values, column, "bins")

    def apply(self, values: np.ndarray, column: str) -> np.ndarray:
        """Map each number to its interval's label; labels pass through."""
        numbers = self._numbers(values, column)
        index = np.searchsorted(np.asarray(self.edges), numbers, side="right") - 1
        index = np.clip(index, 0, len(self.labels) - 1)
        labels = np.asarray(self.labels, dtype=object)
        out = labels[index]
        out[np.isnan(numbers)] = None
        if values.dtype.kind == "O":
            for position, value in enumerate(values.tolist()):
                if isinstance(value, str):
                    out[position] = value
        return np.asarray(out, dtype=object)

    def describe(self) -> str:
        """Describe the bins."""
        return f"bins {', '.join(self.labels)}"


def bins(edges: Sequence[float], labels: Sequence[str] | None = None) -> Bins:
    """Generalize numbers into intervals ``[e0, e1), [e1, e2), ..., [e_{n-1}, e_n]``.

    Parameters
    ----------
    edges : sequence of float
        At least two strictly increasing edges; ``-inf`` / ``inf`` are allowed. The last
        interval includes its upper edge.
    labels : sequence of str, optional
        One label per interval; by default ``"[18, 30)"`` style.

    Returns
    -------
    Bins
        The transform.

    Examples
    --------
    >>> bins([0, 18, 120], labels=["minor", "adult"])([3, 18, None]).tolist()
    ['minor', 'adult', None]
    """
    try:
        edge_values = tuple(float(e) for e in edges)
    except (TypeError, ValueError):
        raise invalid_argument("bins", "edges", edges, "a sequence of numbers") from None
    if (
        len(edge_values) < 2
        or any(math.isnan(e) for e in edge_values)
        or any(b <= a for a, b in itertools.pairwise(edge_values))
    ):
        raise invalid_argument("bins", "edges", edges, "at least two strictly increasing numbers")
    if labels is None:
        names = []
        for i, (low, high) in enumerate(itertools.pairwise(edge_values)):
            close = "]" if i == len(edge_values) - 2 else ")"
            names.append(f"[{_format_edge(low)}, {_format_edge(high)}{close}")
        label_values = tuple(names)
    else:
        label_values = tuple(labels)
        if (
            len(label_values) != len(edge_values) - 1
            or not all(isinstance(label, str) for label in label_values)
            or len(set(label_values)) != len(label_values)
        ):
            raise invalid_argument(
                "bins", "labels", labels, f"{len(edge_values) - 1} distinct strings (one per bin)"
            )
    return Bins(edge_values, label_values)


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


# ----------------------------------------------------------------------------- round_to


@dataclasses.dataclass(frozen=True)
class RoundTo(Transform):
    """Round numbers to the nearest multiple of ``step`` (see :func:`round_to`)."""

    name: ClassVar[str] = "round_to"
    step: float

    def check(self, values: np.ndarray, column: str) -> None:
        """Check that the column holds numbers."""
        _numeric(values, column, "round_to")

    def apply(self, values: np.ndarray, column: str) -> np.ndarray:
        """Round."""
        numbers = _numeric(values, column, "round_to")
        rounded = np.round(numbers / self.step) * self.step
        if float(self.step).is_integer():
            rounded = np.round(rounded)
            if values.dtype.kind in "iu":
                return rounded.astype(values.dtype)
        return rounded

    def describe(self) -> str:
        """Describe the rounding."""
        return f"round to a multiple of {self.step:g}"


def round_to(step: float) -> RoundTo:
    """Round numbers to the nearest multiple of ``step`` (ties to even).

    Parameters
    ----------
    step : float
        A positive step, e.g. ``5`` for weights in 5 kg or ``0.5``.

    Returns
    -------
    RoundTo
        The transform.

    Examples
    --------
    >>> round_to(5)([62, 68, 70]).tolist()
    [60, 70, 70]
    """
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step < math.inf:
        raise invalid_argument("round_to", "step", step, "a positive finite number")
    return RoundTo(float(step))


# ----------------------------------------------------------------------------- coarsen_time

_UNITS = ("hour", "day", "week", "month", "year")
_NUMPY_UNITS = {"hour": "h", "day": "D", "month": "M", "year": "Y"}


def _floor_datetime(value: _dt.datetime | _dt.date, unit: str) -> _dt.datetime | _dt.date:
    if isinstance(value, _dt.datetime):
        if unit == "hour":
            return value.replace(minute=0, second=0, microsecond=0)
        value = value.replace(hour=0, minute=0, second=0, microsecond=0)
    # From here on a datetime is at midnight, and a date has no hours to floor.
    if unit == "week":
        return value - _dt.timedelta(days=value.weekday())
    if unit == "month":
        return value.replace(day=1)
    if unit == "year":
        return value.replace(month=1, day=1)
    return value


@dataclasses.dataclass(frozen=True)
class CoarsenTime(Transform):
    """Floor timestamps to the start of their hour/day/week/month/year."""

    name: ClassVar[str] = "coarsen_time"
    unit: str

    def check(self, values: np.ndarray, column: str) -> None:
        """Check that the column holds datetimes, dates or ISO 8601 strings."""
        if values.dtype.kind == "M":
            return
        for value in _non_missing(values):
            if not isinstance(value, (_dt.date, str)):
                raise DataError(
                    f"column {column!r} holds {type(value).__name__} values such as {value!r}; "
                    "coarsen_time needs datetimes, dates or ISO 8601 strings."
                )
            if isinstance(value, str):
                try:
                    _dt.datetime.fromisoformat(value)
                except ValueError:
                    raise DataError(
                        f"column {column!r} holds {value!r}, which is not an ISO 8601 date or "
                        "time. Fix: parse the column into datetimes first."
                    ) from None

    def apply(self, values: np.ndarray, column: str) -> np.ndarray:
        """Floor every timestamp; the output keeps the input's type (and time zone)."""
        if values.dtype.kind == "M":
            if self.unit == "week":
                days = values.astype("M8[D]")
                # 1970-01-01 was a Thursday: shift so that weeks start on Monday.
                weekday = (days.astype(np.int64) + 3) % 7
                floored = days - weekday.astype("m8[D]")
            else:
                floored = values.astype(f"M8[{_NUMPY_UNITS[self.unit]}]")
            return np.asarray(floored.astype(values.dtype))
        out: list[Any] = []
        for value in values.tolist():
            if value is None:
                out.append(None)
            elif isinstance(value, str):
                parsed = _dt.datetime.fromisoformat(value)
                floored = _floor_datetime(parsed, self.unit)
                text = floored.isoformat()
                out.append(text[:10] if len(value) == 10 and self.unit != "hour" else text)
            else:
                out.append(_floor_datetime(value, self.unit))
        return _objects(out)

    def describe(self) -> str:
        """Describe the coarsening."""
        return f"coarsen time to the {self.unit}"


def coarsen_time(unit: str) -> CoarsenTime:
    """Floor timestamps to the start of their ``"hour"``, ``"day"``, ``"week"`` (Monday),
    ``"month"`` or ``"year"``.

    Parameters
    ----------
    unit : str
        The granularity to keep.

    Returns
    -------
    CoarsenTime
        The transform; it works on numpy ``datetime64``, :class:`datetime.datetime` /
        :class:`datetime.date` (time zones kept) and ISO 8601 strings.

    Examples
    --------
    >>> coarsen_time("month")(["2024-03-17", "2024-03-02T10:30:00"]).tolist()
    ['2024-03-01', '2024-03-01T00:00:00']
    """  # noqa: D205
    if unit not in _UNITS:
        raise invalid_argument("coarsen_time", "unit", unit, f"one of {list(_UNITS)}")
    return CoarsenTime(unit)


# ----------------------------------------------------------------------------- coarsen_geo


@dataclasses.dataclass(frozen=True)
class CoarsenGeo(Transform):
    """Round a latitude or longitude column (see :func:`coarsen_geo`)."""

    name: ClassVar[str] = "coarsen_geo"
    decimals: int | None
    grid: float | None

    def check(self, values: np.ndarray, column: str) -> None:
        """Check that the column holds coordinates in [-180, 180]."""
        numbers = _numeric(values, column, "coarsen_geo")
        finite = numbers[~np.isnan(numbers)]
        if finite.size and float(np.max(np.abs(finite))) > 180:
            raise DataError(
                f"column {column!r} holds values outside [-180, 180]; coarsen_geo needs "
                "latitudes or longitudes in degrees."
            )

    def apply(self, values: np.ndarray, column: str) -> np.ndarray:
        """Round to ``decimals`` or snap to the centre of a ``grid`` cell."""
        numbers = _numeric(values, column, "coarsen_geo")
        if self.grid is not None:
            return (np.floor(numbers / self.grid) + 0.5) * self.grid
        return np.round(numbers, self.decimals or 0)

    def describe(self) -> str:
        """Describe the precision kept."""
        if self.grid is not None:
            return f"snap to a {self.grid:g} degree grid"
        return f"round coordinates to {self.decimals} decimals"


def coarsen_geo(decimals: int | None = None, *, grid: float | None = None) -> CoarsenGeo:
    """Coarsen a latitude or longitude column: round it, or snap it to a grid.

    Two decimals is about 1.1 km at the equator, one about 11 km.

    Parameters
    ----------
    decimals : int, optional
        Decimals to keep (0-6).
    grid : float, optional
        Instead of ``decimals``: a cell size in degrees; each value becomes its cell's
        centre (idempotent, unlike rounding to arbitrary steps).

    Returns
    -------
    CoarsenGeo
        The transform.

    Examples
    --------
    >>> coarsen_geo(2)([52.520008, 13.404954]).tolist()
    [52.52, 13.4]
    >>> coarsen_geo(grid=0.5)([52.52, 13.4]).tolist()
    [52.75, 13.25]
    """
    if (decimals is None) == (grid is None):
        raise invalid_argument(
            "coarsen_geo", "decimals", decimals, "given, or grid given instead (not both)"
        )
    if decimals is not None and (
        isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 6
    ):
        raise invalid_argument("coarsen_geo", "decimals", decimals, "an integer in [0, 6]")
    if grid is not None and (
        isinstance(grid, bool) or not isinstance(grid, (int, float)) or not 0 < grid <= 180
    ):
        raise invalid_argument("coarsen_geo", "grid", grid, "a cell size in (0, 180] degrees")
    return CoarsenGeo(decimals, None if grid is None else float(grid))


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


_FACTORIES = {
    "bins": lambda d: bins(d["edges"], d.get("labels")),
    "truncate": lambda d: truncate(d["length"]),
    "round_to": lambda d: round_to(d["step"]),
    "coarsen_time": lambda d: coarsen_time(d["unit"]),
    "coarsen_geo": lambda d: coarsen_geo(d.get("decimals"), grid=d.get("grid")),
    "top_k": lambda d: top_k(d["k"], d.get("other", "other")),
    "redact": lambda d: redact(d.get("types")),
    "suppress": lambda d: suppress(),
    "chain": lambda d: chain(*(transform_from_dict(step) for step in d["steps"])),
}


def transform_from_dict(data: Mapping[str, Any]) -> Transform:
    """Rebuild a transform from :meth:`Transform.to_dict` output.

    Parameters
    ----------
    data : mapping
        A dict with a ``"transform"`` key naming the transform and its parameters.

    Returns
    -------
    Transform
        The rebuilt transform.

    Examples
    --------
    >>> transform_from_dict(truncate(3).to_dict()) == truncate(3)
    True
    """
    if not isinstance(data, Mapping) or data.get("transform") not in _FACTORIES:
        raise ConfigError(
            f"Cannot read a transform from {data!r}: expected a dict whose 'transform' is one "
            f"of {sorted(_FACTORIES)}."
        )
    try:
        return _FACTORIES[str(data["transform"])](data)  # type: ignore[no-untyped-call]
    except KeyError as missing:
        raise ConfigError(
            f"The {data['transform']!r} transform in {data!r} lacks the parameter {missing}."
        ) from None
