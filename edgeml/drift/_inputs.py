"""Turn what users pass (arrays, dicts of columns, DataFrames) into checked columns.

The drift tests share this module so they agree on shapes, names, NaN handling and the
wording of errors. It is the one place where drift input is validated:

- :func:`as_columns` reads every accepted layout (and refuses ragged rows, records and
  other shapes with a :class:`~edgeml.errors.DataError`);
- :func:`check_size` bounds every size argument (``bins``, ``n_permutations``,
  ``max_samples``, categories) *before* anything is allocated, so a typo such as
  ``bins=10**9`` is an error, not a 23 GB allocation;
- :func:`check_finite` refuses non-finite intermediate results (overflowing
  distances, edges or spreads) instead of returning NaN statistics;
- :func:`input_boundary` wraps each public entry point: any stray ``TypeError``,
  ``ValueError``, ``OverflowError``, ``RecursionError``... raised while reading bad
  input leaves as a :class:`~edgeml.errors.DataError` (also a ``ValueError``).
 Numeric columns travel in *blocks*: a few columns at a time, copied to
a contiguous ``(columns, rows)`` array and sorted in place, so every statistic is computed
for all columns of the block at once and peak memory stays bounded.
"""

from __future__ import annotations

import functools
import reprlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar

import numpy as np
from numpy.typing import NDArray

from edgeml.errors import DataError, EdgeMLError, invalid_argument

__all__ = [
    "MAX_BINS",
    "MAX_CATEGORIES",
    "MAX_CELLS",
    "Columns",
    "NanPolicy",
    "as_columns",
    "check_alpha",
    "check_bins",
    "check_finite",
    "check_nan_policy",
    "check_same_columns",
    "check_size",
    "input_boundary",
    "real_array",
    "sorted_blocks",
]

#: Most inner bins per feature (quantile bins beyond this resolve nothing a drift test
#: can use, and ``bins=10**9`` would allocate gigabytes).
MAX_BINS = 100_000
#: Most count cells (features x (bins + 2)) one call may allocate: 400 MB of int64.
MAX_CELLS = 50_000_000
#: Most distinct categories in one categorical column.
MAX_CATEGORIES = 100_000

_P = ParamSpec("_P")
_R = TypeVar("_R")

NanPolicy = Literal["raise", "omit"]

#: Bytes of sorted data (reference + current) held at once while computing statistics.
#: Larger blocks read a row-major table in fewer passes; 256 MB keeps the peak well under
#: the size of a large input.
BLOCK_BYTES = 256 * 1024 * 1024

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Columns:
    """Columns of one sample with their names.

    ``matrix`` is the original 2-D numeric array when the input was one (so blocks of
    columns are taken without a per-column loop); ``arrays`` always holds 1-D columns.
    """

    names: tuple[str, ...]
    arrays: tuple[np.ndarray, ...]
    is_1d: bool
    matrix: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return len(self.names)


def check_alpha(owner: str, alpha: Any) -> None:
    """Check a significance level: a float strictly between 0 and 1."""
    if not isinstance(alpha, (float, np.floating)) or not 0.0 < alpha < 1.0:
        raise invalid_argument(owner, "alpha", alpha, "a float in the range (0, 1)")


def check_nan_policy(owner: str, nan_policy: str) -> None:
    if nan_policy not in ("raise", "omit"):
        raise invalid_argument(owner, "nan_policy", nan_policy, "'raise' or 'omit'")


