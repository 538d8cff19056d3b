"""Two-sample Kolmogorov-Smirnov test with scipy's exact and asymptotic p-values."""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import numpy as np

from edgeml.drift import _kernels
from edgeml.drift._approx import ks_from_histograms
from edgeml.drift._binned import sketch_pair
from edgeml.drift._inputs import as_columns, check_same_columns, sorted_blocks
from edgeml.drift._result import DriftResult
from edgeml.drift._sketch import Histogram
from edgeml.errors import invalid_argument

__all__ = ["ks", "ks_pvalue"]

logger = logging.getLogger("edgeml.drift")

#: Like scipy: ``method="auto"`` is exact when both samples have at most this many values.
EXACT_MAX_N = 10_000
#: Largest ``lcm(n, m)`` for which the exact distribution is computed (scipy's limit).
EXACT_MAX_LCM = np.iinfo(np.int32).max

KSMethod = Literal["auto", "exact", "asymp"]


def _exact_sf(d: float, n: int, m: int) -> float:
    """P(D >= d) under H0 by counting lattice paths that leave the band (Hodges 1958).

    ``v(i, j)`` is the share of the monotone paths from (0, 0) to (i, j) that have touched
    ``|i*m - j*n| >= h*g`` (so ``v = 1`` outside the band). Then ``v(i, j) =
    (i*v(i-1, j) + j*v(i, j-1)) / (i + j)``: every value is a probability, nothing
    overflows, and small p-values keep full relative precision (no ``1 - x``
    cancellation). Anti-diagonals ``k = i + j`` are computed one at a time, each only
    over the band, so the cost is about ``(n + m)`` times the band width.
    """
    g = math.gcd(n, m)
    lcm = (n // g) * m
    h = round(d * lcm)
    if h == 0:
        return 1.0
    bound = h * g  # inside while |i*m - j*n| < bound
    total = n + m
    v = np.ones(n + 2)  # v[i + 1] holds v(i, k - i) inside the band, 1 elsewhere
    v[1] = 0.0
    lo_prev, hi_prev = 0, 0
    for k in range(1, total + 1):
        # i*(n+m) - k*n strictly inside (-bound, bound), and 0 <= i <= n, 0 <= k-i <= m
        lo = max(0, k - m, (k * n - bound) // total + 1)
        hi = min(n, k, -(-(k * n + bound) // total) - 1)
        if lo > hi:
            return 1.0
        i = np.arange(lo, hi + 1)
        new = (i * v[i] + (k - i) * v[i + 1]) / k
        v[lo_prev + 1 : hi_prev + 2] = 1.0
        v[lo + 1 : hi + 2] = new
        lo_prev, hi_prev = lo, hi
    return float(min(1.0, max(0.0, v[n + 1])))


def ks_pvalue(statistic: float, n: int, m: int, method: KSMethod = "auto") -> tuple[float, str]:
    """Two-sided p-value of the KS distance ``statistic`` for samples of sizes n and m.

    Parameters
    ----------
    statistic : float
        The KS distance.
    n, m : int
        Sample sizes.
    method : {"auto", "exact", "asymp"}
        As in :func:`scipy.stats.ks_2samp`: ``"auto"`` is exact when both sizes are at most
        10,000; ``"exact"`` falls back to ``"asymp"`` (with a log warning) when
        ``lcm(n, m)`` exceeds scipy's limit.

    Returns
    -------
    tuple of (float, str)
        The p-value (float64, never rounded down to float32) and the mode used.

    Examples
    --------
    >>> p, mode = ks_pvalue(0.5, 10, 10)
    >>> round(p, 6), mode
    (0.167821, 'exact')
    """
    if method == "auto":
        method = "exact" if max(n, m) <= EXACT_MAX_N else "asymp"
    if method == "exact" and (n // math.gcd(n, m)) * m > EXACT_MAX_LCM:
        logger.warning("ks: exact p-value impossible for sizes %d and %d; using asymp", n, m)
        method = "asymp"
    if method == "exact":
        return _exact_sf(statistic, n, m), "exact"
    from scipy.stats import kstwo

    effective = round(n * m / (n + m))
    return float(np.clip(kstwo.sf(statistic, effective), 0.0, 1.0)), "asymp"


def _ks_sketches(
    reference: Any, current: Any, alpha: float, method: KSMethod, nan_policy: str
) -> DriftResult | list[DriftResult]:
    ref_sketch, cur_sketch = sketch_pair("ks", reference, current, nan_policy)
    statistics, bounds = ks_from_histograms(ref_sketch, cur_sketch)
    results = []
    for j, name in enumerate(ref_sketch.names):
        n, m = int(ref_sketch.total[j]), int(cur_sketch.total[j])
        pvalue, mode = ks_pvalue(float(statistics[j]), n, m, method)
        results.append(
            DriftResult(
                float(statistics[j]),
                pvalue,
                threshold=alpha,
                drifted=pvalue < alpha,
                method="ks",
                details={
                    "n_reference": n,
                    "n_current": m,
                    "mode": mode,
                    "approximate": True,
                    "error_bound": float(bounds[j]),
                },
                feature=None if ref_sketch.is_1d else name,
            )
        )
    return results[0] if ref_sketch.is_1d else results


def ks(
    reference: Any,
    current: Any,
    *,
    alpha: float = 0.05,
    method: KSMethod = "auto",
    nan_policy: str = "raise",
) -> DriftResult | list[DriftResult]:
    """Two-sample Kolmogorov-Smirnov test, per column.

    Statistic and p-value agree with :func:`scipy.stats.ks_2samp` (two-sided) in its
    exact and asymptotic modes. Each column is sorted once and the statistic comes from
    a linear merge of the two sorted samples, for all columns of a block at once.

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

    Sketches (:class:`~edgeml.drift.Histogram`) are accepted: the statistic is then the
    lower bound from the bin edges and ``details["error_bound"]`` says how far above it
    the exact distance can be (see :func:`~edgeml.drift.ks_from_histograms`); the
    p-value is computed from that lower bound.

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

    Examples
    --------
    >>> import numpy as np
    >>> from edgeml.drift import ks
    >>> rng = np.random.default_rng(0)
    >>> statistic, pvalue = ks(rng.normal(size=500), rng.normal(0.5, size=500))
    >>> round(statistic, 3), pvalue < 1e-6
    (0.21, True)
    """
    if not 0.0 < alpha < 1.0:
        raise invalid_argument("ks", "alpha", alpha, "a float in the range (0, 1)")
    if method not in ("auto", "exact", "asymp"):
        raise invalid_argument("ks", "method", method, "'auto', 'exact' or 'asymp'")
    if isinstance(reference, Histogram) or isinstance(current, Histogram):
        return _ks_sketches(reference, current, alpha, method, nan_policy)
    ref = as_columns(reference, "ks", "reference")
    cur = as_columns(current, "ks", "current")
    check_same_columns(ref, cur, "ks")
    results: list[DriftResult | None] = [None] * ref.n_features
    for columns, a, b in sorted_blocks(ref, cur, owner="ks", nan_policy=nan_policy):
        statistics = _kernels.ks_statistic(a, b)
        n, m = a.shape[1], b.shape[1]
        for j, d in zip(columns, statistics, strict=True):
            pvalue, mode = ks_pvalue(float(d), n, m, method)
            results[j] = DriftResult(
                float(d),
                pvalue,
                threshold=alpha,
                drifted=pvalue < alpha,
                method="ks",
                details={
                    "n_reference": n,
                    "n_current": m,
                    "mode": mode,
                    "approximate": False,
                    "error_bound": 0.0,
                },
                feature=None if ref.is_1d else ref.names[j],
            )
    done = [r for r in results if r is not None]
    return done[0] if ref.is_1d else done
