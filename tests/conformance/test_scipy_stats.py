"""Conformance: edgeml.drift against scipy 1.17's own test values, and live against scipy.

Claims (docs/drift.md, docstrings):

- ``ks`` statistic equals ``scipy.stats.ks_2samp`` (two-sided) exactly, in every mode;
  the p-value equals scipy's in exact mode (relative 1e-9) and in asymptotic mode
  within the stated tolerance (relative 1e-9, ``edgeml.drift._kolmogorov.RTOL``).
- ``wasserstein(normalize=False)`` equals ``scipy.stats.wasserstein_distance``.
- ``chi2`` equals ``scipy.stats.chi2_contingency([ref, cur], correction=False)``.
- ``js`` equals ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
- ``adjust_pvalues(p, "bh")`` equals ``scipy.stats.false_discovery_control(p)`` (and R's
  ``p.adjust(p, "BH")``).

Ported values come from the scipy 1.17.1 test files installed with scipy (the tests ship
in the wheel): ``scipy/stats/tests/test_stats.py`` (``TestKSTwoSamples``,
``TestWassersteinDistance``), ``scipy/stats/tests/test_contingency.py``
(``TestChi2Contingency``), ``scipy/stats/tests/test_morestats.py`` (``TestFDRControl``)
and ``scipy/spatial/tests/test_distance.py`` (``test_jensenshannon``). scipy itself
checks them with ``assert_array_almost_equal`` (6 decimals) or ``assert_allclose``
(relative 1e-7); the tolerances below are tighter where edgeml claims more.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from edgeml.drift import Histogram, adjust_pvalues, chi2, compare, js, ks, wasserstein
from edgeml.drift._js import js_from_counts
from edgeml.drift._kolmogorov import ATOL, RTOL
from edgeml.errors import DataError

LIVE = settings(max_examples=60, deadline=None, derandomize=True)


# =========================================================================== KS
def _x100() -> np.ndarray:
    return np.linspace(1, 100, 100)


def _middling() -> tuple[np.ndarray, np.ndarray]:
    n1, n2 = 500, 600
    delta = 1.0 / n1 / n2 / 2 / 2
    return np.linspace(1, 200, n1) - delta, np.linspace(2, 200, n2)


def _large() -> tuple[np.ndarray, np.ndarray]:
    n1, n2 = 10000, 110
    delta = 1.0 / n1 / n2 / 2 / 2
    return np.linspace(1, 200, n1) - delta, np.linspace(2, 100, n2)


def _large_both() -> tuple[np.ndarray, np.ndarray]:
    n1, n2 = 10000, 11000
    delta = 1.0 / n1 / n2 / 2 / 2
    return np.linspace(1, 200, n1) - delta, np.linspace(2, 200, n2)


def _repeated() -> tuple[np.ndarray, np.ndarray]:
    x2356 = np.array([2] * 3 + [3] * 4 + [5] * 10 + [6] * 4, dtype=int)
    x3467 = np.array([3] * 10 + [4] * 2 + [6] * 10 + [7] * 4, dtype=int)
    return x2356, x3467


def _x2233() -> np.ndarray:
    return np.array([2] * 3 + [3] * 4 + [5] * 5 + [6] * 4, dtype=int)


# (name in TestKSTwoSamples, x, y, method, expected statistic, expected p-value); only the
# two-sided cases (edgeml's ks is two-sided).
KS_CASES = [
    ("testSmall", [0.0], [1.0], "auto", 1.0, 1.0),
    ("testSmall", [1.0], [0.0], "auto", 1.0, 1.0),
    ("testTwoVsThree", [1.01, 2.01], [1.0, 2.0, 3.0], "auto", 1.0 / 3, 1.0),
    ("testTwoVsThree", [0.99, 1.99], [1.0, 2.0, 3.0], "auto", 2.0 / 3, 0.6),
    ("testTwoVsFour", [1.01, 2.01], [1.0, 2.0, 3.0, 4.0], "auto", 2.0 / 4, 14.0 / 15),
    ("testTwoVsFour", [0.99, 1.99], [1.0, 2.0, 3.0, 4.0], "auto", 3.0 / 4, 6.0 / 15),
    ("test100_100", _x100(), _x100() + 2.1, "auto", 3.0 / 100, 0.9999999999962055),
    ("test100_100", _x100(), _x100() + 1.9, "auto", 2.0 / 100, 1.0),
    (
        "test100_110",
        _x100(),
        np.linspace(1, 100, 110) + 20.1,
        "auto",
        232.0 / 1100,
        0.015739183865607353,
    ),
    (
        "test100_110",
        _x100(),
        np.linspace(1, 100, 110) + 19.9,
        "auto",
        229.0 / 1100,
        0.017803803861026313,
    ),
    ("testRepeatedValues", _x2233(), _x2233() + 1, "auto", 5.0 / 16, 0.4262934613454952),
    ("testRepeatedValues", *_repeated(), "auto", 190.0 / 21 / 26, 0.0919245790168125),
    ("testEqualSizes", [1.0, 2.0, 3.0], [2.0, 3.0, 4.0], "auto", 1.0 / 3, 1.0),
    ("testEqualSizes", [1.0, 2.0, 3.0], [1.5, 2.5, 3.5], "auto", 1.0 / 3, 1.0),
    ("testEqualSizes", [1.0, 2.0, 3.0], [0.5, 1.5, 2.5], "auto", 1.0 / 3, 1.0),
    ("testMiddlingBoth", *_middling(), "auto", 2000.0 / 500 / 600, 1.0),
    ("testMiddlingBoth", *_middling(), "asymp", 2000.0 / 500 / 600, 1.0),
    ("testLargeBoth", *_large_both(), "asymp", 563.0 / 110000.0, 0.9990660108966576),
    ("testLargeBoth", *_large_both(), "exact", 563.0 / 110000.0, 0.9990456491488628),
    ("testLargeBoth", *_large_both(), "auto", 563.0 / 110000.0, 0.9990660108966576),
]


@pytest.mark.parametrize(
    ("x", "y", "method", "statistic", "pvalue"),
    [case[1:] for case in KS_CASES],
    ids=[f"{case[0]}-{k}" for k, case in enumerate(KS_CASES)],
)
def test_ks_scipy_test_values(
    x: np.ndarray, y: np.ndarray, method: str, statistic: float, pvalue: float
) -> None:
    result = ks(np.asarray(x, float), np.asarray(y, float), method=method)  # type: ignore[arg-type]
    reference = stats.ks_2samp(x, y, method=method)
    # scipy's stored statistic is written as a fraction; the value scipy returns is that
    # fraction rounded (exact mode) or the difference of two rounded CDF values
    # (asymptotic mode): ours must be identical to what scipy returns, bit for bit.
    assert result.statistic == reference.statistic
    assert result.statistic == pytest.approx(statistic, rel=1e-15, abs=0)
    assert result.pvalue == pytest.approx(pvalue, rel=1e-9, abs=1e-300)


def test_ks_large_pvalue_is_tighter_than_scipys_stored_artefact() -> None:
    # TestKSTwoSamples.testLarge (10000 vs 110, exact) stores the two-sided p-value
    # 4.2188474935755949e-15 but the one-sided "less" p-value 3.1317328311518713e-26 for
    # the same statistic. A two-sided p-value is at most twice the larger one-sided one
    # (and equal to it to first order when that is tiny), so 4.2e-15 is a cancellation
    # artefact ("1 - P(inside)" at float64 resolution; scipy compares 6 decimals, so
    # anything below 5e-7 passes there). Ours keeps relative precision: it equals twice
    # scipy's one-sided value and is far below the stored two-sided one.
    x, y = _large()
    result = ks(x, y)
    assert result.statistic == stats.ks_2samp(x, y).statistic == 55275.0 / 110000.0
    assert result.pvalue == pytest.approx(2 * 3.1317328311518713e-26, rel=1e-6)
    assert result.pvalue < 4.2188474935755949e-15


def test_ks_location_sign_statistic_is_exactly_one_tenth() -> None:
    # TestKSTwoSamples.test_location_sign: "assert res.statistic == 0.1" (exact mode)
    for x6 in (5.9, 6.1):
        x = np.arange(10, dtype=np.float64)
        y = x.copy()
        x[6] = x6
        assert ks(x, y).statistic == 0.1
    # issue 19's example: x = arange(10) + 0.5 against arange(10)
    assert ks(np.arange(10) + 0.5, np.arange(10.0)).statistic == 0.1


def test_ks_gh11184_pvalue_is_tighter_than_scipys_stored_artefact() -> None:
    # TestKSTwoSamples.test_gh11184 stores p = 2.7755575615628914e-15 for both modes, a
    # cancellation artefact (it is 25 * 2**-53: "1 - cdf" at the edge of float64), and
    # compares with 6 decimals only, so any p below 5e-7 passes there. Ours keeps
    # relative precision: the exact p-value is far smaller, and it must stay below
    # scipy's stored value and agree with scipy's own exact computation where scipy
    # has no cancellation (the asymptotic tail formula, checked to 1 decimal digit).
    rng = np.random.RandomState(123456)
    x = rng.normal(size=3000)
    y = rng.normal(size=3001) * 1.5
    exact = ks(x, y, method="exact")
    asymp = ks(x, y, method="asymp")
    assert exact.statistic == 0.11292880151060758
    assert asymp.statistic == stats.ks_2samp(x, y, method="asymp").statistic
    assert 0 < exact.pvalue < 2.7755575615628914e-15
    assert 0 < asymp.pvalue < 2.7755575615628914e-15
    assert exact.pvalue == pytest.approx(asymp.pvalue, rel=0.5)


@LIVE
@given(
    n=st.integers(1, 60),
    m=st.integers(1, 60),
    levels=st.integers(1, 12),
    shift=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_ks_equals_scipy_element_by_element_small(
    n: int, m: int, levels: int, shift: int, seed: int
) -> None:
    # issue 19: in 182 of 300 random pairs the statistic differed by 1-2 ulp
    rng = np.random.default_rng(seed)
    a = rng.integers(0, levels, n).astype(float)
    b = (rng.integers(0, levels, m) + shift).astype(float)
    for method in ("auto", "exact", "asymp"):
        ours = ks(a, b, method=method)  # type: ignore[arg-type]
        reference = stats.ks_2samp(a, b, method=method)
        assert ours.statistic == reference.statistic
        if np.isnan(reference.pvalue):  # scipy: n = m = 1 in asymp mode ("n" rounds to 0)
            assert 0.0 <= ours.pvalue <= 1.0
            continue
        assert ours.pvalue == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    n=st.integers(10_001, 40_000),
    m=st.integers(10_001, 40_000),
    shift=st.sampled_from([0.0, 0.01, 0.03, 0.06]),
    discrete=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_ks_equals_scipy_element_by_element_large(
    n: int, m: int, shift: float, discrete: bool, seed: int
) -> None:
    # The asymptotic mode, where edgeml's p-value is its own fast evaluation.
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(shift, size=m)
    if discrete:
        a, b = np.round(a, 1), np.round(b, 1)
    ours = ks(np.c_[a[: min(n, m)], a[: min(n, m)]], np.c_[b[: min(n, m)], b[: min(n, m)]])
    ours_1d = ks(a, b)
    reference = stats.ks_2samp(a, b)
    assert ours_1d.statistic == reference.statistic
    assert abs(ours_1d.pvalue - reference.pvalue) <= RTOL * reference.pvalue + ATOL
    reference_2d = stats.ks_2samp(a[: min(n, m)], b[: min(n, m)])
    for column in ours:  # type: ignore[union-attr]
        assert column.statistic == reference_2d.statistic


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    n=st.integers(2, 300),
    m=st.integers(2, 300),
    seed=st.integers(0, 2**32 - 1),
)
def test_compare_ks_equals_scipy(n: int, m: int, seed: int) -> None:
    # compare(numeric="ks") takes the same path per block of columns: same floats.
    rng = np.random.default_rng(seed)
    reference = np.round(rng.normal(size=(n, 3)), 1)
    current = np.round(rng.normal(0.2, size=(m, 3)), 1)
    report = compare(reference, current, numeric="ks", correction=None)
    for j, feature in enumerate(report.features):
        expected = stats.ks_2samp(reference[:, j], current[:, j])
        assert feature.result.statistic == expected.statistic
        assert feature.result.pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


# =========================================================================== Wasserstein
def _raw(a: list[float], b: list[float]) -> float:
    return wasserstein(np.asarray(a, float), np.asarray(b, float), normalize=False).details[
        "distance"
    ]


def _repeat(values: list[float], weights: list[int]) -> list[float]:
    """scipy's test_combine_weights: a weight w equals including the value w times."""
    return [v for v, w in zip(values, weights, strict=True) for _ in range(w)]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # test_simple
        (_repeat([0, 1], [1, 1]), [0], 0.5),
        (_repeat([0, 1], [3, 1]), [0], 0.25),
        (_repeat([0, 2], [1, 1]), [0], 1.0),
        ([0, 1, 2], [1, 2, 3], 1.0),
        # test_same_distribution
        ([1, 2, 3], [2, 1, 3], 0.0),
        (_repeat([1, 1, 1, 4], [1, 1, 1, 1]), _repeat([4, 1], [1, 3]), 0.0),
        # test_shift
        ([0], [1], 1.0),
        ([-5], [5], 10.0),
        ([1, 2, 3, 4, 5], [11, 12, 13, 14, 15], 10.0),
        (_repeat([4.5, 6.7, 2.1], [3, 1, 1]), _repeat([4.6, 7, 9.2], [1, 3, 1]), 2.5),
        # test_combine_weights
        ([0, 0, 1, 1, 1, 1, 5], [0, 3, 3, 3, 3, 4, 4], None),
        # test_zero_weight: a zero-weight value is simply absent
        ([1, 2], [1, 1], None),
    ],
)
def test_wasserstein_scipy_test_values(
    a: list[float], b: list[float], expected: float | None
) -> None:
    ours = _raw(a, b)
    assert ours == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12, abs=1e-15)
    if expected is not None:
        assert ours == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_wasserstein_combine_weights_equals_the_weighted_scipy_value() -> None:
    # test_combine_weights: scipy's weighted call equals the repeated values
    weighted = stats.wasserstein_distance([5, 0, 1], [0, 4, 3], [1, 2, 4], [1, 2, 4])
    assert _raw([0, 0, 1, 1, 1, 1, 5], [0, 3, 3, 3, 3, 4, 4]) == pytest.approx(weighted)


