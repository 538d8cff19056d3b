"""Page-Hinkley test (Page, 1954) with river 0.26's semantics, vectorized.

Same alarms as ``river.drift.PageHinkley`` (``tests/conformance/test_river_detectors.py``).

Cumulative deviations from the running mean with a forgetting factor ``alpha``; an alarm
when either one-sided statistic exceeds ``threshold`` after ``min_instances`` values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.drift._detector import DriftDetector, check_positive
from edgeml.errors import invalid_argument

__all__ = ["PageHinkley"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class PageHinkley(DriftDetector):
    """Page-Hinkley test for a change of the mean (up, down or both).

    Parameters
    ----------
    min_instances : int, default 30
        No alarm before this many values since the last reset.
    delta : float, default 0.005
        Magnitude of change tolerated.
    threshold : float, default 50.0
        Alarm when a cumulative statistic exceeds it (lambda).
    alpha : float, default 0.9999
        Forgetting factor of the cumulative sums.
    mode : {"both", "up", "down"}, default "both"
        Which direction of change raises alarms.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> stream = np.r_[rng.normal(0, 1, 1000), rng.normal(3, 1, 500)]
    >>> PageHinkley().update_many(stream).tolist()
    [1016]
    """

    _param_names = ("min_instances", "delta", "threshold", "alpha", "mode")
    _BLOCK = 4096

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        check_positive("PageHinkley", "min_instances", min_instances, integer=True)
        if not isinstance(delta, (int, float)) or isinstance(delta, bool) or delta < 0:
            raise invalid_argument("PageHinkley", "delta", delta, "a number >= 0")
        check_positive("PageHinkley", "threshold", threshold)
        if not isinstance(alpha, (int, float)) or not 0 < alpha <= 1:
            raise invalid_argument("PageHinkley", "alpha", alpha, "a number in the range (0, 1]")
        if mode not in ("both", "up", "down"):
            raise invalid_argument("PageHinkley", "mode", mode, "'both', 'up' or 'down'")
        super().__init__()
        self.min_instances = int(min_instances)
        self.delta = float(delta)
        self.threshold = float(threshold)
        self.alpha = float(alpha)
        self.mode = mode
        self._reset_state()

    def _reset_state(self) -> None:
        self._count = 0
        self._sum = 0.0
        # S_t = alpha * S_(t-1) + c_t is kept as S_t = alpha^k * (S_anchor + sum_j alpha^-j c_j)
        # with k steps since the last anchor, re-anchored every ``_span`` steps: a cumulative
        # sum then evaluates a whole block, with exactly the rounding of one-by-one updates.
        self._phase = 0
        self._anchor = [0.0, 0.0]  # up, down
        self._acc = [0.0, 0.0]
        self._last = [0.0, 0.0]
        self._min_up = math.inf
        self._max_down = -math.inf

    def _tables(self) -> tuple[FloatArray, FloatArray, list[float], list[float]]:
        tables = getattr(self, "_weights", None)
        if tables is None:
            log_alpha = -math.log(self.alpha)
            span = 4096 if log_alpha == 0 else int(max(1, min(4096, 20.0 / log_alpha)))
            steps = np.arange(span + 1, dtype=np.float64)
            weights, powers = np.power(self.alpha, -steps), np.power(self.alpha, steps)
            tables = (weights, powers, weights.tolist(), powers.tolist())
            self._weights = tables
        return tables

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_weights", None)
        return state

    def _alarm(self, up: Any, down: Any) -> Any:
        if self.mode == "up":
            return up > self.threshold
        if self.mode == "down":
            return down > self.threshold
        return (up > self.threshold) | (down > self.threshold)

    def _update_one(self, value: float) -> bool:
        _, _, weights, powers = self._tables()
        if self._phase == len(weights) - 1:
            self._anchor, self._acc, self._phase = list(self._last), [0.0, 0.0], 0
        self._count += 1
        self._sum += value
        deviation = value - self._sum / self._count
        self._phase += 1
        k = self._phase
        acc_up = self._acc[0] + weights[k] * (deviation - self.delta)
        acc_down = self._acc[1] + weights[k] * (deviation + self.delta)
        up = powers[k] * (self._anchor[0] + acc_up)
        down = powers[k] * (self._anchor[1] + acc_down)
        self._acc, self._last = [acc_up, acc_down], [up, down]
        self._min_up = min(self._min_up, up)
        self._max_down = max(self._max_down, down)
        if self._count < self.min_instances:
            return False
        return bool(self._alarm(up - self._min_up, self._max_down - down))

    def _update_block(self, values: FloatArray) -> IntArray:
        weights, powers, _, _ = self._tables()
        span = weights.size - 1
        detections: list[int] = []
        start = 0
        while start < values.size:
            if self._phase == span:
                self._anchor, self._acc, self._phase = list(self._last), [0.0, 0.0], 0
            block = values[start : start + span - self._phase]
            k = self._phase + np.arange(1, block.size + 1)
            counts = self._count + np.arange(1, block.size + 1)
            sums = np.cumsum(np.concatenate([[self._sum], block]))[1:]
            deviation = block - sums / counts
            terms = np.stack([deviation - self.delta, deviation + self.delta], axis=1)
            terms = np.concatenate([np.array([self._acc]), weights[k][:, None] * terms])
            acc = np.cumsum(terms, axis=0)[1:]
            level = powers[k][:, None] * (np.array([self._anchor]) + acc)
            up, down = level[:, 0], level[:, 1]
            min_up = np.minimum.accumulate(np.minimum(up, self._min_up))
            max_down = np.maximum.accumulate(np.maximum(down, self._max_down))
            fire = self._alarm(up - min_up, max_down - down) & (counts >= self.min_instances)
            hit = np.flatnonzero(fire)
            if hit.size:
                detections.append(start + int(hit[0]))
                self._reset_state()
                start += int(hit[0]) + 1
                continue
            self._count, self._sum = int(counts[-1]), float(sums[-1])
            self._phase, self._acc, self._last = int(k[-1]), acc[-1].tolist(), level[-1].tolist()
            self._min_up, self._max_down = float(min_up[-1]), float(max_down[-1])
            start += block.size
        return np.array(detections, dtype=np.int64)
