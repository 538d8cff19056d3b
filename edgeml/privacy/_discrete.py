"""Exact discrete Laplace and discrete Gaussian noise, drawn from a CSPRNG.

The samplers follow Canonne, Kamath and Steinke, "The Discrete Gaussian for Differential
Privacy" (NeurIPS 2020), Algorithms 1-3: every step is an integer comparison against
``secrets.randbelow`` (or an injected ``randbelow`` for tests), with rational parameters
held as :class:`fractions.Fraction`. No floating-point number is involved, so the output
distribution is *exactly* the stated one: the low-order-bit attack on textbook float
Laplace noise (Mironov, CCS 2012) has nothing to read.

Distributions (``x`` ranges over the integers):

- discrete Laplace with scale ``t``: ``P(x) = tanh(1 / (2t)) exp(-|x| / t)``; adding it
  to an integer query of L1 sensitivity ``k`` gives pure ``(k / t)``-DP;
- discrete Gaussian with variance parameter ``sigma**2``:
  ``P(x) proportional to exp(-x**2 / (2 sigma**2))``; adding independent draws to an
  integer vector query of L2 sensitivity ``k`` gives ``k**2 / (2 sigma**2)``-zCDP
  (CKS 2020, Theorem 4 for one coordinate; Renyi divergences of independent
  coordinates add, so the vector bound is the sum over the coordinates that change).

Examples
--------
>>> import random
>>> draw = random.Random(0).randrange  # tests only; the default is secrets.randbelow
>>> all(isinstance(discrete_laplace(2, randbelow=draw), int) for _ in range(5))
True
>>> isinstance(discrete_gaussian(3.5, randbelow=draw), int)
True
"""

from __future__ import annotations

import functools
import math
import secrets
from collections.abc import Callable
from fractions import Fraction
from typing import Any

__all__ = [
    "RandBelow",
    "discrete_gaussian",
    "discrete_gaussian_pmf",
    "discrete_laplace",
    "discrete_laplace_event",
    "discrete_laplace_pmf",
    "gaussian_sigma",
    "laplace_scale",
    "zcdp_epsilon",
    "zcdp_event",
]

#: ``randbelow(n)`` returns a uniform integer in ``[0, n)``; ``secrets.randbelow`` by default.
RandBelow = Callable[[int], int]


def _bernoulli(p: Fraction, randbelow: RandBelow) -> bool:
    """Exact Bernoulli(p) for a rational ``p`` in [0, 1]."""
    return randbelow(p.denominator) < p.numerator


def _bernoulli_exp_small(gamma: Fraction, randbelow: RandBelow) -> bool:
    """Exact Bernoulli(exp(-gamma)) for rational ``gamma`` in [0, 1] (CKS Algorithm 1)."""
    k = 1
    while _bernoulli(gamma / k, randbelow):
        k += 1
    return k % 2 == 1


def _bernoulli_exp(gamma: Fraction, randbelow: RandBelow) -> bool:
    """Exact Bernoulli(exp(-gamma)) for any rational ``gamma >= 0``."""
    whole = math.floor(gamma)
    for _ in range(whole):
        if not _bernoulli_exp_small(Fraction(1), randbelow):
            return False
    return _bernoulli_exp_small(gamma - whole, randbelow)


def _as_fraction(name: str, value: float | Fraction | int) -> Fraction:
    # Fraction(float) is exact: the sampler uses the float's exact binary value.
    fraction = Fraction(value)
    if fraction <= 0:
        raise ValueError(f"{name} must be positive; got {value!r}.")
    return fraction


