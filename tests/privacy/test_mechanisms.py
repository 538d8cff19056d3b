"""DP aggregates: noise distribution, calibration, clipping, events and ledger recording.

References: the noise of many seeded releases is compared with the intended Laplace or
normal distribution by scipy's Kolmogorov-Smirnov test; the analytic Gaussian sigma is
checked against dp-accounting's PLD accountant (which computes the exact epsilon of a
Gaussian mechanism) and against the classical bound sqrt(2 ln(1.25/delta)) / epsilon
(Dwork & Roth 2014, Theorem A.1), which it must not exceed; exact statistics come from
numpy.
"""

from __future__ import annotations

import math

import dp_accounting
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from edgeml.errors import ConfigError, DataError, PrivacyBudgetExceeded
from edgeml.privacy.mechanisms import (
    DPResult,
    analytic_gaussian_sigma,
    dp_count,
    dp_histogram,
    dp_mean,
    dp_quantile,
    dp_sum,
)

pytestmark = pytest.mark.compat

DRAWS = 3000


def noise_draws(release, exact: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(20240601)
    return np.array([release(rng).value - exact for _ in range(DRAWS)])


def test_laplace_count_noise_has_scale_one_over_epsilon() -> None:
    epsilon = 0.5
    noise = noise_draws(lambda rng: dp_count(100, epsilon=epsilon, seed=rng), 100)
    assert stats.kstest(noise, stats.laplace(scale=1 / epsilon).cdf).pvalue > 1e-3
    # the test has power: a 30% larger scale is rejected
    assert stats.kstest(noise, stats.laplace(scale=1.3 / epsilon).cdf).pvalue < 1e-4


def test_gaussian_sum_noise_has_the_analytic_sigma() -> None:
    # bounds [-2, 3]: one record moves the sum by at most 3
    values = np.array([-5.0, 0.5, 1.0, 10.0])
    exact = -2.0 + 0.5 + 1.0 + 3.0
    sigma = analytic_gaussian_sigma(1.0, 1e-5, sensitivity=3.0)

    def release(rng: np.random.Generator) -> DPResult:
        return dp_sum(
            values, lower=-2, upper=3, epsilon=1.0, delta=1e-5, mechanism="gaussian", seed=rng
        )

    noise = noise_draws(release, exact)
    assert stats.kstest(noise, stats.norm(scale=sigma).cdf).pvalue > 1e-3
    assert stats.kstest(noise, stats.norm(scale=1.3 * sigma).cdf).pvalue < 1e-4


@pytest.mark.parametrize(("epsilon", "delta"), [(0.1, 1e-6), (1.0, 1e-5), (4.0, 1e-8)])
def test_analytic_gaussian_sigma_is_tight_per_dp_accounting(epsilon: float, delta: float) -> None:
    sigma = analytic_gaussian_sigma(epsilon, delta)
    accountant = dp_accounting.pld.PLDAccountant()
    accountant.compose(dp_accounting.GaussianDpEvent(sigma))
    assert accountant.get_epsilon(delta) == pytest.approx(epsilon, rel=2e-3)
    if epsilon < 1:  # the classical bound only holds there, and is looser
        assert sigma < math.sqrt(2 * math.log(1.25 / delta)) / epsilon
    # sigma scales linearly with sensitivity
    assert analytic_gaussian_sigma(epsilon, delta, 7.0) == pytest.approx(7 * sigma, rel=1e-9)


def test_laplace_event_has_the_stated_epsilon_per_dp_accounting() -> None:
    result = dp_sum([1.0, 2.0], lower=0, upper=4, epsilon=0.8, seed=0)
    event = result.dp_event()
    assert event == dp_accounting.LaplaceDpEvent(4 / 0.8 / 4)
    accountant = dp_accounting.pld.PLDAccountant()
    accountant.compose(event)
    assert accountant.get_epsilon(1e-12) == pytest.approx(0.8, rel=1e-2)


def test_clipping_bounds_each_record_and_is_counted() -> None:
    values = np.array([-10.0, 0.0, 2.5, 3.0, 99.0])
    result = dp_sum(values, lower=0, upper=3, epsilon=1e9, seed=0)
    assert result.value == pytest.approx(np.clip(values, 0, 3).sum(), abs=1e-6)
    assert result.n_clipped == 2
    assert result.parts == (("sum", 3.0, 3.0 / 1e9),)
    assert "n_clipped" not in result.to_dict()


def test_mean_splits_the_budget_over_a_centred_sum_and_a_count() -> None:
    values = np.array([1.0, 2.0, 3.0, 50.0])
    result = dp_mean(values, lower=0, upper=10, epsilon=1e9, seed=1)
    assert result.value == pytest.approx(np.clip(values, 0, 10).mean(), abs=1e-6)
    event = dp_mean(values, lower=0, upper=10, epsilon=2.0, seed=1).dp_event()
    # each half has epsilon 1: centred-sum sensitivity 5 -> b = 5, count b = 1
    assert event == dp_accounting.ComposedDpEvent(
        [dp_accounting.LaplaceDpEvent(1.0), dp_accounting.LaplaceDpEvent(1.0)]
    )
    gaussian = dp_mean(values, lower=0, upper=10, epsilon=2.0, delta=1e-6, mechanism="gaussian")
    sigma_half = analytic_gaussian_sigma(1.0, 5e-7)
    assert [p[2] for p in gaussian.parts] == pytest.approx([5 * sigma_half, sigma_half])
    assert 0 <= gaussian.value <= 10


def test_histogram_counts_with_bins_and_categories() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(size=500)
    edges = [-1.0, 0.0, 1.0]
    result = dp_histogram(data, bins=edges, epsilon=1e9, seed=0)
    expected = np.histogram(np.clip(data, -1, 1), bins=edges)[0]
    np.testing.assert_allclose(result.value, expected, atol=1e-6)
    assert result.dp_event() == dp_accounting.LaplaceDpEvent(1e-9)
    cats = dp_histogram(["a", "b", "a", "z"], categories=["a", "b"], epsilon=1e9, seed=0)
    np.testing.assert_allclose(cats.value, [2, 1], atol=1e-6)
    assert cats.n_clipped == 1


def test_quantiles_from_one_histogram_cost_its_budget_once() -> None:
    data = np.random.default_rng(5).uniform(0, 100, 20_000)
    result = dp_quantile(data, [0.1, 0.5, 0.9], lower=0, upper=100, epsilon=1.0, bins=100, seed=0)
    # resolution is one bin (width 1); noise adds a little on top
    np.testing.assert_allclose(result.value, np.quantile(data, [0.1, 0.5, 0.9]), atol=1.5)
    assert result.epsilon == 1.0
    assert result.dp_event() == dp_accounting.LaplaceDpEvent(1.0)
    assert isinstance(dp_quantile(data, 0.5, lower=0, upper=100, epsilon=1.0).value, float)


def test_default_noise_is_fresh_and_seeds_reproduce() -> None:
    unseeded = {dp_count(10, epsilon=1.0).value for _ in range(5)}
    assert len(unseeded) == 5
    assert dp_count(10, epsilon=1.0, seed=7).value == dp_count(10, epsilon=1.0, seed=7).value


def test_releases_are_recorded_in_a_real_ledger_and_refused_over_budget() -> None:
    from edgeml.privacy.accounting import Ledger

    ledger = Ledger(delta=1e-5, budget=1.5)
    result = dp_count(100, epsilon=1.0, seed=0, ledger=ledger, name="active users")
    (entry,) = ledger.entries
    assert (entry.name, entry.event, entry.epsilon, entry.delta) == (
        "active users",
        result.dp_event(),
        1.0,
        0.0,
    )
    with pytest.raises(PrivacyBudgetExceeded):
        dp_mean([1.0], lower=0, upper=1, epsilon=1.0, seed=0, ledger=ledger)
    assert len(ledger.entries) == 1


class RecordingLedger:
    """The agreed interface: record(name=, event=, epsilon=, delta=)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def record(self, *, name: str, event: object, epsilon: float, delta: float) -> None:
        self.calls.append({"name": name, "event": event, "epsilon": epsilon, "delta": delta})


def test_every_mechanism_records_exactly_once_with_the_agreed_keywords() -> None:
    ledger = RecordingLedger()
    kwargs = {"epsilon": 1.0, "delta": 1e-6, "mechanism": "gaussian", "seed": 0, "ledger": ledger}
    results = [
        dp_count([1, 2], **kwargs),
        dp_sum([1.0], lower=0, upper=1, **kwargs),
        dp_mean([1.0], lower=0, upper=1, **kwargs),
        dp_histogram([1.0], bins=[0, 1, 2], **kwargs),
        dp_quantile([1.0], 0.5, lower=0, upper=2, **kwargs),
    ]
    assert [c["name"] for c in ledger.calls] == [
        "dp_count",
        "dp_sum",
        "dp_mean",
        "dp_histogram",
        "dp_quantile",
    ]
    for call, result in zip(ledger.calls, results, strict=True):
        assert call["event"] == result.dp_event()
        assert (call["epsilon"], call["delta"]) == (1.0, 1e-6)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: dp_count(5, epsilon=1.0, delta=1e-5), ConfigError, "pure epsilon-DP"),
        (lambda: dp_count(5, epsilon=1.0, mechanism="gaussian"), ConfigError, r"in \(0, 1\)"),
        (lambda: dp_count(5, epsilon=0.0), ConfigError, "positive"),
        (lambda: dp_count(5, epsilon=1.0, mechanism="exp"), ConfigError, "one of"),
        (lambda: dp_sum([1.0], lower=1, upper=1, epsilon=1.0), ConfigError, "greater than"),
        (lambda: dp_sum([np.nan], lower=0, upper=1, epsilon=1.0), DataError, "NaN"),
        (lambda: dp_histogram([1], epsilon=1.0), ConfigError, "one of them"),
        (lambda: dp_quantile([1.0], 2.0, lower=0, upper=1, epsilon=1.0), ConfigError, "q"),
        (lambda: dp_count(5, epsilon=1.0, seed=1.5), ConfigError, "'seed' argument of dp_count"),
        (
            lambda: dp_quantile([1.0], 0.5, lower=0, upper=1, epsilon=1.0, seed="x"),
            ConfigError,
            "'seed' argument of dp_quantile",
        ),
        (
            lambda: dp_quantile([np.inf], 0.5, lower=0, upper=1, epsilon=1.0),
            DataError,
            "dp_quantile",
        ),
    ],
)
def test_bad_arguments_are_rejected(call: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()  # type: ignore[operator]


finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(
    st.lists(finite, max_size=50),
    st.tuples(finite, finite).filter(lambda b: b[1] - b[0] > 1e-3),
    st.integers(0, 2**32 - 1),
)
def test_clipping_and_post_processing_invariants(
    values: list[float], bounds: tuple[float, float], seed: int
) -> None:
    lower, upper = bounds
    clipped = np.clip(np.asarray(values, dtype=float), lower, upper)
    exact = dp_sum(values, lower=lower, upper=upper, epsilon=1e12, seed=seed)
    assert exact.value == pytest.approx(clipped.sum(), rel=1e-9, abs=1e-3)
    assert exact.n_clipped == int(np.sum(clipped != np.asarray(values, dtype=float)))
    mean = dp_mean(values, lower=lower, upper=upper, epsilon=0.1, seed=seed)
    assert lower <= mean.value <= upper
    quantiles = dp_quantile(
        values, [0.1, 0.5, 0.9], lower=lower, upper=upper, epsilon=0.5, seed=seed
    )
    assert np.all(np.diff(quantiles.value) >= 0)
    assert np.all((quantiles.value >= lower) & (quantiles.value <= upper))
