"""DP aggregates: exact discrete noise, calibration, clipping, events and ledger recording.

References: draws of the discrete Laplace and discrete Gaussian samplers are compared with
their closed-form probability mass functions (Canonne, Kamath & Steinke 2020, Definitions
1 and 5) by scipy's chi-square test; epsilons are recomputed by dp-accounting (the PLD
accountant for the discrete Laplace, the RDP accountant for zCDP); the analytic Gaussian
sigma is checked against dp-accounting and the classical bound sqrt(2 ln(1.25/delta)) /
epsilon (Dwork & Roth 2014, Theorem A.1); the floating-point attack is Mironov's (CCS
2012) against numpy's Laplace sampler; exact statistics come from numpy.
"""

from __future__ import annotations

import math
import random

import dp_accounting
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from edgeml.errors import ConfigError, DataError, PrivacyBudgetExceeded
from edgeml.privacy._discrete import (
    discrete_gaussian,
    discrete_gaussian_pmf,
    discrete_laplace,
    discrete_laplace_pmf,
    gaussian_sigma,
    zcdp_epsilon,
)
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

# dp-accounting 0.4.3 (the compat lane, pinned by tensorflow-privacy) has neither event;
# there a release's dp_event() is UnsupportedDpEvent and ledgers use its stated epsilon.
DiscreteLaplaceDpEvent = getattr(dp_accounting.dp_event, "DiscreteLaplaceDpEvent", None)
ZCDpEvent = getattr(dp_accounting.dp_event, "ZCDpEvent", None)
needs_discrete_events = pytest.mark.skipif(
    DiscreteLaplaceDpEvent is None or ZCDpEvent is None,
    reason="this dp-accounting has no DiscreteLaplaceDpEvent / ZCDpEvent",
)

DRAWS = 4000


def chi_square_pvalue(draws: list[int], pmf) -> float:  # type: ignore[no-untyped-def]
    """Chi-square goodness of fit, pooling the tails so every expected count is >= 5."""
    values, counts = np.unique(draws, return_counts=True)
    observed = dict(zip(values.tolist(), counts.tolist(), strict=True))
    n = len(draws)
    low, high = 0, 0
    while n * pmf(low - 1) >= 5:
        low -= 1
    while n * pmf(high + 1) >= 5:
        high += 1
    inner = range(low, high + 1)
    expected = [n * pmf(k) for k in inner]
    got = [observed.get(k, 0) for k in inner]
    below = sum(c for v, c in observed.items() if v < low)
    above = sum(c for v, c in observed.items() if v > high)
    tail = (n - sum(expected)) / 2
    expected += [tail, tail]
    got += [below, above]
    return float(stats.chisquare(got, expected).pvalue)


BUDGETS = [(0.1, 1e-6), (1.0, 1e-5), (4.0, 1e-8)]


@pytest.mark.parametrize("scale", [0.7, 1.0, 2.5, 10 / 3])
def test_discrete_laplace_matches_its_pmf(scale: float) -> None:
    draw = random.Random(int(scale * 1000)).randrange
    draws = [discrete_laplace(scale, randbelow=draw) for _ in range(DRAWS)]
    assert chi_square_pvalue(draws, lambda k: discrete_laplace_pmf(k, scale)) > 1e-3
    # the test has power: a 30% larger scale is rejected
    assert chi_square_pvalue(draws, lambda k: discrete_laplace_pmf(k, 1.3 * scale)) < 1e-4


@pytest.mark.parametrize("sigma", [0.8, 2.0, 4.045])
def test_discrete_gaussian_matches_its_pmf(sigma: float) -> None:
    draw = random.Random(int(sigma * 1000)).randrange
    draws = [discrete_gaussian(sigma, randbelow=draw) for _ in range(DRAWS)]
    assert chi_square_pvalue(draws, lambda k: discrete_gaussian_pmf(k, sigma)) > 1e-3
    assert chi_square_pvalue(draws, lambda k: discrete_gaussian_pmf(k, 1.3 * sigma)) < 1e-4
    # closed form check of the pmf itself: a discrete Gaussian with large sigma is close
    # to the normal density at integers
    assert discrete_gaussian_pmf(3, 50.0) == pytest.approx(stats.norm(0, 50).pdf(3), rel=1e-9)


