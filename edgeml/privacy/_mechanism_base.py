"""What every DP aggregate shares: the release type, argument checks and integer noise.

:class:`DPResult` is the frozen release every aggregate returns (with its ``dp_accounting``
event); the checks validate the budget, the mechanism, bounds, values and the grid with
errors that say how to fix them; :func:`noise_source` and :func:`integer_noise` draw exact
discrete Laplace or Gaussian noise from the CSPRNG (or a seeded generator in tests); and
:func:`analytic_gaussian_sigma` is the continuous-Gaussian reference calibration. The
aggregates themselves, and the public home of these names, are in
:mod:`edgeml.privacy.mechanisms`.
"""

from __future__ import annotations

import dataclasses
import math
import random
import secrets
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from scipy import special

from edgeml._display import to_jsonable
from edgeml.errors import DataError, invalid_argument
from edgeml.privacy._discrete import (
    RandBelow,
    discrete_gaussian,
    discrete_laplace,
    discrete_laplace_event,
    gaussian_sigma,
    laplace_scale,
    zcdp_event,
)

if TYPE_CHECKING:  # imported on first use: dp_accounting pulls in much of scipy
    import dp_accounting


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
        The noisy statistic (an array for histograms and several quantiles). Counts and
        histograms hold whole numbers; sums and means are multiples of ``grid`` (a mean
        divides a noisy sum by a noisy count, which is post-processing).
    epsilon, delta : float
        The release's own guarantee (basic composition over its parts).
    mechanism : str
        ``"laplace"`` (discrete Laplace) or ``"gaussian"`` (discrete Gaussian).
    parts : tuple of (str, int, float)
        Each noisy part as ``(label, sensitivity, noise scale)`` in units of ``grid``:
        the integer sensitivity of the integer query and the discrete Laplace scale
        ``t`` or the discrete Gaussian ``sigma``.
    grid : float
        The step of the released values' grid (1 for counts and histograms).
    bounds : tuple of float or None
        The clipping bounds ``(lower, upper)`` applied to each record.
    n_clipped : int
        How many records were clipped (a count that is *not* private; do not release it).
    seeded : bool
        Whether the noise came from a seeded generator (tests only) instead of the CSPRNG.
    """

    value: float | np.ndarray
    epsilon: float
    delta: float
    mechanism: str
    parts: tuple[tuple[str, int, float], ...]
    grid: float = 1.0
    bounds: tuple[float, float] | None = None
    n_clipped: int = 0
    seeded: bool = False

    def dp_event(self) -> dp_accounting.DpEvent:
        """Return the ``dp_accounting`` event describing this release.

        Returns
        -------
        dp_accounting.DpEvent
            ``DiscreteLaplaceDpEvent(1 / t, sensitivity)`` or ``ZCDpEvent(rho)`` with
            ``rho = sensitivity**2 / (2 sigma**2)``, or a ``ComposedDpEvent`` of them
            when the release has several parts (a mean is a noisy sum and a noisy count).
            With dp-accounting older than 0.5, which lacks both events, the parts are
            ``UnsupportedDpEvent`` and a ledger adds the stated epsilon and delta by
            basic composition.
        """
        import dp_accounting

        events: list[dp_accounting.DpEvent] = []
        for _label, sensitivity, scale in self.parts:
            if self.mechanism == "laplace":
                events.append(discrete_laplace_event(1 / scale, int(sensitivity)))
            else:
                events.append(zcdp_event(sensitivity**2 / (2 * scale**2)))
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
                    "grid": self.grid,
                    "bounds": self.bounds,
                    "seeded": self.seeded,
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
    """Return the smallest (continuous) Gaussian ``sigma`` giving ``(epsilon, delta)``-DP.

    Balle & Wang (2018), Theorem 8, solved by bisection on ``sigma`` (the privacy loss
    profile is decreasing in ``sigma``), returning the upper end so the guarantee holds.
    The aggregates here use the discrete Gaussian instead; this is the reference for
    continuous-noise mechanisms such as DP-SGD.

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


def noise_source(owner: str, seed: int | np.random.Generator | None) -> tuple[RandBelow, bool]:
    """Return ``(randbelow, seeded)``: the CSPRNG, or a seeded generator for tests.

    Examples
    --------
    >>> draw, seeded = noise_source("example", None)
    >>> seeded, 0 <= draw(10) < 10
    (False, True)
    """
    if seed is None:
        return secrets.randbelow, False
    if isinstance(seed, np.random.Generator):
        return random.Random(int(seed.integers(2**62))).randrange, True
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return random.Random(int(seed)).randrange, True
    raise invalid_argument(owner, "seed", seed, "None, an int or a numpy Generator")


def integer_noise(
    mechanism: str,
    sensitivity: int,
    epsilon: float,
    delta: float,
    size: int,
    randbelow: RandBelow,
    *,
    l2_squared: int | None = None,
) -> tuple[np.ndarray, float]:
    """Exact discrete noise for an integer query; returns ``(noise, scale)``.

    ``sensitivity`` is the L1 sensitivity for ``"laplace"`` and the L2 sensitivity for
    ``"gaussian"`` (both integers); a query whose squared L2 sensitivity is not a perfect
    square passes it as ``l2_squared`` instead. ``size`` independent draws are returned
    as int64.

    Examples
    --------
    >>> import random
    >>> noise, scale = integer_noise("laplace", 2, 1.0, 0.0, 3, random.Random(0).randrange)
    >>> noise.dtype, scale
    (dtype('int64'), 2.0)
    """
    if mechanism == "laplace":
        t = laplace_scale(sensitivity, epsilon)
        draws = [discrete_laplace(t, randbelow=randbelow) for _ in range(size)]
        return np.array(draws, dtype=np.int64), float(t)
    squared = sensitivity**2 if l2_squared is None else l2_squared
    sigma = gaussian_sigma(squared, epsilon, delta)
    draws = [discrete_gaussian(sigma, randbelow=randbelow) for _ in range(size)]
    return np.array(draws, dtype=np.int64), sigma


def _grid(owner: str, grid: Any, sensitivity: float) -> float:
    if grid is None:
        # a power of two: multiples of it are exact in binary floating point
        return float(2.0 ** (math.floor(math.log2(sensitivity)) - 10))
    if isinstance(grid, bool) or not isinstance(grid, (int, float)) or not 0 < grid < math.inf:
        raise invalid_argument(owner, "grid", grid, "a positive finite number (the release step)")
    return float(grid)


def _on_grid(clipped: np.ndarray, grid: float, low: float, high: float) -> tuple[int, int]:
    """Exact integer sum of the records in grid units, and its integer sensitivity."""
    units = np.rint(clipped / grid)
    sensitivity = int(max(abs(np.rint(low / grid)), abs(np.rint(high / grid)), 1))
    if sensitivity * max(units.size, 1) < 2**62:
        total = int(units.astype(np.int64).sum())
    else:
        total = sum(int(u) for u in units)
    return total, sensitivity


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
