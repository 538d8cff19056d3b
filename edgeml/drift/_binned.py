"""Tests on binned data: PSI, Jensen-Shannon distance and the chi-square test.

Binning (shared with :class:`~edgeml.drift.Histogram`): edges come from the *reference
only* (its minimum, its ``k / bins`` quantiles, its maximum), so the reference profile
never depends on the current data. Each feature gets ``bins + 2`` bins: values below the
reference minimum, the inner bins ``[e_k, e_k+1)`` (the last one closed) and values above
the reference maximum, so values outside the reference range are counted on their own
instead of being clipped into the tail bins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.drift import _kernels
from edgeml.drift._inputs import (
    Columns,
    as_columns,
    check_nan_policy,
    check_same_columns,
    sorted_blocks,
)
from edgeml.drift._result import DriftResult
from edgeml.drift._sketch import Histogram
from edgeml.errors import DataError, invalid_argument

__all__ = ["chi2", "js", "psi"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def _check_bins(owner: str, bins: Any) -> int:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise invalid_argument(owner, "bins", bins, "an integer >= 1", fix="use bins=10")
    return int(bins)


def _edge_rows(owner: str, edges: Any, p: int) -> FloatArray:
    given = np.array(edges, dtype=np.float64, ndmin=2)
    if (
        given.ndim != 2
        or given.shape[1] < 2
        or given.shape[0] not in (1, p)
        or not np.isfinite(given).all()
        or (np.diff(given, axis=1) < 0).any()
    ):
        raise invalid_argument(
            owner,
            "edges",
            edges,
            f"finite, non-decreasing edges: one row shared by all features or {p} rows",
        )
    return np.array(np.broadcast_to(given, (p, given.shape[1])))


def _sketch_counts(
    sketch: Histogram, other: Any, owner: str, nan_policy: str, role: str
) -> Histogram:
    """Count the other sample as a sketch with ``sketch``'s edges."""
    if isinstance(other, Histogram):
        sketch.check_compatible(other, owner)
        return other
    counted = sketch.empty().update(as_columns(other, owner, role))
    bad = np.flatnonzero(counted.nonfinite)
    if bad.size and nan_policy == "raise":
        j = int(bad[0])
        raise DataError(
            f"Column {sketch.names[j]!r} of {role} in {owner} has {counted.nonfinite[j]} NaN "
            "or infinite values. Fix: clean the data, or pass nan_policy='omit' to drop them."
        )
    return counted


def sketch_pair(
    owner: str, reference: Any, current: Any, nan_policy: str
) -> tuple[Histogram, Histogram]:
    """Both samples as sketches on the edges of the one that is a sketch."""
    if isinstance(reference, Histogram):
        pair = reference, _sketch_counts(reference, current, owner, nan_policy, "current")
    else:
        pair = _sketch_counts(current, reference, owner, nan_policy, "reference"), current
    for role, sketch in zip(("reference", "current"), pair, strict=True):
        empty = np.flatnonzero(sketch.total == 0)
        if empty.size:
            raise DataError(
                f"The {role} sketch has no values for feature {sketch.names[empty[0]]!r} "
                f"in {owner}; update it with data before testing."
            )
    return pair


class BinnedPair:
    """Counts of reference and current in the same bins, per feature."""

    def __init__(
        self,
        reference: IntArray,
        current: IntArray,
        names: Sequence[str],
        is_1d: bool,
        edges: FloatArray,
    ) -> None:
        self.reference, self.current = reference, current
        self.names, self.is_1d, self.edges = tuple(names), is_1d, edges
        for role, counts in (("reference", reference), ("current", current)):
            empty = np.flatnonzero(counts.sum(axis=1) == 0)
            if empty.size:
                raise DataError(
                    f"The {role} sketch has no values for feature {self.names[empty[0]]!r}; "
                    "update it with data before testing."
                )


def binned_pair(
    owner: str, reference: Any, current: Any, bins: Any, edges: Any, nan_policy: str
) -> BinnedPair:
    """Bin both samples with edges from the reference (or from a given sketch)."""
    check_nan_policy(owner, nan_policy)
    if isinstance(reference, Histogram) or isinstance(current, Histogram):
        ref_sketch, cur_sketch = sketch_pair(owner, reference, current, nan_policy)
        return BinnedPair(
            ref_sketch.counts,
            cur_sketch.counts,
            ref_sketch.names,
            ref_sketch.is_1d,
            ref_sketch.edges,
        )
    n_bins = _check_bins(owner, bins)
    ref = as_columns(reference, owner, "reference")
    cur = as_columns(current, owner, "current")
    check_same_columns(ref, cur, owner)
    p = ref.n_features
    fixed = None if edges is None else _edge_rows(owner, edges, p)
    width = (n_bins + 1) if fixed is None else fixed.shape[1]
    all_edges = np.empty((p, width))
    ref_counts = np.empty((p, width + 1), dtype=np.int64)
    cur_counts = np.empty((p, width + 1), dtype=np.int64)
    for columns, a, b in sorted_blocks(ref, cur, owner=owner, nan_policy=nan_policy):
        index = np.asarray(columns)
        block_edges = _kernels.quantile_edges(a, n_bins) if fixed is None else fixed[index]
        all_edges[index] = block_edges
        ref_counts[index] = _kernels.bin_counts_sorted(a, block_edges)
        cur_counts[index] = _kernels.bin_counts_sorted(b, block_edges)
    return BinnedPair(ref_counts, cur_counts, ref.names, ref.is_1d, all_edges)


