"""``compare``: every feature of two tables at once, with corrected decisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.drift import _kernels
from edgeml.drift._chi2 import category_counts, chi2_result
from edgeml.drift._drift_report import DriftReport, FeatureDrift
from edgeml.drift._inputs import (
    MAX_BINS,
    Columns,
    as_columns,
    check_alpha,
    check_bins,
    check_finite,
    check_nan_policy,
    check_same_columns,
    check_size,
    input_boundary,
    real_array,
    sorted_blocks,
)
from edgeml.drift._js import js_from_counts
from edgeml.drift._ks import ks_pvalues, ks_result, resolve_mode
from edgeml.drift._psi import psi_from_counts
from edgeml.drift._result import DriftResult
from edgeml.drift._wasserstein import normalized
from edgeml.errors import DataError, invalid_argument

__all__ = ["DriftReport", "FeatureDrift", "compare"]

NUMERIC_METHODS = ("psi", "js", "wasserstein", "ks")
CATEGORICAL_METHODS = ("chi2",)
PVALUE_METHODS = frozenset({"ks", "chi2"})
DEFAULT_THRESHOLDS = {"psi": 0.2, "js": 0.1, "wasserstein": 0.1}
CORRECTIONS = ("bh", "bonferroni", None)

FloatArray = NDArray[np.float64]


@input_boundary("adjust_pvalues")
def adjust_pvalues(pvalues: Sequence[float], method: str | None) -> FloatArray:
    """Adjust p-values for multiple testing.

    Parameters
    ----------
    pvalues : sequence of float
    method : {"bh", "bonferroni"} or None
        Benjamini-Hochberg step-up (false discovery rate) or Bonferroni (family-wise).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order; for BH equal to
        ``scipy.stats.false_discovery_control(p)`` and R's ``p.adjust(p, "BH")`` (relative
        1e-12; ``tests/conformance/test_scipy_stats.py``).

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03, 0.2], "bh").round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    >>> adjust_pvalues([0.01, 0.04], "bonferroni").tolist()
    [0.02, 0.08]
    """
    if method not in CORRECTIONS:
        raise invalid_argument("adjust_pvalues", "method", method, "'bh', 'bonferroni' or None")
    p = real_array(pvalues, "adjust_pvalues", "pvalues")
    if p.ndim != 1 or not ((p >= 0.0) & (p <= 1.0)).all():
        raise DataError("adjust_pvalues needs a 1-D sequence of p-values in [0, 1].")
    if method is None or p.size == 0:
        return p.copy()
    if method == "bonferroni":
        adjusted: FloatArray = np.minimum(1.0, p * p.size)
        return adjusted
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    result = np.empty_like(p)
    result[order] = np.minimum(1.0, ranked)
    return result


def _column_kind(array: np.ndarray) -> str:
    kind = array.dtype.kind
    if kind in "iuf":
        return "numeric"
    if kind == "O":
        sample = [v for v in array[:1000] if v is not None]
        if sample and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sample):
            return "numeric"
    return "categorical"


def _check_methods(name: str, methods: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    chosen = (methods,) if isinstance(methods, str) else tuple(methods)
    if not chosen or any(m not in allowed for m in chosen) or len(set(chosen)) != len(chosen):
        raise invalid_argument(
            "compare", name, methods, f"one or more distinct names among {list(allowed)}"
        )
    return chosen


def _numeric_results(
    ref: Columns,
    cur: Columns,
    indices: list[int],
    methods: Mapping[int, tuple[str, ...]],
    bins: int,
    thresholds: Mapping[str, float],
    nan_policy: str,
) -> dict[int, list[DriftResult]]:
    """Every requested statistic for the numeric columns, each column sorted once."""
    needed = {m for j in indices for m in methods[j]}
    out: dict[int, list[DriftResult]] = {}
    for columns, a, b in sorted_blocks(
        ref, cur, owner="compare", nan_policy=nan_policy, indices=indices
    ):
        n, m = a.shape[1], b.shape[1]
        stats: dict[str, FloatArray] = {}
        extra: dict[str, Any] = {}
        # Counted for every column (a search per edge): PSI and JS need them and the
        # report keeps them on the deciding result for its distribution plots.
        edges = _kernels.quantile_edges(a, bins)
        ref_counts = _kernels.bin_counts_sorted(a, edges)
        cur_counts = _kernels.bin_counts_sorted(b, edges)
        if needed & {"psi", "js"}:
            if "psi" in needed:
                stats["psi"] = psi_from_counts(ref_counts, cur_counts)
            if "js" in needed:
                stats["js"] = js_from_counts(ref_counts, cur_counts)
        if "wasserstein" in needed:
            with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                distance = _kernels.wasserstein_distance(a, b)
                scale = _kernels.row_std(a)
            fix = "rescale the features (e.g. to standard units) before testing"
            check_finite("compare", "a Wasserstein distance", distance, fix)
            check_finite("compare", "a reference standard deviation", scale, fix)
            stats["wasserstein"] = normalized(distance, scale)
            extra["wasserstein"] = (distance, scale)
        if "ks" in needed:
            chosen = resolve_mode(n, m, "auto")
            stats["ks"] = _kernels.ks_statistic(a, b, lattice=chosen == "exact")
            ks_p, ks_mode = ks_pvalues(stats["ks"], n, m, chosen)
        for row, j in enumerate(columns):
            results = []
            for method in methods[j]:
                value = float(stats[method][row])
                if method == "ks":
                    pvalue = float(ks_p[row])
                    alpha = thresholds["alpha"]
                    results.append(
                        ks_result(value, pvalue, alpha, (n, m), ks_mode, None, ref.names[j])
                    )
                    continue
                details: dict[str, Any] = {"n_reference": n, "n_current": m}
                if method in ("psi", "js"):
                    details["bins"] = bins
                if method == "wasserstein":
                    distance, scale = extra["wasserstein"]
                    details.update(
                        distance=float(distance[row]), scale=float(scale[row]), normalized=True
                    )
                limit = thresholds[method]
                results.append(
                    DriftResult(value, None, limit, value >= limit, method, details, ref.names[j])
                )
            bin_counts = {
                "edges": edges[row].tolist(),
                "reference_counts": ref_counts[row].tolist(),
                "current_counts": cur_counts[row].tolist(),
            }
            results[0] = replace(results[0], details={**results[0].details, **bin_counts})
            out[j] = results
    return out


def _categorical_result(
    ref: Columns, cur: Columns, j: int, alpha: float, nan_policy: str
) -> DriftResult:
    categories, ref_counts, cur_counts = category_counts(
        np.asarray(ref.arrays[j]), np.asarray(cur.arrays[j]), ref.names[j], nan_policy
    )
    return chi2_result(categories, ref_counts, cur_counts, alpha, ref.names[j])


@input_boundary("compare")
def compare(
    reference: Any,
    current: Any,
    *,
    numeric: str | Sequence[str] = "psi",
    categorical: str | Sequence[str] = "chi2",
    tests: Mapping[str, str | Sequence[str]] | None = None,
    categorical_features: Sequence[str] = (),
    thresholds: Mapping[str, float] | None = None,
    bins: int = 10,
    alpha: float = 0.05,
    correction: str | None = "bh",
    drift_share: float = 0.5,
    nan_policy: str = "raise",
    feature_names: Sequence[str] | None = None,
) -> DriftReport:
    """Test every feature of two tables and give one corrected dataset verdict.

    Numeric columns get ``numeric`` (default PSI), categorical columns (strings, booleans,
    objects, or names in ``categorical_features``) get ``categorical`` (chi-square).
    Effect sizes are the default because on large samples p-values flag even harmless
    shifts. When several methods are listed, the first decides and the others are
    reported alongside. All numeric statistics come from one sort per column, for all
    columns of a block at once.

    Parameters
    ----------
    reference, current : numpy array (rows x features), dict of columns or pandas.DataFrame
        Same columns in both.
    numeric : str or sequence of str, default "psi"
        Among ``"psi"``, ``"js"``, ``"wasserstein"`` (normalized by the reference
        standard deviation) and ``"ks"``.
    categorical : str or sequence of str, default "chi2"
    tests : mapping of column name to method(s), optional
        Per-column overrides.
    categorical_features : sequence of str, optional
        Numeric columns to treat as categories (e.g. integer codes).
    thresholds : mapping, optional
        Effect-size thresholds by method; defaults psi 0.2, js 0.1, wasserstein 0.1.
    bins : int, default 10
        Reference-quantile bins for PSI and JS.
    alpha : float, default 0.05
        Level for p-value tests after correction.
    correction : {"bh", "bonferroni"} or None, default "bh"
        Multiple-testing correction over the report's deciding p-value tests; the same
        corrected flags decide each feature and the dataset verdict.
    drift_share : float, default 0.5
        The dataset drifted when at least this fraction of features drifted.
    nan_policy : {"raise", "omit"}, default "raise"
    feature_names : sequence of str, optional
        Names for the columns of array input, used everywhere in the report (a dict's
        keys or a DataFrame's column names are kept otherwise).

    Returns
    -------
    DriftReport

    Raises
    ------
    DataError
        Mismatched columns, empty data, NaN with ``"raise"``, mixed category types.
    ConfigError
        Unknown methods or invalid settings.

    Examples
    --------
    >>> import numpy as np
    >>> from edgeml.drift import compare
    >>> rng = np.random.default_rng(0)
    >>> ref = {"age": rng.normal(40, 10, 2000), "city": rng.choice(["a", "b"], 2000)}
    >>> cur = {"age": rng.normal(48, 10, 2000), "city": rng.choice(["a", "b"], 2000)}
    >>> report = compare(ref, cur)
    >>> report.drifted_features, report.share, report.drifted
    (['age'], 0.5, True)
    """
    if correction not in CORRECTIONS:
        raise invalid_argument("compare", "correction", correction, "'bh', 'bonferroni' or None")
    check_alpha("compare", alpha)
    if not isinstance(drift_share, (int, float)) or not 0.0 < drift_share <= 1.0:
        raise invalid_argument("compare", "drift_share", drift_share, "a number in (0, 1]")
    check_size("compare", "bins", bins, minimum=2, maximum=MAX_BINS, fix="use bins=10")
    check_nan_policy("compare", nan_policy)
    numeric_methods = _check_methods("numeric", numeric, NUMERIC_METHODS)
    categorical_methods = _check_methods("categorical", categorical, CATEGORICAL_METHODS)
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {}), "alpha": alpha}
    if any(not isinstance(v, (int, float)) or v <= 0 for v in limits.values()):
        raise invalid_argument("compare", "thresholds", thresholds, "positive numbers")
    ref = as_columns(reference, "compare", "reference", feature_names)
    cur = as_columns(current, "compare", "current", feature_names)
    check_same_columns(ref, cur, "compare")
    check_bins("compare", bins, ref.n_features)
    unknown = sorted((set(tests or {}) | set(categorical_features)) - set(ref.names))
    if unknown:
        raise DataError(f"compare: no column named {unknown} in the data.")
    overrides = {
        k: _check_methods(f"tests[{k!r}]", v, NUMERIC_METHODS + CATEGORICAL_METHODS)
        for k, v in (tests or {}).items()
    }
    kinds: list[str] = []
    methods: dict[int, tuple[str, ...]] = {}
    for j, name in enumerate(ref.names):
        kind = _column_kind(np.asarray(ref.arrays[j]))
        if name in categorical_features:
            kind = "categorical"
        kinds.append(kind)
        chosen = overrides.get(name, numeric_methods if kind == "numeric" else categorical_methods)
        if kind == "categorical" and any(m != "chi2" for m in chosen):
            raise invalid_argument(
                "compare", f"tests[{name!r}]", chosen, "'chi2' for a categorical column"
            )
        if kind == "numeric" and "chi2" in chosen:
            kind = "categorical"
            kinds[-1] = kind
            chosen = ("chi2",)
        methods[j] = chosen
    numeric_columns = [j for j, kind in enumerate(kinds) if kind == "numeric"]
    by_column: dict[int, list[DriftResult]] = {}
    if numeric_columns:
        by_column.update(
            _numeric_results(ref, cur, numeric_columns, methods, bins, limits, nan_policy)
        )
    for j, kind in enumerate(kinds):
        if kind == "categorical":
            by_column[j] = [_categorical_result(ref, cur, j, alpha, nan_policy)]
    deciding = [by_column[j][0] for j in range(ref.n_features)]
    tested = [j for j, r in enumerate(deciding) if r.pvalue is not None]
    adjusted = adjust_pvalues([deciding[j].pvalue for j in tested], correction)  # type: ignore[misc]
    adjusted_by_column = dict(zip(tested, adjusted.tolist(), strict=True))
    features = []
    for j, name in enumerate(ref.names):
        result = deciding[j]
        p_adj = adjusted_by_column.get(j)
        if p_adj is not None:
            details = {**result.details, "pvalue_adjusted": p_adj, "correction": correction}
            result = replace(result, drifted=p_adj < alpha, details=details)
        features.append(FeatureDrift(name, kinds[j], result, tuple(by_column[j][1:]), p_adj))
    return DriftReport(
        features=tuple(features),
        correction=correction,
        alpha=alpha,
        drift_share=float(drift_share),
        n_reference=len(ref.arrays[0]),
        n_current=len(cur.arrays[0]),
        settings={
            "numeric": list(numeric_methods),
            "categorical": list(categorical_methods),
            "bins": bins,
            "thresholds": dict(limits),
        },
    )
