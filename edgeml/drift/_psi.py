"""Population stability index (PSI) on reference-quantile bins or sketches."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.drift._binning import binned_pair, check_threshold, effect_size_results
from edgeml.drift._inputs import input_boundary
from edgeml.drift._result import DriftResult

__all__ = ["psi", "psi_from_counts"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


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


@input_boundary("psi")
def psi(
    reference: Any,
    current: Any,
    *,
    bins: int = 10,
    edges: Any = None,
    threshold: float = 0.2,
    nan_policy: str = "raise",
    feature_names: Any = None,
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
        Inner bins between reference quantiles, 2 to 100,000 (checked before any
        allocation).
    edges : array-like, optional
        Explicit inner edges instead of quantiles: 1-D for all features or one row per
        feature. Values outside them get the below/above bins.
    threshold : float, default 0.2
        A column drifts when ``psi >= threshold``.
    nan_policy : {"raise", "omit"}, default "raise"
    feature_names : sequence of str, optional
        Names for the columns of array input (a dict's keys or a DataFrame's columns
        are used otherwise).

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
    limit = check_threshold("psi", threshold)
    pair = binned_pair("psi", reference, current, bins, edges, nan_policy, feature_names)
    statistics = psi_from_counts(pair.reference, pair.current)
    return effect_size_results(pair, statistics, "psi", limit, {"empty_bin_share": "0.5 / n"})
