"""Differentially private aggregates: counts, sums, means, histograms and quantiles.

Every function clips each record's contribution to explicit bounds (so the sensitivity is
known, not guessed from the data), adds Laplace or Gaussian noise calibrated to the
requested ``(epsilon, delta)``, and returns a frozen :class:`DPResult` whose
:meth:`~DPResult.dp_event` is the matching ``dp_accounting`` event, so releases compose
in any accountant or in an :class:`edgeml.privacy.Ledger` (pass ``ledger=``).

Neighbouring datasets differ by adding or removing one record, each record contributing
once. Laplace noise gives pure ``epsilon``-DP with scale ``sensitivity / epsilon``.
Gaussian noise is calibrated with the *analytic Gaussian mechanism* (Balle & Wang, ICML
2018, Theorem 8): the smallest ``sigma`` with
``Phi(D/(2 sigma) - eps sigma/D) - exp(eps) Phi(-D/(2 sigma) - eps sigma/D) <= delta``;
unlike the classical ``sigma = D sqrt(2 ln(1.25/delta)) / eps`` it is exact and valid for
any ``epsilon`` (the classical bound needs ``epsilon < 1``).

Noise comes from a generator seeded with 128 bits from :mod:`secrets` (the operating
system's CSPRNG) on every call unless a ``seed`` is given; seeds are for tests only. As
with every floating-point implementation, the low-order bits of the noise are not
protected (Mironov, CCS 2012); round released values if that matters to you.

Examples
--------
>>> from edgeml.privacy.mechanisms import dp_count, dp_mean
>>> result = dp_count(range(1000), epsilon=1.0, seed=0)
>>> round(result.value), result.epsilon, result.delta
(1000, 1.0, 0.0)
>>> result.dp_event()
LaplaceDpEvent(noise_multiplier=1.0)
>>> mean = dp_mean([1.0, 2.0, 3.0] * 100, lower=0, upper=5, epsilon=1.0, seed=0)
>>> round(mean.value, 1)
2.0
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from scipy import special

from edgeml._display import to_jsonable
from edgeml.errors import DataError, invalid_argument

if TYPE_CHECKING:  # imported on first use: dp_accounting pulls in much of scipy
    import dp_accounting

__all__ = [
    "DPResult",
    "analytic_gaussian_sigma",
    "dp_count",
    "dp_histogram",
    "dp_mean",
    "dp_quantile",
    "dp_sum",
]

_MECHANISMS = ("laplace", "gaussian")


class _Ledger(Protocol):
    def record(
        self, *, name: str, event: dp_accounting.DpEvent, epsilon: float, delta: float
    ) -> Any: ...


@dataclasses.dataclass(frozen=True)
class DPResult:
    """A differentially private release.

    Attributes
    ----------
    value : float or numpy.ndarray
        The noisy statistic (an array for histograms and several quantiles).
    epsilon, delta : float
        The release's own guarantee (basic composition over its parts).
    mechanism : str
        ``"laplace"`` or ``"gaussian"``.
    parts : tuple of (str, float, float)
        Each noisy part as ``(label, sensitivity, noise scale)``; the noise scale is the
        Laplace ``b`` or the Gaussian ``sigma``.
    bounds : tuple of float or None
        The clipping bounds ``(lower, upper)`` applied to each record.
    n_clipped : int
        How many records were clipped (a count that is *not* private; do not release it).
    """

    value: float | np.ndarray
    epsilon: float
    delta: float
    mechanism: str
    parts: tuple[tuple[str, float, float], ...]
    bounds: tuple[float, float] | None = None
    n_clipped: int = 0

    def dp_event(self) -> dp_accounting.DpEvent:
        """Return the ``dp_accounting`` event describing this release.

        Returns
        -------
        dp_accounting.DpEvent
            ``LaplaceDpEvent`` / ``GaussianDpEvent`` with ``noise_multiplier = scale /
            sensitivity``, or a ``ComposedDpEvent`` of them when the release has several
            parts (a mean is a noisy sum and a noisy count).
        """
        import dp_accounting

        events = []
        for _label, sensitivity, scale in self.parts:
            multiplier = scale / sensitivity
            if self.mechanism == "laplace":
                events.append(dp_accounting.LaplaceDpEvent(multiplier))
            else:
                events.append(dp_accounting.GaussianDpEvent(multiplier))
        return events[0] if len(events) == 1 else dp_accounting.ComposedDpEvent(events)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (without ``n_clipped``, which is not private)."""
        return dict(
            to_jsonable(
                {
                    "value": self.value,
                    "epsilon": self.epsilon,
                    "delta": self.delta,
                    "mechanism": self.mechanism,
                    "parts": [list(p) for p in self.parts],
                    "bounds": self.bounds,
                }
            )
        )

    def __repr__(self) -> str:
        value = self.value
        shown = f"{value:.6g}" if isinstance(value, float) else f"array(shape={value.shape})"
        return (
            f"DPResult(value={shown}, epsilon={self.epsilon:g}, delta={self.delta:g}, "
            f"mechanism={self.mechanism!r})"
        )


