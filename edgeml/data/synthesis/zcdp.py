"""Zero-concentrated DP (zCDP): the budget unit of :func:`~edgeml.data.synthesize`.

A mechanism is ``rho``-zCDP (Bun and Steinke, 2016) when its Rényi divergence of every
order ``alpha > 1`` is at most ``rho * alpha``. The Gaussian mechanism with L2
sensitivity 1 and standard deviation ``sigma`` is ``1 / (2 sigma^2)``-zCDP; an
``epsilon``-DP exponential mechanism is ``epsilon^2 / 8``-zCDP (it has bounded range,
Cesar and Rogers, 2021); zCDP budgets add up under composition.

:func:`zcdp_epsilon` converts ``rho`` to ``(epsilon, delta)`` with the conversion of
Canonne, Kamath and Steinke (2020, Proposition 12; also Asoodeh et al. 2021, eq. 20):

    epsilon = min over alpha > 1 of
              rho * alpha + log(1 - 1/alpha) - (log(delta) + log(alpha)) / (alpha - 1)

Every ``alpha`` gives a valid bound, so the minimum over a fine grid refined with
a golden-section search is a valid (and, to 1e-9, the optimal) value of this bound. It is
tighter than the classic ``rho + 2 sqrt(rho log(1/delta))``. dp-accounting's RDP
accountant applies the same formula on a fixed grid of orders, so it returns a value
at least as large. :func:`zcdp_rho` inverts the conversion by bisection and never
overshoots: the ``rho`` it returns converts to at most the target epsilon.

Examples
--------
>>> from edgeml.data.synthesis.zcdp import zcdp_epsilon, zcdp_rho
>>> rho = zcdp_rho(1.0, 1e-6)
>>> round(rho, 5)
0.02436
>>> zcdp_epsilon(rho, 1e-6) <= 1.0
True
"""

from __future__ import annotations

import math

import numpy as np

from edgeml.errors import invalid_argument
from edgeml.privacy._epsilon import _check_delta

__all__ = ["zcdp_epsilon", "zcdp_rho"]

# log-spaced grid of alpha - 1, from 1e-6 to 1e8
_GRID = np.logspace(-6, 8, 4001)


def _bound(rho: float, log_delta: float, alpha_minus_one: np.ndarray) -> np.ndarray:
    alpha = 1.0 + alpha_minus_one
    return np.asarray(
        rho * alpha
        + np.log(alpha_minus_one / alpha)
        - (log_delta + np.log(alpha)) / alpha_minus_one
    )


def zcdp_epsilon(rho: float, delta: float) -> float:
    """Convert a ``rho``-zCDP guarantee to ``(epsilon, delta)``-DP.

    Parameters
    ----------
    rho : float
        The zCDP parameter, >= 0.
    delta : float
        The target delta, in (0, 1).

    Returns
    -------
    float
        The smallest epsilon the Canonne-Kamath-Steinke bound certifies (0 for
        ``rho == 0``).

    Examples
    --------
    Against the classic bound ``rho + 2 sqrt(rho log(1/delta))`` (Bun and Steinke 2016):

    >>> import math
    >>> zcdp_epsilon(0.5, 1e-5) < 0.5 + 2 * math.sqrt(0.5 * math.log(1e5))
    True
    """
    if (
        isinstance(rho, bool)
        or not isinstance(rho, (int, float))
        or not math.isfinite(rho)
        or rho < 0
    ):
        raise invalid_argument(
            "zcdp_epsilon", "rho", rho, "a finite number >= 0", fix="pass e.g. rho=0.1"
        )
    delta = _check_delta("zcdp_epsilon", delta, fix="use delta=1e-6")
    if rho == 0:
        return 0.0
    log_delta = math.log(delta)
    values = _bound(float(rho), log_delta, _GRID)
    best = int(np.argmin(values))
    # Golden-section search on log(alpha - 1) between the grid neighbours of the best point.
    low, high = math.log(_GRID[max(best - 1, 0)]), math.log(_GRID[min(best + 1, len(_GRID) - 1)])

    def f(t: float) -> float:
        return float(_bound(float(rho), log_delta, np.asarray([math.exp(t)]))[0])

    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = low + (1 - ratio) * (high - low), low + ratio * (high - low)
    fa, fb = f(a), f(b)
    for _ in range(80):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = low + (1 - ratio) * (high - low)
            fa = f(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = f(b)
    refined = min(fa, fb)
    epsilon = min(float(values[best]), refined)
    return max(0.0, epsilon)


def zcdp_rho(epsilon: float, delta: float) -> float:
    """Find the largest ``rho`` whose conversion stays within ``(epsilon, delta)``.

    Parameters
    ----------
    epsilon : float
        The target epsilon, > 0.
    delta : float
        The target delta, in (0, 1).

    Returns
    -------
    float
        ``rho`` with ``zcdp_epsilon(rho, delta) <= epsilon``, within a relative 1e-9 of
        the largest such value.

    Examples
    --------
    >>> rho = zcdp_rho(3.0, 1e-5)
    >>> 2.999 < zcdp_epsilon(rho, 1e-5) <= 3.0
    True
    """
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, (int, float))
        or not math.isfinite(epsilon)
        or epsilon <= 0
    ):
        raise invalid_argument(
            "zcdp_rho", "epsilon", epsilon, "a finite number > 0", fix="pass e.g. epsilon=1.0"
        )
    delta = _check_delta("zcdp_rho", delta, fix="use delta=1e-6")
    # epsilon(rho) grows with rho and epsilon(epsilon) > epsilon, so rho is in (0, epsilon).
    low, high = 0.0, float(epsilon)
    while high - low > 1e-9 * high:
        middle = 0.5 * (low + high)
        if zcdp_epsilon(middle, delta) <= epsilon:
            low = middle
        else:
            high = middle
    return low
