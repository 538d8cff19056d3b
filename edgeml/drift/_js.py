"""Jensen-Shannon distance (base 2) between binned distributions or sketches."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.drift._binning import binned_pair, check_threshold, effect_size_results
from edgeml.drift._inputs import input_boundary
from edgeml.drift._result import DriftResult

__all__ = ["js", "js_from_counts"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


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


@input_boundary("js")
def js(
    reference: Any,
    current: Any,
    *,
    bins: int = 10,
    edges: Any = None,
    threshold: float = 0.1,
    nan_policy: str = "raise",
    feature_names: Any = None,
) -> DriftResult | list[DriftResult]:
    """Compute the Jensen-Shannon distance between the binned distributions, per column.

    This is the *distance* (the square root of the Jensen-Shannon divergence) with
    base-2 logarithms, so it lies in [0, 1]: 0 for identical bin shares, 1 for disjoint
    supports. It equals ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` (relative
    1e-9; ``tests/conformance/test_scipy_stats.py``, with scipy's own test values). Empty
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
    feature_names : sequence of str, optional
        Names for the columns of array input (a dict's keys or a DataFrame's columns
        are used otherwise).

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
    limit = check_threshold("js", threshold)
    pair = binned_pair("js", reference, current, bins, edges, nan_policy, feature_names)
    statistics = js_from_counts(pair.reference, pair.current)
    return effect_size_results(pair, statistics, "js", limit, {"base": 2, "measure": "distance"})