def psi_from_counts(reference: IntArray, current: IntArray) -> FloatArray:
    """PSI per row of counts: ``sum((q - p) * ln(q / p))`` over bins.

    A bin that is empty in one sample gets half an observation of that sample
    (``0.5 / n``); a bin empty in both is skipped. Every term is >= 0.
    """
    n = reference.sum(axis=1, keepdims=True).astype(np.float64)
    m = current.sum(axis=1, keepdims=True).astype(np.float64)
    p = np.where(reference > 0, reference / n, 0.5 / n)
    q = np.where(current > 0, current / m, 0.5 / m)
    both_empty = (reference == 0) & (current == 0)
    terms = np.where(both_empty, 0.0, (q - p) * np.log(q / p))
    result: FloatArray = terms.sum(axis=1)
    return result


def js_from_counts(reference: IntArray, current: IntArray) -> FloatArray:
    """Jensen-Shannon *distance* with base-2 logarithms (so in [0, 1]) per row of counts."""
    p = reference / reference.sum(axis=1, keepdims=True)
    q = current / current.sum(axis=1, keepdims=True)
    mix = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / mix), 0.0).sum(axis=1)
        kl_q = np.where(q > 0, q * np.log2(q / mix), 0.0).sum(axis=1)
    divergence = np.clip((kl_p + kl_q) / 2.0, 0.0, 1.0)
    result: FloatArray = np.sqrt(divergence)
    return result


def chi2_from_counts(reference: IntArray, current: IntArray) -> tuple[float, float, int]:
    """Two-sample chi-square contingency test on one pair of count vectors.

    Categories with no observation in either sample are dropped; no continuity
    correction. Equal to ``scipy.stats.chi2_contingency([reference, current],
    correction=False)`` on the remaining categories.
    """
    from scipy.stats import chi2 as chi2_distribution

    keep = (reference + current) > 0
    table = np.array([reference[keep], current[keep]], dtype=np.float64)
    dof = int(table.shape[1] - 1)
    if dof == 0:
        return 0.0, 1.0, 0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return statistic, float(chi2_distribution.sf(statistic, dof)), dof


def _results(
    pair: BinnedPair,
    statistics: FloatArray,
    method: str,
    threshold: float,
    extra: dict[str, Any],
) -> DriftResult | list[DriftResult]:
    n = pair.reference.sum(axis=1)
    m = pair.current.sum(axis=1)
    results = [
        DriftResult(
            float(statistics[j]),
            None,
            threshold=threshold,
            drifted=bool(statistics[j] >= threshold),
            method=method,
            details={
                "bins": int(pair.edges.shape[1] - 1),
                "n_reference": int(n[j]),
                "n_current": int(m[j]),
                "edges": pair.edges[j].tolist(),
                "reference_counts": pair.reference[j].tolist(),
                "current_counts": pair.current[j].tolist(),
                **extra,
            },
            feature=None if pair.is_1d else pair.names[j],
        )
        for j in range(len(pair.names))
    ]
    return results[0] if pair.is_1d else results


def _check_threshold(owner: str, threshold: Any) -> float:
    if not isinstance(threshold, (int, float)) or not threshold > 0:
        raise invalid_argument(owner, "threshold", threshold, "a number > 0")
    return float(threshold)


