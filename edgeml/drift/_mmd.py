"""Multivariate maximum mean discrepancy (MMD) with a permutation p-value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.drift._inputs import (
    Columns,
    _block,
    as_columns,
    check_alpha,
    check_finite,
    check_nan_policy,
    check_same_columns,
    check_size,
    input_boundary,
)
from edgeml.drift._result import DriftResult
from edgeml.errors import DataError, invalid_argument

__all__ = ["mmd"]

FloatArray = NDArray[np.float64]


def _rows(columns: Columns, role: str, nan_policy: str) -> FloatArray:
    values = _block(columns, 0, columns.n_features, "mmd", role).T  # rows x features
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        if nan_policy == "raise":
            raise DataError(
                f"{role} in mmd has {int((~finite).sum())} rows with NaN or infinite values. "
                "Fix: clean the data, or pass nan_policy='omit' to drop those rows."
            )
        values = values[finite]
    if values.shape[0] < 2:
        raise DataError(f"{role} in mmd needs at least 2 rows with finite values.")
    return np.ascontiguousarray(values)


def _squared_distances(points: FloatArray) -> FloatArray:
    norms = np.einsum("ij,ij->i", points, points)
    distances: FloatArray = norms[:, None] + norms[None, :] - 2.0 * (points @ points.T)
    np.maximum(distances, 0.0, out=distances)
    np.fill_diagonal(distances, 0.0)
    return distances


def _unbiased_mmd2(kernel: FloatArray, members: FloatArray, n: int, m: int) -> FloatArray:
    """Unbiased MMD^2 for each column of the 0/1 membership matrix (1 = first sample).

    With ``K`` the kernel matrix (diagonal 1), ``S_xx = a' K a``, ``S_xy = a' K b`` and
    ``S_yy = 1' K 1 - S_xx - 2 S_xy``; the diagonal is removed from the within sums.
    """
    product = kernel @ members
    s_xx = np.einsum("ij,ij->j", members, product)
    s_xy = product.sum(axis=0) - s_xx
    s_yy = kernel.sum() - s_xx - 2.0 * s_xy
    result: FloatArray = (
        (s_xx - n) / (n * (n - 1)) + (s_yy - m) / (m * (m - 1)) - 2.0 * s_xy / (n * m)
    )
    return result


#: Most permutations (each costs one pass over the kernel matrix).
MAX_PERMUTATIONS = 100_000
#: Most rows kept per sample: the kernel matrix of ``2 * max_samples`` rows is 800 MB here.
MAX_SAMPLES = 5_000
#: Permutations evaluated at once (bounds the membership matrix to about 80 MB).
PERMUTATION_BLOCK = 1_000


@input_boundary("mmd")
def mmd(
    reference: Any,
    current: Any,
    *,
    n_permutations: int = 200,
    max_samples: int = 1000,
    bandwidth: float | None = None,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = 0,
    nan_policy: str = "raise",
) -> DriftResult:
    """Test whether two multivariate samples differ, with the kernel MMD.

    The statistic is the unbiased estimate of the squared maximum mean discrepancy
    (Gretton et al., 2012) with the Gaussian kernel ``exp(-|x - y|^2 / (2 s^2))``. The
    bandwidth ``s`` defaults to the median heuristic: the median Euclidean distance
    between distinct points of the pooled sample (1 if that is 0). Features are used as
    given: scale them first if their units differ widely.

    The p-value comes from ``n_permutations`` random reassignments of the pooled rows to
    the two samples: ``(k + 1) / (n_permutations + 1)`` where ``k`` counts permuted
    statistics at least as large as the observed one (the observed split counts as one
    permutation, so the p-value is never 0).

    Parameters
    ----------
    reference, current : array-like, dict of columns or pandas.DataFrame
        Rows x features (1-D means one feature); the whole table is one test.
    n_permutations : int, default 200
        Random permutations for the p-value (at most 100,000).
    max_samples : int, default 1000
        Each sample larger than this is subsampled (without replacement, seeded), since
        the kernel matrix grows with the square of the rows (at most 5,000).
    bandwidth : float, optional
        Kernel width ``s``; the median heuristic when omitted.
    alpha : float, default 0.05
        Drift when ``pvalue < alpha``.
    seed : int or numpy.random.Generator, default 0
        Source of the permutations and the subsample; the same seed gives the same
        result.
    nan_policy : {"raise", "omit"}, default "raise"
        ``"omit"`` drops rows with any NaN/inf.

    Returns
    -------
    DriftResult
        ``details`` holds the bandwidth, sample sizes and permutations.

    Examples
    --------
    >>> import numpy as np
    >>> from edgeml.drift import mmd
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(200, 3))
    >>> mmd(ref, rng.normal(size=(200, 3))).pvalue > 0.05
    True
    >>> result = mmd(ref, rng.normal(0.5, size=(200, 3)), n_permutations=99)
    >>> result.pvalue, result.drifted
    (0.01, True)
    """
    check_size("mmd", "n_permutations", n_permutations, minimum=1, maximum=MAX_PERMUTATIONS)
    check_size("mmd", "max_samples", max_samples, minimum=2, maximum=MAX_SAMPLES)
    if bandwidth is not None and not (
        isinstance(bandwidth, (int, float))
        and not isinstance(bandwidth, bool)
        and math.isfinite(bandwidth)
        and bandwidth > 0
    ):
        raise invalid_argument("mmd", "bandwidth", bandwidth, "a number > 0 or None")
    check_alpha("mmd", alpha)
    check_nan_policy("mmd", nan_policy)
    ref = as_columns(reference, "mmd", "reference")
    cur = as_columns(current, "mmd", "current")
    check_same_columns(ref, cur, "mmd")
    if (
        not isinstance(seed, np.random.Generator)
        and seed is not None
        and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0)
    ):
        raise invalid_argument("mmd", "seed", seed, "None, an integer >= 0 or a numpy Generator")
    rng = np.random.default_rng(seed)
    x = _rows(ref, "reference", nan_policy)
    y = _rows(cur, "current", nan_policy)
    if x.shape[0] > max_samples:
        x = x[np.sort(rng.choice(x.shape[0], max_samples, replace=False))]
    if y.shape[0] > max_samples:
        y = y[np.sort(rng.choice(y.shape[0], max_samples, replace=False))]
    n, m = x.shape[0], y.shape[0]
    pooled = np.concatenate([x, y])
    fix = "rescale the features (e.g. to standard units) before testing"
    with np.errstate(over="ignore", invalid="ignore"):
        distances = _squared_distances(pooled)
    check_finite("mmd", "a squared distance between rows", distances, fix)
    if bandwidth is None:
        upper = distances[np.triu_indices(n + m, k=1)]
        positive = upper[upper > 0]
        width = float(np.sqrt(np.median(positive))) if positive.size else 1.0
    else:
        width = float(bandwidth)
    check_finite("mmd", "the kernel bandwidth squared", width * width, fix)
    if width * width == 0.0:
        raise DataError("mmd: the kernel bandwidth squared underflows to 0. Fix: " + fix + ".")
    kernel = np.exp(-distances / (2.0 * width * width))
    observed_members = np.zeros((n + m, 1))
    observed_members[:n] = 1.0
    observed = float(_unbiased_mmd2(kernel, observed_members, n, m)[0])
    check_finite("mmd", "the statistic", observed, fix)
    exceed = 0
    for start in range(0, n_permutations, PERMUTATION_BLOCK):
        count = min(PERMUTATION_BLOCK, n_permutations - start)
        order = np.argsort(rng.random((count, n + m)), axis=1)
        members = np.zeros((count, n + m))
        np.put_along_axis(members, order[:, :n], 1.0, axis=1)
        permuted = _unbiased_mmd2(kernel, members.T, n, m)
        exceed += int(np.count_nonzero(permuted >= observed))
    pvalue = (exceed + 1) / (n_permutations + 1)
    return DriftResult(
        observed,
        pvalue,
        threshold=alpha,
        drifted=pvalue < alpha,
        method="mmd",
        details={
            "bandwidth": width,
            "n_reference": n,
            "n_current": m,
            "n_permutations": n_permutations,
            "kernel": "gaussian",
            "estimator": "unbiased MMD^2",
        },
    )