def discrete_laplace(scale: float | Fraction | int, *, randbelow: RandBelow | None = None) -> int:
    """Draw one integer from the discrete Laplace distribution with scale ``scale``.

    CKS 2020, Algorithm 2, with the scale ``t = numerator / denominator`` taken exactly.
    Expected cost is a few dozen calls to ``randbelow`` for any scale.

    Parameters
    ----------
    scale : float, Fraction or int
        ``t > 0``: ``P(x)`` is proportional to ``exp(-|x| / t)``.
    randbelow : callable, optional
        Source of uniform integers; :func:`secrets.randbelow` (the operating system's
        CSPRNG) by default. Inject ``random.Random(seed).randrange`` only in tests.

    Returns
    -------
    int

    Examples
    --------
    >>> import random
    >>> draws = [discrete_laplace(1, randbelow=random.Random(1).randrange) for _ in range(3)]
    >>> all(isinstance(d, int) for d in draws)
    True
    """
    draw = secrets.randbelow if randbelow is None else randbelow
    t = _as_fraction("scale", scale)
    # P(x) ~ exp(-|x| / t) with t = n / d: draw a geometric in units of 1/d, divide by n.
    # CKS Algorithm 2 with scale t = n / d: X is geometric with P(X = x) ~ exp(-x / n)
    # (u uniform below n, then whole multiples of n), and X // d has P ~ exp(-y d / n).
    n, d = t.numerator, t.denominator
    while True:
        u = draw(n)
        if not _bernoulli_exp(Fraction(u, n), draw):
            continue
        v = 0
        while _bernoulli_exp_small(Fraction(1), draw):
            v += 1
        y = (u + n * v) // d
        negative = draw(2) == 1
        if negative and y == 0:
            continue
        return -y if negative else y


def discrete_gaussian(sigma: float | Fraction | int, *, randbelow: RandBelow | None = None) -> int:
    """Draw one integer from the discrete Gaussian with parameter ``sigma``.

    CKS 2020, Algorithm 3: a discrete Laplace proposal with scale ``floor(sigma) + 1``
    accepted with probability ``exp(-(|y| - sigma**2 / t)**2 / (2 sigma**2))``, all in
    exact rational arithmetic (``sigma**2`` is the exact square of the given value).

    Parameters
    ----------
    sigma : float, Fraction or int
        ``sigma > 0``: ``P(x)`` is proportional to ``exp(-x**2 / (2 sigma**2))``.
    randbelow : callable, optional
        As in :func:`discrete_laplace`.

    Returns
    -------
    int

    Examples
    --------
    >>> import random
    >>> isinstance(discrete_gaussian(2.0, randbelow=random.Random(0).randrange), int)
    True
    """
    draw = secrets.randbelow if randbelow is None else randbelow
    s = _as_fraction("sigma", sigma)
    variance = s * s
    t = math.floor(s) + 1
    while True:
        y = discrete_laplace(t, randbelow=draw)
        gap = abs(y) - variance / t
        if _bernoulli_exp(gap * gap / (2 * variance), draw):
            return y


def discrete_laplace_pmf(x: int, scale: float) -> float:
    """Probability of ``x`` under the discrete Laplace with scale ``scale`` (closed form).

    Examples
    --------
    >>> round(discrete_laplace_pmf(0, 1.0), 6)
    0.462117
    """
    return math.tanh(1 / (2 * scale)) * math.exp(-abs(x) / scale)


def discrete_gaussian_pmf(x: int, sigma: float) -> float:
    """Probability of ``x`` under the discrete Gaussian (normalised by a truncated sum).

    The normalising constant sums ``exp(-k**2 / (2 sigma**2))`` over ``|k| <= 40 sigma + 40``;
    the omitted tail is below ``exp(-800)``.

    Examples
    --------
    >>> round(discrete_gaussian_pmf(0, 1.0), 6)
    0.398942
    """
    reach = int(40 * sigma) + 40
    total = math.fsum(math.exp(-(k * k) / (2 * sigma * sigma)) for k in range(-reach, reach + 1))
    return math.exp(-(x * x) / (2 * sigma * sigma)) / total


# ----------------------------------------------------------------------------- calibration


def laplace_scale(sensitivity: int, epsilon: float) -> Fraction:
    """Return the discrete Laplace scale giving pure ``epsilon``-DP at L1 ``sensitivity``.

    ``t = sensitivity / epsilon`` as a fraction of the exact binary value of ``epsilon``,
    so the privacy loss ``sensitivity / t`` equals ``epsilon`` with no rounding.

    Examples
    --------
    >>> laplace_scale(2, 0.5)
    Fraction(4, 1)
    """
    return Fraction(sensitivity) / Fraction(epsilon)