def check_size(
    owner: str, name: str, value: Any, *, minimum: int, maximum: int, fix: str | None = None
) -> int:
    """Check an integer size argument against ``[minimum, maximum]`` before any allocation.

    Raises
    ------
    ConfigError
        When ``value`` is not an integer (booleans included) or is out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        expected = f"an integer in [{minimum}, {maximum:,}]"
        raise invalid_argument(owner, name, value, expected, fix=fix)
    if value < minimum:
        raise invalid_argument(owner, name, value, f"an integer >= {minimum}", fix=fix)
    if value > maximum:
        raise invalid_argument(owner, name, value, f"an integer <= {maximum:,}", fix=fix)
    return int(value)


def check_bins(owner: str, bins: Any, n_features: int = 1) -> int:
    """Check ``bins`` (2 to :data:`MAX_BINS`, and at most :data:`MAX_CELLS` count cells)."""
    value = check_size(owner, "bins", bins, minimum=2, maximum=MAX_BINS, fix="use bins=10")
    if n_features * (value + 2) > MAX_CELLS:
        raise invalid_argument(
            owner,
            "bins",
            bins,
            f"at most {MAX_CELLS // n_features - 2:,} for {n_features:,} features "
            f"(features x (bins + 2) <= {MAX_CELLS:,} count cells)",
            fix="use fewer bins, or test the features in groups",
        )
    return value


def check_finite(owner: str, what: str, values: Any, fix: str) -> None:
    """Raise :class:`DataError` if an intermediate result is NaN or infinite.

    Finite inputs can still overflow (``1e308 - (-1e308)`` is ``inf``); a statistic
    computed from such values would be NaN or meaningless, so it is refused.
    """
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise DataError(
            f"{owner}: {what} is not finite (the input values are too large to compute "
            f"with in float64). Fix: {fix.rstrip('.')}."
        )


def input_boundary(owner: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Make ``owner`` raise only edgeml errors for bad input.

    edgeml errors pass through unchanged; ``TypeError``, ``ValueError``,
    ``OverflowError``, ``RecursionError``, ``AttributeError``, ``KeyError``,
    ``IndexError`` and ``UnicodeError`` raised while reading the input become a
    :class:`~edgeml.errors.DataError` naming ``owner``.
    """

    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return func(*args, **kwargs)
            except EdgeMLError:
                raise
            except RecursionError:
                raise DataError(
                    f"The input of {owner} is nested too deeply to read. Fix: pass flat "
                    "numeric arrays, a dict of columns or a pandas DataFrame."
                ) from None
            except (
                TypeError,
                ValueError,
                OverflowError,
                AttributeError,
                KeyError,
                IndexError,
                UnicodeError,
            ) as exc:
                detail = str(exc)
                detail = detail if len(detail) <= 160 else detail[:157] + "..."
                raise DataError(
                    f"{owner} cannot use its input ({type(exc).__name__}: {detail}). Fix: "
                    "pass numeric arrays (rows x features), a dict of equal-length columns "
                    "or a pandas DataFrame, as documented."
                ) from exc

        return wrapper

    return decorate


def real_array(values: Any, owner: str, argname: str) -> FloatArray:
    """Return ``values`` as float64, refusing complex, text, dates and other non-reals."""
    raw = _as_array(values, owner, argname)
    try:
        if raw.dtype.kind not in "biufO":
            raise TypeError(raw.dtype)
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(
            f"{argname} in {owner} must hold real numbers; got {reprlib.repr(values)}."
        ) from None


def _is_dataframe(data: Any) -> bool:
    return hasattr(data, "columns") and hasattr(data, "to_numpy") and hasattr(data, "iloc")


def _column_array(values: Any, owner: str, argname: str, name: str) -> np.ndarray:
    to_numpy = getattr(values, "to_numpy", None)
    array = to_numpy() if callable(to_numpy) else _as_array(values, owner, argname)
    if array.ndim != 1:
        raise DataError(
            f"Column {name!r} of {argname} in {owner} must be 1-D; got shape {array.shape}."
        )
    return array