def analytic_gaussian_sigma(epsilon: float, delta: float, sensitivity: float = 1.0) -> float:
    """Return the smallest Gaussian ``sigma`` giving ``(epsilon, delta)``-DP.

    Balle & Wang (2018), Theorem 8, solved by bisection on ``sigma`` (the privacy loss
    profile is decreasing in ``sigma``), returning the upper end so the guarantee holds.

    Parameters
    ----------
    epsilon : float
        Target epsilon, > 0.
    delta : float
        Target delta in (0, 1).
    sensitivity : float, default 1.0
        L2 sensitivity of the statistic.

    Returns
    -------
    float
        The noise standard deviation.

    Examples
    --------
    >>> round(analytic_gaussian_sigma(1.0, 1e-5), 4)
    3.7305
    """
    _check_budget("analytic_gaussian_sigma", epsilon, delta, "gaussian")

    def delta_at(sigma: float) -> float:
        a = sensitivity / (2 * sigma)
        b = epsilon * sigma / sensitivity
        return float(special.ndtr(a - b) - math.exp(epsilon + special.log_ndtr(-a - b)))

    low, high = 1e-6 * sensitivity, sensitivity
    while delta_at(high) > delta:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        if delta_at(middle) > delta:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return high


def _check_budget(owner: str, epsilon: Any, delta: Any, mechanism: Any) -> None:
    if mechanism not in _MECHANISMS:
        raise invalid_argument(owner, "mechanism", mechanism, f"one of {list(_MECHANISMS)}")
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)):
        raise invalid_argument(owner, "epsilon", epsilon, "a positive number")
    if not 0 < epsilon < math.inf:
        raise invalid_argument(owner, "epsilon", epsilon, "a positive finite number")
    if isinstance(delta, bool) or not isinstance(delta, (int, float)):
        raise invalid_argument(owner, "delta", delta, "a number in [0, 1)")
    if mechanism == "laplace" and delta != 0:
        raise invalid_argument(
            owner,
            "delta",
            delta,
            "0 for the Laplace mechanism (it is pure epsilon-DP)",
            fix="drop delta, or use mechanism='gaussian'",
        )
    if mechanism == "gaussian" and not 0 < delta < 1:
        raise invalid_argument(
            owner,
            "delta",
            delta,
            "in (0, 1) for the Gaussian mechanism",
            fix="use e.g. delta=1e-6 (well below 1 / number of records)",
        )


def _generator(owner: str, seed: int | np.random.Generator | None) -> np.random.Generator:
    if seed is None:
        return np.random.Generator(np.random.PCG64(secrets.randbits(128)))
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise invalid_argument(owner, "seed", seed, "None, an int or a numpy Generator")


def _scale(mechanism: str, sensitivity: float, epsilon: float, delta: float) -> float:
    if mechanism == "laplace":
        return sensitivity / epsilon
    return analytic_gaussian_sigma(epsilon, delta, sensitivity)


def _noise(rng: np.random.Generator, mechanism: str, scale: float, size: int | None) -> Any:
    if mechanism == "laplace":
        return rng.laplace(0.0, scale, size)
    return rng.normal(0.0, scale, size)


def _values(owner: str, values: Any) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{owner}: values must be numbers; got {type(values).__name__}.") from None
    if array.ndim != 1:
        raise DataError(f"{owner}: values must be 1-dimensional; got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise DataError(
            f"{owner}: values contain NaN or infinity ({int(np.sum(~np.isfinite(array)))} "
            "of them). Fix: drop or impute them first; clipping cannot bound them."
        )
    return array