def test_wasserstein_collapse_to_a_point() -> None:
    # test_collapse: the distance to a point mass at 0 is the mean absolute value
    u = np.arange(-10, 30, 0.3)
    ours = wasserstein(u, np.zeros_like(u), normalize=False).details["distance"]
    assert ours == pytest.approx(np.mean(np.abs(u)), rel=1e-12)


def test_wasserstein_infinite_values_are_refused_where_scipy_returns_inf_or_nan() -> None:
    # test_inf_values: scipy returns inf (or nan with a warning). edgeml refuses
    # non-finite input by default (nan_policy="raise") and drops it with "omit";
    # a documented difference, not a numeric one.
    with pytest.raises(DataError, match="infinite"):
        wasserstein([1.0, 2.0, np.inf], [1.0, 1.0], normalize=False)
    kept = wasserstein([1.0, 2.0, np.inf], [1.0, 1.0], normalize=False, nan_policy="omit")
    assert kept.details["distance"] == stats.wasserstein_distance([1, 2], [1, 1])


@LIVE
@given(
    a=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80),
    b=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80),
)
def test_wasserstein_equals_scipy_live(a: list[float], b: list[float]) -> None:
    expected = stats.wasserstein_distance(a, b)
    scale = max(1.0, max(map(abs, a + b)))
    assert _raw(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-12 * scale)