def test_laplace_count_noise_is_discrete_laplace_with_scale_one_over_epsilon() -> None:
    epsilon = 0.5
    rng = np.random.default_rng(20240601)
    draws = [int(dp_count(100, epsilon=epsilon, seed=rng).value) - 100 for _ in range(DRAWS)]
    assert chi_square_pvalue(draws, lambda k: discrete_laplace_pmf(k, 1 / epsilon)) > 1e-3
    assert chi_square_pvalue(draws, lambda k: discrete_laplace_pmf(k, 1.3 / epsilon)) < 1e-4


def test_gaussian_sum_is_on_its_grid_with_discrete_gaussian_noise() -> None:
    # bounds [-2, 3] on a grid of 0.5: one record moves the integer sum by at most 6
    values = np.array([-5.0, 0.4, 1.0, 10.0])
    exact_units = -4 + 1 + 2 + 6  # records rounded to the grid, in grid units
    sigma = gaussian_sigma(36, 1.0, 1e-5)
    rng = np.random.default_rng(7)

    def release() -> DPResult:
        return dp_sum(
            values,
            lower=-2,
            upper=3,
            epsilon=1.0,
            delta=1e-5,
            mechanism="gaussian",
            grid=0.5,
            seed=rng,
        )

    results = [release() for _ in range(DRAWS)]
    units = [r.value / 0.5 for r in results]
    assert all(u.is_integer() for u in units)
    draws = [int(u) - exact_units for u in units]
    assert chi_square_pvalue(draws, lambda k: discrete_gaussian_pmf(k, sigma)) > 1e-3
    assert results[0].parts == (("sum", 6, sigma),)
    if ZCDpEvent is not None:
        assert results[0].dp_event() == ZCDpEvent(36 / (2 * sigma**2))


def mironov_attack(release: float, scale: float) -> int | None:
    """Mironov's test: which of count 0 / count 1 could numpy's float Laplace have produced?

    numpy draws Laplace noise as ``scale * log(2u)`` or ``-scale * log(2 - 2u)`` with ``u``
    a multiple of 2**-53; a float release ``c + noise`` is possible for ``c`` only if some
    such noise gives exactly that float. Returns the only consistent count, or None.
    """
    possible = []
    for count in (0, 1):
        noise = release - count
        found = False
        for u_float in (math.exp(noise / scale) / 2, 1 - math.exp(-noise / scale) / 2):
            base = round(u_float * 2.0**53)
            for k in range(base - 2, base + 3):
                u = k / 2.0**53
                if not 0 < u < 1:
                    continue
                draw = scale * math.log(u + u) if u < 0.5 else -scale * math.log(2.0 - u - u)
                if count + draw == release:
                    found = True
        if found:
            possible.append(count)
    return possible[0] if len(possible) == 1 else None


def test_floating_point_attack_succeeds_no_more_often_than_pure_dp_allows() -> None:
    """Regression for issue 12, defect 3 (before: float Laplace, attacker certain ~80 %)."""
    epsilon, n = 1.0, 1500
    rng = np.random.default_rng(12)
    # the attack works on textbook float Laplace noise (this is what dp_count used to do)
    textbook = [c + rng.laplace(0.0, 1 / epsilon) for c in rng.integers(0, 2, 300)]
    assert sum(mironov_attack(r, 1 / epsilon) is not None for r in textbook) > 150
    # against dp_count every release is a whole number (no low-order bits to read), and
    # the same attacker (the float test's answer when it singles one out, else the
    # likelihood-ratio guess) is right no more often than pure epsilon-DP allows
    secrets_ = rng.integers(0, 2, n)
    correct = 0
    released = []
    for secret in secrets_:
        value = dp_count(int(secret), epsilon=epsilon, seed=rng).value
        released.append(value)
        guess = mironov_attack(value, 1 / epsilon)
        if guess is None:
            guess = 1 if value >= 1 else 0
        correct += guess == secret
    bound = math.exp(epsilon) / (1 + math.exp(epsilon))  # 0.731
    assert correct / n <= bound + 3 * math.sqrt(bound * (1 - bound) / n)
    assert all(value.is_integer() for value in released)