def _bounds(owner: str, lower: Any, upper: Any) -> tuple[float, float]:
    for name, bound in (("lower", lower), ("upper", upper)):
        if (
            isinstance(bound, bool)
            or not isinstance(bound, (int, float))
            or not math.isfinite(bound)
        ):
            raise invalid_argument(owner, name, bound, "a finite number (a contribution bound)")
    if not lower < upper:
        raise invalid_argument(owner, "upper", upper, f"greater than lower={lower}")
    return float(lower), float(upper)


def _clip(array: np.ndarray, low: float, high: float) -> tuple[np.ndarray, int]:
    """Each record clipped to ``[low, high]``, and how many records that changed."""
    clipped = np.clip(array, low, high)
    return clipped, int(np.sum(clipped != array))


def _finish(result: DPResult, ledger: _Ledger | None, name: str) -> DPResult:
    if ledger is not None:
        # Record before returning: if the ledger refuses (budget exceeded), nothing is released.
        ledger.record(
            name=name, event=result.dp_event(), epsilon=result.epsilon, delta=result.delta
        )
    return result


def dp_count(
    values: Sequence[Any] | np.ndarray | int,
    *,
    epsilon: float,
    delta: float = 0.0,
    mechanism: str = "laplace",
    seed: int | np.random.Generator | None = None,
    ledger: _Ledger | None = None,
    name: str = "dp_count",
) -> DPResult:
    """Release the number of records with noise (sensitivity 1).

    Parameters
    ----------
    values : sequence, array or int
        The records (only their number is used) or the exact count itself.
    epsilon : float
        Privacy parameter, > 0.
    delta : float, default 0.0
        0 for Laplace; in (0, 1) for Gaussian.
    mechanism : {"laplace", "gaussian"}, default "laplace"
        Noise distribution.
    seed : int or numpy.random.Generator, optional
        For tests only; by default noise is seeded from :mod:`secrets`.
    ledger : object with ``record(*, name, event, epsilon, delta)``, optional
        Where to record the release, e.g. :class:`edgeml.privacy.Ledger`.
    name : str, default "dp_count"
        The release's name in the ledger.

    Returns
    -------
    DPResult
        ``value`` is the noisy count (a float; rounding it is free post-processing).

    Examples
    --------
    >>> dp_count(50, epsilon=0.5, seed=1).dp_event()
    LaplaceDpEvent(noise_multiplier=2.0)
    """
    _check_budget("dp_count", epsilon, delta, mechanism)
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        if values < 0:
            raise invalid_argument("dp_count", "values", values, "a count >= 0 or a sequence")
        count = int(values)
    else:
        count = len(values)  # type: ignore[arg-type]
    scale = _scale(mechanism, 1.0, epsilon, delta)
    noisy = count + float(_noise(_generator("dp_count", seed), mechanism, scale, None))
    result = DPResult(noisy, float(epsilon), float(delta), mechanism, (("count", 1.0, scale),))
    return _finish(result, ledger, name)


def dp_sum(
    values: Sequence[float] | np.ndarray,
    *,
    lower: float,
    upper: float,
    epsilon: float,
    delta: float = 0.0,
    mechanism: str = "laplace",
    seed: int | np.random.Generator | None = None,
    ledger: _Ledger | None = None,
    name: str = "dp_sum",
) -> DPResult:
    """Release the sum of values clipped to ``[lower, upper]``.

    The sensitivity is ``max(|lower|, |upper|)``: adding or removing one clipped record
    changes the sum by at most that.

    Parameters
    ----------
    values : sequence or numpy.ndarray
        One number per record.
    lower, upper : float
        Contribution bounds; values outside are clipped (chosen without looking at the
        data, or the bounds themselves leak).
    epsilon, delta, mechanism, seed, ledger, name
        As in :func:`dp_count`.

    Returns
    -------
    DPResult
        The noisy sum; ``n_clipped`` tells (non-privately) how many records were clipped.

    Examples
    --------
    >>> r = dp_sum([1, 2, 30], lower=0, upper=10, epsilon=1.0, seed=0)
    >>> r.n_clipped, r.parts[0][1]
    (1, 10.0)
    """
    _check_budget("dp_sum", epsilon, delta, mechanism)
    low, high = _bounds("dp_sum", lower, upper)
    clipped, n_clipped = _clip(_values("dp_sum", values), low, high)
    sensitivity = max(abs(low), abs(high))
    scale = _scale(mechanism, sensitivity, epsilon, delta)
    rng = _generator("dp_sum", seed)
    noisy = float(clipped.sum()) + float(_noise(rng, mechanism, scale, None))
    result = DPResult(
        noisy,
        float(epsilon),
        float(delta),
        mechanism,
        (("sum", sensitivity, scale),),
        (low, high),
        n_clipped,
    )
    return _finish(result, ledger, name)


