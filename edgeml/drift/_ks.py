"""Two-sample Kolmogorov-Smirnov test with scipy's exact and asymptotic p-values."""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from edgeml.drift import _kernels
from edgeml.drift._approx import ks_from_histograms
from edgeml.drift._binning import sketch_pair
from edgeml.drift._inputs import (
    as_columns,
    check_alpha,
    check_nan_policy,
    check_same_columns,
    input_boundary,
    sorted_blocks,
)
from edgeml.drift._kolmogorov import kolmogorov_sf
from edgeml.drift._result import DriftResult
from edgeml.drift._sketch import Histogram
from edgeml.errors import invalid_argument

__all__ = ["ks", "ks_pvalue", "ks_pvalues", "ks_result", "resolve_mode"]

logger = logging.getLogger("edgeml.drift")

#: Like scipy: ``method="auto"`` is exact when both samples have at most this many values.
EXACT_MAX_N = 10_000
#: Largest ``lcm(n, m)`` for which the exact distribution is computed (scipy's limit).
EXACT_MAX_LCM = np.iinfo(np.int32).max

KSMethod = Literal["auto", "exact", "asymp"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _exact_sf_equal(h: int, n: int) -> float:
    """P(D >= h/n) for two samples of size n, from the reflection principle.

    ``P = 2 * sum_k (-1)^(k+1) C(2n, n - k h) / C(2n, n)`` (Gnedenko & Korolyuk), written
    as ``2 A_1 (1 - A_2 (1 - A_3 (...)))`` with ``A_k`` the ratio of consecutive terms,
    each a product of ``h`` factors, so nothing overflows and no large terms cancel.
    """
    count = n // h
    k = np.arange(count)[:, None]  # term k + 1 uses r = k * h
    j = np.arange(h)[None, :]
    factors = (n - k * h - j) / (n + k * h + j + 1.0)
    ratios = np.exp(np.log(np.maximum(factors, 0.0)).sum(axis=1))
    total = 0.0
    for ratio in ratios[::-1]:
        total = float(ratio) * (1.0 - total)
    return float(min(1.0, max(0.0, 2.0 * total)))


def _exact_sf_paths(bounds: IntArray, n: int, m: int) -> FloatArray:
    """P(D >= d) for several bounds ``h*g`` at once, counting lattice paths (Hodges 1958).

    ``v(i, j)`` is the share of the monotone paths from (0, 0) to (i, j) that have touched
    ``|i*m - j*n| >= h*g`` (so ``v = 1`` outside the band). Then ``v(i, j) =
    (i*v(i-1, j) + j*v(i, j-1)) / (i + j)``: every value is a probability, nothing
    overflows, and small p-values keep full relative precision (no ``1 - x``
    cancellation). Anti-diagonals ``k = i + j`` are computed one at a time, each only
    over the union of the columns' bands.
    """
    total = n + m
    p = bounds.size
    v = np.ones((p, n + 2))  # v[:, i + 1] holds v(i, k - i) inside the band, 1 elsewhere
    v[:, 1] = 0.0
    done = np.zeros(p, dtype=bool)
    lo_prev, hi_prev = 0, 0
    for k in range(1, total + 1):
        # i*(n+m) - k*n strictly inside (-bound, bound), and 0 <= i <= n, 0 <= k-i <= m
        lo = np.maximum(max(0, k - m), (k * n - bounds) // total + 1)
        hi = np.minimum(min(n, k), -(-(k * n + bounds) // total) - 1)
        done |= lo > hi  # every path has left the band: P(D >= d) = 1
        if done.all():
            break
        if p == 1:
            low, high = int(lo[0]), int(hi[0])
        else:
            low, high = int(lo[~done].min()), int(hi[~done].max())
        i = np.arange(low, high + 1)
        new = (i * v[:, low : high + 1] + (k - i) * v[:, low + 1 : high + 2]) / k
        if p > 1:
            new[(i < lo[:, None]) | (i > hi[:, None])] = 1.0
        v[:, lo_prev + 1 : hi_prev + 2] = 1.0
        v[:, low + 1 : high + 2] = new
        lo_prev, hi_prev = low, high
    result: FloatArray = np.where(done, 1.0, np.clip(v[:, n + 1], 0.0, 1.0))
    return result


def _exact_sf_many(statistics: FloatArray, n: int, m: int) -> FloatArray:
    """Exact two-sided p-values of KS distances, rounded to the lattice like scipy."""
    g = math.gcd(n, m)
    lcm = (n // g) * m
    steps = np.rint(statistics * lcm).astype(np.int64)
    result = np.ones(statistics.size)
    if n == m:
        for index in np.flatnonzero(steps > 0):
            result[index] = _exact_sf_equal(int(steps[index]), n)
        return result
    # Columns with similar bands share one pass over the lattice (the band widths set
    # the work per diagonal; the number of passes sets the Python overhead).
    order = [int(c) for c in np.argsort(steps) if steps[c] > 0]
    while order:
        smallest = steps[order[0]]
        group = [c for c in order if steps[c] <= 2 * smallest]
        order = order[len(group) :]
        result[group] = _exact_sf_paths(steps[group] * g, n, m)
    return result


def resolve_mode(n: int, m: int, method: KSMethod) -> KSMethod:
    """Return the p-value mode scipy's ``ks_2samp`` would use (it also sets the rounding)."""
    if method == "auto":
        method = "exact" if max(n, m) <= EXACT_MAX_N else "asymp"
    if method == "exact" and (n // math.gcd(n, m)) * m > EXACT_MAX_LCM:
        logger.warning("ks: exact p-value impossible for sizes %d and %d; using asymp", n, m)
        method = "asymp"
    return method


def ks_pvalues(
    statistics: Any, n: int, m: int, method: KSMethod = "auto"
) -> tuple[FloatArray, str]:
    """Two-sided p-values of several KS distances for samples of sizes n and m.

    Parameters
    ----------
    statistics : array-like of float
        KS distances.
    n, m : int
        Sample sizes.
    method : {"auto", "exact", "asymp"}
        As in :func:`scipy.stats.ks_2samp`: ``"auto"`` is exact when both sizes are at most
        10,000; ``"exact"`` falls back to ``"asymp"`` (with a log warning) when
        ``lcm(n, m)`` exceeds scipy's limit. ``"asymp"`` is scipy's
        ``kstwo.sf(d, round(n*m/(n+m)))``, evaluated by
        :func:`~edgeml.drift._kolmogorov.kolmogorov_sf`: within a relative 1e-9 of
        scipy, in milliseconds where scipy takes up to a second per value.

    Returns
    -------
    tuple of (numpy.ndarray, str)
        The p-values (float64, never rounded down to float32) and the mode used.

    Examples
    --------
    >>> p, mode = ks_pvalues([0.5, 0.1], 10, 10)
    >>> p.round(6).tolist(), mode
    ([0.167821, 1.0], 'exact')
    """
    values = np.asarray(statistics, dtype=np.float64).reshape(-1)
    mode = resolve_mode(n, m, method)
    if mode == "exact":
        return _exact_sf_many(values, n, m), "exact"
    # scipy: kstwo.sf(d, round(en)) with en = n*m/(n+m) in floating point
    effective = int(np.round(float(n) * float(m) / (float(n) + float(m))))
    # n = m = 1 rounds to 0, where scipy returns NaN; one observation is what there is
    return kolmogorov_sf(values, max(1, effective)), "asymp"


def ks_pvalue(statistic: float, n: int, m: int, method: KSMethod = "auto") -> tuple[float, str]:
    """Two-sided p-value of one KS distance (see :func:`ks_pvalues`).

    Parameters
    ----------
    statistic : float
    n, m : int
    method : {"auto", "exact", "asymp"}

    Returns
    -------
    tuple of (float, str)

    Examples
    --------
    >>> p, mode = ks_pvalue(0.5, 10, 10)
    >>> round(p, 6), mode
    (0.167821, 'exact')
    """
    values, mode = ks_pvalues([statistic], n, m, method)
    return float(values[0]), mode


def ks_result(
    statistic: float,
    pvalue: float,
    alpha: float,
    sizes: tuple[int, int],
    mode: str,
    error_bound: float | None,
    feature: str | None,
) -> DriftResult:
    """One column's result; ``error_bound`` is None for exact (non-sketch) statistics."""
    return DriftResult(
        statistic,
        pvalue,
        threshold=alpha,
        drifted=pvalue < alpha,
        method="ks",
        details={
            "n_reference": sizes[0],
            "n_current": sizes[1],
            "mode": mode,
            "approximate": error_bound is not None,
            "error_bound": 0.0 if error_bound is None else error_bound,
        },
        feature=feature,
    )


def _ks_sketches(
    reference: Any, current: Any, alpha: float, method: KSMethod, nan_policy: str
) -> DriftResult | list[DriftResult]:
    ref_sketch, cur_sketch = sketch_pair("ks", reference, current, nan_policy)
    statistics, bounds = ks_from_histograms(ref_sketch, cur_sketch)
    results = []
    for j, name in enumerate(ref_sketch.names):
        n, m = int(ref_sketch.total[j]), int(cur_sketch.total[j])
        pvalue, mode = ks_pvalue(float(statistics[j]), n, m, method)
        feature = None if ref_sketch.is_1d else name
        results.append(
            ks_result(float(statistics[j]), pvalue, alpha, (n, m), mode, float(bounds[j]), feature)
        )
    return results[0] if ref_sketch.is_1d else results


@input_boundary("ks")
def ks(
    reference: Any,
    current: Any,
    *,
    alpha: float = 0.05,
    method: KSMethod = "auto",
    nan_policy: str = "raise",
    feature_names: Any = None,
) -> DriftResult | list[DriftResult]:
    """Two-sample Kolmogorov-Smirnov test, per column.

    The statistic is the float :func:`scipy.stats.ks_2samp` (two-sided) returns, bit for
    bit: in exact mode the correctly rounded fraction ``h / lcm(n, m)`` (``0.1``, not
    ``0.3 - 0.2``), in asymptotic mode the difference of the two rounded CDF values, as
    scipy. The p-value equals scipy's in exact mode (relative 1e-9; where scipy's own
    value is below about 1e-14 it can suffer cancellation and ours stays precise) and is
    within a relative 1e-9 of scipy's ``kstwo.sf`` in asymptotic mode, computed in
    milliseconds where scipy can take a second per column (see
    :mod:`edgeml.drift._kolmogorov`). Proved by ``tests/conformance/test_scipy_stats.py``
    (scipy's own ``TestKSTwoSamples`` values and a hypothesis differential test) and
    ``tests/drift/test_drift_kolmogorov.py``. Each column is sorted once and the
    statistic comes from a merge of the two sorted samples.

    Parameters
    ----------
    reference, current : array-like, dict of columns or pandas.DataFrame
        1-D (one feature) or 2-D (rows x features) numeric samples; columns must match.
    alpha : float, default 0.05
        Significance level; a column drifts when ``pvalue < alpha``. On very large
        samples tiny, harmless shifts are significant: prefer an effect size
        (:func:`psi`, :func:`wasserstein`) there.
    method : {"auto", "exact", "asymp"}, default "auto"
        p-value computation, as in scipy.
    nan_policy : {"raise", "omit"}, default "raise"
        ``"raise"`` names the column and counts its NaN/inf values; ``"omit"`` drops them.
    feature_names : sequence of str, optional
        Names for the columns of array input (a dict's keys or a DataFrame's columns
        are used otherwise).

    Returns
    -------
    DriftResult or list of DriftResult
        One result for 1-D input, one per column otherwise. ``details`` holds the
        sample sizes and the p-value mode.

    Raises
    ------
    DataError
        Empty or mismatched inputs, non-numeric columns, NaN/inf with ``"raise"``.
    ConfigError
        Invalid ``alpha``, ``method`` or ``nan_policy``.

    Notes
    -----
    Sketches (:class:`~edgeml.drift.Histogram`) are accepted: the statistic is then the
    lower bound from the bin edges and ``details["error_bound"]`` says how far above it
    the exact distance can be (see :func:`~edgeml.drift.ks_from_histograms`); the
    p-value is computed from that lower bound.

    Examples
    --------
    >>> import numpy as np
    >>> from edgeml.drift import ks
    >>> rng = np.random.default_rng(0)
    >>> statistic, pvalue = ks(rng.normal(size=500), rng.normal(0.5, size=500))
    >>> round(statistic, 3), pvalue < 1e-6
    (0.21, True)
    """
    check_alpha("ks", alpha)
    check_nan_policy("ks", nan_policy)
    if method not in ("auto", "exact", "asymp"):
        raise invalid_argument("ks", "method", method, "'auto', 'exact' or 'asymp'")
    if isinstance(reference, Histogram) or isinstance(current, Histogram):
        return _ks_sketches(reference, current, alpha, method, nan_policy)
    ref = as_columns(reference, "ks", "reference", feature_names)
    cur = as_columns(current, "ks", "current", feature_names)
    check_same_columns(ref, cur, "ks")
    results: list[DriftResult | None] = [None] * ref.n_features
    for columns, a, b in sorted_blocks(ref, cur, owner="ks", nan_policy=nan_policy):
        n, m = a.shape[1], b.shape[1]
        chosen = resolve_mode(n, m, method)
        statistics = _kernels.ks_statistic(a, b, lattice=chosen == "exact")
        pvalues, mode = ks_pvalues(statistics, n, m, chosen)
        for j, d, pvalue in zip(columns, statistics, pvalues.tolist(), strict=True):
            feature = None if ref.is_1d else ref.names[j]
            results[j] = ks_result(float(d), pvalue, alpha, (n, m), mode, None, feature)
    done = [r for r in results if r is not None]
    return done[0] if ref.is_1d else done
