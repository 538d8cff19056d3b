"""Read the table kinds edgeml.data accepts into columns of numpy arrays, and write back.

Kinds: pandas DataFrame, dict of column -> list/array, list of dicts, numpy structured
array. Inside edgeml.data a table is a dict of 1-D numpy arrays of equal length; text
and mixed columns are object arrays whose missing values are ``None``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeml.errors import DataError, invalid_argument

__all__ = ["Table", "read_table", "write_table"]

_KINDS = "a pandas DataFrame, a dict of column -> list/array, a list of dicts or a numpy structured array"  # noqa: E501


@dataclasses.dataclass(frozen=True)
class Table:
    """A table as columns of numpy arrays, and how to give it back in the caller's kind."""

    kind: str
    columns: Mapping[str, np.ndarray]
    n_rows: int
    names: tuple[str, ...] = ()
    list_columns: frozenset[str] = frozenset()
    pandas_dtypes: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _normalize_object(values: np.ndarray) -> np.ndarray:
    """Return a fresh object array with every missing marker replaced by ``None``."""
    try:
        # Elementwise in C: NaN != NaN, None == None; pandas' NA refuses bool() -> fallback.
        unequal: Any = values != values
        missing = np.asarray(unequal | (values == None), dtype=np.bool_)  # noqa: E711
    except TypeError:
        return _objects([None if _is_missing(v) else v for v in values.tolist()])
    out = np.array(values, dtype=object)
    if missing.any():
        out[missing] = None
    if {t.__name__ for t in set(map(type, out.tolist()))} & {"NAType", "NaTType"}:
        return _objects([None if _is_missing(v) else v for v in out.tolist()])
    return out


def _objects(items: list[Any]) -> np.ndarray:
    """Return a 1-D object array of ``items`` (never a 2-D array of nested sequences)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _column_array(name: str, values: Any, owner: str) -> np.ndarray:
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise DataError(
                f"{owner}: column {name!r} has shape {values.shape}; columns must be "
                "1-dimensional. Fix: pass one array per column."
            )
        array = values
    elif isinstance(values, (list, tuple)):
        array = _objects(list(values))
    else:
        raise DataError(
            f"{owner}: column {name!r} is a {type(values).__name__}; expected a list or a "
            "1-D numpy array. Fix: convert it with list(...) or numpy.asarray(...)."
        )
    if array.dtype.kind == "O":
        array = _normalize_object(array)
        kinds = {type(v) for v in array.tolist() if v is not None}
        numeric = all(issubclass(k, (int, float)) and not issubclass(k, bool) for k in kinds)
        if kinds and numeric:
            items = array.tolist()
            try:
                if float in kinds or any(v is None for v in items):
                    return np.asarray([np.nan if v is None else v for v in items], dtype=np.float64)
                return np.asarray(items, dtype=np.int64)
            except OverflowError:  # integers beyond int64 stay Python objects
                return array
        return array
    if array.dtype.kind in "US":
        return _normalize_object(array.astype(object))
    return array.copy()


def factorize(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Return integer codes and the distinct values (``None`` and NaN are one value each).

    Parameters
    ----------
    values : numpy.ndarray
        A 1-D column.

    Returns
    -------
    codes : numpy.ndarray
        int64 code per row, indexing ``uniques``.
    uniques : list
        The distinct values, as Python objects.
    """
    if values.dtype.kind in "iufbMm":
        distinct, inverse = np.unique(values, return_inverse=True)
        return np.asarray(inverse, dtype=np.int64).reshape(-1), list(distinct.tolist())
    items = values.tolist()
    try:
        uniques = list(dict.fromkeys(items))  # first-seen order, at C speed
    except TypeError:  # unhashable values (lists): group them by their text
        texts = [repr(v) for v in items]
        text_codes, _ = factorize(_objects(texts))
        return text_codes, [items[int(i)] for i in np.unique(text_codes, return_index=True)[1]]
    lookup = {value: code for code, value in enumerate(uniques)}
    codes = np.fromiter(map(lookup.__getitem__, items), dtype=np.int64, count=len(items))
    return codes, uniques