# =========================================================================== chi-square
def test_chi2_contingency_trivial() -> None:
    # TestChi2Contingency.test_chi2_contingency_trivial: [[1, 2], [1, 2]] -> 0, 1, dof 1
    result = chi2(["a", "b", "b"], ["a", "b", "b"])
    assert (result.statistic, result.pvalue, result.details["dof"]) == (0.0, 1.0, 1)


def test_chi2_empty_categories_are_dropped_where_scipy_raises() -> None:
    # test_chi2_contingency_bad_args: [[0, 1], [0, 1]] raises in scipy ("zeros in the
    # expected frequencies"). edgeml builds the table from the categories seen, so a
    # category empty in both samples does not exist: one category, statistic 0,
    # p-value 1, dof 0 (the 1-D "really trivial" case of the same scipy test).
    reference, current = [0, 1, 1], [1, 1]
    with pytest.raises(ValueError, match="zero"):
        stats.chi2_contingency([[0, 2], [0, 2]])
    result = chi2([1, 1], [1, 1])
    assert (result.statistic, result.pvalue, result.details["dof"]) == (0.0, 1.0, 0)
    assert chi2(reference, current).details["dof"] == 1


@LIVE
@given(
    reference=st.lists(st.integers(0, 6), min_size=1, max_size=200),
    current=st.lists(st.integers(0, 6), min_size=1, max_size=200),
)
def test_chi2_equals_scipy_chi2_contingency_live(reference: list[int], current: list[int]) -> None:
    result = chi2(np.array(reference), np.array(current))
    categories = sorted(set(reference) | set(current))
    assume(len(categories) > 1)
    table = [[reference.count(c) for c in categories], [current.count(c) for c in categories]]
    expected = stats.chi2_contingency(table, correction=False)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12, abs=1e-12)
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-10, abs=1e-300)
    assert result.details["dof"] == expected.dof