def psi(
    reference: Any,
    current: Any,
    *,
    bins: int = 10,
    edges: Any = None,
    threshold: float = 0.2,
    nan_policy: str = "raise",
) -> DriftResult | list[DriftResult]:
    """Compute the population stability index (PSI), per column.

    ``PSI = sum_i (q_i - p_i) * ln(q_i / p_i)`` with ``p`` the reference and ``q`` the
    current share of each bin (see the module notes on binning). It is the symmetrized
    Kullback-Leibler divergence of the binned distributions, always >= 0, and 0 for
    identical bin shares.

    Empty bins: a bin with no value in one sample counts as half an observation of that
    sample (share ``0.5 / n``); a bin empty in both samples is skipped. This floor scales
    with the sample size: a fixed tiny epsilon (such as 1e-308) lets one empty tail bin
    dominate the sum, so unshifted columns can score higher than shifted ones.

    Thresholds: below 0.1 is usually read as "no significant change", 0.1-0.25 as
    "moderate", above 0.25 as "major". The default 0.2 flags clear moderate-to-major
    shifts. PSI has sampling noise of about ``(bins - 1) * (1/n + 1/m)`` without any
    drift, so very small samples need a higher threshold or fewer bins.

    Parameters
    ----------
    reference, current : array-like, dict of columns, pandas.DataFrame or Histogram
        1-D or 2-D (rows x features) numeric samples, or sketches made from the same
        reference (then ``bins`` and ``edges`` are taken from the sketch).
    bins : int, default 10
        Inner bins between reference quantiles.
    edges : array-like, optional
        Explicit inner edges instead of quantiles: 1-D for all features or one row per
        feature. Values outside them get the below/above bins.
    threshold : float, default 0.2
        A column drifts when ``psi >= threshold``.
    nan_policy : {"raise", "omit"}, default "raise"

    Returns
    -------
    DriftResult or list of DriftResult
        ``pvalue`` is ``None``; ``details`` holds the edges and both count vectors.

    Examples
    --------
    >>> import numpy as np
    >>> from edgeml.drift import psi
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=10_000)
    >>> round(psi(ref, rng.normal(size=10_000)).statistic, 4)
    0.0019
    >>> result = psi(ref, rng.normal(0.5, size=10_000))
    >>> round(result.statistic, 3), result.drifted
    (0.242, True)
    """
    limit = _check_threshold("psi", threshold)
    pair = binned_pair("psi", reference, current, bins, edges, nan_policy)
    statistics = psi_from_counts(pair.reference, pair.current)
    return _results(pair, statistics, "psi", limit, {"empty_bin_share": "0.5 / n"})


def js(
    reference: Any,
    current: Any,
    *,
    bins: int = 10,
    edges: Any = None,
    threshold: float = 0.1,
    nan_policy: str = "raise",
) -> DriftResult | list[DriftResult]:
    """Compute the Jensen-Shannon distance between the binned distributions, per column.

    This is the *distance* (the square root of the Jensen-Shannon divergence) with
    base-2 logarithms, so it lies in [0, 1]: 0 for identical bin shares, 1 for disjoint
    supports. It equals ``scipy.spatial.distance.jensenshannon(p, q, base=2)``. Empty
    bins need no floor (``0 * log 0 = 0``). Binning is the same as for :func:`psi`.

    Parameters
    ----------
    reference, current : array-like, dict of columns, pandas.DataFrame or Histogram
        As for :func:`psi`.
    bins : int, default 10
    edges : array-like, optional
    threshold : float, default 0.1
        A column drifts when ``distance >= threshold``.
    nan_policy : {"raise", "omit"}, default "raise"

    Returns
    -------
    DriftResult or list of DriftResult

    Examples
    --------
    >>> import numpy as np
    >>> from edgeml.drift import js
    >>> rng = np.random.default_rng(0)
    >>> round(js(rng.normal(size=5000), rng.normal(1.0, size=5000)).statistic, 3)
    0.401
    """
    limit = _check_threshold("js", threshold)
    pair = binned_pair("js", reference, current, bins, edges, nan_policy)
    statistics = js_from_counts(pair.reference, pair.current)
    return _results(pair, statistics, "js", limit, {"base": 2, "measure": "distance"})


def _categorical_kind(values: np.ndarray, role: str, name: str) -> str:
    kind = values.dtype.kind
    if kind in "biu":
        return "number"
    if kind == "f":
        return "number"
    if kind in "US":
        return "string"
    if kind == "O":
        kinds = {
            "string" if isinstance(v, str) else "number"
            for v in values
            if v is not None and not (isinstance(v, float) and np.isnan(v))
        }
        if len(kinds) > 1:
            raise DataError(
                f"Column {name!r} of {role} in chi2 mixes strings and numbers; use one type "
                "per categorical column (e.g. convert every category to str)."
            )
        return kinds.pop() if kinds else "number"
    raise DataError(f"Column {name!r} of {role} in chi2 has unsupported dtype {values.dtype}.")


def _missing(values: np.ndarray) -> NDArray[np.bool_]:
    if values.dtype.kind == "f":
        missing: NDArray[np.bool_] = ~np.isfinite(values)
        return missing
    if values.dtype.kind == "O":
        return np.array(
            [v is None or (isinstance(v, float) and not np.isfinite(v)) for v in values],
            dtype=bool,
        )
    return np.zeros(values.shape, dtype=bool)