def _as_array(data: Any, owner: str, argname: str) -> np.ndarray:
    """Return ``data`` as a numpy array; refuse records, ragged rows and masked arrays."""
    if isinstance(data, np.ma.MaskedArray):
        raise DataError(
            f"{argname} in {owner} is a masked array; its hidden values would be tested. "
            "Fix: pass array.filled(np.nan) with nan_policy='omit', or array.compressed()."
        )
    if isinstance(data, (str, bytes)):
        raise DataError(
            f"{argname} in {owner} is a {type(data).__name__}, not numbers. Fix: pass an "
            "array, a dict of columns or a pandas DataFrame."
        )
    if isinstance(data, Sequence) and len(data) and isinstance(data[0], Mapping):
        raise DataError(
            f"{argname} in {owner} is a list of records (dicts); drift tests compare "
            "columns. Fix: pass pandas.DataFrame(records) or a dict of columns."
        )
    try:
        array = data.to_numpy() if hasattr(data, "to_numpy") else np.asarray(data)
    except ValueError as exc:
        raise DataError(
            f"{argname} in {owner} has rows of different lengths ({exc}). Fix: pass a "
            "rectangular rows x features array, or a dict of equal-length columns."
        ) from None
    if isinstance(array, np.ma.MaskedArray):
        return _as_array(array, owner, argname)
    return np.asarray(array)


def _named(columns: Columns, feature_names: Any, owner: str, argname: str) -> Columns:
    """Apply ``feature_names`` to array columns; check them against named columns."""
    if feature_names is None:
        return columns
    if isinstance(feature_names, (str, bytes)) or not isinstance(feature_names, Sequence):
        raise invalid_argument(
            owner, "feature_names", feature_names, "a sequence of column names (str)"
        )
    names = tuple(str(name) for name in feature_names)
    if len(names) != columns.n_features or len(set(names)) != len(names):
        raise invalid_argument(
            owner,
            "feature_names",
            feature_names,
            f"{columns.n_features} distinct names, one per column of {argname}",
        )
    if columns.matrix is None and names != columns.names:
        raise DataError(
            f"feature_names {list(names)} differ from the column names of {argname} in "
            f"{owner} ({list(columns.names)}). Fix: omit feature_names for a dict or "
            "DataFrame (its column names are used)."
        )
    return Columns(names, columns.arrays, is_1d=columns.is_1d, matrix=columns.matrix)


def as_columns(data: Any, owner: str, argname: str, feature_names: Any = None) -> Columns:
    """Convert a 1-D/2-D array, a dict of columns or a pandas DataFrame to :class:`Columns`.

    ``feature_names`` names the columns of an array input (a dict's keys or a
    DataFrame's column names are kept as they are, as strings).

    Raises
    ------
    DataError
        For other shapes, records, ragged rows, masked arrays, empty data, or columns of
        different lengths.
    """
    if isinstance(data, Columns):
        return _named(data, feature_names, owner, argname)
    if isinstance(data, Mapping) or _is_dataframe(data):
        keys = list(data.keys()) if isinstance(data, Mapping) else list(data.columns)
        names = tuple(str(k) for k in keys)
        if len(set(names)) != len(names):
            raise DataError(f"{argname} in {owner} has duplicate column names {list(names)}.")
        arrays = tuple(
            _column_array(data[k], owner, argname, n) for k, n in zip(keys, names, strict=True)
        )
        if not arrays:
            raise DataError(f"{argname} in {owner} has no columns.")
        lengths = {len(a) for a in arrays}
        if len(lengths) > 1:
            raise DataError(
                f"The columns of {argname} in {owner} have different lengths "
                f"{sorted(lengths)}; every column must have one value per row."
            )
        columns = Columns(names, arrays, is_1d=False)
    else:
        array = _as_array(data, owner, argname)
        if array.ndim == 1:
            columns = Columns(("0",), (array,), is_1d=True, matrix=array[:, None])
        elif array.ndim == 2:
            names = tuple(str(j) for j in range(array.shape[1]))
            arrays = tuple(array[:, j] for j in range(array.shape[1]))
            columns = Columns(names, arrays, is_1d=False, matrix=array)
        else:
            raise DataError(
                f"{argname} in {owner} must be 1-D (one feature) or 2-D (rows x features); "
                f"got an array of shape {array.shape}."
            )
        if columns.n_features == 0:
            raise DataError(f"{argname} in {owner} has no columns.")
    if len(columns.arrays[0]) == 0:
        raise DataError(f"{argname} in {owner} is empty; every test needs at least one row.")
    return _named(columns, feature_names, owner, argname)