# =========================================================================== Jensen-Shannon
LN2 = math.log(2.0)


@pytest.mark.parametrize(
    ("p", "q", "base", "expected"),
    [
        # test_jensenshannon
        ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], 2.0, 1.0),
        ([1.0, 0.0], [0.5, 0.5], math.e, 0.46450140402245893),
        ([1.0, 0.0, 0.0], [1.0, 0.0, 0.0], math.e, 0.0),
        ([1.0, 2.0], [0.5, 1.5], math.e, 0.0649045),
        # jensenshannon(a, b, axis=1) for the 3 x 4 arrays of the same test
        ([1, 2, 3, 4], [13, 14, 15, 16], math.e, 0.1402339),
        ([5, 6, 7, 8], [17, 18, 19, 20], math.e, 0.0399106),
        ([9, 10, 11, 12], [21, 22, 23, 24], math.e, 0.0201815),
        # axis=0 columns
        ([1, 5, 9], [13, 17, 21], math.e, 0.1954288),
        ([2, 6, 10], [14, 18, 22], math.e, 0.1447697),
        ([3, 7, 11], [15, 19, 23], math.e, 0.1138377),
        ([4, 8, 12], [16, 20, 24], math.e, 0.0927636),
    ],
)
def test_js_scipy_test_values(p: list[float], q: list[float], base: float, expected: float) -> None:
    # edgeml reports the base-2 distance; a base-b distance is d_2 * sqrt(ln 2 / ln b).
    ours = float(js_from_counts(np.array([p], float), np.array([q], float))[0])
    assert ours * math.sqrt(LN2 / math.log(base)) == pytest.approx(expected, abs=5e-8)
    assert ours == pytest.approx(jensenshannon(p, q, base=2), rel=1e-12, abs=1e-15)


