"""The arithmetic of client-level DP-FedAvg: sample clients, clip updates, noise the sum.

Plain numpy, no Flower and no TensorFlow, so that every formula can be checked on its own
against its closed form. A model update is a list of arrays (one per weight tensor); its
norm is the L2 norm of all of them flattened together (the "flat clipping" of McMahan et
al. 2018).

Examples
--------
>>> import numpy as np
>>> update = [np.array([3.0, 0.0]), np.array([[4.0]])]
>>> update_norm(update)
5.0
>>> [a.tolist() for a in clip_update(update, 1.0)[0]]
[[0.6, 0.0], [[0.8]]]
>>> noise_std(noise_multiplier=1.0, clip_norm=1.0, expected_clients=10)
0.1
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "adaptive_clip_update",
    "clip_update",
    "effective_noise_multiplier",
    "noise_std",
    "noisy_step",
    "poisson_sample",
    "update_noise_multiplier",
    "update_norm",
]

Arrays = list[NDArray[np.float64]]
T = TypeVar("T")


def update_norm(update: Sequence[NDArray[np.floating]]) -> float:
    """L2 norm of all arrays of an update flattened into one vector.

    Parameters
    ----------
    update : sequence of numpy.ndarray

    Returns
    -------
    float

    Examples
    --------
    >>> update_norm([np.ones(4), np.ones((3, 4))])
    4.0
    """
    return float(math.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in update)))


def clip_update(update: Sequence[NDArray[np.floating]], clip_norm: float) -> tuple[Arrays, bool]:
    """Scale an update to L2 norm at most ``clip_norm``.

    Parameters
    ----------
    update : sequence of numpy.ndarray
    clip_norm : float
        The bound ``C`` > 0.

    Returns
    -------
    clipped : list of numpy.ndarray
        ``update * min(1, C / norm)`` in float64.
    was_clipped : bool
        Whether the norm exceeded ``C`` (the bit adaptive clipping counts).

    Examples
    --------
    >>> clipped, bit = clip_update([np.array([0.3, 0.4])], 1.0)
    >>> clipped[0].tolist(), bit
    ([0.3, 0.4], False)
    """
    norm = update_norm(update)
    factor = 1.0 if norm <= clip_norm else clip_norm / norm
    return [np.asarray(a, dtype=np.float64) * factor for a in update], norm > clip_norm


def noise_std(*, noise_multiplier: float, clip_norm: float, expected_clients: float) -> float:
    """Return the standard deviation of the Gaussian noise on the averaged update.

    DP-FedAvg (McMahan et al. 2018) adds ``N(0, (z C)^2)`` to the sum of clipped updates
    and divides by the *expected* number of clients ``q N`` (a fixed denominator, so that
    one client's presence changes the average by at most ``C / (q N)``): the noise on the
    average has standard deviation ``z C / (q N)``.

    Parameters
    ----------
    noise_multiplier, clip_norm, expected_clients : float

    Returns
    -------
    float

    Examples
    --------
    >>> noise_std(noise_multiplier=1.2, clip_norm=0.5, expected_clients=4.0)
    0.15
    """
    return float(noise_multiplier * clip_norm / expected_clients)


def poisson_sample(rng: np.random.Generator, items: Sequence[T], rate: float) -> list[T]:
    """Keep each item independently with probability ``rate`` (Poisson sampling).

    This is the client sampling the accounting's ``PoissonSampledDpEvent`` assumes.

    Parameters
    ----------
    rng : numpy.random.Generator
    items : sequence
        The connected clients, in a fixed order.
    rate : float
        The sampling rate ``q``.

    Returns
    -------
    list
        The chosen items, in their original order.

    Examples
    --------
    >>> poisson_sample(np.random.default_rng(0), [1, 2, 3], 1.0)
    [1, 2, 3]
    """
    keep = rng.random(len(items)) < rate
    return [item for item, chosen in zip(items, keep, strict=True) if chosen]


def noisy_step(
    current: Sequence[np.ndarray],
    clipped_sum: Sequence[NDArray[np.floating]],
    rng: np.random.Generator,
    *,
    sum_std: float,
    expected_clients: float,
) -> list[np.ndarray]:
    """Return the new global weights: ``current + (sum + N(0, sum_std^2)) / (q N)``.

    Noise is drawn array by array, in order; each result keeps its array's dtype.

    Parameters
    ----------
    current : sequence of numpy.ndarray
        The global weights of the round.
    clipped_sum : sequence of numpy.ndarray
        The sum of the clipped updates, one array per weight.
    rng : numpy.random.Generator
    sum_std : float
        ``z C``, the noise on the sum.
    expected_clients : float
        ``q N``, the fixed denominator.

    Returns
    -------
    list of numpy.ndarray

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> [w.tolist() for w in noisy_step([np.ones(2, np.float32)], [np.array([2.0, 4.0])],
    ...                                 rng, sum_std=0.0, expected_clients=2.0)]
    [[2.0, 3.0]]
    """
    new = []
    for c, acc in zip(current, clipped_sum, strict=True):
        noisy = (acc + rng.normal(0.0, sum_std, size=acc.shape)) / expected_clients
        new.append((c.astype(np.float64) + noisy).astype(c.dtype))
    return new


def adaptive_clip_update(
    clip_norm: float,
    noisy_clipped_fraction: float,
    *,
    target_quantile: float,
    learning_rate: float,
) -> float:
    """Geometric update of the clip norm towards a quantile of the update norms.

    Andrew et al. 2021 ("Differentially private learning with adaptive clipping"),
    equation (3): ``C <- C * exp(-eta * (b - gamma))`` where ``b`` is the (noisy) fraction
    of updates whose norm was at most ``C`` and ``gamma`` the target quantile. Here the
    argument is the fraction that *was clipped* (norm above ``C``), ``1 - b``, so the
    sign flips: the norm grows when more than ``1 - gamma`` of the updates were clipped.

    Parameters
    ----------
    clip_norm : float
        The current clip norm.
    noisy_clipped_fraction : float
        The noisy fraction of clipped updates this round.
    target_quantile : float
        ``gamma``: the fraction of updates that should fit under the clip norm.
    learning_rate : float
        ``eta``.

    Returns
    -------
    float
        The next clip norm.

    Examples
    --------
    Half clipped with target quantile 0.5: unchanged.

    >>> adaptive_clip_update(1.0, 0.5, target_quantile=0.5, learning_rate=0.2)
    1.0
    >>> round(adaptive_clip_update(1.0, 1.0, target_quantile=0.5, learning_rate=0.2), 6)
    1.105171
    """
    unclipped = 1.0 - noisy_clipped_fraction
    return float(clip_norm * math.exp(-learning_rate * (unclipped - target_quantile)))


def effective_noise_multiplier(update_multiplier: float, count_stddev: float | None) -> float:
    """Return the noise multiplier of an adaptive-clipping round as one Gaussian mechanism.

    A round releases the noisy sum of clipped updates (sensitivity ``C``, noise
    ``z_update C``) and the noisy count of unclipped updates, centred (each client adds
    ``b - 1/2``, sensitivity ``1/2``, noise ``count_stddev``). Both are computed on the same
    sampled clients, so together they are one Gaussian mechanism on the stacked vector;
    scaling each part to unit noise, its sensitivity is
    ``sqrt(z_update^-2 + (2 count_stddev)^-2)``, i.e. a noise multiplier of
    ``(z_update^-2 + (2 count_stddev)^-2)^(-1/2)`` (Andrew et al. 2021, section 3.1).

    Parameters
    ----------
    update_multiplier : float
        ``z_update`` > 0.
    count_stddev : float or None
        The count noise; ``None`` for fixed clipping (no count is released).

    Returns
    -------
    float

    Examples
    --------
    >>> effective_noise_multiplier(1.0, None)
    1.0
    >>> round(effective_noise_multiplier(1.0, 2.0), 6)
    0.970143
    """
    if count_stddev is None:
        return float(update_multiplier)
    return float((update_multiplier**-2 + (2.0 * count_stddev) ** -2) ** -0.5)


def update_noise_multiplier(effective_multiplier: float, count_stddev: float | None) -> float:
    """Invert :func:`effective_noise_multiplier`: the update noise for a target total.

    Parameters
    ----------
    effective_multiplier : float
        The noise multiplier the accounting needs.
    count_stddev : float or None
        The count noise (``None`` for fixed clipping).

    Returns
    -------
    float
        ``(z^-2 - (2 sigma_b)^-2)^(-1/2)``; ``inf`` when the count alone already spends
        the whole budget (``2 sigma_b <= z``).

    Examples
    --------
    >>> round(update_noise_multiplier(0.970143, 2.0), 4)
    1.0
    """
    if count_stddev is None:
        return float(effective_multiplier)
    rest = effective_multiplier**-2 - (2.0 * count_stddev) ** -2
    return math.inf if rest <= 0 else float(rest**-0.5)
