"""1-D Wasserstein (earth mover's) distance per column, optionally scale-free."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeml.drift import _kernels
from edgeml.drift._approx import wasserstein_from_histograms
from edgeml.drift._binning import check_threshold, sketch_pair
from edgeml.drift._inputs import (
    as_columns,
    check_finite,
    check_nan_policy,
    check_same_columns,
    input_boundary,
    sorted_blocks,
)
from edgeml.drift._result import DriftResult
from edgeml.drift._sketch import Histogram

__all__ = ["normalized", "wasserstein"]


def normalized(distance: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Divide by the reference standard deviation; a constant reference gives 0 or inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, distance / scale, np.where(distance > 0, np.inf, 0.0))


@input_boundary("wasserstein")
def wasserstein(
    reference: Any,
    current: Any,
    *,
    normalize: bool = True,
    threshold: float = 0.1,
    nan_policy: str = "raise",
    feature_names: Any = None,
) -> DriftResult | list[DriftResult]:
    """Wasserstein-1 (earth mover's) distance between the 1-D distributions, per column.

    The raw distance equals :func:`scipy.stats.wasserstein_distance` (to a relative
    1e-9; ``tests/conformance/test_scipy_stats.py`` ports scipy's own test values and
    compares live); it is computed as
    ``integral_0^1 |Q_ref(u) - Q_cur(u)| du`` from the sorted columns.

    With ``normalize=True`` (default) the distance is divided by the reference standard
    deviation, so one threshold fits features of any unit: 0.1 means the mass moved on
    average a tenth of a reference standard deviation. A constant reference column has
    no spread: its normalized distance is 0 when current is the same constant and
    ``inf`` otherwise.

    Sketches (:class:`~edgeml.drift.Histogram`) give an approximate distance; ``details``
    then holds ``approximate=True`` and ``error_bound`` (in the statistic's units), see
    :func:`~edgeml.drift.wasserstein_from_histograms`. The sketch's ``scale`` (the
    reference standard deviation recorded by ``Histogram.fit``) normalizes it.

    Parameters
    ----------
    reference, current : array-like, dict of columns, pandas.DataFrame or Histogram
        1-D or 2-D (rows x features) numeric samples, or sketches.
    normalize : bool, default True
        Divide by the reference standard deviation.
    threshold : float, default 0.1
        A column drifts when ``statistic >= threshold`` (in reference standard deviations
        when normalized, else in data units).
    nan_policy : {"raise", "omit"}, default "raise"
    feature_names : sequence of str, optional
        Names for the columns of array input (a dict's keys or a DataFrame's columns
        are used otherwise).

    Returns
    -------
    DriftResult or list of DriftResult
        ``details`` holds the raw ``distance`` and the reference ``scale``.

    Examples
    --------
    >>> import numpy as np
    >>> from edgeml.drift import wasserstein
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(0.0, 2.0, size=4000)
    >>> result = wasserstein(ref, ref + 1.0)  # every value moved by 1 = half a std
    >>> round(result.details["distance"], 6), round(result.statistic, 2), result.drifted
    (1.0, 0.5, True)
    """
    threshold = check_threshold("wasserstein", threshold)
    check_nan_policy("wasserstein", nan_policy)  # the sketch path would not look at it
    if isinstance(reference, Histogram) or isinstance(current, Histogram):
        ref_sketch, cur_sketch = sketch_pair("wasserstein", reference, current, nan_policy)
        distance, bound = wasserstein_from_histograms(ref_sketch, cur_sketch)
        scale = ref_sketch.scale
        names, is_1d = ref_sketch.names, ref_sketch.is_1d
        extra = {"approximate": True}
    else:
        ref = as_columns(reference, "wasserstein", "reference", feature_names)
        cur = as_columns(current, "wasserstein", "current", feature_names)
        check_same_columns(ref, cur, "wasserstein")
        distance = np.empty(ref.n_features)
        scale = np.empty(ref.n_features)
        for columns, a, b in sorted_blocks(ref, cur, owner="wasserstein", nan_policy=nan_policy):
            index = np.asarray(columns)
            with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                distance[index] = _kernels.wasserstein_distance(a, b)
                scale[index] = _kernels.row_std(a)
        bound = np.zeros_like(distance)
        names, is_1d = ref.names, ref.is_1d
        extra = {"approximate": False}
    fix = "rescale the features (e.g. to standard units) before testing"
    check_finite("wasserstein", "the distance", distance, fix)
    known = scale[~np.isnan(scale)]  # a sketch may not know its scale
    check_finite("wasserstein", "the reference standard deviation", known, fix)
    factor = normalized(np.ones_like(scale), scale) if normalize else np.ones_like(scale)
    statistic = normalized(distance, scale) if normalize else distance
    results = [
        DriftResult(
            float(statistic[j]),
            None,
            threshold=float(threshold),
            drifted=bool(statistic[j] >= threshold),
            method="wasserstein",
            details={
                "distance": float(distance[j]),
                "scale": float(scale[j]),
                "normalized": normalize,
                "error_bound": float(bound[j] * factor[j]) if bound[j] else 0.0,
                **extra,
            },
            feature=None if is_1d else names[j],
        )
        for j in range(len(names))
    ]
    return results[0] if is_1d else results