def check_same_columns(reference: Columns, current: Columns, owner: str) -> None:
    """Raise :class:`DataError` unless both samples have the same columns, in order."""
    if reference.n_features != current.n_features:
        raise DataError(
            f"reference has {reference.n_features} columns but current has "
            f"{current.n_features} in {owner}; pass the same features to both."
        )
    if reference.names != current.names:
        missing = sorted(set(reference.names) - set(current.names))
        extra = sorted(set(current.names) - set(reference.names))
        detail = f"missing in current: {missing}; not in reference: {extra}"
        if not missing and not extra:
            detail = "same names in a different order"
        raise DataError(
            f"reference and current have different columns in {owner} ({detail}); "
            "pass the same features to both."
        )


def _as_float_column(array: np.ndarray, owner: str, argname: str, name: str) -> FloatArray:
    if array.dtype.kind in "biuf":
        return np.asarray(array, dtype=np.float64)
    try:
        if array.dtype.kind != "O" or any(
            isinstance(v, (complex, np.complexfloating)) for v in array
        ):
            raise TypeError(array.dtype)
        return np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        example = next((v for v in array if not isinstance(v, (int, float))), array[0])
        raise DataError(
            f"Column {name!r} of {argname} in {owner} is not numeric (it holds "
            f"{reprlib.repr(example)}); use chi2 for categorical columns, or convert the "
            "column to real numbers."
        ) from None


def _block(
    columns: Columns,
    lo: int,
    hi: int,
    owner: str,
    argname: str,
    rows: slice = slice(None),
    *,
    indices: Sequence[int] | None = None,
) -> FloatArray:
    """Copy columns ``lo:hi`` (or ``indices``) to a C-contiguous array, one row each."""
    picked_columns = list(range(lo, hi)) if indices is None else list(indices)
    if columns.matrix is not None and columns.matrix.dtype.kind in "biuf":
        if indices is None:
            selected = columns.matrix[rows, lo:hi]
        else:
            selected = np.take(columns.matrix[rows], picked_columns, axis=1)
        return np.array(selected.T, dtype=np.float64, order="C")
    picked = [
        _as_float_column(columns.arrays[j][rows], owner, argname, columns.names[j])
        for j in picked_columns
    ]
    return np.array(picked, dtype=np.float64, order="C")


def _where(columns: Columns, j: int, argname: str) -> str:
    """Name the column in messages ("current" alone for 1-D input)."""
    return argname if columns.is_1d else f"Column {columns.names[j]!r} of {argname}"


def _fill(
    buffers: dict[str, FloatArray],
    argname: str,
    columns: Columns,
    chosen: Sequence[int],
    step: int,
    owner: str,
) -> FloatArray:
    """Copy the ``chosen`` columns into a reused ``(step, rows)`` buffer; return its rows."""
    matrix = columns.matrix
    if matrix is None or matrix.dtype.kind not in "biuf":
        return _block(columns, 0, 0, owner, argname, indices=chosen)
    buffer = buffers.get(argname)
    if buffer is None:
        buffer = buffers[argname] = np.empty((step, matrix.shape[0]))
    rows = buffer[: len(chosen)]
    first = chosen[0]
    if list(chosen) == list(range(first, first + len(chosen))):
        rows[...] = matrix[:, first : first + len(chosen)].T
    else:
        for k, j in enumerate(chosen):
            rows[k] = matrix[:, j]
    return rows


def _bad_message(where: str, owner: str, row: FloatArray) -> str:
    n_nan = int(np.isnan(row).sum())
    n_inf = int(np.isinf(row).sum())
    return (
        f"{where} in {owner} has {n_nan} NaN and {n_inf} infinite values (of {row.size}). "
        "Fix: clean the data, or pass nan_policy='omit' to drop them."
    )


