"""A mergeable histogram sketch: bin edges fixed from the reference, counts that add up.

A device keeps one :class:`Histogram` per model (all features at once), updates it with
each batch it sees and sends its bytes (a few hundred per feature) instead of its data; a
server merges sketches from many devices, or from Spark/Beam/Dask partitions, and runs
:func:`~edgeml.drift.psi`, :func:`~edgeml.drift.js` or :func:`~edgeml.drift.chi2` on them
exactly (the same values as on the raw arrays, tested by
``tests/drift/test_drift_sketch.py::test_sketch_tests_equal_array_tests_exactly``), and
:func:`~edgeml.drift.ks` or :func:`~edgeml.drift.wasserstein` approximately (see
:func:`ks_from_histograms` and :func:`wasserstein_from_histograms` for the bounds).

Bins (``bins + 2`` per feature): values below the reference minimum, ``bins`` inner
bins between reference quantiles (``[e_k, e_k+1)``, the last one closed), and values
above the reference maximum. NaN and infinite values are never binned; each feature
counts them in ``nonfinite``.

Stable API (used by ``edgeml.monitor``): ``Histogram.fit``, ``empty``, ``update``,
``merge``, ``to_bytes``/``from_bytes``, ``to_dict``/``from_dict``, ``to_json``/
``from_json``, and the attributes ``edges``, ``counts``, ``minimum``, ``maximum``,
``nonfinite``, ``scale``, ``names``, ``n_features``, ``bins``, ``total``.

Examples
--------
>>> import numpy as np
>>> from edgeml.drift import Histogram, psi
>>> rng = np.random.default_rng(0)
>>> profile = Histogram.fit(rng.normal(size=(1000, 2)), bins=10)
>>> device_a = profile.empty().update(rng.normal(size=(300, 2)))
>>> device_b = profile.empty().update(rng.normal(1.0, size=(300, 2)))
>>> fleet = Histogram.from_bytes(device_a.to_bytes()).merge(device_b)
>>> fleet.total.tolist()
[600, 600]
>>> [round(r.statistic, 3) for r in psi(profile, fleet)]
[0.244, 0.264]
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml._display import html_table
from edgeml._html import histogram_charts
from edgeml.drift import _kernels
from edgeml.drift._inputs import (
    MAX_BINS,
    MAX_CELLS,
    Columns,
    _block,
    as_columns,
    check_bins,
    check_nan_policy,
    check_size,
    finite_sorted,
    input_boundary,
)
from edgeml.drift._sketch_io import (
    decode_bytes,
    decode_dict,
    decode_json,
    encode_bytes,
    encode_dict,
)
from edgeml.errors import DataError, invalid_argument

__all__ = ["Histogram", "check_not_empty"]

_ROWS_PER_CHUNK = 1 << 16

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def check_not_empty(owner: str, role: str, counts: IntArray, names: Sequence[str]) -> None:
    """Raise :class:`~edgeml.errors.DataError` if a feature's counts sum to zero.

    Shares and distances are undefined for such a feature; it happens with a sketch
    never updated, or with noisy counts clipped at 0 (DP releases).
    """
    empty = np.flatnonzero(counts.sum(axis=1) == 0)
    if empty.size:
        raise DataError(
            f"The {role} sketch has no values for feature {names[int(empty[0])]!r} "
            f"in {owner}; update it with data before testing."
        )


class Histogram:
    """Per-feature histogram with edges from a reference sample; mergeable and portable.

    Build one with :meth:`fit` (which also counts the reference) and an empty copy for
    new data with :meth:`empty`. :meth:`update` adds a batch in place; :meth:`merge`
    returns a new sketch and is associative and commutative (counts are integers and
    minimum/maximum are exact), so partial sketches can be combined in any order.

    Parameters
    ----------
    edges : array-like, shape (n_features, bins + 1)
        Non-decreasing finite edges per feature: reference minimum, inner quantiles,
        reference maximum.
    counts : array-like of int, shape (n_features, bins + 2), optional
        Counts below ``edges[:, 0]``, in each inner bin, and above ``edges[:, -1]``.
    minimum, maximum : array-like, shape (n_features,), optional
        Smallest and largest finite value counted (NaN while empty).
    nonfinite : array-like of int, shape (n_features,), optional
        NaN and infinite values seen and not binned.
    scale : array-like, shape (n_features,), optional
        The reference standard deviation, used to normalize Wasserstein distances.
    names : sequence of str, optional
        Feature names; default ``"0"``, ``"1"``, ...
    is_1d : bool, default False
        Whether the reference was 1-D (tests then return one result, not a list).

    Examples
    --------
    >>> h = Histogram.fit([1.0, 2.0, 3.0, 4.0], bins=2)
    >>> h.edges.tolist(), h.counts.tolist()
    ([[1.0, 2.5, 4.0]], [[0, 2, 2, 0]])
    >>> h.empty().update([0.0, 3.0, 9.0, float("nan")]).counts.tolist()
    [[1, 0, 1, 1]]
    """

    @input_boundary("Histogram")
    def __init__(
        self,
        edges: Any,
        counts: Any = None,
        *,
        minimum: Any = None,
        maximum: Any = None,
        nonfinite: Any = None,
        scale: Any = None,
        names: Any = None,
        is_1d: bool = False,
    ) -> None:
        try:
            if np.asarray(edges).dtype.kind not in "biufO":
                raise TypeError("edges")
            edge_array = np.array(edges, dtype=np.float64, ndmin=2)
        except (TypeError, ValueError, OverflowError):
            raise invalid_argument(
                "Histogram", "edges", edges, "a 2-D array of numbers (features x bins + 1)"
            ) from None
        if edge_array.ndim != 2 or edge_array.shape[1] < 2:
            raise invalid_argument(
                "Histogram", "edges", edges, "a 2-D array (features x bins + 1) with bins >= 1"
            )
        if not np.isfinite(edge_array).all() or (np.diff(edge_array, axis=1) < 0).any():
            raise invalid_argument(
                "Histogram", "edges", edges, "finite and non-decreasing along each row"
            )
        p, n_edges = edge_array.shape
        if p * (n_edges + 1) > MAX_CELLS:
            raise invalid_argument(
                "Histogram",
                "edges",
                f"<{p} x {n_edges} array>",
                f"at most {MAX_CELLS:,} count cells (features x (bins + 2))",
            )
        self.edges: FloatArray = edge_array
        self.counts: IntArray = self._field(counts, (p, n_edges + 1), np.int64, 0, "counts")
        self.minimum: FloatArray = self._field(minimum, (p,), np.float64, np.nan, "minimum")
        self.maximum: FloatArray = self._field(maximum, (p,), np.float64, np.nan, "maximum")
        self.nonfinite: IntArray = self._field(nonfinite, (p,), np.int64, 0, "nonfinite")
        self.scale: FloatArray = self._field(scale, (p,), np.float64, np.nan, "scale")
        if (self.counts < 0).any() or (self.nonfinite < 0).any():
            raise invalid_argument("Histogram", "counts", counts, "non-negative integers")
        if names is not None and (
            isinstance(names, (str, bytes))
            or not isinstance(names, Sequence)
            or not all(isinstance(n, (str, int, np.integer)) for n in names)
        ):
            raise invalid_argument(
                "Histogram", "names", names, "a sequence of str, one per feature"
            )
        name_tuple = tuple(str(n) for n in names) if names is not None else None
        self.names: tuple[str, ...] = name_tuple or tuple(str(j) for j in range(p))
        if len(self.names) != p:
            raise invalid_argument("Histogram", "names", names, f"{p} names, one per feature")
        self.is_1d = bool(is_1d) and p == 1

    @staticmethod
    def _field(value: Any, shape: tuple[int, ...], dtype: Any, fill: Any, name: str) -> Any:
        if value is None:
            return np.full(shape, fill, dtype=dtype)
        try:
            raw = np.asarray(value)
            if raw.dtype.kind not in "biufO":
                raise TypeError(name)
            if np.dtype(dtype).kind == "i" and raw.dtype.kind in "fO":
                exact = np.asarray(raw, dtype=np.float64)
                if not (np.isfinite(exact).all() and (exact == np.floor(exact)).all()):
                    raise ValueError(name)
                if (np.abs(exact) > 2.0**62).any():
                    raise OverflowError(name)
            array = np.array(raw, dtype=dtype)
        except (TypeError, ValueError, OverflowError):
            kind = "integers" if np.dtype(dtype).kind == "i" else "numbers"
            raise invalid_argument(
                "Histogram", name, value, f"an array of shape {shape} holding finite {kind}"
            ) from None
        # One feature: any layout of the right size is unambiguous (e.g. flat counts).
        # Several: only the exact shape, so transposed counts are refused, not scrambled.
        if array.size != int(np.prod(shape)) or (shape[0] > 1 and array.shape != shape):
            raise invalid_argument("Histogram", name, value, f"an array of shape {shape}")
        return array.reshape(shape)

    # ------------------------------------------------------------------ construction
    @classmethod
    @input_boundary("Histogram.fit")
    def fit(
        cls,
        reference: Any,
        *,
        bins: int = 10,
        edges: Any = None,
        nan_policy: str = "raise",
        feature_names: Any = None,
    ) -> Histogram:
        """Fix edges from ``reference`` and count it.

        Parameters
        ----------
        reference : array-like, dict of columns or pandas.DataFrame
            1-D or 2-D (rows x features) numeric reference sample.
        bins : int, default 10
            Inner bins between reference quantiles ``0, 1/bins, ..., 1`` (2 to 100,000).
        edges : array-like, optional
            Explicit edges instead: 1-D (shared by every feature) or one row per feature.
        nan_policy : {"raise", "omit"}, default "raise"
            What to do with NaN/inf in the reference (``"omit"`` counts them in
            ``nonfinite``).
        feature_names : sequence of str, optional
            Names for the columns of array input (a dict's keys or a DataFrame's column
            names are kept otherwise). They travel with the sketch: into drift results,
            a model card's drift baseline and the labels of ``edgeml serve``'s metrics.

        Returns
        -------
        Histogram

        Examples
        --------
        >>> Histogram.fit([[0.0, 5.0], [1.0, 6.0], [2.0, 7.0]], bins=2).edges.tolist()
        [[0.0, 1.0, 2.0], [5.0, 6.0, 7.0]]
        >>> Histogram.fit([[60.0, 97.0], [72.0, 99.0]], bins=2,
        ...               feature_names=["heart_rate", "spo2"]).names
        ('heart_rate', 'spo2')
        """
        check_nan_policy("Histogram.fit", nan_policy)
        check_size("Histogram.fit", "bins", bins, minimum=2, maximum=MAX_BINS, fix="use bins=10")
        columns = as_columns(reference, "Histogram.fit", "reference", feature_names)
        p = columns.n_features
        check_bins("Histogram.fit", bins, p)
        edge_rows = np.empty((p, int(bins) + 1)) if edges is None else None
        scale = np.empty(p)
        for j, values in finite_sorted(
            columns, owner="Histogram.fit", argname="reference", nan_policy=nan_policy
        ):
            scale[j] = values.std()
            if edge_rows is not None:
                edge_rows[j] = _kernels.quantile_edges(values[None, :], int(bins))[0]
        if edges is not None:
            given = np.array(edges, dtype=np.float64, ndmin=2)
            edge_rows = (
                np.broadcast_to(given, (p, given.shape[1])) if given.shape[0] == 1 else given
            )
        sketch = cls(edge_rows, scale=scale, names=columns.names, is_1d=columns.is_1d)
        return sketch.update(columns)

    def empty(self) -> Histogram:
        """Return a sketch with the same edges, scale and names and no counts.

        Returns
        -------
        Histogram

        Examples
        --------
        >>> Histogram.fit([1.0, 2.0, 3.0], bins=2).empty().total.tolist()
        [0]
        """
        return Histogram(self.edges, scale=self.scale, names=self.names, is_1d=self.is_1d)

    def copy(self) -> Histogram:
        """Return an independent copy.

        Returns
        -------
        Histogram
        """
        return Histogram(
            self.edges.copy(),
            self.counts.copy(),
            minimum=self.minimum.copy(),
            maximum=self.maximum.copy(),
            nonfinite=self.nonfinite.copy(),
            scale=self.scale.copy(),
            names=self.names,
            is_1d=self.is_1d,
        )

    # ------------------------------------------------------------------ properties
    @property
    def n_features(self) -> int:
        """Number of features."""
        return int(self.edges.shape[0])

    @property
    def bins(self) -> int:
        """Number of inner bins (``counts`` has two more: below and above the range)."""
        return int(self.edges.shape[1] - 1)

    @property
    def total(self) -> IntArray:
        """Binned (finite) values per feature."""
        total: IntArray = self.counts.sum(axis=1)
        return total

    # ------------------------------------------------------------------ updates
    @input_boundary("Histogram.update")
    def update(self, batch: Any) -> Histogram:
        """Count a batch in place and return ``self``.

        Parameters
        ----------
        batch : array-like, dict of columns or pandas.DataFrame
            1-D (for a one-feature sketch) or 2-D (rows x features) values; names must
            match for dicts and DataFrames. NaN/inf are counted in ``nonfinite``.

        Returns
        -------
        Histogram
            ``self``, so calls chain.

        Examples
        --------
        >>> h = Histogram.fit([0.0, 1.0], bins=2).empty()
        >>> h.update([0.5]).update([2.0]).counts.tolist()
        [[0, 0, 1, 1]]
        """
        columns = batch if isinstance(batch, Columns) else self._columns(batch)
        n = len(columns.arrays[0])
        for start in range(0, n, _ROWS_PER_CHUNK):
            rows = slice(start, start + _ROWS_PER_CHUNK)
            chunk = _block(columns, 0, self.n_features, "Histogram.update", "batch", rows)
            finite = np.isfinite(chunk)
            if finite.all():
                self.counts += _kernels.bin_counts_unsorted(chunk, self.edges)
                low, high = chunk.min(axis=1), chunk.max(axis=1)
            else:
                self.nonfinite += (~finite).sum(axis=1)
                self.counts += _kernels.bin_counts_unsorted(chunk, self.edges, finite)
                some = finite.any(axis=1)
                low = np.where(some, np.where(finite, chunk, np.inf).min(axis=1), np.nan)
                high = np.where(some, np.where(finite, chunk, -np.inf).max(axis=1), np.nan)
            self.minimum = np.fmin(self.minimum, low)
            self.maximum = np.fmax(self.maximum, high)
        return self

    def _columns(self, batch: Any) -> Columns:
        columns = as_columns(batch, "Histogram.update", "batch")
        if columns.is_1d and self.n_features == 1:
            return columns
        if columns.n_features != self.n_features:
            raise DataError(
                f"The batch has {columns.n_features} columns but the Histogram has "
                f"{self.n_features} features; pass the same features it was fitted on."
            )
        if columns.matrix is None and columns.names != self.names:
            raise DataError(
                f"The batch's columns {list(columns.names)} differ from the Histogram's "
                f"features {list(self.names)}."
            )
        return columns

    def compatible(self, other: Histogram) -> bool:
        """Whether ``other`` has the same features, edges and scale (so they can merge).

        Parameters
        ----------
        other : Histogram

        Returns
        -------
        bool
        """
        return (
            self.names == other.names
            and self.edges.shape == other.edges.shape
            and bool(np.array_equal(self.edges, other.edges))
            and bool(np.array_equal(self.scale, other.scale, equal_nan=True))
        )

    def check_compatible(self, other: Any, owner: str) -> None:
        """Raise :class:`~edgeml.errors.DataError` unless ``other`` can merge with ``self``.

        Parameters
        ----------
        other : Histogram
        owner : str
            Name of the calling function, for the message.
        """
        if not isinstance(other, Histogram):
            raise DataError(f"{owner} needs a Histogram; got {type(other).__name__}.")
        if not self.compatible(other):
            raise DataError(
                f"{owner}: the two Histograms have different features, edges or scale; "
                "sketches combine only when made from the same reference "
                "(use reference_sketch.empty() on every device)."
            )

    @input_boundary("Histogram.merge")
    def merge(self, other: Histogram) -> Histogram:
        """Combine two sketches of the same reference into a new one.

        Parameters
        ----------
        other : Histogram
            Made from the same reference (same edges, scale and names).

        Returns
        -------
        Histogram
            Counts and non-finite counts added, minimum/maximum combined.

        Raises
        ------
        DataError
            When the sketches come from different references.

        Examples
        --------
        >>> base = Histogram.fit([0.0, 1.0, 2.0], bins=2).empty()
        >>> a, b = base.copy().update([0.1]), base.copy().update([1.9, 5.0])
        >>> a.merge(b).counts.tolist(), a.merge(b) == b.merge(a)
        ([[0, 1, 1, 1]], True)
        """
        self.check_compatible(other, "Histogram.merge")
        return Histogram(
            self.edges,
            self.counts + other.counts,
            minimum=np.fmin(self.minimum, other.minimum),
            maximum=np.fmax(self.maximum, other.maximum),
            nonfinite=self.nonfinite + other.nonfinite,
            scale=self.scale,
            names=self.names,
            is_1d=self.is_1d,
        )

    # ------------------------------------------------------------------ comparison
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return (
            self.compatible(other)
            and self.is_1d == other.is_1d
            and bool(np.array_equal(self.counts, other.counts))
            and bool(np.array_equal(self.nonfinite, other.nonfinite))
            and bool(np.array_equal(self.minimum, other.minimum, equal_nan=True))
            and bool(np.array_equal(self.maximum, other.maximum, equal_nan=True))
        )

    __hash__ = None  # type: ignore[assignment]  # mutable through update()

    def __repr__(self) -> str:
        return (
            f"Histogram(features={self.n_features}, bins={self.bins}, "
            f"total={int(self.total.sum())}, nonfinite={int(self.nonfinite.sum())})"
        )

    def _repr_html_(self) -> str:
        rows = [
            [
                name,
                *(int(v) for v in (self.total[j], self.counts[j, 0], self.counts[j, -1])),
                *(int(self.nonfinite[j]), self.minimum[j], self.maximum[j], self.scale[j]),
            ]
            for j, name in enumerate(self.names)
        ]
        headers = ["feature", "binned", "below edges", "above edges", "non-finite"]
        table = html_table(
            [*headers, "minimum", "maximum", "reference std"], rows, caption=repr(self)
        )
        return table + histogram_charts(self.names, self.edges.tolist(), self.counts.tolist())

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; :meth:`from_dict` restores an equal sketch.

        Returns
        -------
        dict

        Examples
        --------
        >>> h = Histogram.fit([1.0, 2.0], bins=2)
        >>> Histogram.from_dict(h.to_dict()) == h
        True
        """
        return encode_dict(self)

    @classmethod
    @input_boundary("Histogram.from_dict")
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        """Rebuild a sketch from :meth:`to_dict` output.

        Parameters
        ----------
        data : Mapping
            As produced by :meth:`to_dict` (``None`` stands for NaN).

        Returns
        -------
        Histogram

        Raises
        ------
        DataError
            When ``data`` is not a serialized Histogram.
        """
        return decode_dict(cls, data)

    def to_json(self) -> str:
        """Return the :meth:`to_dict` form as a JSON string.

        Returns
        -------
        str
        """
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    @input_boundary("Histogram.from_json")
    def from_json(cls, text: str | bytes) -> Histogram:
        """Rebuild a sketch from :meth:`to_json` output.

        Parameters
        ----------
        text : str or bytes

        Returns
        -------
        Histogram
        """
        return cls.from_dict(decode_json(text))

    def to_bytes(self) -> bytes:
        """Compact binary form (little-endian float64/int64 arrays after a JSON header).

        Returns
        -------
        bytes
            About ``8 * (2 * bins + 7)`` bytes per feature plus a short header.

        Examples
        --------
        >>> h = Histogram.fit(np.arange(100.0), bins=10)
        >>> len(h.to_bytes()) < 300, Histogram.from_bytes(h.to_bytes()) == h
        (True, True)
        """
        return encode_bytes(self)

    @classmethod
    @input_boundary("Histogram.from_bytes")
    def from_bytes(cls, payload: bytes) -> Histogram:
        """Rebuild a sketch from :meth:`to_bytes` output, validating its layout.

        Parameters
        ----------
        payload : bytes

        Returns
        -------
        Histogram

        Raises
        ------
        DataError
            When the bytes are not a complete serialized Histogram.
        """
        return decode_bytes(cls, payload)