def read_table(table: Any, *, owner: str, only: Sequence[str] | None = None) -> Table:
    """Read ``table`` into a :class:`Table` (copies; the input is never modified).

    Parameters
    ----------
    table : Any
        One of the accepted kinds.
    owner : str
        The public function reading it, for error messages.
    only : sequence of str, optional
        Convert only these columns (those present); ``Table.names`` still lists all.

    Returns
    -------
    Table
        Columns as numpy arrays plus what is needed to write the same kind back.
    """
    module = type(table).__module__
    if module.startswith("pandas") and type(table).__name__ == "DataFrame":
        return _read_pandas(table, owner, only)
    if isinstance(table, np.ndarray):
        if table.dtype.names is None or table.ndim != 1:
            raise DataError(
                f"{owner}: a numpy array must be a 1-D structured array with named fields; "
                f"got dtype {table.dtype} and shape {table.shape}. Fix: pass a dict of "
                "column name -> array."
            )
        names = tuple(table.dtype.names)
        wanted = [n for n in names if only is None or n in only]
        columns = {name: _column_array(name, table[name], owner) for name in wanted}
        return Table("structured", columns, len(table), names)
    if isinstance(table, Mapping):
        columns = {}
        lists = set()
        for name, values in table.items():
            if not isinstance(name, str):
                raise DataError(f"{owner}: column names must be strings; got {name!r}.")
            if not isinstance(values, (list, tuple, np.ndarray)):
                _column_array(name, values, owner)  # raises the usual message
            if only is None or name in only:
                columns[name] = _column_array(name, values, owner)
            if isinstance(values, (list, tuple)):
                lists.add(name)
        lengths = {name: len(values) for name, values in table.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(
                f"{owner}: columns have different lengths {lengths}. Fix: give every "
                "column one value per row."
            )
        n_rows = next(iter(lengths.values()), 0)
        return Table("dict", columns, n_rows, tuple(table), frozenset(lists))
    if isinstance(table, Sequence) and not isinstance(table, (str, bytes)):
        return _read_records(table, owner, only)
    raise invalid_argument(owner, "table", table, _KINDS)


def _read_records(records: Sequence[Any], owner: str, only: Sequence[str] | None) -> Table:
    names: dict[str, None] = {}
    for position, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise DataError(
                f"{owner}: record {position} is a {type(record).__name__}; a list table "
                "must hold dicts. Fix: pass a list of dicts or a dict of columns."
            )
        for name in record:
            if not isinstance(name, str):
                raise DataError(
                    f"{owner}: column names must be strings; record {position} has {name!r}. "
                    "Fix: use string keys, e.g. {str(k): v for k, v in record.items()}."
                )
        names.update(dict.fromkeys(record))
    columns = {
        name: _column_array(name, [record.get(name) for record in records], owner)
        for name in names
        if only is None or name in only
    }
    return Table("records", columns, len(records), tuple(names))


def _read_pandas(frame: Any, owner: str, only: Sequence[str] | None) -> Table:
    if not frame.columns.is_unique:
        raise DataError(f"{owner}: the DataFrame has duplicate column names. Fix: rename them.")
    columns = {}
    dtypes = {}
    for name in frame.columns:
        if not isinstance(name, str):
            raise DataError(
                f"{owner}: column names must be strings; got {name!r}. "
                "Fix: frame.columns = frame.columns.astype(str)."
            )
        if only is not None and name not in only:
            continue
        series = frame[name]
        dtypes[name] = series.dtype
        if getattr(series.dtype, "tz", None) is not None:
            values = _objects(list(series.dt.to_pydatetime()))
            values = _normalize_object(values)
        else:
            values = series.to_numpy(copy=True)
            if values.dtype.kind == "O" or values.dtype.kind in "US":
                missing = series.isna().to_numpy()
                values = np.array(values, dtype=object)
                if missing.any():
                    values[missing] = None
        columns[name] = values
    return Table("pandas", columns, len(frame), tuple(frame.columns), pandas_dtypes=dtypes)


def _structured_dtype(name: str, values: np.ndarray) -> Any:
    if values.dtype.kind != "O":
        return values.dtype
    items = [v for v in values.tolist() if v is not None]
    if items and all(isinstance(v, str) for v in items):
        return np.dtype(f"<U{max(1, max(len(v) for v in items))}")
    return np.dtype(object)


def write_table(columns: Mapping[str, np.ndarray], like: Table) -> Any:
    """Build a table of the same kind as ``like`` from ``columns``.

    Parameters
    ----------
    columns : mapping of str to numpy.ndarray
        The output columns, all of one length.
    like : Table
        The input table whose kind the output takes.

    Returns
    -------
    Any
        A DataFrame, dict of columns, list of dicts or structured array.
    """
    n_rows = len(next(iter(columns.values()))) if columns else 0
    if like.kind == "pandas":
        pd = __import__("pandas")
        data = {}
        for name, values in columns.items():
            original = like.pandas_dtypes.get(name)
            series = pd.Series(values, copy=False)
            zone = getattr(original, "tz", None)
            if zone is not None and all(v is None or hasattr(v, "tzinfo") for v in values.tolist()):
                series = pd.Series(pd.to_datetime(list(values), utc=True)).dt.tz_convert(zone)
            data[name] = series
        # the arrays are fresh (never the input's), so pandas need not copy them again
        return pd.DataFrame(data, index=pd.RangeIndex(n_rows), copy=False)
    if like.kind == "structured":
        dtype = [(name, _structured_dtype(name, values)) for name, values in columns.items()]
        out = np.empty(n_rows, dtype=dtype)
        for name, values in columns.items():
            if out.dtype[name].kind == "U":
                out[name] = ["" if v is None else v for v in values.tolist()]
            else:
                out[name] = values
        return out
    if like.kind == "records":
        lists = {name: _as_list(values) for name, values in columns.items()}
        return [{name: lists[name][i] for name in lists} for i in range(n_rows)]
    return {
        name: _as_list(values) if name in like.list_columns else values
        for name, values in columns.items()
    }


def _as_list(values: np.ndarray) -> list[Any]:
    """Return ``values`` as a Python list, with missing numbers as ``None`` (as they came)."""
    items: list[Any] = values.tolist()
    if values.dtype.kind == "f":
        missing = np.flatnonzero(np.isnan(values))
        for i in missing.tolist():
            items[i] = None
    return items
