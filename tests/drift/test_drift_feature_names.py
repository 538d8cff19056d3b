"""A DataFrame's column names reach every drift result, sketch and report made from it.

Only one column is shifted, so a name attached to the wrong column fails these tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeml.drift import Histogram, compare, js, psi

pd = pytest.importorskip("pandas")

NAMES = ["heart_rate", "age", "spo2"]


@pytest.fixture(scope="module")
def frames() -> tuple[object, object]:
    rng = np.random.default_rng(11)
    reference = pd.DataFrame(rng.normal(size=(3000, 3)), columns=NAMES)
    current = pd.DataFrame(rng.normal(size=(3000, 3)), columns=NAMES)
    current["spo2"] += 1.0
    return reference, current


def test_compare_keeps_the_column_names(frames: tuple[object, object], tmp_path: Path) -> None:
    reference, current = frames
    report = compare(reference, current)
    assert [f.feature for f in report.features] == NAMES
    assert report.drifted_features == ["spo2"]
    assert [f.result.feature for f in report.features] == NAMES
    data = json.loads(json.dumps(report.to_dict()))
    assert [f["feature"] for f in data["features"]] == NAMES
    page = report.save_html(tmp_path / "drift.html").read_text(encoding="utf-8")
    assert all(f"<td>{name}</td>" in page for name in NAMES)


def test_single_tests_keep_the_column_names(frames: tuple[object, object]) -> None:
    reference, current = frames
    results = psi(reference, current)
    assert [r.feature for r in results] == NAMES
    assert [r.drifted for r in results] == [False, False, True]
    assert [r.feature for r in js(reference, current)] == NAMES


def test_sketches_keep_the_column_names_through_bytes_and_tests(
    frames: tuple[object, object],
) -> None:
    reference, current = frames
    sketch = Histogram.fit(reference)
    assert sketch.names == tuple(NAMES)
    device = Histogram.from_bytes(sketch.empty().update(current).to_bytes())
    assert device.names == tuple(NAMES)
    results = psi(sketch, device)
    assert [r.feature for r in results] == NAMES
    # Same statistics as on the frames themselves (sketch PSI is exact).
    direct = psi(reference, current)
    np.testing.assert_allclose(
        [r.statistic for r in results], [r.statistic for r in direct], rtol=1e-12
    )
    view = sketch._repr_html_()
    assert all(f"<td>{name}</td>" in view for name in NAMES)


def test_histogram_fit_names_array_columns(frames: tuple[object, object]) -> None:
    reference, current = frames
    array = reference.to_numpy()  # type: ignore[attr-defined]
    sketch = Histogram.fit(array, feature_names=NAMES)
    assert sketch == Histogram.fit(reference)
    assert [r.feature for r in psi(sketch, sketch.empty().update(current))] == NAMES
    with pytest.raises(ValueError, match="feature_names"):
        Histogram.fit(array, feature_names=NAMES[:2])
