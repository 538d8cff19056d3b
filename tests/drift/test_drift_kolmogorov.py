"""The fast Kolmogorov survival function against scipy's ``kstwo.sf``, across n.

The stated tolerance (``RTOL`` relative, ``ATOL`` for subnormal p-values) is what is
asserted; scipy is the reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from edgeml.drift._kolmogorov import (
    ATOL,
    FAST_MIN_N,
    RTOL,
    kolmogorov_sf,
    pelz_good_cdf,
    smirnov_sf,
)

pytestmark = pytest.mark.compat


def _close(ours: float, reference: float) -> bool:
    return abs(ours - reference) <= RTOL * reference + ATOL


@pytest.mark.parametrize("n", [FAST_MIN_N, 7_919, 20_000, 99_991])
def test_matches_scipy_on_a_grid_of_z(n: int) -> None:
    # z = sqrt(n) x covers every branch: p = 1 (t <= 1), the Pelz-Good body
    # (n x^2 < 2.2, where scipy uses the Durbin matrix for n <= 100,000), the
    # Birnbaum-Tingey tail and p = 0 (n x^2 >= 370).
    z = np.r_[0.01, 0.05, 0.2, 0.5, 0.8, 1.0, 1.2, 1.4, 1.48, 1.49, 2.0, 3.0, 6.0, 12.0, 19.3]
    x = np.r_[z / math.sqrt(n), 0.7 / n, 1.0 / n, 0.3, 0.5, 1.0]
    ours = kolmogorov_sf(x, n)
    expected = np.array([stats.kstwo.sf(v, n) for v in x])
    for value, reference in zip(ours.tolist(), expected.tolist(), strict=True):
        assert _close(value, reference), (value, reference)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(n=st.integers(FAST_MIN_N, 60_000), z=st.floats(0.03, 19.0))
def test_matches_scipy_for_random_n_and_statistic(n: int, z: float) -> None:
    x = z / math.sqrt(n)
    assert _close(float(kolmogorov_sf(np.array([x]), n)[0]), float(stats.kstwo.sf(x, n)))


def test_large_n_matches_scipy() -> None:
    # n = 500,000 is the effective size of two samples of 1,000,000 (the benchmark).
    n = 500_000
    x = np.array([0.0004, 0.0011, 0.002, 0.0035])  # p from ~1 down to ~1e-5
    expected = np.array([stats.kstwo.sf(v, n) for v in x])
    assert np.all(np.abs(kolmogorov_sf(x, n) - expected) <= RTOL * expected)


def test_small_n_is_scipy_itself() -> None:
    x = np.array([0.01, 0.1, 0.3])
    assert kolmogorov_sf(x, 300).tolist() == stats.kstwo.sf(x, 300).tolist()


@pytest.mark.parametrize("n", [1_000, 30_000, 400_000])
def test_one_sided_smirnov_matches_scipy_special(n: int) -> None:
    for z in (1.05, 2.0, 5.0, 13.0):
        x = z / math.sqrt(n)
        reference = special.smirnov(n, x)
        assert abs(smirnov_sf(n, x) - reference) <= 1e-11 * reference


def test_pelz_good_tends_to_the_kolmogorov_limit() -> None:
    z = np.linspace(0.3, 1.5, 7)
    n = 10**14
    assert np.allclose(pelz_good_cdf(n, z / math.sqrt(n)), stats.kstwobign.cdf(z), atol=1e-6)