@pytest.mark.parametrize(("epsilon", "delta"), BUDGETS)
def test_discrete_gaussian_sigma_is_tight_per_dp_accounting(epsilon: float, delta: float) -> None:
    sigma = gaussian_sigma(1, epsilon, delta)
    spent = zcdp_epsilon(1 / (2 * sigma**2), delta)
    assert spent <= epsilon
    assert spent == pytest.approx(epsilon, rel=1e-4)
    # at least the continuous analytic Gaussian's sigma (zCDP is not tight), not much more
    # (about 1.1x with dp-accounting 0.6's RDP conversion, 1.3x with 0.4.3's older one)
    analytic = analytic_gaussian_sigma(epsilon, delta)
    assert analytic <= sigma <= 1.35 * analytic


@needs_discrete_events
def test_discrete_events_have_the_stated_epsilon_per_dp_accounting() -> None:
    result = dp_sum([1.0, 2.0], lower=0, upper=4, epsilon=0.8, grid=0.25)
    event = result.dp_event()
    assert event == DiscreteLaplaceDpEvent(0.8 / 16, 16)
    accountant = dp_accounting.pld.PLDAccountant()
    accountant.compose(event)
    assert accountant.get_epsilon(1e-12) == pytest.approx(0.8, rel=1e-3)
    gaussian = dp_count(10, epsilon=0.5, delta=1e-6, mechanism="gaussian")
    rdp = dp_accounting.rdp.RdpAccountant()
    rdp.compose(gaussian.dp_event())
    assert rdp.get_epsilon(1e-6) == pytest.approx(0.5, rel=1e-4)
    assert rdp.get_epsilon(1e-6) <= 0.5


@pytest.mark.parametrize(("epsilon", "delta"), BUDGETS)
def test_analytic_gaussian_sigma_is_tight_per_dp_accounting(epsilon: float, delta: float) -> None:
    sigma = analytic_gaussian_sigma(epsilon, delta)
    accountant = dp_accounting.pld.PLDAccountant()
    accountant.compose(dp_accounting.GaussianDpEvent(sigma))
    assert accountant.get_epsilon(delta) == pytest.approx(epsilon, rel=2e-3)
    if epsilon < 1:  # the classical bound only holds there, and is looser
        assert sigma < math.sqrt(2 * math.log(1.25 / delta)) / epsilon
    # sigma scales linearly with sensitivity
    assert analytic_gaussian_sigma(epsilon, delta, 7.0) == pytest.approx(7 * sigma, rel=1e-9)


def test_clipping_bounds_each_record_and_is_counted() -> None:
    values = np.array([-10.0, 0.0, 2.5, 3.0, 99.0])
    result = dp_sum(values, lower=0, upper=3, epsilon=1e9)
    assert result.value == np.clip(values, 0, 3).sum()  # on the default grid 2**-9: exact
    assert result.grid == 2.0**-9  # the power of two below 3 / 1024
    assert result.n_clipped == 2
    assert result.parts == (("sum", 3 * 512, 3 * 512 / 1e9),)
    assert "n_clipped" not in result.to_dict()
    assert result.to_dict()["seeded"] is False


def test_mean_splits_the_budget_over_a_centred_sum_and_a_count() -> None:
    values = np.array([1.0, 2.0, 3.0, 50.0])
    result = dp_mean(values, lower=0, upper=10, epsilon=1e9)
    assert result.value == pytest.approx(np.clip(values, 0, 10).mean(), abs=1e-9)
    parts = dp_mean(values, lower=0, upper=10, epsilon=2.0, grid=0.5).parts
    # each half has epsilon 1: centred-sum sensitivity 5 = 10 grid steps, count 1
    assert parts == (("centred sum", 10, 10.0), ("count", 1, 1.0))
    if DiscreteLaplaceDpEvent is not None:
        event = dp_mean(values, lower=0, upper=10, epsilon=2.0, grid=0.5).dp_event()
        assert event == dp_accounting.ComposedDpEvent(
            [DiscreteLaplaceDpEvent(1 / 10, 10), DiscreteLaplaceDpEvent(1.0, 1)]
        )
    gaussian = dp_mean(
        values, lower=0, upper=10, epsilon=2.0, delta=1e-6, mechanism="gaussian", grid=0.5
    )
    sigma_half = gaussian_sigma(1, 1.0, 5e-7)
    assert [p[2] for p in gaussian.parts] == pytest.approx([10 * sigma_half, sigma_half])
    assert 0 <= gaussian.value <= 10


