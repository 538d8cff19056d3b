"""Histogram sketches: merging, serialization, exact and approximate tests on sketches,
and property tests of the invariants."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from edgeml.drift import (
    Histogram,
    chi2,
    js,
    ks,
    ks_from_histograms,
    psi,
    wasserstein,
    wasserstein_from_histograms,
)
from edgeml.errors import ConfigError, DataError

pytestmark = pytest.mark.compat

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
samples = hnp.arrays(np.float64, st.integers(1, 60), elements=finite)


def profile(seed: int = 0, bins: int = 10) -> tuple[np.ndarray, Histogram]:
    ref = np.random.default_rng(seed).normal(size=(2000, 3))
    return ref, Histogram.fit(ref, bins=bins)


# --------------------------------------------------------------------------- basics
def test_fit_edges_are_reference_quantiles_and_counts_add_up() -> None:
    ref, sketch = profile()
    assert sketch.edges == pytest.approx(np.quantile(ref, np.linspace(0, 1, 11), axis=0).T)
    assert sketch.counts.shape == (3, 12)
    assert sketch.total.tolist() == [2000, 2000, 2000]
    assert sketch.counts[:, 0].tolist() == [0, 0, 0]  # nothing below the reference min
    assert sketch.scale == pytest.approx(ref.std(axis=0))
    assert sketch.minimum.tolist() == ref.min(axis=0).tolist()


def test_update_counts_nonfinite_apart() -> None:
    _, sketch = profile()
    batch = np.random.default_rng(1).normal(size=(100, 3))
    batch[[0, 5], 2] = np.nan
    batch[7, 0] = np.inf
    counted = sketch.empty().update(batch)
    assert counted.nonfinite.tolist() == [1, 0, 2]
    assert counted.total.tolist() == [99, 100, 98]
    assert np.isfinite(counted.maximum).all()


def test_sketch_tests_equal_array_tests_exactly() -> None:
    ref, sketch = profile(2)
    cur = np.random.default_rng(3).normal(0.3, 1.2, size=(700, 3))
    current = sketch.empty().update(cur)
    for test in (psi, js):
        on_arrays = [r.statistic for r in test(ref, cur)]  # type: ignore[union-attr]
        on_sketches = [r.statistic for r in test(sketch, current)]  # type: ignore[union-attr]
        mixed = [r.statistic for r in test(sketch, cur)]  # type: ignore[union-attr]
        assert on_sketches == on_arrays
        assert mixed == on_arrays
    for result in chi2(sketch, current):  # type: ignore[union-attr]
        j = int(result.feature)  # type: ignore[arg-type]
        table = np.array([sketch.counts[j], current.counts[j]])
        table = table[:, table.sum(axis=0) > 0]
        expected = stats.chi2_contingency(table, correction=False)
        assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
        assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize("bins", [10, 50])
@pytest.mark.parametrize("shift", [0.0, 0.4])
def test_ks_and_wasserstein_on_sketches_within_documented_bounds(bins: int, shift: float) -> None:
    ref, sketch = profile(4, bins)
    cur = np.random.default_rng(5).normal(shift, 1.5, size=(900, 3))
    current = sketch.empty().update(cur)
    exact_ks = [r.statistic for r in ks(ref, cur)]  # type: ignore[union-attr]
    exact_w = [r.details["distance"] for r in wasserstein(ref, cur)]  # type: ignore[union-attr]
    lower, bound = ks_from_histograms(sketch, current)
    distance, w_bound = wasserstein_from_histograms(sketch, current)
    for j in range(3):
        assert lower[j] <= exact_ks[j] + 1e-12
        assert exact_ks[j] <= lower[j] + bound[j] + 1e-12
        assert abs(distance[j] - exact_w[j]) <= w_bound[j] + 1e-12
    results = ks(sketch, current)
    assert results[0].details["approximate"] is True  # type: ignore[index]
    assert results[0].details["error_bound"] == pytest.approx(bound[0])  # type: ignore[index]
    approx = wasserstein(sketch, current)
    assert approx[0].details["error_bound"] == pytest.approx(w_bound[0] / sketch.scale[0])  # type: ignore[index]


def test_more_bins_tighten_the_bounds() -> None:
    bounds = []
    for bins in (5, 20, 80):
        _, sketch = profile(6, bins)
        current = sketch.empty().update(np.random.default_rng(7).normal(size=(800, 3)))
        bounds.append(
            (
                ks_from_histograms(sketch, current)[1].max(),
                wasserstein_from_histograms(sketch, current)[1].max(),
            )
        )
    assert bounds[0][0] > bounds[1][0] > bounds[2][0]
    assert bounds[0][1] > bounds[1][1] > bounds[2][1]


# --------------------------------------------------------------------------- merging
def test_merge_equals_counting_everything_at_once() -> None:
    _, sketch = profile()
    gen = np.random.default_rng(8)
    parts = [gen.normal(size=(n, 3)) for n in (10, 300, 77)]
    merged = sketch.empty()
    for part in parts:
        merged = merged.merge(sketch.empty().update(part))
    assert merged == sketch.empty().update(np.concatenate(parts))


def test_merge_refuses_other_references() -> None:
    _, sketch = profile(0)
    _, other = profile(1)
    with pytest.raises(DataError, match="same reference"):
        sketch.merge(other)
    with pytest.raises(DataError, match="same reference"):
        psi(sketch, other.empty().update(np.zeros((3, 3))))


@given(st.lists(samples, min_size=3, max_size=3))
def test_merge_is_associative_and_commutative(parts: list[np.ndarray]) -> None:
    base = Histogram.fit(np.linspace(-10, 10, 101), bins=7).empty()
    a, b, c = (base.copy().update(p) for p in parts)
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(b).merge(c) == base.copy().update(np.concatenate(parts))


# --------------------------------------------------------------------------- invariants
@given(samples, samples)
def test_psi_nonnegative_and_zero_on_itself(ref: np.ndarray, cur: np.ndarray) -> None:
    assert psi(ref, cur).statistic >= 0.0  # type: ignore[union-attr]
    assert psi(ref, ref).statistic == 0.0  # type: ignore[union-attr]


@given(samples, samples)
def test_js_distance_in_unit_interval(ref: np.ndarray, cur: np.ndarray) -> None:
    value = js(ref, cur).statistic  # type: ignore[union-attr]
    assert 0.0 <= value <= 1.0
    assert js(ref, ref).statistic == 0.0  # type: ignore[union-attr]


# scipy's own exact p-value sometimes fails and warns; only the statistics are compared.
@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful")
@given(samples, samples)
def test_ks_and_wasserstein_agree_with_scipy(ref: np.ndarray, cur: np.ndarray) -> None:
    assert ks(ref, cur).statistic == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)  # type: ignore[union-attr]
    expected = stats.wasserstein_distance(ref, cur)
    got = wasserstein(ref, cur, normalize=False).statistic  # type: ignore[union-attr]
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-6)


# --------------------------------------------------------------------------- formats
def test_bytes_and_json_round_trip() -> None:
    _, sketch = profile()
    current = sketch.empty().update(np.random.default_rng(9).normal(size=(50, 3)))
    assert Histogram.from_bytes(current.to_bytes()) == current
    assert Histogram.from_json(current.to_json()) == current
    assert Histogram.from_dict(json.loads(json.dumps(current.to_dict()))) == current
    empty = sketch.empty()
    assert Histogram.from_json(empty.to_json()) == empty  # NaN min/max survive JSON
    one = Histogram.fit(np.arange(100.0))
    assert len(one.to_bytes()) < 300  # a device sends a few hundred bytes per feature
    assert Histogram.from_bytes(one.to_bytes()).is_1d
    assert psi(one, one.empty().update(np.arange(100.0))).statistic == 0.0  # type: ignore[union-attr]


def test_corrupt_payloads_get_edgeml_errors() -> None:
    _, sketch = profile()
    payload = sketch.to_bytes()
    with pytest.raises(DataError, match="magic"):
        Histogram.from_bytes(b"nope" + payload)
    with pytest.raises(DataError, match="truncated"):
        Histogram.from_bytes(payload[:-8])
    with pytest.raises(DataError, match="not valid JSON"):
        Histogram.from_json("{")
    with pytest.raises(DataError, match="format"):
        Histogram.from_dict({"edges": []})
    broken = sketch.to_dict()
    broken["counts"] = [[1, 2]]
    with pytest.raises(DataError, match="invalid"):
        Histogram.from_dict(broken)


def test_bad_construction_and_batches() -> None:
    with pytest.raises(ConfigError, match="bins"):
        Histogram.fit(np.arange(5.0), bins=0)
    with pytest.raises(ConfigError, match="edges"):
        Histogram([[1.0, 0.0]])
    # counts of 2 features x 3 bins given transposed (3 x 2) have the right size but
    # would scramble the features; a single feature may pass flat counts.
    with pytest.raises(ConfigError, match=r"'counts' argument of Histogram"):
        Histogram([[0.0, 1.0], [0.0, 1.0]], [[1, 2], [3, 4], [5, 6]])
    assert Histogram([0.0, 1.0], [1, 2, 3]).counts.tolist() == [[1, 2, 3]]
    with pytest.raises(DataError, match="NaN"):
        Histogram.fit(np.array([1.0, np.nan]))
    assert Histogram.fit(np.array([1.0, np.nan, 2.0]), nan_policy="omit").total.tolist() == [2]
    _, sketch = profile()
    with pytest.raises(DataError, match="3 features"):
        sketch.empty().update(np.zeros((4, 2)))
    with pytest.raises(DataError, match="no values"):
        psi(sketch, sketch.empty())


@pytest.mark.parametrize("test", [psi, js, chi2, ks, wasserstein])
def test_a_bad_nan_policy_is_refused_with_a_sketch_too(test: object) -> None:
    ref, sketch = profile()
    name = test.__name__  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=f"'nan_policy' argument of {name}"):
        test(sketch, ref[:100], nan_policy="drop")  # type: ignore[operator]


@pytest.mark.parametrize(
    "test", [psi, js, chi2, ks, wasserstein, ks_from_histograms, wasserstein_from_histograms]
)
@pytest.mark.parametrize("empty_side", ["reference", "current"])
def test_a_feature_with_zero_counts_is_refused_by_every_sketch_test(
    test: object, empty_side: str
) -> None:
    # DP releases clip noisy counts at 0, so one feature can end up with no counts at all
    # while the others have some. Its shares are undefined: an error naming the feature
    # and the side, never NaN.
    ref, sketch = profile()
    counts = sketch.empty().update(ref[:500]).counts.copy()
    counts[1] = 0
    zeroed = Histogram(sketch.edges, counts, scale=sketch.scale, names=sketch.names)
    pair = (zeroed, sketch) if empty_side == "reference" else (sketch, zeroed)
    with pytest.raises(DataError, match=f"The {empty_side} sketch has no values for feature '1'"):
        test(*pair)  # type: ignore[operator]


def test_nonfinite_values_never_touch_counts_even_on_repeated_edges() -> None:
    # A discrete reference repeats its minimum as an edge; NaN must not shift any count.
    sketch = Histogram.fit(np.array([0.0] * 50 + [1.0] * 50), bins=4)
    clean = sketch.empty().update(np.array([0.0, 0.0, 1.0]))
    dirty = sketch.empty().update(np.array([0.0, np.nan, 0.0, np.inf, 1.0, -np.inf]))
    assert dirty.counts.tolist() == clean.counts.tolist()
    assert dirty.nonfinite.tolist() == [3]
    assert (dirty.minimum, dirty.maximum) == (clean.minimum, clean.maximum)
    only_nan = sketch.empty().update(np.array([np.nan]))
    assert only_nan.total.tolist() == [0]
    assert np.isnan(only_nan.minimum).all()
