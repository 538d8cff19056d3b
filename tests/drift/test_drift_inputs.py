"""The one input boundary of edgeml.drift: the examples of issues 15 and 16, each a test.

Every case here failed before the fix (OOM, NaN verdicts, plain builtin errors, silent
acceptance of bins=1 or of column names that were then dropped).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeml import drift
from edgeml.drift._inputs import MAX_BINS, MAX_CATEGORIES
from edgeml.errors import ConfigError, DataError, EdgeMLError

GOOD = np.random.default_rng(0).normal(size=(200, 3))


# ----------------------------------------------------------------- size arguments
@pytest.mark.parametrize("test", [drift.psi, drift.js])
def test_bins_of_a_billion_is_refused_before_allocating(test) -> None:  # type: ignore[no-untyped-def]
    # issue 15: psi/js(a, b, bins=10**9) got the process OOM-killed (23 GB)
    with pytest.raises(ConfigError, match=r"'bins' argument of .* <= 100,000"):
        test(GOOD, GOOD, bins=10**9)


@pytest.mark.parametrize(
    "call",
    [
        lambda: drift.psi(GOOD, GOOD, bins=1),
        lambda: drift.js(GOOD, GOOD, bins=1),
        lambda: drift.compare(GOOD, GOOD, bins=1),
        lambda: drift.Histogram.fit(GOOD, bins=1),
    ],
)
def test_bins_below_two_is_refused_as_the_architecture_page_says(call) -> None:  # type: ignore[no-untyped-def]
    # issue 16: psi(a, b, bins=1) silently returned 0
    with pytest.raises(ConfigError, match=r"must be an integer >= 2\. Got 1 instead\. Fix: "):
        call()


def test_bins_times_features_is_bounded() -> None:
    wide = np.zeros((2, 2_000))
    with pytest.raises(ConfigError, match="count cells"):
        drift.psi(wide, wide, bins=MAX_BINS)
    with pytest.raises(ConfigError, match="count cells"):
        drift.Histogram.fit(wide, bins=MAX_BINS)


def test_mmd_sizes_are_bounded() -> None:
    with pytest.raises(ConfigError, match="n_permutations"):
        drift.mmd(GOOD, GOOD, n_permutations=10**9)
    with pytest.raises(ConfigError, match="max_samples"):
        drift.mmd(GOOD, GOOD, max_samples=10**7)


def test_mmd_permutations_in_blocks_give_the_same_pvalue() -> None:
    # permutations are drawn block by block; the stream of random numbers is the same
    from edgeml.drift import _mmd

    x, y = GOOD[:40], GOOD[40:80] + 0.3
    whole = drift.mmd(x, y, n_permutations=300, seed=3).pvalue
    block = _mmd.PERMUTATION_BLOCK
    try:
        _mmd.PERMUTATION_BLOCK = 7
        assert drift.mmd(x, y, n_permutations=300, seed=3).pvalue == whole
    finally:
        _mmd.PERMUTATION_BLOCK = block


def test_too_many_categories_is_a_data_error() -> None:
    values = np.arange(MAX_CATEGORIES + 1).astype(str)
    with pytest.raises(DataError, match="distinct categories"):
        drift.chi2(values, values)


def test_serialized_histogram_cannot_announce_a_huge_size() -> None:
    payload = bytearray(drift.Histogram.fit(GOOD, bins=4).to_bytes())
    header = json.dumps({"names": ["a"], "is_1d": False, "bins": 10**12}).encode()
    forged = b"EDGEMLH1" + len(header).to_bytes(4, "little") + header + bytes(payload[-64:])
    with pytest.raises(DataError, match="count cells"):
        drift.Histogram.from_bytes(forged)


# ----------------------------------------------------------------- non-finite results
def test_mmd_on_extreme_values_raises_instead_of_a_nan_verdict() -> None:
    # issue 15: mmd on +-1e308 returned a NaN statistic and said "drifted"
    extreme = np.array([[1e308], [-1e308], [0.0], [1.0]])
    with pytest.raises(DataError, match="not finite"):
        drift.mmd(extreme, extreme[::-1].copy())


def test_wasserstein_overflow_raises() -> None:
    a = np.array([-1e308, 1e308, 0.0])
    with pytest.raises(DataError, match="not finite"):
        drift.wasserstein(a, -a)
    with pytest.raises(DataError, match="not finite"):
        drift.compare(a[:, None], -a[:, None], numeric="wasserstein")


def test_quantile_edges_that_overflow_raise() -> None:
    a = np.array([-1e308, 1e308])
    with pytest.raises(DataError, match="overflow"):
        drift.psi(a, a, bins=3)


def test_detectors_refuse_values_that_overflow_their_sums() -> None:
    with pytest.raises(DataError, match="rescale"):
        drift.PageHinkley().update(1e300)
    with pytest.raises(DataError, match="rescale"):
        drift.ADWIN().update_many([0.0, -1e200])


# ----------------------------------------------------------------- error types
@pytest.mark.parametrize(
    "call",
    [
        lambda: drift.chi2([["a", "b"], ["c"]], [["a", "b"], ["c"]]),  # ragged
        lambda: drift.compare([{"a": 1.0}, {"a": 2.0}], [{"a": 1.0}, {"a": 3.0}]),  # records
        lambda: drift.ks(np.ma.masked_array([1.0, 2.0], [0, 1]), [1.0, 2.0]),  # masked
        lambda: drift.Histogram.from_bytes("not bytes"),  # type: ignore[arg-type]
        lambda: drift.Histogram.from_json(12),  # type: ignore[arg-type]
        lambda: drift.Histogram.from_json("[" * 3000 + "]" * 3000),  # deeply nested
        lambda: drift.Histogram.from_json(
            drift.Histogram.fit(GOOD).to_json().replace('"nonfinite":[0', '"nonfinite":[Infinity')
        ),
        lambda: drift.Histogram([[0.0, 1.0]], [[0, 1.5, 0]]),  # fractional count
        lambda: drift.psi(np.array([1 + 2j, 3j]), np.array([1j, 2j])),  # complex
        lambda: drift.ADWIN().update(10**400),
        lambda: drift.adjust_pvalues([0.1, 2.0], "bh"),
        lambda: drift.evaluate_detector(drift.ADWIN(), ["a", "b"], [1]),
    ],
)
def test_bad_input_raises_edgeml_errors_only(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EdgeMLError) as caught:
        call()
    assert isinstance(caught.value, ValueError)  # DataError and ConfigError both are


def test_masked_arrays_are_refused_not_tested_on_hidden_values() -> None:
    hidden = np.ma.masked_array([1.0, 1e9], mask=[0, 1])
    with pytest.raises(DataError, match="masked array"):
        drift.psi(hidden, [1.0, 2.0])


# ----------------------------------------------------------------- feature names
def test_feature_names_for_arrays_reach_every_part_of_the_report() -> None:
    names = ["heart_rate", "age", "spo2"]
    current = GOOD + np.array([0.0, 1.0, 0.0])
    report = drift.compare(GOOD, current, feature_names=names, numeric=("ks", "psi", "wasserstein"))
    assert [f.feature for f in report.features] == names
    assert report.drifted_features == ["age"]
    assert all(r.feature == f.feature for f in report.features for r in (f.result, *f.others))
    text = json.dumps(report.to_dict())
    assert "heart_rate" in text
    assert '"0"' not in text
    assert "spo2" in report.to_markdown()
    for test in (drift.psi, drift.js, drift.ks, drift.wasserstein):
        assert [r.feature for r in test(GOOD, current, feature_names=names)] == names


def test_pandas_column_names_are_kept_everywhere() -> None:
    pd = pytest.importorskip("pandas")
    reference = pd.DataFrame(GOOD, columns=["heart_rate", "age", "spo2"])
    current = reference + np.array([0.0, 1.0, 0.0])
    report = drift.compare(reference, current, numeric=("psi", "ks"))
    assert [f.feature for f in report.features] == list(reference.columns)
    assert [r.feature for r in report["age"].others] == ["age"]
    assert drift.Histogram.fit(reference).names == ("heart_rate", "age", "spo2")


def test_feature_names_are_checked() -> None:
    pd = pytest.importorskip("pandas")
    with pytest.raises(ConfigError, match="feature_names"):
        drift.compare(GOOD, GOOD, feature_names=["a", "b"])
    with pytest.raises(ConfigError, match="feature_names"):
        drift.compare(GOOD, GOOD, feature_names=["a", "a", "b"])
    frame = pd.DataFrame(GOOD, columns=["x", "y", "z"])
    with pytest.raises(DataError, match="differ from the column names"):
        drift.compare(frame, frame, feature_names=["a", "b", "c"])