def dp_mean(
    values: Sequence[float] | np.ndarray,
    *,
    lower: float,
    upper: float,
    epsilon: float,
    delta: float = 0.0,
    mechanism: str = "laplace",
    seed: int | np.random.Generator | None = None,
    ledger: _Ledger | None = None,
    name: str = "dp_mean",
) -> DPResult:
    """Release the mean of values clipped to ``[lower, upper]``.

    Half the budget (``epsilon/2``, ``delta/2``) buys a noisy sum of the values centred
    on the middle of the bounds (sensitivity ``(upper - lower) / 2``), half a noisy count
    (sensitivity 1); the mean is their ratio plus the middle, clipped to the bounds (free
    post-processing). The event is the composition of the two parts.

    Parameters
    ----------
    values : sequence or numpy.ndarray
        One number per record.
    lower, upper : float
        Contribution bounds.
    epsilon, delta, mechanism, seed, ledger, name
        As in :func:`dp_count`.

    Returns
    -------
    DPResult
        The noisy mean.

    Examples
    --------
    >>> r = dp_mean([4.0] * 10, lower=0, upper=8, epsilon=1.0, seed=3)
    >>> r.dp_event()
    ComposedDpEvent(events=[LaplaceDpEvent(noise_multiplier=2.0), LaplaceDpEvent(noise_multiplier=2.0)])
    """  # noqa: E501
    _check_budget("dp_mean", epsilon, delta, mechanism)
    low, high = _bounds("dp_mean", lower, upper)
    clipped, n_clipped = _clip(_values("dp_mean", values), low, high)
    middle = (low + high) / 2
    half_eps, half_delta = epsilon / 2, delta / 2
    sum_sensitivity = (high - low) / 2
    sum_scale = _scale(mechanism, sum_sensitivity, half_eps, half_delta)
    count_scale = _scale(mechanism, 1.0, half_eps, half_delta)
    rng = _generator("dp_mean", seed)
    noisy_sum = float((clipped - middle).sum()) + float(_noise(rng, mechanism, sum_scale, None))
    noisy_count = clipped.size + float(_noise(rng, mechanism, count_scale, None))
    mean = middle if noisy_count <= 1.0 else middle + noisy_sum / noisy_count
    result = DPResult(
        float(np.clip(mean, low, high)),
        float(epsilon),
        float(delta),
        mechanism,
        (("centred sum", sum_sensitivity, sum_scale), ("count", 1.0, count_scale)),
        (low, high),
        n_clipped,
    )
    return _finish(result, ledger, name)


def dp_histogram(
    values: Sequence[Any] | np.ndarray,
    *,
    bins: Sequence[float] | np.ndarray | None = None,
    categories: Sequence[Any] | None = None,
    epsilon: float,
    delta: float = 0.0,
    mechanism: str = "laplace",
    seed: int | np.random.Generator | None = None,
    ledger: _Ledger | None = None,
    name: str = "dp_histogram",
) -> DPResult:
    """Release a histogram; each record adds one to one bin (L1 and L2 sensitivity 1).

    Give either numeric ``bins`` (edges; values outside are clipped into the first or
    last bin) or ``categories`` (values not listed are not counted). Bins and categories
    must be chosen without looking at the data.

    Parameters
    ----------
    values : sequence or numpy.ndarray
        One value per record.
    bins : sequence of float, optional
        Increasing bin edges, as for :func:`numpy.histogram`.
    categories : sequence, optional
        The categories to count.
    epsilon, delta, mechanism, seed, ledger, name
        As in :func:`dp_count`.

    Returns
    -------
    DPResult
        ``value`` is an array of noisy counts, one per bin or category.

    Examples
    --------
    >>> r = dp_histogram(["a", "b", "a"], categories=["a", "b", "c"], epsilon=1.0, seed=0)
    >>> r.value.shape
    (3,)
    """
    _check_budget("dp_histogram", epsilon, delta, mechanism)
    if (bins is None) == (categories is None):
        raise invalid_argument(
            "dp_histogram", "bins", bins, "given, or categories instead (one of them)"
        )
    n_clipped = 0
    if bins is not None:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
            raise invalid_argument("dp_histogram", "bins", bins, "at least two increasing edges")
        clipped, n_clipped = _clip(_values("dp_histogram", values), edges[0], edges[-1])
        counts = np.histogram(clipped, bins=edges)[0].astype(np.float64)
    else:
        assert categories is not None
        index = {category: i for i, category in enumerate(categories)}
        if len(index) != len(categories) or not index:
            raise invalid_argument("dp_histogram", "categories", categories, "distinct values")
        counts = np.zeros(len(index))
        for value in np.asarray(values, dtype=object).tolist():
            position = index.get(value)
            if position is None:
                n_clipped += 1
            else:
                counts[position] += 1
    scale = _scale(mechanism, 1.0, epsilon, delta)
    noisy = counts + _noise(_generator("dp_histogram", seed), mechanism, scale, counts.size)
    result = DPResult(
        noisy,
        float(epsilon),
        float(delta),
        mechanism,
        (("histogram", 1.0, scale),),
        None,
        n_clipped,
    )
    return _finish(result, ledger, name)