def test_js_public_path_on_sketches_equals_scipy() -> None:
    # The same numbers through js() on Histogram sketches (integer counts).
    sketch = Histogram.fit(np.arange(10.0), bins=4)
    reference = Histogram(sketch.edges, [[0, 1, 2, 3, 4, 0]])
    current = Histogram(sketch.edges, [[0, 13, 14, 15, 16, 0]])
    expected = jensenshannon([1, 2, 3, 4], [13, 14, 15, 16], base=2)
    assert js(reference, current)[0].statistic == pytest.approx(expected, rel=1e-12)
    assert expected * math.sqrt(LN2) == pytest.approx(0.1402339, abs=5e-8)


@LIVE
@given(
    p=st.lists(st.integers(0, 50), min_size=2, max_size=12),
    q=st.lists(st.integers(0, 50), min_size=2, max_size=12),
)
def test_js_equals_scipy_live(p: list[int], q: list[int]) -> None:
    size = min(len(p), len(q))
    p, q = p[:size], q[:size]
    assume(sum(p) > 0 and sum(q) > 0)
    ours = float(js_from_counts(np.array([p]), np.array([q]))[0])
    assert ours == pytest.approx(jensenshannon(p, q, base=2), rel=1e-9, abs=1e-7)


# =========================================================================== Benjamini-Hochberg
def test_bh_against_tilestats() -> None:
    # TestFDRControl.test_against_TileStats (atol 1e-3 in scipy: the reference is rounded)
    ps = [0.005, 0.009, 0.019, 0.022, 0.051, 0.101, 0.361, 0.387]
    ref = [0.036, 0.036, 0.044, 0.044, 0.082, 0.135, 0.387, 0.387]
    assert adjust_pvalues(ps, "bh").tolist() == pytest.approx(ref, abs=1e-3)


def test_bh_against_r_p_adjust() -> None:
    # TestFDRControl.test_against_R ("bh"): R's p.adjust on a seeded sample with a tie
    rng = np.random.default_rng(6134137338861652935)
    ps = stats.loguniform.rvs(1e-3, 0.5, size=10, random_state=rng).tolist()
    ps[3] = ps[7]
    ref = [0.24617028, 0.01140030, 0.05652047, 0.06841983, 0.07989886,
           0.01841490, 0.17540784, 0.06841983, 0.06841983, 0.25464082]  # fmt: skip
    assert adjust_pvalues(ps, "bh").tolist() == pytest.approx(ref, abs=1e-6)


@LIVE
@given(ps=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40))
def test_bh_equals_scipy_live(ps: list[float]) -> None:
    expected = stats.false_discovery_control(ps, method="bh")
    assert adjust_pvalues(ps, "bh").tolist() == pytest.approx(expected.tolist(), rel=1e-12)
