"""ADWIN (Bifet & Gavalda, 2007) with river 0.26's semantics, checked block-wise.

Same alarms as ``river.drift.ADWIN`` (``tests/conformance/test_river_detectors.py``).

An exponential histogram of buckets; every ``clock`` values each cut between buckets is
tested with the Hoeffding/Bernstein bound ``eps = sqrt(2 m v d') + 2/3 d' m`` where
``m = 1/(n0 - L + 1) + 1/(n1 - L + 1)``, ``d' = ln(2 ln(W) / delta)``, ``v`` the window
variance and ``L`` the minimum sub-window length. The bucket layout depends only on how
many values arrived since the last reset, so the cut points of many checks are computed
at once from prefix sums; the detector keeps only the prefix sums at its bucket
boundaries (O(log W) memory).

Examples
--------
>>> import numpy as np
>>> from edgeml.drift import ADWIN
>>> rng = np.random.default_rng(1)
>>> errors = np.r_[rng.random(2000) < 0.1, rng.random(2000) < 0.5].astype(float)
>>> ADWIN().update_many(errors).tolist()
[2047]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from edgeml.drift._detector import DriftDetector, check_positive
from edgeml.errors import invalid_argument

__all__ = ["ADWIN"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _level_counts(ns: IntArray, max_buckets: int) -> IntArray:
    """Buckets per level (level 0 first) after ``n`` insertions, for each ``n``.

    A level holding ``max_buckets + 1`` buckets merges its two oldest into one bucket of
    the next level, so the final counts depend only on ``n``.
    """
    if ns.size == 1:  # one check at a time (``update``): plain integers are faster
        levels, carry = [], int(ns[0])
        while True:
            merges = (carry - max_buckets + 1) // 2 if carry > max_buckets else 0
            levels.append(carry - 2 * merges)
            if not merges:
                return np.array([levels], dtype=np.int64)
            carry = merges
    columns = []
    carry_array = ns.astype(np.int64)
    while True:
        merges_array = np.where(carry_array > max_buckets, (carry_array - max_buckets + 1) // 2, 0)
        columns.append(carry_array - 2 * merges_array)
        if not merges_array.any():
            return np.stack(columns, axis=1)
        carry_array = merges_array


def _bucket_ends(ns: IntArray, max_buckets: int) -> tuple[IntArray, NDArray[np.bool_]]:
    """End positions (from the oldest value) of every bucket, oldest bucket first.

    Returns ``(ends, valid)`` of shape ``(len(ns), levels * max_buckets)``.
    """
    counts = _level_counts(ns, max_buckets)[:, ::-1]  # oldest level first
    n_levels = counts.shape[1]
    sizes = (1 << np.arange(n_levels - 1, -1, -1, dtype=np.int64))[None, :]
    spans = counts * sizes
    starts = np.cumsum(spans, axis=1) - spans
    slot = np.arange(max_buckets, dtype=np.int64)
    ends = starts[:, :, None] + (slot[None, None, :] + 1) * sizes[:, :, None]
    valid = slot[None, None, :] < counts[:, :, None]
    return ends.reshape(len(ns), -1), valid.reshape(len(ns), -1)


class ADWIN(DriftDetector):
    """ADaptive WINdowing: alarms when two sub-windows have significantly different means.

    Parameters
    ----------
    delta : float, default 0.002
        Confidence of the cut test; smaller means fewer false alarms and later alarms.
    clock : int, default 32
        Cuts are tested every ``clock`` values.
    max_buckets : int, default 5
        Buckets kept per size before two are merged.
    min_window_length : int, default 5
        Smallest sub-window a cut may leave on either side.
    grace_period : int, default 10
        No test until the window holds more values than this.

    Examples
    --------
    >>> detector = ADWIN(delta=0.01)
    >>> alarms = detector.update_many([0.0] * 500 + [1.0] * 100)
    >>> alarms.tolist(), detector.n_detections
    ([511], 1)
    """

    _param_names = ("delta", "clock", "max_buckets", "min_window_length", "grace_period")

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        if not isinstance(delta, (int, float)) or not 0 < delta < 1:
            raise invalid_argument("ADWIN", "delta", delta, "a number in the range (0, 1)")
        check_positive("ADWIN", "clock", clock, integer=True)
        check_positive("ADWIN", "max_buckets", max_buckets, integer=True)
        check_positive("ADWIN", "min_window_length", min_window_length, integer=True)
        if isinstance(grace_period, bool) or not isinstance(grace_period, int) or grace_period < 0:
            raise invalid_argument("ADWIN", "grace_period", grace_period, "an integer >= 0")
        super().__init__()
        self.delta = float(delta)
        self.clock = int(clock)
        self.max_buckets = int(max_buckets)
        self.min_window_length = int(min_window_length)
        self.grace_period = int(grace_period)
        self._reset_state()

    @property
    def width(self) -> int:
        """Values in the current window."""
        return self._n + len(self._pending)

    @property
    def estimation(self) -> float:
        """Mean of the current window (0 when empty)."""
        self._flush_pending()
        return float(self._bound_sum[-1] / self._n) if self._n else 0.0

    def _reset_state(self) -> None:
        self._n = 0
        # Prefix sums (and of squares) at the current bucket boundaries, oldest first.
        self._bound_pos = np.zeros(1, dtype=np.int64)
        self._bound_sum = np.zeros(1)
        self._bound_sq = np.zeros(1)
        self._pending: list[float] = []

    def _update_one(self, value: float) -> bool:
        # Alarms can only happen on check values; others wait in a short buffer.
        self._pending.append(value)
        if (self._n + len(self._pending)) % self.clock:
            return False
        block = np.array(self._pending)
        self._pending = []
        return bool(self._process(block).size)

    def _flush_pending(self) -> None:
        if self._pending:
            block = np.array(self._pending)
            self._pending = []
            self._process(block)  # no check falls inside: no alarm possible

    def _update_block(self, values: FloatArray) -> IntArray:
        offset = len(self._pending)
        block = np.concatenate([np.array(self._pending), values]) if offset else values
        self._pending = []
        return self._process(block) - offset

    def _prefix(
        self, positions: IntArray, cum: FloatArray, cum_sq: FloatArray, start: int
    ) -> tuple[FloatArray, FloatArray]:
        """Window prefix sums at ``positions`` (old part from boundaries, new from cumsums)."""
        old = positions <= self._n
        index = np.searchsorted(self._bound_pos, np.where(old, positions, 0))
        offset = np.where(old, 0, positions - self._n) + start
        new_sum = self._bound_sum[-1] + cum[offset] - cum[start]
        new_sq = self._bound_sq[-1] + cum_sq[offset] - cum_sq[start]
        return (
            np.where(old, self._bound_sum[index], new_sum),
            np.where(old, self._bound_sq[index], new_sq),
        )

    def _process(self, values: FloatArray) -> IntArray:
        cum = np.concatenate([[0.0], np.cumsum(values)])
        cum_sq = np.concatenate([[0.0], np.cumsum(values * values)])
        detections: list[int] = []
        start = 0  # index in ``values`` of the first value not yet in the window
        size = values.size
        min_len = float(self.min_window_length)
        while True:
            available = size - start
            first = (self._n // self.clock + 1) * self.clock
            checks = np.arange(first, self._n + available + 1, self.clock, dtype=np.int64)
            checks = checks[checks > self.grace_period]
            alarm_at = -1
            for lo in range(0, checks.size, 512):
                ns = checks[lo : lo + 512]
                ends, valid = _bucket_ends(ns, self.max_buckets)
                valid &= ends < ns[:, None]
                total, total_sq = self._prefix(ns, cum, cum_sq, start)
                head, _ = self._prefix(np.where(valid, ends, 0), cum, cum_sq, start)
                width = ns.astype(np.float64)[:, None]
                n0 = np.where(valid, ends, 1).astype(np.float64)
                n1 = width - n0
                with np.errstate(divide="ignore", invalid="ignore"):
                    delta_mean = head / n0 - (total[:, None] - head) / np.where(n1 > 0, n1, 1)
                    variance = (total_sq - total * total / ns)[:, None] / width
                    d_prime = np.log(2.0 * np.log(width) / self.delta)
                    m_recip = 1.0 / (n0 - min_len + 1.0) + 1.0 / (n1 - min_len + 1.0)
                    epsilon = np.sqrt(2.0 * m_recip * np.maximum(variance, 0.0) * d_prime)
                    epsilon += 2.0 / 3.0 * d_prime * m_recip
                fire = valid & (n0 >= min_len) & (n1 >= min_len) & (np.abs(delta_mean) > epsilon)
                hit = np.flatnonzero(fire.any(axis=1))
                if hit.size:
                    alarm_at = int(ns[hit[0]])
                    break
            if alarm_at < 0:
                self._carry(self._n + available, cum, cum_sq, start)
                break
            index = start + (alarm_at - self._n) - 1
            detections.append(index)
            self._reset_state()
            start = index + 1
            if start >= size:
                break
        return np.array(detections, dtype=np.int64)

    def _carry(self, n_end: int, cum: FloatArray, cum_sq: FloatArray, start: int) -> None:
        """Keep prefix sums only at the bucket boundaries of a window of ``n_end`` values."""
        if n_end == self._n:
            return
        ends, valid = _bucket_ends(np.array([n_end], dtype=np.int64), self.max_buckets)
        positions = np.concatenate([[0], ends[0][valid[0]]])
        sums, squares = self._prefix(positions, cum, cum_sq, start)
        self._bound_pos, self._bound_sum, self._bound_sq = positions, sums, squares
        self._n = n_end