def dp_quantile(
    values: Sequence[float] | np.ndarray,
    q: float | Sequence[float],
    *,
    lower: float,
    upper: float,
    epsilon: float,
    delta: float = 0.0,
    mechanism: str = "laplace",
    bins: int = 64,
    seed: int | np.random.Generator | None = None,
    ledger: _Ledger | None = None,
    name: str = "dp_quantile",
) -> DPResult:
    """Release quantiles read from one noisy histogram over ``[lower, upper]``.

    A histogram with ``bins`` equal-width bins is released with :func:`dp_histogram`'s
    mechanism; negative noisy counts are set to zero and the quantiles are interpolated
    within bins of the cumulative counts. All of that is post-processing, so any number of
    quantiles costs the histogram's ``(epsilon, delta)`` once. Resolution is
    ``(upper - lower) / bins``.

    Parameters
    ----------
    values : sequence or numpy.ndarray
        One number per record.
    q : float or sequence of float
        Quantile(s) in [0, 1].
    lower, upper : float
        Range of the histogram; values outside are clipped.
    bins : int, default 64
        Number of bins: more gives finer resolution but more total noise.
    epsilon, delta, mechanism, seed, ledger, name
        As in :func:`dp_count`.

    Returns
    -------
    DPResult
        A float for a scalar ``q``, else an array.

    Examples
    --------
    >>> import numpy as np
    >>> data = np.random.default_rng(0).uniform(0, 100, 10_000)
    >>> r = dp_quantile(data, 0.5, lower=0, upper=100, epsilon=1.0, seed=0)
    >>> abs(r.value - 50) < 3
    True
    """
    _check_budget("dp_quantile", epsilon, delta, mechanism)
    low, high = _bounds("dp_quantile", lower, upper)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise invalid_argument("dp_quantile", "bins", bins, "an integer >= 1")
    quantiles = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if (
        quantiles.ndim != 1
        or np.any((quantiles < 0) | (quantiles > 1))
        or np.any(np.isnan(quantiles))
    ):
        raise invalid_argument("dp_quantile", "q", q, "a number or numbers in [0, 1]")
    edges = np.linspace(low, high, bins + 1)
    # Validated here so that errors name dp_quantile, not the dp_histogram it calls.
    array, rng = _values("dp_quantile", values), _generator("dp_quantile", seed)
    histogram = dp_histogram(
        array, bins=edges, epsilon=epsilon, delta=delta, mechanism=mechanism, seed=rng
    )
    counts = np.maximum(np.asarray(histogram.value), 0.0)
    cumulative = np.concatenate(([0.0], np.cumsum(counts)))
    total = cumulative[-1]
    if total <= 0:
        answers = np.full(quantiles.shape, (low + high) / 2)
    else:
        answers = np.interp(quantiles * total, cumulative, edges)
    value: float | np.ndarray = float(answers[0]) if np.ndim(q) == 0 else answers
    result = dataclasses.replace(histogram, value=value, bounds=(low, high))
    return _finish(result, ledger, name)
