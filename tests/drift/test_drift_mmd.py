"""MMD: closed form on a tiny sample, permutation p-value rule, determinism."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from edgeml.drift import mmd
from edgeml.errors import ConfigError, DataError

pytestmark = pytest.mark.compat


def direct_unbiased_mmd2(x: np.ndarray, y: np.ndarray, width: float) -> float:
    # Gretton et al. (2012), eq. (3), written as plain sums over pairs.
    def k(a: np.ndarray, b: np.ndarray) -> float:
        return math.exp(-float(np.sum((a - b) ** 2)) / (2 * width * width))

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(a, b) for a in x for b in y) / (n * m)
    return xx + yy - 2 * xy


def test_statistic_matches_direct_formula() -> None:
    gen = np.random.default_rng(0)
    x, y = gen.normal(size=(7, 2)), gen.normal(0.5, size=(5, 2))
    result = mmd(x, y, bandwidth=1.3, n_permutations=10)
    assert result.statistic == pytest.approx(direct_unbiased_mmd2(x, y, 1.3), rel=1e-12)


def test_median_heuristic_bandwidth() -> None:
    gen = np.random.default_rng(1)
    x, y = gen.normal(size=(6, 3)), gen.normal(size=(4, 3))
    pooled = np.concatenate([x, y])
    distances = [np.linalg.norm(a - b) for a, b in itertools.combinations(pooled, 2)]
    result = mmd(x, y, n_permutations=5)
    assert result.details["bandwidth"] == pytest.approx(float(np.median(distances)))
    assert result.statistic == pytest.approx(
        direct_unbiased_mmd2(x, y, float(np.median(distances))), rel=1e-12
    )


def test_pvalue_counts_the_observed_split() -> None:
    # (k + 1) / (n + 1): with 9 permutations the smallest possible p-value is 0.1, never 0.
    gen = np.random.default_rng(2)
    far = mmd(gen.normal(size=(50, 2)), gen.normal(5.0, size=(50, 2)), n_permutations=9)
    assert far.pvalue == pytest.approx(0.1)
    assert not far.drifted  # 0.1 is not below alpha = 0.05 with so few permutations
    many = mmd(gen.normal(size=(50, 2)), gen.normal(5.0, size=(50, 2)), n_permutations=199)
    assert many.pvalue == pytest.approx(1 / 200)
    assert many.drifted


def test_same_distribution_not_flagged_and_seeded() -> None:
    gen = np.random.default_rng(3)
    x, y = gen.normal(size=(150, 4)), gen.normal(size=(150, 4))
    first = mmd(x, y, seed=11)
    assert first.pvalue > 0.05
    assert mmd(x, y, seed=11) == first
    assert mmd(x, y, seed=np.random.default_rng(11)).pvalue == first.pvalue


def test_subsampling_and_bad_input() -> None:
    gen = np.random.default_rng(4)
    big = gen.normal(size=(3000, 2))
    result = mmd(big, big + 1.0, max_samples=200, n_permutations=50)
    assert result.details["n_reference"] == 200
    assert result.drifted
    dirty = big[:50].copy()
    dirty[3, 1] = np.nan
    with pytest.raises(DataError, match="1 rows with NaN"):
        mmd(dirty, big[:50])
    assert mmd(dirty, big[:50], nan_policy="omit").details["n_reference"] == 49
    with pytest.raises(ConfigError, match="n_permutations"):
        mmd(big, big, n_permutations=0)
    for seed in ("7", 1.5, -1, True):  # numpy raised TypeError/ValueError from inside
        with pytest.raises(ConfigError, match="'seed' argument of mmd"):
            mmd(big[:20], big[:20], seed=seed)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="columns"):
        mmd(big, big[:, :1])
