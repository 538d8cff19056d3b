"""Fuzz every public drift entry point with generated bad input: only edgeml errors escape.

Each test draws arguments from a broad strategy (numbers of every kind, strings, bytes,
None, nested and ragged lists, records, dicts, arrays of odd dtypes and shapes, masked
arrays, deep nesting) and calls one entry point. It may succeed or raise an
:class:`~edgeml.errors.EdgeMLError`; any other exception fails the test (issue 15). The
drift package is pure numpy/scipy and every size argument is bounded before allocation,
so nothing here can crash the process: the tests run in-process.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeml import drift
from edgeml.errors import EdgeMLError

try:  # the shared profile (tests/fuzz/conftest.py) when present
    settings.get_profile("fuzz")
    FUZZ = settings(settings.get_profile("fuzz"), deadline=None)
except Exception:
    FUZZ = settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, float("inf"), float("nan"), 0.0]),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
)


def _deep(depth: int) -> Any:
    value: Any = 1.0
    for _ in range(depth):
        value = [value]
    return value


def _arrays(draw: st.DrawFn) -> Any:
    rows = draw(st.integers(0, 6))
    cols = draw(st.integers(0, 3))
    kind = draw(st.sampled_from(["f8", "f4", "i8", "u1", "b1", "U3", "O", "c16", "M8[s]"]))
    shape = draw(st.sampled_from([(rows,), (rows, cols), (rows, cols, 2), ()]))
    values = draw(
        st.lists(
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            min_size=int(np.prod(shape)),
            max_size=int(np.prod(shape)),
        )
    )
    base = np.array(values, dtype=np.float64).reshape(shape)
    try:
        return base.astype(kind)
    except (TypeError, ValueError, OverflowError):
        return base


@st.composite
def bad_data(draw: st.DrawFn) -> Any:
    """Anything a careless caller might pass as a sample."""
    choice = draw(st.integers(0, 11))
    if choice == 0:
        return draw(scalars)
    if choice == 1:
        return draw(st.lists(scalars, max_size=8))
    if choice == 2:  # ragged rows
        return draw(st.lists(st.lists(st.floats(-5, 5), max_size=3), min_size=1, max_size=4))
    if choice == 3:  # records
        return draw(st.lists(st.dictionaries(st.text(max_size=2), scalars, max_size=3), max_size=4))
    if choice == 4:  # dict of columns, possibly ragged or odd
        return draw(
            st.dictionaries(
                st.one_of(st.text(max_size=3), st.integers(0, 3)),
                st.one_of(st.lists(scalars, max_size=5), scalars),
                max_size=3,
            )
        )
    if choice == 5:
        return _arrays(draw)
    if choice == 6:
        data = _arrays(draw)
        if isinstance(data, np.ndarray) and data.ndim:
            return np.ma.masked_array(data, mask=np.zeros(data.shape, dtype=bool))
        return data
    if choice == 7:
        return _deep(draw(st.sampled_from([2, 50, 2000])))
    if choice == 8:  # a good sample with extreme values
        return np.array(draw(st.lists(st.sampled_from([1e308, -1e308, 0.0, 1.0]), min_size=2)))
    if choice == 9:
        return draw(st.sampled_from([object(), {1, 2}, iter([1.0]), b"EDGEMLH1", "1,2,3"]))
    if choice == 10:  # a real Histogram
        return drift.Histogram.fit(np.arange(10.0), bins=3)
    return np.random.default_rng(draw(st.integers(0, 5))).normal(size=(draw(st.integers(1, 30)),))


good = np.random.default_rng(0).normal(size=40)
options = st.dictionaries(
    st.sampled_from(
        [
            "bins",
            "alpha",
            "threshold",
            "nan_policy",
            "method",
            "edges",
            "normalize",
            "feature_names",
        ]
    ),
    st.one_of(scalars, st.lists(scalars, max_size=4), bad_data()),
    max_size=2,
)


def only_edgeml_errors(call: Callable[[], Any]) -> None:
    """Run ``call``; success and edgeml errors pass, anything else propagates."""
    with contextlib.suppress(EdgeMLError):
        call()


TESTS = {
    "psi": drift.psi,
    "js": drift.js,
    "ks": drift.ks,
    "wasserstein": drift.wasserstein,
    "chi2": drift.chi2,
}


@pytest.mark.parametrize("name", sorted(TESTS))
@FUZZ
@given(reference=bad_data(), current=bad_data())
def test_two_sample_tests_on_bad_data(name: str, reference: Any, current: Any) -> None:
    only_edgeml_errors(lambda: TESTS[name](reference, current))


@pytest.mark.parametrize("name", sorted(TESTS))
@FUZZ
@given(kwargs=options)
def test_two_sample_tests_on_bad_options(name: str, kwargs: dict[str, Any]) -> None:
    allowed = {
        "psi": {"bins", "threshold", "nan_policy", "edges", "feature_names"},
        "js": {"bins", "threshold", "nan_policy", "edges", "feature_names"},
        "ks": {"alpha", "method", "nan_policy", "feature_names"},
        "wasserstein": {"threshold", "nan_policy", "normalize", "feature_names"},
        "chi2": {"alpha", "nan_policy", "feature_names"},
    }[name]
    used = {k: v for k, v in kwargs.items() if k in allowed}
    only_edgeml_errors(lambda: TESTS[name](good, good + 0.5, **used))


@FUZZ
@given(
    reference=bad_data(),
    current=bad_data(),
    n_permutations=st.one_of(st.integers(-5, 10**12), scalars),
    max_samples=st.one_of(st.integers(-5, 10**12), scalars),
    bandwidth=st.one_of(st.none(), scalars),
)
def test_mmd(
    reference: Any, current: Any, n_permutations: Any, max_samples: Any, bandwidth: Any
) -> None:
    only_edgeml_errors(lambda: drift.mmd(reference, current, n_permutations=10))
    only_edgeml_errors(
        lambda: drift.mmd(
            good,
            good,
            n_permutations=n_permutations,
            max_samples=max_samples,
            bandwidth=bandwidth,
        )
    )


@FUZZ
@given(
    reference=bad_data(),
    current=bad_data(),
    numeric=st.one_of(st.sampled_from(["psi", "ks", "js", "wasserstein"]), scalars),
    bins=st.one_of(st.integers(-3, 10**12), scalars),
    thresholds=st.one_of(st.none(), st.dictionaries(st.text(max_size=4), scalars, max_size=2)),
    tests=st.one_of(st.none(), st.dictionaries(st.text(max_size=2), scalars, max_size=2)),
)
def test_compare(
    reference: Any, current: Any, numeric: Any, bins: Any, thresholds: Any, tests: Any
) -> None:
    only_edgeml_errors(lambda: drift.compare(reference, current))
    table = {"a": good, "b": good * 2}
    only_edgeml_errors(
        lambda: drift.compare(
            table, table, numeric=numeric, bins=bins, thresholds=thresholds, tests=tests
        )
    )


@FUZZ
@given(payload=st.one_of(bad_data(), st.binary(max_size=64), st.text(max_size=64)))
def test_histogram_deserialization(payload: Any) -> None:
    only_edgeml_errors(lambda: drift.Histogram.from_bytes(payload))
    only_edgeml_errors(lambda: drift.Histogram.from_json(payload))
    only_edgeml_errors(lambda: drift.Histogram.from_dict(payload))


valid = drift.Histogram.fit(np.arange(20.0).reshape(10, 2), bins=3)


@FUZZ
@given(
    key=st.sampled_from(sorted(valid.to_dict())),
    value=st.one_of(bad_data(), scalars, st.lists(st.lists(scalars, max_size=6), max_size=3)),
    cut=st.integers(0, len(valid.to_bytes())),
    flip=st.integers(0, len(valid.to_bytes()) - 1),
)
def test_histogram_corrupted_documents(key: str, value: Any, cut: int, flip: int) -> None:
    document = {**valid.to_dict(), key: value}
    only_edgeml_errors(lambda: drift.Histogram.from_dict(document))
    try:
        text = json.dumps(document)
    except (TypeError, ValueError):
        text = json.dumps(valid.to_dict()).replace("1", "Infinity", 1)
    only_edgeml_errors(lambda: drift.Histogram.from_json(text))
    payload = bytearray(valid.to_bytes())
    payload[flip] ^= 0xFF
    only_edgeml_errors(lambda: drift.Histogram.from_bytes(bytes(payload)))
    only_edgeml_errors(lambda: drift.Histogram.from_bytes(valid.to_bytes()[:cut]))


@FUZZ
@given(reference=bad_data(), batch=bad_data(), bins=st.one_of(st.integers(-3, 10**12), scalars))
def test_histogram_fit_update_merge(reference: Any, batch: Any, bins: Any) -> None:
    only_edgeml_errors(lambda: drift.Histogram.fit(reference))
    only_edgeml_errors(lambda: drift.Histogram.fit(good, bins=bins))
    only_edgeml_errors(lambda: valid.copy().update(batch))
    only_edgeml_errors(lambda: valid.merge(batch))
    only_edgeml_errors(lambda: drift.ks_from_histograms(valid, batch))
    only_edgeml_errors(lambda: drift.wasserstein_from_histograms(valid, batch))
    only_edgeml_errors(lambda: drift.psi(valid, batch))


@FUZZ
@given(edges=bad_data(), counts=bad_data(), names=bad_data())
def test_histogram_constructor(edges: Any, counts: Any, names: Any) -> None:
    only_edgeml_errors(lambda: drift.Histogram(edges, counts, names=names))


DETECTORS = [drift.ADWIN, drift.PageHinkley, drift.DDM, drift.HDDM_A]


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.__name__)
@FUZZ
@given(value=st.one_of(scalars, bad_data()), values=bad_data())
def test_detectors(detector: type[drift.DriftDetector], value: Any, values: Any) -> None:
    only_edgeml_errors(lambda: detector().update(value))
    only_edgeml_errors(lambda: detector().update_many(values))
    only_edgeml_errors(lambda: drift.evaluate_detector(detector(), values, [1]))


@FUZZ
@given(stream=bad_data(), points=st.one_of(bad_data(), st.lists(scalars, max_size=3)))
def test_evaluate_detector_and_adjust(stream: Any, points: Any) -> None:
    only_edgeml_errors(lambda: drift.evaluate_detector(drift.ADWIN(), stream, points))
    only_edgeml_errors(lambda: drift.adjust_pvalues(stream, "bh"))
    only_edgeml_errors(lambda: drift.adjust_pvalues([0.1, 0.2], points))


def test_deep_nesting_and_huge_integers_are_data_errors() -> None:
    # the examples of issue 15, kept as plain assertions
    for call in (
        lambda: drift.Histogram.from_json("[" * 3000 + "]" * 3000),
        lambda: drift.psi(_deep(3000), good),
        lambda: drift.ADWIN().update(10**400),
    ):
        with pytest.raises(EdgeMLError):
            call()
    assert math.isfinite(drift.ks(good, good).statistic)
