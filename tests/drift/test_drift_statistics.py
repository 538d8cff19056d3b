"""Drift tests against independent references: scipy, closed forms, hand computations."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from edgeml.drift import DriftResult, chi2, js, ks, psi, wasserstein
from edgeml.errors import ConfigError, DataError

pytestmark = pytest.mark.compat


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- DriftResult
def test_drift_result_unpacks_like_scipy_and_serializes() -> None:
    result = DriftResult(0.3, 0.01, threshold=0.05, drifted=True, method="ks", details={"n": 3})
    statistic, pvalue = result
    assert (statistic, pvalue) == (0.3, 0.01)
    assert result[0] == 0.3
    assert result[-1] == 0.01
    assert len(result) == 2
    assert json.loads(json.dumps(result.to_dict()))["details"] == {"n": 3}
    assert "drifted=True" in repr(result)
    with pytest.raises(AttributeError):
        result.statistic = 1.0  # type: ignore[misc]
    assert hash(result) == hash(DriftResult(0.3, 0.01, 0.05, True, "ks"))


def test_nonfinite_statistic_is_json_null() -> None:
    result = DriftResult(math.inf, None, 0.1, True, "wasserstein")
    assert result.to_dict()["statistic"] is None


# --------------------------------------------------------------------------- KS
@pytest.mark.parametrize(("n", "m"), [(40, 40), (37, 113), (300, 200), (1, 5), (9000, 7000)])
@pytest.mark.parametrize("shift", [0.0, 0.3, 1.5])
def test_ks_matches_scipy_exact(n: int, m: int, shift: float) -> None:
    gen = rng(n + m)
    a, b = gen.normal(size=n), gen.normal(shift, size=m)
    expected = stats.ks_2samp(a, b, method="exact")
    result = ks(a, b, method="exact")
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-15)
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    details = result.details  # type: ignore[union-attr]
    assert (details["n_reference"], details["n_current"]) == (n, m)
    assert details["approximate"] is False
    assert details["error_bound"] == 0.0


def test_ks_small_exact_pvalue_keeps_precision() -> None:
    # scipy's exact p-value here is about 1e-29: it must not collapse to 0 (float32 or
    # "1 - inside" cancellation would).
    gen = rng(3)
    a, b = gen.normal(size=10_000), gen.normal(0.2, size=10_000)
    expected = stats.ks_2samp(a, b, method="exact")
    result = ks(a, b)
    assert 0 < expected.pvalue < 1e-20
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-8)
    assert result.details["mode"] == "exact"


@pytest.mark.parametrize("shift", [0.0, 0.01, 0.05])
def test_ks_matches_scipy_asymptotic_and_auto(shift: float) -> None:
    gen = rng(5)
    a, b = gen.normal(size=20_000), gen.normal(shift, size=15_000)
    for method in ("asymp", "auto"):
        expected = stats.ks_2samp(a, b, method=method)
        result = ks(a, b, method=method)
        assert result.statistic == pytest.approx(expected.statistic, abs=1e-15)
        assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-10)
        assert result.details["mode"] == "asymp"


def test_ks_ties_and_integer_data_match_scipy() -> None:
    gen = rng(7)
    a = gen.integers(0, 5, size=(400, 6)).astype(float)
    b = gen.integers(0, 6, size=(350, 6)).astype(float)
    results = ks(a, b)
    assert isinstance(results, list)
    assert len(results) == 6
    for j, result in enumerate(results):
        expected = stats.ks_2samp(a[:, j], b[:, j])
        assert result.statistic == pytest.approx(expected.statistic, abs=1e-15)
        assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
        assert result.feature == str(j)


# --------------------------------------------------------------------------- Wasserstein
@pytest.mark.parametrize(("n", "m"), [(500, 500), (333, 120), (1, 7)])
def test_wasserstein_matches_scipy(n: int, m: int) -> None:
    gen = rng(n * m)
    a = gen.lognormal(size=(n, 4))
    b = gen.lognormal(0.3, size=(m, 4))
    results = wasserstein(a, b, normalize=False)
    for j, result in enumerate(results):  # type: ignore[union-attr]
        expected = stats.wasserstein_distance(a[:, j], b[:, j])
        assert result.statistic == pytest.approx(expected, rel=1e-10)


def test_wasserstein_normalized_by_reference_std() -> None:
    # Closed form: shifting every value by c moves all mass by exactly c.
    a = rng(1).normal(10.0, 4.0, size=5000)
    result = wasserstein(a, a + 2.0)
    assert result.details["distance"] == pytest.approx(2.0, rel=1e-12)  # type: ignore[union-attr]
    assert result.statistic == pytest.approx(2.0 / a.std(), rel=1e-12)  # type: ignore[union-attr]
    assert result.drifted  # type: ignore[union-attr]


def test_wasserstein_constant_reference_is_zero_or_inf() -> None:
    ref = np.full(100, 3.0)
    assert wasserstein(ref, np.full(50, 3.0)).statistic == 0.0  # type: ignore[union-attr]
    moved = wasserstein(ref, np.full(50, 4.0))
    assert moved.statistic == math.inf
    assert moved.drifted
    assert moved.details["distance"] == 1.0  # type: ignore[union-attr]


# --------------------------------------------------------------------------- PSI
def test_psi_hand_computed() -> None:
    # Reference 0..9 with 2 bins: edges [0, 4.5, 9]; current puts 2 values in the first
    # bin, 8 in the second: PSI = (0.2-0.5) ln(0.2/0.5) + (0.8-0.5) ln(0.8/0.5).
    ref = np.arange(10.0)
    cur = np.array([0.0, 1.0, 5, 6, 7, 8, 9, 9, 9, 9])
    result = psi(ref, cur, bins=2)
    expected = (0.2 - 0.5) * math.log(0.2 / 0.5) + (0.8 - 0.5) * math.log(0.8 / 0.5)
    assert result.statistic == pytest.approx(expected, rel=1e-12)  # type: ignore[union-attr]
    assert result.details["edges"] == [0.0, 4.5, 9.0]  # type: ignore[union-attr]
    assert result.pvalue is None  # type: ignore[union-attr]


def test_psi_normal_shift_close_to_population_value() -> None:
    # Population PSI of N(0.5, 1) vs N(0, 1) on reference deciles (plus empty tails),
    # from the normal CDF: q_k = Phi(z_{k+1} - 0.5) - Phi(z_k - 0.5), p_k = 0.1.
    z = stats.norm.ppf(np.linspace(0, 1, 11))
    q = np.diff(stats.norm.cdf(z - 0.5))
    population = float(np.sum((q - 0.1) * np.log(q / 0.1)))
    gen = rng(11)
    result = psi(gen.normal(size=400_000), gen.normal(0.5, size=400_000))
    assert result.statistic == pytest.approx(population, abs=0.004)  # type: ignore[union-attr]


def test_psi_empty_bin_floor_does_not_dominate() -> None:
    # Trap seen in peers: an epsilon like 1e-308 makes one empty sparse bin dominate, so
    # an unshifted column scores above a shifted one. Explicit edges with a sparse upper
    # tail bin (about 0.13 % of the reference) that a small current sample misses.
    gen = rng(2)
    ref = gen.normal(size=200_000)
    edges = [-3.0, -1.0, 0.0, 1.0, 3.0]
    unshifted = gen.normal(size=300)
    unshifted = unshifted[unshifted < 3.0]  # no value in the sparse tail bin
    shifted = gen.normal(0.4, size=300)
    calm = psi(ref, unshifted, edges=edges).statistic  # type: ignore[union-attr]
    moved = psi(ref, shifted, edges=edges).statistic  # type: ignore[union-attr]
    assert calm < 0.05 < moved
    # With the peers' epsilon the empty bin alone would contribute ~0.9.
    tail = float(np.mean(ref > 3.0))
    assert tail * math.log(tail / 1e-308) > 0.5


def test_psi_bins_come_from_reference_only() -> None:
    gen = rng(4)
    ref = gen.normal(size=1000)
    first = psi(ref, gen.normal(size=1000))
    second = psi(ref, gen.normal(5.0, size=1000))
    assert first.details["edges"] == second.details["edges"]  # type: ignore[union-attr]
    assert first.details["edges"] == pytest.approx(  # type: ignore[union-attr]
        np.quantile(ref, np.linspace(0, 1, 11)).tolist()
    )


def test_psi_values_outside_reference_range_get_their_own_bins() -> None:
    ref = np.linspace(0, 1, 101)
    result = psi(ref, np.full(50, 7.0), bins=4)
    assert result.details["current_counts"] == [0, 0, 0, 0, 0, 50]  # type: ignore[union-attr]
    assert result.drifted  # type: ignore[union-attr]


def test_psi_single_distinct_value() -> None:
    same = psi(np.ones(50), np.ones(20))
    assert same.statistic == 0.0
    assert not same.drifted
    different = psi(np.ones(50), np.r_[np.ones(10), np.full(10, 2.0)])
    assert different.drifted  # type: ignore[union-attr]


# --------------------------------------------------------------------------- JS
def test_js_matches_scipy_jensenshannon_base2() -> None:
    gen = rng(9)
    ref, cur = gen.gamma(2.0, size=(3000, 3)), gen.gamma(2.5, size=(2000, 3))
    for result in js(ref, cur):  # type: ignore[union-attr]
        p = np.array(result.details["reference_counts"], dtype=float)
        q = np.array(result.details["current_counts"], dtype=float)
        assert result.statistic == pytest.approx(jensenshannon(p, q, base=2), rel=1e-10)
        assert result.details["measure"] == "distance"
        assert result.details["base"] == 2


def test_js_disjoint_supports_is_one() -> None:
    assert js(np.arange(100.0), np.arange(1000.0, 1100.0)).statistic == pytest.approx(1.0)  # type: ignore[union-attr]


# --------------------------------------------------------------------------- chi2
def test_chi2_matches_two_sample_contingency_with_unseen_category() -> None:
    ref = np.array(["a"] * 120 + ["b"] * 60 + ["c"] * 20)
    cur = np.array(["a"] * 50 + ["b"] * 35 + ["c"] * 10 + ["new"] * 5)
    result = chi2(ref, cur)
    expected = stats.chi2_contingency([[120, 60, 20, 0], [50, 35, 10, 5]], correction=False)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)  # type: ignore[union-attr]
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-10)  # type: ignore[union-attr]
    assert result.details["categories"] == ["a", "b", "c", "new"]  # type: ignore[union-attr]
    assert result.details["dof"] == 3  # type: ignore[union-attr]


def test_chi2_is_not_goodness_of_fit() -> None:
    # Trap: a goodness-of-fit test against reference shares treats the reference as exact
    # and, for equal sizes, doubles the statistic. Same counts in both samples -> 0.
    ref = np.repeat([0, 1, 2], [300, 200, 100])
    cur = np.repeat([0, 1, 2], [280, 210, 110])
    two_sample = chi2(ref, cur).statistic  # type: ignore[union-attr]
    goodness = stats.chisquare([280, 210, 110], np.array([300, 200, 100]) * 600 / 600).statistic
    assert two_sample == pytest.approx(goodness / 2, rel=0.05)
    assert chi2(ref, ref).statistic == 0.0  # type: ignore[union-attr]


def test_chi2_single_category_and_bad_types() -> None:
    result = chi2(np.array([1, 1, 1]), np.array([1, 1]))
    assert (result.statistic, result.pvalue) == (0.0, 1.0)  # type: ignore[union-attr]
    with pytest.raises(DataError, match="strings in one sample and numbers"):
        chi2(np.array(["a", "b"]), np.array([1, 2]))
    with pytest.raises(DataError, match="mixes strings and numbers"):
        chi2(np.array(["a", 1], dtype=object), np.array(["a"], dtype=object))
    with pytest.raises(DataError, match="2 missing"):
        chi2(np.array(["a", None, None], dtype=object), np.array(["a"], dtype=object))
    omitted = chi2(np.array(["a", None], dtype=object), np.array(["a"]), nan_policy="omit")
    assert omitted.statistic == 0.0  # type: ignore[union-attr]


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("test", [ks, psi, js, wasserstein])
def test_bad_numeric_input_gets_edgeml_errors(test) -> None:  # type: ignore[no-untyped-def]
    good = rng().normal(size=(50, 2))
    with pytest.raises(DataError, match="columns"):
        test(good, good[:, :1])
    with pytest.raises(DataError, match="empty"):
        test(np.empty(0), np.ones(3))
    with pytest.raises(DataError, match="not numeric"):
        test(np.array(["a", "b"]), np.array(["a", "b"]))
    with pytest.raises(DataError, match="different columns"):
        test({"a": [1.0, 2.0]}, {"b": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"1-D .* or 2-D"):
        test(np.ones((2, 2, 2)), np.ones((2, 2, 2)))
    with pytest.raises(ConfigError, match="nan_policy"):
        test(good, good, nan_policy="ignore")


@pytest.mark.parametrize("test", [ks, psi, js, wasserstein])
def test_nan_policy(test) -> None:  # type: ignore[no-untyped-def]
    gen = rng(8)
    ref, cur = gen.normal(size=(200, 3)), gen.normal(size=(150, 3))
    dirty = cur.copy()
    dirty[[3, 9], 1] = np.nan
    dirty[5, 1] = np.inf
    with pytest.raises(DataError, match=r"Column '1' of current .* 2 NaN and 1 infinite"):
        test(ref, dirty)
    omitted = test(ref, dirty, nan_policy="omit")
    clean = test(ref, np.delete(cur, [3, 5, 9], axis=0)[:, :], nan_policy="omit")
    assert omitted[1].statistic == pytest.approx(
        test(ref[:, 1], np.delete(dirty[:, 1], [3, 5, 9])).statistic
    )
    assert omitted[0].statistic == pytest.approx(test(ref[:, 0], cur[:, 0]).statistic)
    assert len(clean) == 3
    all_nan = ref.copy()
    all_nan[:, 2] = np.nan
    with pytest.raises(DataError, match="no finite values"):
        test(all_nan, cur, nan_policy="omit")


def test_inputs_dict_and_dataframe_match_arrays() -> None:
    pd = pytest.importorskip("pandas")
    gen = rng(12)
    ref, cur = gen.normal(size=(300, 2)), gen.normal(0.2, size=(200, 2))
    arrays = ks(ref, cur)
    as_dict = ks({"x": ref[:, 0], "y": ref[:, 1]}, {"x": cur[:, 0], "y": cur[:, 1]})
    frame = ks(pd.DataFrame(ref, columns=["x", "y"]), pd.DataFrame(cur, columns=["x", "y"]))
    assert [r.statistic for r in arrays] == [r.statistic for r in as_dict]  # type: ignore[union-attr]
    assert [r.feature for r in frame] == ["x", "y"]  # type: ignore[union-attr]
    assert [r.pvalue for r in frame] == [r.pvalue for r in arrays]  # type: ignore[union-attr]


def test_invalid_arguments() -> None:
    with pytest.raises(ConfigError, match="'bins' argument of psi"):
        psi(np.ones(5), np.ones(5), bins=0)
    with pytest.raises(ConfigError, match="'alpha' argument of ks"):
        ks(np.ones(5), np.ones(5), alpha=1.5)
    with pytest.raises(ConfigError, match="'edges' argument of psi"):
        psi(np.ones(5), np.ones(5), edges=[3.0, 1.0])
    with pytest.raises(ConfigError, match="'method' argument of ks"):
        ks(np.ones(5), np.ones(5), method="fast")  # type: ignore[arg-type]


@pytest.mark.parametrize("alpha", [0.0, 1.0, "0.05", None, True])
@pytest.mark.parametrize("test", ["ks", "chi2", "mmd", "compare"])
def test_every_significance_test_rejects_alpha_the_same_way(test: str, alpha: object) -> None:
    import edgeml.drift

    function = getattr(edgeml.drift, test)
    with pytest.raises(ConfigError, match=rf"'alpha' argument of {test} must be a float"):
        function(np.ones(5), np.ones(5), alpha=alpha)


def test_one_dimensional_messages_name_the_sample() -> None:
    with pytest.raises(DataError, match=r"^current in ks has 1 NaN and 0 infinite values \(of 3\)"):
        ks(np.arange(5.0), np.array([1.0, np.nan, 2.0]))
    with pytest.raises(DataError, match=r"^reference in wasserstein has no finite values"):
        wasserstein(np.full(3, np.nan), np.ones(3), nan_policy="omit")


def test_asymptotic_pvalues_stay_float64_and_do_not_underflow() -> None:
    # Trap seen in peers: p-values kept as float32 (smallest ~1e-45) or rounded to 0.
    gen = np.random.default_rng(21)
    a, b = gen.normal(size=(30_000, 2)), gen.normal(size=(25_000, 2))
    b[:, 0] += 0.2
    results = ks(a, b)
    expected = stats.ks_2samp(a[:, 0], b[:, 0])
    assert 0.0 < expected.pvalue < 1e-45
    assert results[0].pvalue == pytest.approx(expected.pvalue, rel=1e-10)  # type: ignore[index]
    assert type(results[0].pvalue) is float  # type: ignore[index]
    assert results[0].details["mode"] == "asymp"  # type: ignore[index]