def test_histogram_counts_with_bins_and_categories() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(size=500)
    edges = [-1.0, 0.0, 1.0]
    result = dp_histogram(data, bins=edges, epsilon=1e9)
    expected = np.histogram(np.clip(data, -1, 1), bins=edges)[0]
    np.testing.assert_array_equal(result.value, expected)
    assert result.parts == (("histogram", 1, 1e-9),)
    cats = dp_histogram(["a", "b", "a", "z"], categories=["a", "b"], epsilon=1e9)
    np.testing.assert_array_equal(cats.value, [2, 1])
    assert cats.n_clipped == 1


def test_quantiles_from_one_histogram_cost_its_budget_once() -> None:
    data = np.random.default_rng(5).uniform(0, 100, 20_000)
    result = dp_quantile(data, [0.1, 0.5, 0.9], lower=0, upper=100, epsilon=1.0, bins=100, seed=0)
    # resolution is one bin (width 1); noise adds a little on top
    np.testing.assert_allclose(result.value, np.quantile(data, [0.1, 0.5, 0.9]), atol=1.5)
    assert result.epsilon == 1.0
    assert result.parts == (("histogram", 1, 1.0),)
    assert isinstance(dp_quantile(data, 0.5, lower=0, upper=100, epsilon=1.0).value, float)


def test_default_noise_is_fresh_and_seeds_reproduce() -> None:
    # 40 fresh draws of a discrete Laplace with scale 10 all equal: probability < 1e-40
    unseeded = {dp_count(10, epsilon=0.1).value for _ in range(40)}
    assert len(unseeded) > 1
    seeded = [dp_count(10, epsilon=1.0, seed=7) for _ in range(2)]
    assert seeded[0].value == seeded[1].value
    assert seeded[0].seeded
    assert not dp_count(10, epsilon=1.0).seeded


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


@needs_discrete_events
def test_ledgers_compose_discrete_releases_exactly_or_by_their_stated_epsilon() -> None:
    from edgeml.privacy.accounting import Ledger

    # PLD composes discrete Laplace events exactly: two epsilon-0.5 counts are epsilon 1
    pld = Ledger(delta=1e-6, accountant="pld")
    for name in ("a", "b"):
        dp_count(10, epsilon=0.5, ledger=pld, name=name)
    assert pld.spent().epsilon == pytest.approx(1.0, rel=1e-3)
    # RDP composes zCDP events exactly (dp-accounting recomputes the same number) and
    # adds a discrete Laplace release by basic composition of its stated epsilon
    rdp = Ledger(delta=1e-5, accountant="rdp")
    first = dp_count(10, epsilon=0.5, delta=1e-6, mechanism="gaussian", ledger=rdp, name="g1")
    second = dp_count(10, epsilon=0.5, delta=1e-6, mechanism="gaussian", ledger=rdp, name="g2")
    reference = dp_accounting.rdp.RdpAccountant()
    reference.compose(first.dp_event())
    reference.compose(second.dp_event())
    zcdp_total = reference.get_epsilon(1e-5)
    assert rdp.spent().epsilon == pytest.approx(zcdp_total, rel=1e-9)
    dp_count(10, epsilon=0.25, ledger=rdp, name="laplace")
    assert rdp.spent().epsilon == pytest.approx(zcdp_total + 0.25, rel=1e-9)
    assert rdp.spent().accountant == "composition"


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
    # the release is the sum of the records rounded to the grid, exactly
    assert exact.value == np.rint(clipped / exact.grid).sum() * exact.grid
    assert (
        abs(exact.value - clipped.sum()) <= len(values) * exact.grid / 2 + 1e-9 * abs(clipped).sum()
    )
    assert exact.n_clipped == int(np.sum(clipped != np.asarray(values, dtype=float)))
    mean = dp_mean(values, lower=lower, upper=upper, epsilon=0.1, seed=seed)
    assert lower <= mean.value <= upper
    quantiles = dp_quantile(
        values, [0.1, 0.5, 0.9], lower=lower, upper=upper, epsilon=0.5, seed=seed
    )
    assert np.all(np.diff(quantiles.value) >= 0)
    assert np.all((quantiles.value >= lower) & (quantiles.value <= upper))
