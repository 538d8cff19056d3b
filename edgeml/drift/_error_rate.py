"""Detectors for error streams (1 = error, 0 = correct): DDM and HDDM_A.

- DDM (Gama et al., 2004): error rate ``p`` and ``s = sqrt(p (1 - p) / n)``; warning
  when ``p + s > p_min + 2 s_min``, drift when ``p + s > p_min + 3 s_min``
  (``river.drift.binary.DDM``).
- HDDM_A (Frias-Blanco et al., 2015): Hoeffding bounds on the mean since the last reset
  against the mean at the cut point where ``mean + eps`` was lowest; no assumption on
  the distribution, so fewer early false alarms than DDM (``river.drift.binary.HDDMA``).

Both raise river 0.26's alarms and warnings, step by step
(``tests/conformance/test_river_detectors.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.drift._detector import DriftDetector, check_positive
from edgeml.errors import invalid_argument

__all__ = ["DDM", "HDDM_A"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


class _ErrorRateDetector(DriftDetector):
    """Shared part of DDM and HDDM_A: the warning zone and the block-wise scan.

    Subclasses keep ``_count``/``_errors`` (values and errors since the last reset) and
    implement ``_scan``, which gets the running counts and error sums of one block and
    returns, per value, whether it raises a drift and whether it is in the warning zone.
    ``_scan`` may move its own trackers to the end of the block: a drift in the block
    resets them anyway.
    """

    _binary = True
    _BLOCK = 8192

    _count: int
    _errors: float

    @property
    def warning_detected(self) -> bool:
        """Whether the last value put the detector in its warning zone (not at a drift)."""
        return self._warning_detected

    def _scan(self, counts: IntArray, errors: FloatArray) -> tuple[BoolArray, BoolArray]:
        raise NotImplementedError

    def _update_block(self, values: FloatArray) -> IntArray:
        detections: list[int] = []
        start = 0
        while start < values.size:
            block = values[start : start + self._BLOCK]
            counts = self._count + np.arange(1, block.size + 1)
            errors = self._errors + np.cumsum(block)
            drift, warning = self._scan(counts, errors)
            hit = np.flatnonzero(drift)
            if hit.size:
                detections.append(start + int(hit[0]))
                self._reset_state()
                self._warning_detected = False
                start += int(hit[0]) + 1
                continue
            self._count, self._errors = int(counts[-1]), float(errors[-1])
            self._warning_detected = bool(warning[-1])
            start += block.size
        return np.array(detections, dtype=np.int64)


class DDM(_ErrorRateDetector):
    """Drift Detection Method on an error stream (1 = error, 0 = correct).

    Parameters
    ----------
    warm_start : int, default 30
        Values needed before ``p_min``/``s_min`` are tracked and alarms can fire.
    warning_threshold : float, default 2.0
        Warning when ``p + s > p_min + warning_threshold * s_min``.
    drift_threshold : float, default 3.0
        Drift when ``p + s > p_min + drift_threshold * s_min``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(5)
    >>> errors = np.r_[rng.random(3000) < 0.1, rng.random(3000) < 0.3].astype(int)
    >>> DDM().update_many(errors).tolist()
    [3131]
    """

    _param_names = ("warm_start", "warning_threshold", "drift_threshold")

    def __init__(
        self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        check_positive("DDM", "warm_start", warm_start, integer=True)
        check_positive("DDM", "warning_threshold", warning_threshold)
        check_positive("DDM", "drift_threshold", drift_threshold)
        super().__init__()
        self.warm_start = int(warm_start)
        self.warning_threshold = float(warning_threshold)
        self.drift_threshold = float(drift_threshold)
        self._reset_state()

    def _reset_state(self) -> None:
        self._count = 0
        self._errors = 0.0
        self._p_min = math.inf
        self._s_min = math.inf
        self._ps_min = math.inf

    def _update_one(self, value: float) -> bool:
        self._count += 1
        self._errors += value
        p = self._errors / self._count
        s = math.sqrt(p * (1.0 - p) / self._count)
        self._warning_detected = False
        if self._count <= self.warm_start:
            return False
        if p + s <= self._ps_min:
            self._p_min, self._s_min, self._ps_min = p, s, p + s
        if p + s > self._p_min + self.drift_threshold * self._s_min:
            return True
        self._warning_detected = p + s > self._p_min + self.warning_threshold * self._s_min
        return False

    def _scan(self, counts: IntArray, errors: FloatArray) -> tuple[BoolArray, BoolArray]:
        p = errors / counts
        s = np.sqrt(p * (1.0 - p) / counts)
        ps = p + s
        armed = counts > self.warm_start
        tracked = np.where(armed, ps, np.inf)
        # Running minimum *before* each step, then whether the step sets a new minimum
        # (ties move it, as in river: ``p + s <= ps_min``).
        before = np.minimum.accumulate(np.concatenate([[self._ps_min], tracked[:-1]]))
        renew = armed & (ps <= before)
        last = np.maximum.accumulate(np.where(renew, np.arange(counts.size), -1))
        known = last >= 0
        p_min = np.where(known, p[np.maximum(last, 0)], self._p_min)
        s_min = np.where(known, s[np.maximum(last, 0)], self._s_min)
        with np.errstate(invalid="ignore"):
            drift = armed & (ps > p_min + self.drift_threshold * s_min)
            warning = armed & (ps > p_min + self.warning_threshold * s_min)
        self._p_min, self._s_min = float(p_min[-1]), float(s_min[-1])
        self._ps_min = min(self._ps_min, float(tracked.min()))
        return drift, warning


class HDDM_A(_ErrorRateDetector):  # noqa: N801 - the method's published name
    """Hoeffding's-bound drift detection on averages, for a stream of values in [0, 1].

    Parameters
    ----------
    drift_confidence : float, default 0.001
        Confidence of the drift test (smaller: fewer false alarms, later alarms).
    warning_confidence : float, default 0.005
        Confidence of the warning test.
    two_sided_test : bool, default False
        Also raise alarms when the mean decreases.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(5)
    >>> errors = np.r_[rng.random(3000) < 0.1, rng.random(3000) < 0.3].astype(int)
    >>> HDDM_A().update_many(errors).tolist()
    [3130]
    """

    _param_names = ("drift_confidence", "warning_confidence", "two_sided_test")

    def __init__(
        self,
        drift_confidence: float = 0.001,
        warning_confidence: float = 0.005,
        two_sided_test: bool = False,
    ) -> None:
        for name, value in (
            ("drift_confidence", drift_confidence),
            ("warning_confidence", warning_confidence),
        ):
            if not isinstance(value, (int, float)) or not 0 < value < 1:
                raise invalid_argument("HDDM_A", name, value, "a number in the range (0, 1)")
        super().__init__()
        self.drift_confidence = float(drift_confidence)
        self.warning_confidence = float(warning_confidence)
        self.two_sided_test = bool(two_sided_test)
        # Logarithms computed once, shared by both paths (same rounding everywhere).
        self._log_bound = math.log(1.0 / self.drift_confidence)
        self._log_drift = math.log(2.0 / self.drift_confidence)
        self._log_warning = math.log(2.0 / self.warning_confidence)
        self._reset_state()

    def _reset_state(self) -> None:
        self._count = 0
        self._errors = 0.0
        # Cut points: (count, mean, mean + eps) at the lowest mean + eps, and
        # (count, mean, mean - eps) at the highest mean - eps, since the last reset.
        self._low = (0, 0.0, math.inf)
        self._high = (0, 0.0, -math.inf)

    def _tests(self, n: Any, mean: Any, cut_n: Any, cut_mean: Any, up: bool) -> tuple[Any, Any]:
        with np.errstate(divide="ignore", invalid="ignore"):
            m = (n - cut_n) / cut_n * (1.0 / n)
            gap = mean - cut_mean if up else cut_mean - mean
            moved = cut_n != n
            drift = moved & (gap >= np.sqrt(m / 2 * self._log_drift))
            warning = moved & (gap >= np.sqrt(m / 2 * self._log_warning))
        return drift, warning

    def _update_one(self, value: float) -> bool:
        self._count += 1
        self._errors += value
        n, mean = self._count, self._errors / self._count
        eps = math.sqrt(1.0 / (2 * n) * self._log_bound)
        if mean + eps <= self._low[2]:
            self._low = (n, mean, mean + eps)
        if mean - eps >= self._high[2]:
            self._high = (n, mean, mean - eps)
        up_drift, up_warning = self._tests(n, mean, self._low[0], self._low[1], True)
        drift, warning = bool(up_drift), bool(up_warning) and not bool(up_drift)
        if self.two_sided_test:
            down_drift, down_warning = self._tests(n, mean, self._high[0], self._high[1], False)
            drift = drift or bool(down_drift)
            warning = warning or (bool(down_warning) and not bool(down_drift))
        self._warning_detected = warning
        return drift

    @staticmethod
    def _cut_points(values: FloatArray, carried: float, lowest: bool) -> IntArray:
        """Index of the running cut point (ties move it to the latest value, as river)."""
        head = np.concatenate([[carried], values[:-1]])
        if lowest:
            renew = values <= np.minimum.accumulate(head)
        else:
            renew = values >= np.maximum.accumulate(head)
        last: IntArray = np.maximum.accumulate(np.where(renew, np.arange(values.size), -1))
        return last

    def _scan(self, counts: IntArray, errors: FloatArray) -> tuple[BoolArray, BoolArray]:
        mean = errors / counts
        eps = np.sqrt(1.0 / (2 * counts) * self._log_bound)
        found = []
        sides = ((self._low, mean + eps, True), (self._high, mean - eps, False))
        for state, key, lowest in sides:
            last = self._cut_points(key, state[2], lowest)
            known = last >= 0
            at = np.maximum(last, 0)
            cut_n = np.where(known, counts[at], state[0])
            cut_mean = np.where(known, mean[at], state[1])
            cut_key = np.where(known, key[at], state[2])
            found.append((cut_n, cut_mean, cut_key))
        up_drift, up_warning = self._tests(counts, mean, found[0][0], found[0][1], True)
        drift, warning = up_drift, up_warning & ~up_drift
        if self.two_sided_test:
            down_drift, down_warning = self._tests(counts, mean, found[1][0], found[1][1], False)
            drift = drift | down_drift
            warning = warning | (down_warning & ~down_drift)
        self._low = (int(found[0][0][-1]), float(found[0][1][-1]), float(found[0][2][-1]))
        self._high = (int(found[1][0][-1]), float(found[1][1][-1]), float(found[1][2][-1]))
        return drift, warning