def category_counts(
    reference: np.ndarray, current: np.ndarray, name: str, nan_policy: str
) -> tuple[list[Any], IntArray, IntArray]:
    """Count each category over the union of both samples' categories."""
    kinds = {
        _categorical_kind(reference, "reference", name),
        _categorical_kind(current, "current", name),
    }
    if len(kinds) > 1:
        raise DataError(
            f"Column {name!r} holds strings in one sample and numbers in the other in chi2; "
            "categories must have the same type in reference and current."
        )
    cleaned = []
    for role, values in (("reference", reference), ("current", current)):
        missing = _missing(values)
        if missing.any():
            if nan_policy == "raise":
                raise DataError(
                    f"Column {name!r} of {role} in chi2 has {int(missing.sum())} missing "
                    f"values (of {values.size}). Fix: clean the data, or pass "
                    "nan_policy='omit' to drop them."
                )
            values = values[~missing]
        if values.size == 0:
            raise DataError(f"Column {name!r} of {role} in chi2 has no values.")
        cleaned.append(
            values
            if values.dtype.kind != "O"
            else values.astype(str if "string" in kinds else float)
        )
    pooled = np.concatenate(cleaned)
    categories, inverse = np.unique(pooled, return_inverse=True)
    n = cleaned[0].size
    ref_counts = np.bincount(inverse[:n], minlength=categories.size).astype(np.int64)
    cur_counts = np.bincount(inverse[n:], minlength=categories.size).astype(np.int64)
    return categories.tolist(), ref_counts, cur_counts


def chi2(
    reference: Any,
    current: Any,
    *,
    alpha: float = 0.05,
    nan_policy: str = "raise",
) -> DriftResult | list[DriftResult]:
    """Test categorical columns (or sketches) with a two-sample chi-square test.

    The test of homogeneity builds the 2 x k contingency table of category counts over
    the union of both samples' categories (so categories never seen in the reference
    count too) and tests whether both samples come from the same distribution, without
    continuity correction:
    ``scipy.stats.chi2_contingency([ref_counts, cur_counts], correction=False)``. This
    is the two-sample test; treating reference shares as exact (a goodness-of-fit test)
    would roughly double the statistic for equal sample sizes and flag unshifted columns.

    A column with a single category in both samples has statistic 0 and p-value 1.
    Columns are handled one at a time (categories differ per column).

    Parameters
    ----------
    reference, current : array-like, dict of columns, pandas.DataFrame or Histogram
        Categories as integers, booleans or strings (one type per column), 1-D or 2-D;
        or sketches, whose bin counts are then the categories.
    alpha : float, default 0.05
        A column drifts when ``pvalue < alpha``.
    nan_policy : {"raise", "omit"}, default "raise"
        Missing values are NaN or ``None``.

    Returns
    -------
    DriftResult or list of DriftResult
        ``details`` holds the categories, both count vectors and the degrees of freedom.

    Examples
    --------
    >>> from edgeml.drift import chi2
    >>> ref = ["a"] * 50 + ["b"] * 50
    >>> cur = ["a"] * 30 + ["b"] * 60 + ["c"] * 10
    >>> result = chi2(ref, cur)
    >>> round(result.statistic, 3), result.details["categories"], result.drifted
    (15.909, ['a', 'b', 'c'], True)
    """
    if not isinstance(alpha, float) or not 0.0 < alpha < 1.0:
        raise invalid_argument("chi2", "alpha", alpha, "a float in the range (0, 1)")
    check_nan_policy("chi2", nan_policy)
    if isinstance(reference, Histogram) or isinstance(current, Histogram):
        pair = binned_pair("chi2", reference, current, 10, None, nan_policy)
        names, is_1d = pair.names, pair.is_1d
        tables = [
            (list(range(pair.reference.shape[1])), pair.reference[j], pair.current[j])
            for j in range(len(names))
        ]
    else:
        ref: Columns = as_columns(reference, "chi2", "reference")
        cur: Columns = as_columns(current, "chi2", "current")
        check_same_columns(ref, cur, "chi2")
        names, is_1d = ref.names, ref.is_1d
        tables = [
            category_counts(np.asarray(a), np.asarray(b), name, nan_policy)
            for a, b, name in zip(ref.arrays, cur.arrays, names, strict=True)
        ]
    results = []
    for name, (categories, ref_counts, cur_counts) in zip(names, tables, strict=True):
        statistic, pvalue, dof = chi2_from_counts(ref_counts, cur_counts)
        results.append(
            DriftResult(
                statistic,
                pvalue,
                threshold=alpha,
                drifted=pvalue < alpha,
                method="chi2",
                details={
                    "categories": categories,
                    "reference_counts": ref_counts.tolist(),
                    "current_counts": cur_counts.tolist(),
                    "dof": dof,
                },
                feature=None if is_1d else name,
            )
        )
    return results[0] if is_1d else results
