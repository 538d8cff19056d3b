"""DP drift baselines and declared data (issue 12, defect 2).

References: the baseline's noise is compared with the discrete Laplace pmf (closed form,
Canonne, Kamath & Steinke 2020) by scipy's chi-square test; its epsilon is recomputed by
dp-accounting (PLD for the discrete Laplace, RDP for zCDP). Core dependencies only.
"""

from __future__ import annotations

import dp_accounting
import numpy as np
import pytest
from scipy import stats

from edgeml.drift import Histogram, psi
from edgeml.errors import ConfigError, PrivacyBudgetExceeded
from edgeml.privacy import Ledger, Protection, declare, dp_baseline
from edgeml.privacy._discrete import discrete_laplace_pmf

pytestmark = pytest.mark.compat

needs_discrete_events = pytest.mark.skipif(
    not hasattr(dp_accounting.dp_event, "ZCDpEvent"),
    reason="this dp-accounting has no DiscreteLaplaceDpEvent / ZCDpEvent",
)

RNG = np.random.default_rng(3)
X = RNG.uniform(0, 1, size=(3000, 2))


def test_histogram_fit_leaks_a_record_and_the_dp_baseline_does_not() -> None:
    fitted = Histogram.fit(X)
    assert fitted.maximum[0] in X[:, 0]  # the finding: a training value, verbatim
    other = X.copy()
    other[np.argmax(other[:, 0]), 0] = 0.5  # remove the record holding the maximum
    a = dp_baseline(X, lower=0.0, upper=1.0, bins=4, epsilon=1.0).histogram
    b = dp_baseline(other, lower=0.0, upper=1.0, bins=4, epsilon=1.0).histogram
    # everything but the noisy counts is public: identical for both data sets
    for field in ("edges", "minimum", "maximum", "nonfinite"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    np.testing.assert_array_equal(a.edges, [[0.0, 0.25, 0.5, 0.75, 1.0]] * 2)
    assert (a.counts[:, [0, -1]] == 0).all()  # nothing below or above the declared range


def test_baseline_noise_is_discrete_laplace_with_scale_p_over_epsilon() -> None:
    x = np.repeat(np.linspace(0.05, 0.95, 10), 500)[:, None].repeat(2, axis=1)  # 500 a cell
    exact = np.full((2, 10), 500)
    rng = np.random.default_rng(11)
    noise = []
    for _ in range(150):
        h = dp_baseline(x, lower=0.0, upper=1.0, bins=10, epsilon=0.8, seed=rng).histogram
        noise += (h.counts[:, 1:-1] - exact).ravel().tolist()
    scale = 2 / 0.8  # L1 sensitivity = number of features
    values, counts = np.unique(noise, return_counts=True)
    inner = (values >= -8) & (values <= 8)
    expected = np.array([discrete_laplace_pmf(int(k), scale) for k in values[inner]]) * len(noise)
    # The pmf itself against an independent reference: scipy's dlaplace with a = 1 / scale.
    np.testing.assert_allclose(
        expected, stats.dlaplace(1 / scale).pmf(values[inner]) * len(noise), rtol=1e-12
    )
    observed = counts[inner]
    expected_tail = len(noise) - expected.sum()
    pvalue = stats.chisquare(
        [*observed, len(noise) - observed.sum()], [*expected, expected_tail]
    ).pvalue
    assert pvalue > 1e-3


@needs_discrete_events
def test_baseline_events_have_the_stated_epsilon_per_dp_accounting() -> None:
    laplace = dp_baseline(X, lower=0.0, upper=1.0, epsilon=0.6)
    pld = dp_accounting.pld.PLDAccountant()
    pld.compose(laplace.dp_event())
    assert pld.get_epsilon(1e-12) == pytest.approx(0.6, rel=1e-3)
    gaussian = dp_baseline(X, lower=0.0, upper=1.0, epsilon=0.6, delta=1e-6)
    rdp = dp_accounting.rdp.RdpAccountant()
    rdp.compose(gaussian.dp_event())
    assert rdp.get_epsilon(1e-6) <= 0.6
    assert rdp.get_epsilon(1e-6) == pytest.approx(0.6, rel=1e-3)


def test_baseline_is_charged_before_release_and_refused_over_budget() -> None:
    ledger = Ledger(delta=1e-5, budget=1.0)
    dp_baseline(X, lower=0.0, upper=1.0, epsilon=0.9, ledger=ledger)
    with pytest.raises(PrivacyBudgetExceeded):
        dp_baseline(X, lower=0.0, upper=1.0, epsilon=0.9, ledger=ledger, name="second")
    assert [e.name for e in ledger.entries] == ["drift baseline"]


def test_sampled_rows_are_post_processing_and_follow_the_marginals() -> None:
    x = np.column_stack([RNG.uniform(0, 0.5, 4000), RNG.uniform(0.5, 1, 4000)])
    baseline = dp_baseline(x, lower=0.0, upper=1.0, bins=10, epsilon=2.0)
    rows = baseline.sample(2000, seed=0)
    assert rows.data.shape == (2000, 2)
    assert rows.data.dtype == np.float32
    assert (rows.data[:, 0] < 0.5 + 0.1).mean() > 0.95
    assert (rows.data[:, 1] > 0.5 - 0.1).mean() > 0.95
    assert rows.protection == Protection(
        "dp",
        "rows sampled from the DP drift baseline 'drift baseline' (post-processing)",
        0.0,
        0.0,
        "drift baseline",
    )
    # drift tests accept the DP baseline like any histogram
    current = baseline.histogram.empty().update(x + 0.3)
    assert any(r.drifted for r in psi(baseline.histogram, current))


def test_declare_refuses_private_and_undescribed_data() -> None:
    with pytest.raises(ConfigError, match="dp_baseline"):
        declare(X, kind="private", source="x")
    with pytest.raises(ConfigError, match="source"):
        declare(X, kind="public", source=" ")
