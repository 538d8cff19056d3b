"""Two-sample chi-square test of homogeneity for categories (or sketch bins)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.drift._binning import binned_pair
from edgeml.drift._inputs import (
    MAX_CATEGORIES,
    Columns,
    as_columns,
    check_alpha,
    check_nan_policy,
    check_same_columns,
    input_boundary,
)
from edgeml.drift._result import DriftResult
from edgeml.drift._sketch import Histogram
from edgeml.errors import DataError

__all__ = ["category_counts", "chi2", "chi2_from_counts", "chi2_result"]

IntArray = NDArray[np.int64]


def chi2_from_counts(reference: IntArray, current: IntArray) -> tuple[float, float, int]:
    """Two-sample chi-square contingency test on one pair of count vectors.

    Categories with no observation in either sample are dropped; no continuity
    correction. Equal to ``scipy.stats.chi2_contingency([reference, current],
    correction=False)`` on the remaining categories (statistic to 1e-12, p-value to
    1e-10 relative; ``tests/conformance/test_scipy_stats.py``).
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


def _categorical_kind(values: np.ndarray, role: str, name: str) -> str:
    kind = values.dtype.kind
    if kind in "biuf":
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
    if categories.size > MAX_CATEGORIES:
        raise DataError(
            f"Column {name!r} has {categories.size:,} distinct categories in chi2 (at most "
            f"{MAX_CATEGORIES:,}). Fix: bin a numeric column (psi, ks) or group rare "
            "categories first."
        )
    n = cleaned[0].size
    ref_counts = np.bincount(inverse[:n], minlength=categories.size).astype(np.int64)
    cur_counts = np.bincount(inverse[n:], minlength=categories.size).astype(np.int64)
    return categories.tolist(), ref_counts, cur_counts


def chi2_result(
    categories: list[Any],
    reference: IntArray,
    current: IntArray,
    alpha: float,
    feature: str | None,
) -> DriftResult:
    """One column's test as a :class:`DriftResult` (shared by :func:`chi2` and reports)."""
    statistic, pvalue, dof = chi2_from_counts(reference, current)
    return DriftResult(
        statistic,
        pvalue,
        threshold=alpha,
        drifted=pvalue < alpha,
        method="chi2",
        details={
            "categories": categories,
            "reference_counts": reference.tolist(),
            "current_counts": current.tolist(),
            "dof": dof,
        },
        feature=feature,
    )


@input_boundary("chi2")
def chi2(
    reference: Any,
    current: Any,
    *,
    alpha: float = 0.05,
    nan_policy: str = "raise",
    feature_names: Any = None,
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
    feature_names : sequence of str, optional
        Names for the columns of array input (a dict's keys or a DataFrame's columns
        are used otherwise).

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
    check_alpha("chi2", alpha)
    check_nan_policy("chi2", nan_policy)
    if isinstance(reference, Histogram) or isinstance(current, Histogram):
        pair = binned_pair("chi2", reference, current, 10, None, nan_policy)
        names, is_1d = pair.names, pair.is_1d
        tables = [
            (list(range(pair.reference.shape[1])), pair.reference[j], pair.current[j])
            for j in range(len(names))
        ]
    else:
        ref: Columns = as_columns(reference, "chi2", "reference", feature_names)
        cur: Columns = as_columns(current, "chi2", "current", feature_names)
        check_same_columns(ref, cur, "chi2")
        names, is_1d = ref.names, ref.is_1d
        tables = [
            category_counts(np.asarray(a), np.asarray(b), name, nan_policy)
            for a, b, name in zip(ref.arrays, cur.arrays, names, strict=True)
        ]
    results = [
        chi2_result(categories, ref_counts, cur_counts, alpha, None if is_1d else name)
        for name, (categories, ref_counts, cur_counts) in zip(names, tables, strict=True)
    ]
    return results[0] if is_1d else results
