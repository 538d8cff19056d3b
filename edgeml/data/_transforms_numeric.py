"""Generalizing transforms for numbers, times and coordinates.

:func:`bins` replaces numbers by interval labels, :func:`round_to` rounds them to a step,
:func:`coarsen_time` floors dates and times to an hour, day, week, month or year, and
:func:`coarsen_geo` rounds latitude/longitude to fewer decimals or a grid. Each is a frozen
dataclass built on :class:`edgeml.data._transform_base.Transform`; all are exported by
:mod:`edgeml.data.transforms`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edgeml.data._transform_base import Transform, _non_missing, _numeric, _objects
from edgeml.errors import DataError, invalid_argument

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
