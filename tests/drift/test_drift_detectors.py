"""Streaming detectors: a shared contract, and alarms pinned against river 0.26.1.

Expected indices were produced by running river 0.26.1 (``river.drift.ADWIN``,
``river.drift.PageHinkley``, ``river.drift.binary.DDM``, ``river.drift.binary.HDDMA``)
one value at a time over the same seeded streams defined below; river is not needed to
run these tests.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from edgeml.drift import ADWIN, DDM, HDDM_A, DriftDetector, PageHinkley, evaluate_detector
from edgeml.errors import ConfigError, DataError

pytestmark = pytest.mark.compat


def errors_stream() -> np.ndarray:
    gen = np.random.default_rng(42)
    return np.r_[gen.random(5000) < 0.1, gen.random(5000) < 0.4].astype(int)


def signal_stream() -> np.ndarray:
    gen = np.random.default_rng(7)
    return np.r_[gen.normal(0, 1, 3000), gen.normal(1, 1, 3000), gen.normal(-0.5, 2, 3000)]


DETECTORS = [
    ADWIN(),
    PageHinkley(),
    DDM(),
    HDDM_A(),
    HDDM_A(two_sided_test=True),
    ADWIN(delta=0.05, clock=8),
    PageHinkley(mode="up"),
]


def falling_errors() -> np.ndarray:
    gen = np.random.default_rng(1)
    return np.r_[gen.random(4000) < 0.3, gen.random(4000) < 0.05].astype(int)


def one_by_one(detector: DriftDetector, values: np.ndarray) -> list[int]:
    return [i for i, x in enumerate(values.tolist()) if detector.update(x).drift_detected]


# --------------------------------------------------------------------------- contract
@pytest.mark.parametrize("detector", DETECTORS, ids=repr)
def test_contract(detector: DriftDetector) -> None:
    stream = errors_stream()
    fresh = detector.clone()
    assert type(fresh) is type(detector)
    assert fresh.get_params() == detector.get_params()
    assert repr(fresh) == repr(detector)
    assert repr(detector).startswith(type(detector).__name__ + "(")
    # Same input -> same detections, whether one by one, all at once, or in pieces.
    all_at_once = fresh.clone().update_many(stream).tolist()
    assert all_at_once == one_by_one(fresh.clone(), stream)
    pieces = fresh.clone()
    found: list[int] = []
    for start in range(0, stream.size, 777):
        found += (pieces.update_many(stream[start : start + 777]) + start).tolist()
    assert found == all_at_once
    assert pieces.n_detections == len(all_at_once)
    assert all_at_once == fresh.clone().update_many(stream).tolist()
    # update returns self; drift_detected is read-only.
    assert fresh.update(0) is fresh
    with pytest.raises(AttributeError):
        fresh.drift_detected = True  # type: ignore[misc]
    # Pickle/deepcopy mid-stream: the copy continues exactly like the original.
    half = fresh.clone()
    half.update_many(stream[:4000])
    restored = pickle.loads(pickle.dumps(half))
    copied = copy.deepcopy(half)
    rest = stream[4000:]
    expected = half.update_many(rest).tolist()
    assert restored.update_many(rest).tolist() == expected
    assert copied.update_many(rest).tolist() == expected
    # reset forgets the stream.
    again = fresh.clone()
    again.update_many(stream[:4000])
    again.reset()
    assert again.update_many(stream).tolist() == all_at_once


@pytest.mark.parametrize("detector", DETECTORS, ids=repr)
def test_drift_flag_then_reset_after_alarm(detector: DriftDetector) -> None:
    stream = errors_stream()
    alarms = detector.clone().update_many(stream)
    assert alarms.size >= 1
    first = int(alarms[0])
    live = detector.clone()
    live.update_many(stream[: first + 1])
    assert live.drift_detected
    live.update(stream[first + 1])
    assert not live.drift_detected  # one alarm, then the detector starts over


def test_bad_values_get_edgeml_errors() -> None:
    with pytest.raises(DataError, match="0 \\(correct\\) and 1"):
        DDM().update(0.5)
    with pytest.raises(DataError, match="0 \\(correct\\) and 1"):
        DDM().update_many([0, 1, 2])
    with pytest.raises(DataError, match="non-finite"):
        ADWIN().update_many([0.0, np.nan])
    with pytest.raises(DataError, match="non-finite"):
        PageHinkley().update(float("inf"))
    with pytest.raises(DataError, match="1-D"):
        ADWIN().update_many(np.zeros((3, 2)))
    with pytest.raises(DataError, match="needs a real number"):
        ADWIN().update("x")  # type: ignore[arg-type]
    assert ADWIN().update_many([]).tolist() == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ADWIN(delta=0), "'delta' argument of ADWIN"),
        (lambda: ADWIN(clock=0), "'clock'"),
        (lambda: PageHinkley(mode="sideways"), "'mode'"),
        (lambda: PageHinkley(alpha=1.5), "'alpha'"),
        (lambda: DDM(warm_start=-1), "'warm_start'"),
        (lambda: HDDM_A(drift_confidence=2), "'drift_confidence'"),
    ],
)
def test_bad_parameters(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        make()


# --------------------------------------------------------------------------- pinned
# Each expected list: river 0.26.1, same parameters, same stream, one update per value.
PINNED = [
    ("errors", ADWIN(), [5055]),
    ("errors", ADWIN(delta=0.05, clock=8), [5047]),
    ("errors", DDM(), [5746, 5961]),
    ("errors", DDM(warm_start=50, drift_threshold=2.5), [5461]),
    ("errors", PageHinkley(), [5169]),
    ("errors", HDDM_A(), [5060]),
    ("errors", HDDM_A(two_sided_test=True), [5060]),
    ("falling", HDDM_A(two_sided_test=True), [4107]),
    ("falling", HDDM_A(), []),
    ("signal", ADWIN(), [3039, 6047]),
    (
        "signal",
        PageHinkley(),
        [924, 3049, 3532, 4641, 6030, 6195, 6614, 6986, 7375, 7974, 8428],
    ),
    (
        "signal",
        PageHinkley(mode="up", threshold=20),
        [
            197,
            342,
            650,
            915,
            1297,
            1533,
            1862,
            2662,
            2972,
            3013,
            3194,
            3718,
            3872,
            4127,
            4448,
            4694,
            4785,
            5742,
            7457,
            7504,
            7660,
            7843,
            7940,
            8107,
            8387,
            8578,
            8637,
            8667,
            8726,
            8902,
            8966,
        ],
    ),
    (
        "signal",
        PageHinkley(mode="down", threshold=20, alpha=0.999),
        [
            502,
            845,
            1025,
            1684,
            2200,
            2756,
            4235,
            4752,
            5021,
            5125,
            5389,
            6007,
            6079,
            6185,
            6579,
            6626,
            6738,
            6904,
            7011,
            7073,
            7183,
            7375,
            7610,
            7713,
            8032,
            8092,
            8128,
            8302,
            8428,
            8468,
            8562,
            8596,
            8692,
            8799,
            8872,
            8925,
        ],
    ),
]


@pytest.mark.parametrize(("stream", "detector", "expected"), PINNED, ids=lambda v: repr(v)[:40])
def test_detections_match_river(stream: str, detector: DriftDetector, expected: list[int]) -> None:
    values = {"errors": errors_stream, "signal": signal_stream, "falling": falling_errors}[stream]()
    assert detector.clone().update_many(values).tolist() == expected
    assert one_by_one(detector.clone(), values) == expected


def test_ddm_warnings_match_river() -> None:
    # river 0.26.1 DDM() on errors_stream(): warning_detected is True on 924 values, the
    # first at 85, 86, 87 and the last at 6290, 6291, 6294.
    detector = DDM()
    warnings = [
        i for i, x in enumerate(errors_stream().tolist()) if detector.update(x).warning_detected
    ]
    assert len(warnings) == 924
    assert warnings[:3] == [85, 86, 87]
    assert warnings[-3:] == [6290, 6291, 6294]


def test_hddm_a_warnings_match_river() -> None:
    # river 0.26.1 HDDMA(two_sided_test=True) on falling_errors(): 20 warnings, the first
    # at 4087, 4088, 4089; HDDMA() on errors_stream(): 11 warnings from 5050, 5051, 5053.
    for detector, stream, count, first in (
        (HDDM_A(two_sided_test=True), falling_errors(), 20, [4087, 4088, 4089]),
        (HDDM_A(), errors_stream(), 11, [5050, 5051, 5053]),
    ):
        warnings = [i for i, x in enumerate(stream.tolist()) if detector.update(x).warning_detected]
        assert len(warnings) == count
        assert warnings[:3] == first


@pytest.mark.parametrize(
    ("detector", "stream"),
    [
        (DDM(), errors_stream()),
        (HDDM_A(), errors_stream()),
        (HDDM_A(two_sided_test=True), falling_errors()),
    ],
    ids=repr,
)
def test_block_path_warnings_and_alarms_match_one_by_one(
    detector: DDM | HDDM_A, stream: np.ndarray
) -> None:
    # The one-by-one warnings are pinned to river above. The block path (with small
    # blocks, so pieces straddle block boundaries) must end each piece in the same state.
    single = type(detector)(**detector.get_params())
    warned = {i for i, x in enumerate(stream.tolist()) if single.update(x).warning_detected}
    assert warned  # the streams do enter the warning zone
    blocks = type(detector)(**detector.get_params())
    blocks._BLOCK = 64
    alarms: list[int] = []
    for start in range(0, stream.size, 97):
        piece = stream[start : start + 97]
        alarms += (blocks.update_many(piece) + start).tolist()
        assert blocks.warning_detected == (start + piece.size - 1 in warned)
    assert alarms == one_by_one(detector.clone(), stream)


def test_adwin_constant_stream_never_alarms_and_window_grows() -> None:
    detector = ADWIN()
    assert detector.update_many(np.ones(5000)).tolist() == []
    assert detector.width == 5000
    assert detector.estimation == 1.0


# --------------------------------------------------------------------------- evaluate
def test_evaluate_detector_counts_delays_and_false_alarms() -> None:
    # Alarms of ADWIN() on signal_stream() are [3039, 6047] (river 0.26.1, above), with
    # changes at 3000 and 6000: delays 39 and 47, no false alarm.
    detector = ADWIN()
    result = evaluate_detector(detector, signal_stream(), [3000, 6000])
    assert result.delays == (39, 47)
    assert result.false_alarms == 0
    assert result.missed == 0
    assert result.mean_delay == 43.0
    assert detector.n_seen == 0  # the detector passed in is untouched
    # PageHinkley() alarms (river, above): 924 is before any change -> false alarm;
    # 3049 detects the first change, 3532/4641 are extra; 6030 detects the second.
    ph = evaluate_detector(PageHinkley(), signal_stream(), [3000, 6000])
    assert ph.delays == (49, 30)
    assert ph.false_alarms == 9
    # With max_delay=40 the first change counts as missed.
    strict = evaluate_detector(PageHinkley(), signal_stream(), [3000, 6000], max_delay=40)
    assert strict.delays == (None, 30)
    assert strict.missed == 1
    assert strict.to_dict()["delays"] == [None, 30]
    assert "| 3000 |" in strict.to_markdown()
    # 11 alarms, only 6030 detects a change within 40 values: 10 count as false.
    assert strict.false_alarms == 10
    assert strict.to_markdown().endswith("10 false alarm(s), 1 missed.")
    html = strict._repr_html_()
    assert "<td>3000</td>" in html.replace(" ", "")
    assert "10 false alarm(s), 1 missed" in html
    with pytest.raises(DataError, match="increasing"):
        evaluate_detector(ADWIN(), signal_stream(), [6000, 3000])
