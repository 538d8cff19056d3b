"""Delayed-label join: bounded memory, TTL, and counts checked against a naive model."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeml.errors import ConfigError
from edgeml.monitor import LabelJoin

pytestmark = pytest.mark.compat


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FlipDetector:
    """A stand-in detector with the river-style API: alarms after 3 errors in a row."""

    def __init__(self) -> None:
        self.run = 0
        self.drift_detected = False

    def update(self, x: float) -> FlipDetector:
        self.run = self.run + 1 if x else 0
        self.drift_detected = self.run >= 3
        if self.drift_detected:
            self.run = 0
        return self


def test_join_reports_error_and_delay() -> None:
    clock = Clock()
    join = LabelJoin(clock=clock)
    join.record_prediction("a", 2)
    clock.now = 7.5
    result = join.record_label("a", 1)
    assert (result.outcome, result.error, result.delay) == ("joined", True, 7.5)
    assert join.accuracy == 0.0
    # A second label for the same id no longer has a pending prediction.
    assert join.record_label("a", 1).outcome == "unknown"


def test_repredicting_a_pending_id_replaces_it_and_restarts_its_ttl() -> None:
    clock = Clock()
    join = LabelJoin(ttl=10.0, clock=clock)
    join.record_prediction("a", 0)
    clock.now = 8.0
    join.record_prediction("a", 1)
    clock.now = 15.0  # 15 s after the first prediction, 7 s after the second
    assert join.record_label("a", 1).error is False
    assert join.stats().expired == 0


def test_accuracy_is_over_the_last_window_labels() -> None:
    join = LabelJoin(window=4)
    outcomes = [True, True, False, False, False, False]  # right, right, then 4 wrong
    for i, right in enumerate(outcomes):
        join.record_prediction(i, 1)
        join.record_label(i, 1 if right else 0)
    assert join.accuracy == 0.0
    join.record_prediction("x", 1)
    join.record_label("x", 1)
    assert join.accuracy == pytest.approx(0.25)


def test_detector_sees_the_error_stream_and_alarms_are_counted() -> None:
    join = LabelJoin(detector=FlipDetector())
    for i in range(7):
        join.record_prediction(i, 0)
        join.record_label(i, 1)  # always wrong: alarms after the 3rd and the 6th error
    assert join.stats().alarms == 2


def test_custom_error_definition_for_regression() -> None:
    join = LabelJoin(is_error=lambda pred, label: abs(pred - label) > 0.5)
    join.record_prediction("a", 3.2)
    join.record_prediction("b", 3.2)
    assert join.record_label("a", 3.0).error is False
    assert join.record_label("b", 4.0).error is True


def test_numpy_predictions_give_plain_json_safe_results() -> None:
    # With numpy outputs (what ModelMonitor records) the documented regression rule
    # returns numpy.bool_; the result must still be a plain bool and JSON-serializable.
    import json

    import numpy as np

    join = LabelJoin(is_error=lambda pred, label: abs(pred - label) > 0.5)
    join.record_prediction("a", np.float32(3.2))
    result = join.record_label("a", 4.0)
    assert result.error is True
    assert json.loads(json.dumps(result.to_dict())) == {
        "outcome": "joined",
        "error": True,
        "delay": result.delay,
    }


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"ttl": 0}, "ttl"), ({"ttl": float("inf")}, "ttl"), ({"max_pending": 0}, "max_pending"),
     ({"window": True}, "window")],
)  # fmt: skip
def test_bad_arguments(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigError, match=f"'{name}' argument of LabelJoin"):
        LabelJoin(**kwargs)


# One step: ("predict", id, class), ("label", id, class) or ("wait", seconds).
_step = st.one_of(
    st.tuples(st.just("predict"), st.integers(0, 40), st.integers(0, 2)),
    st.tuples(st.just("label"), st.integers(0, 40), st.integers(0, 2)),
    st.tuples(st.just("wait"), st.floats(0.0, 6.0), st.just(0)),
)


def _naive(steps: list[tuple[str, Any, int]], ttl: float, max_pending: int) -> dict[str, Any]:
    """The same semantics written as plainly as possible: a list scanned each time."""
    now = 0.0
    pending: list[tuple[Any, float, int]] = []  # (id, time, prediction), oldest first
    counts = {"joined": 0, "expired": 0, "evicted": 0, "unknown": 0}
    errors: list[int] = []

    def expire() -> None:
        nonlocal pending
        keep = [p for p in pending if p[1] > now - ttl]
        counts["expired"] += len(pending) - len(keep)
        pending = keep

    for kind, key, value in steps:
        if kind == "wait":
            now += key
            continue
        expire()
        if kind == "predict":
            pending = [p for p in pending if p[0] != key] + [(key, now, value)]
            if len(pending) > max_pending:
                pending.pop(0)
                counts["evicted"] += 1
        else:
            match = [p for p in pending if p[0] == key]
            if not match:
                counts["unknown"] += 1
            else:
                pending.remove(match[0])
                counts["joined"] += 1
                errors.append(int(match[0][2] != value))
    expire()
    counts["pending"] = len(pending)
    counts["errors"] = errors
    return counts


@given(st.lists(_step, max_size=120), st.floats(1.0, 20.0), st.integers(1, 15))
def test_counts_match_a_naive_model_and_memory_stays_bounded(
    steps: list[tuple[str, Any, int]], ttl: float, max_pending: int
) -> None:
    clock = Clock()
    join = LabelJoin(ttl=ttl, max_pending=max_pending, window=1000, clock=clock)
    for kind, key, value in steps:
        if kind == "wait":
            clock.now += key
        elif kind == "predict":
            join.record_prediction(key, value)
        else:
            join.record_label(key, value)
        assert join.pending <= max_pending
    stats = join.stats()
    expected = _naive(steps, ttl, max_pending)
    assert (stats.joined, stats.expired, stats.evicted, stats.unknown, stats.pending) == (
        expected["joined"],
        expected["expired"],
        expected["evicted"],
        expected["unknown"],
        expected["pending"],
    )
    errors = expected["errors"]
    if errors:
        assert stats.accuracy == pytest.approx(1 - sum(errors) / len(errors))
    else:
        assert stats.accuracy is None


def test_stats_value_renders() -> None:
    join = LabelJoin()
    join.record_prediction(1, 1)
    join.record_label(1, 1)
    stats = join.stats()
    assert stats.to_dict()["accuracy"] == 1.0
    assert stats.error_rate == 0.0
    assert "| joined | 1 |" in stats.to_markdown()
    assert "<table>" in stats._repr_html_()