def zcdp_epsilon(rho: float, delta: float) -> float:
    """Epsilon at ``delta`` of a ``rho``-zCDP mechanism, as dp-accounting's RDP accountant says.

    ``rho``-zCDP is Renyi DP ``alpha * rho`` at every order ``alpha``, exactly the RDP
    curve of a Gaussian event with noise multiplier ``1 / sqrt(2 rho)``; that event is
    composed (so this works with every dp-accounting release, including those without
    ``ZCDpEvent``) and converted as a ledger with the RDP accountant would.

    Examples
    --------
    >>> round(zcdp_epsilon(0.5, 1e-5), 3)
    4.729
    """
    import dp_accounting

    accountant = dp_accounting.rdp.RdpAccountant()
    accountant.compose(dp_accounting.GaussianDpEvent(1 / math.sqrt(2 * rho)))
    return float(accountant.get_epsilon(delta))


def zcdp_event(rho: float) -> Any:
    """Return the dp-accounting event of a ``rho``-zCDP release.

    ``ZCDpEvent(rho)`` where dp-accounting has it (0.5 and later); older releases get
    ``UnsupportedDpEvent``, so a ledger adds the release's stated (epsilon, delta) by
    basic composition. (A ``GaussianDpEvent`` would be wrong: a PLD accountant would
    read it as the continuous Gaussian, which the discrete one does not always match.)

    Examples
    --------
    >>> type(zcdp_event(0.1)).__name__ in ("ZCDpEvent", "UnsupportedDpEvent")
    True
    """
    import dp_accounting

    event = getattr(dp_accounting.dp_event, "ZCDpEvent", None)
    return dp_accounting.UnsupportedDpEvent() if event is None else event(rho)


def discrete_laplace_event(noise_parameter: float, sensitivity: int) -> Any:
    """Return the dp-accounting event of a discrete Laplace release (see :func:`zcdp_event`).

    Examples
    --------
    >>> type(discrete_laplace_event(1.0, 1)).__name__ in (
    ...     "DiscreteLaplaceDpEvent", "UnsupportedDpEvent")
    True
    """
    import dp_accounting

    event = getattr(dp_accounting.dp_event, "DiscreteLaplaceDpEvent", None)
    if event is None:
        return dp_accounting.UnsupportedDpEvent()
    return event(noise_parameter, int(sensitivity))


def gaussian_sigma(sensitivity_squared: int, epsilon: float, delta: float) -> float:
    """Return the discrete Gaussian ``sigma`` for ``(epsilon, delta)`` at squared sensitivity.

    Finds by bisection (on ``log rho``) the largest ``rho`` whose zCDP guarantee converts
    to at most ``epsilon`` at ``delta`` (the conversion a :class:`~edgeml.privacy.Ledger`
    with the RDP accountant uses), then ``sigma = sqrt(k**2 / (2 rho))``. The ``rho`` is
    cached per ``(epsilon, delta)``.

    Examples
    --------
    >>> sigma = gaussian_sigma(1, 1.0, 1e-5)
    >>> zcdp_epsilon(1 / (2 * sigma**2), 1e-5) <= 1.0
    True
    """
    return math.sqrt(sensitivity_squared / (2 * _rho_for(float(epsilon), float(delta))))


@functools.lru_cache(maxsize=256)
def _rho_for(epsilon: float, delta: float) -> float:
    # Bracket: Bun & Steinke's conversion eps = rho + 2 sqrt(rho ln(1/delta)) is valid but
    # looser, so its rho is safe (lower end); no conversion gives eps below rho (upper end).
    log_inv = math.log(1 / delta)
    low = math.log((math.sqrt(log_inv + epsilon) - math.sqrt(log_inv)) ** 2)
    high = math.log(epsilon)
    if zcdp_epsilon(math.exp(low), delta) > epsilon:
        # The accountant's finite list of orders cannot reach this (huge) epsilon; Bun &
        # Steinke's bound (Proposition 1.3) still proves it.
        return math.exp(low) * (1 - 1e-9)
    while high - low > 1e-7:
        middle = (low + high) / 2
        if zcdp_epsilon(math.exp(middle), delta) <= epsilon:
            low = middle
        else:
            high = middle
    # rounded down a little more, so that sigma computed in floating point never undershoots
    return math.exp(low) * (1 - 1e-9)