def _finite_slice(row: FloatArray) -> slice:
    """Return the finite part of a sorted row: -inf sorts first, +inf then NaN last."""
    start = int(np.searchsorted(row, -np.inf, side="right"))
    stop = int(np.searchsorted(row, np.inf, side="left")) if not np.isnan(row[0]) else 0
    return slice(start, max(start, stop))


def sorted_blocks(
    reference: Columns,
    current: Columns,
    *,
    owner: str,
    nan_policy: str,
    block_bytes: int = BLOCK_BYTES,
    indices: Sequence[int] | None = None,
) -> Iterator[tuple[Sequence[int], FloatArray, FloatArray]]:
    """Yield ``(column indices, sorted reference rows, sorted current rows)``.

    Each yielded pair holds one or more columns as rows of equal length, sorted
    ascending. Columns without NaN/inf come in blocks; with ``nan_policy="omit"`` a
    column that had non-finite values comes alone, with those values dropped.

    ``indices`` restricts the work to those columns (yielded indices refer to them).

    Raises
    ------
    DataError
        Non-finite values with ``nan_policy="raise"`` (naming the column and the counts),
        or a column left empty after dropping them.
    """
    check_nan_policy(owner, nan_policy)
    wanted = list(range(reference.n_features)) if indices is None else list(indices)
    n_ref, n_cur = len(reference.arrays[0]), len(current.arrays[0])
    per_column = 8 * (n_ref + n_cur) * 2  # sorted copies plus per-row work space
    step = max(1, min(len(wanted), block_bytes // max(per_column, 1)))
    # One buffer per sample, reused by every block: large fresh arrays would page-fault
    # their memory in again for each block.
    buffers: dict[str, FloatArray] = {}
    for lo in range(0, len(wanted), step):
        chosen = wanted[lo : lo + step]
        a = _fill(buffers, "reference", reference, chosen, step, owner)
        b = _fill(buffers, "current", current, chosen, step, owner)
        a.sort(axis=-1)
        b.sort(axis=-1)
        bad = ~(np.isfinite(a[:, 0]) & np.isfinite(a[:, -1]))
        bad |= ~(np.isfinite(b[:, 0]) & np.isfinite(b[:, -1]))
        if not bad.any():
            yield chosen, a, b
            continue
        good = np.flatnonzero(~bad)
        if good.size:
            yield [chosen[int(k)] for k in good], a[good], b[good]
        for k in np.flatnonzero(bad):
            j = chosen[int(k)]
            pieces = []
            for argname, rows in (("reference", a), ("current", b)):
                row = rows[k]
                finite = _finite_slice(row)
                if finite.stop - finite.start != row.size and nan_policy == "raise":
                    raise DataError(_bad_message(_where(reference, j, argname), owner, row))
                if finite.stop == finite.start:
                    raise DataError(
                        f"{_where(reference, j, argname)} in {owner} has no finite "
                        f"values left after nan_policy='omit' (all {row.size} are NaN or "
                        "infinite)."
                    )
                pieces.append(row[finite][None, :])
            yield [j], pieces[0], pieces[1]


def finite_sorted(
    columns: Columns, *, owner: str, argname: str, nan_policy: str
) -> Iterator[tuple[int, FloatArray]]:
    """Yield ``(column index, sorted finite values)`` one column at a time.

    Used where only one sample is needed (fitting a sketch); raises like
    :func:`sorted_blocks`.
    """
    check_nan_policy(owner, nan_policy)
    for j in range(columns.n_features):
        row = _block(columns, j, j + 1, owner, argname)[0]
        row.sort()
        finite = _finite_slice(row)
        if finite.stop - finite.start != row.size:
            if nan_policy == "raise":
                raise DataError(_bad_message(_where(columns, j, argname), owner, row))
            if finite.stop == finite.start:
                raise DataError(
                    f"{_where(columns, j, argname)} in {owner} has no finite "
                    f"values left after nan_policy='omit' (all {row.size} are NaN or infinite)."
                )
        yield j, row[finite]
