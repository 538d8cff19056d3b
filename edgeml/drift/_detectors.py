"""Streaming drift detectors: ADWIN, Page-Hinkley and DDM with a river-like API.

Every detector offers ``update(x)`` (returns ``self``), read-only ``drift_detected``
(and ``warning_detected`` for DDM), a reset at the update after an alarm, and
``update_many(values)`` that returns the positions of the alarms in ``values`` and
processes blocks of values with numpy instead of one Python call per value. Both paths
give the same alarms. Detectors are deterministic (no randomness), picklable, and
``clone()`` returns a fresh detector with the same parameters.

The semantics follow river 0.26 (``river.drift.ADWIN``, ``river.drift.PageHinkley``,
``river.drift.binary.DDM``), which follow the published algorithms:

- ADWIN (Bifet & Gavalda, 2007): an exponential histogram of buckets; every ``clock``
  values each cut between buckets is tested with the Hoeffding/Bernstein bound
  ``eps = sqrt(2 m v d') + 2/3 d' m`` where ``m = 1/(n0 - L + 1) + 1/(n1 - L + 1)``,
  ``d' = ln(2 ln(W) / delta)``, ``v`` the window variance and ``L`` the minimum
  sub-window length. The bucket layout depends only on how many values arrived since
  the last reset, so the cut points of many checks are computed at once from prefix
  sums; the detector keeps only the prefix sums at its bucket boundaries (O(log W)).
- Page-Hinkley (Page, 1954): cumulative deviations from the running mean with a
  forgetting factor ``alpha``, an alarm when either one-sided statistic exceeds
  ``threshold`` after ``min_instances`` values.
- DDM (Gama et al., 2004): error rate ``p`` and ``s = sqrt(p (1 - p) / n)``; warning when
  ``p + s > p_min + 2 s_min``, drift when ``p + s > p_min + 3 s_min``.
- HDDM_A (Frias-Blanco et al., 2015): Hoeffding bounds on the mean since the last reset
  against the mean at the cut point where ``mean + eps`` was lowest; no assumption on
  the distribution, so fewer early false alarms than DDM (``river.drift.binary.HDDMA``).

Stable API (used by ``edgeml.monitor``): the detector classes, ``update``,
``update_many``, ``drift_detected``, ``warning_detected``, ``n_detections``,
``reset``, ``clone``, ``get_params``.

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

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.errors import DataError, invalid_argument

__all__ = ["ADWIN", "DDM", "HDDM_A", "DriftDetector", "PageHinkley"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class DriftDetector:
    """Base class: shared API, validation, ``repr``, ``clone`` and ``reset``."""

    _param_names: tuple[str, ...] = ()
    _binary = False

    def __init__(self) -> None:
        self._drift_detected = False
        self._warning_detected = False
        self._n_detections = 0
        self._n_seen = 0

    # ----------------------------------------------------------------- public API
    @property
    def drift_detected(self) -> bool:
        """Whether the last value processed raised a drift alarm."""
        return self._drift_detected

    @property
    def n_detections(self) -> int:
        """Alarms raised since the detector was created (``reset`` keeps the count)."""
        return self._n_detections

    @property
    def n_seen(self) -> int:
        """Values processed since the detector was created."""
        return self._n_seen

    def get_params(self) -> dict[str, Any]:
        """Return the constructor parameters.

        Returns
        -------
        dict
        """
        return {name: getattr(self, name) for name in self._param_names}

    def clone(self) -> DriftDetector:
        """Return a fresh detector with the same parameters and no state.

        Returns
        -------
        DriftDetector
        """
        return type(self)(**self.get_params())

    def reset(self) -> DriftDetector:
        """Forget the stream (parameters and ``n_detections`` are kept).

        Returns
        -------
        DriftDetector
            ``self``.
        """
        self._reset_state()
        self._drift_detected = False
        self._warning_detected = False
        return self

    def update(self, x: float) -> DriftDetector:
        """Process one value and return ``self``.

        Parameters
        ----------
        x : float
            The next value (0/1 for binary detectors).

        Returns
        -------
        DriftDetector
            ``self``; read ``drift_detected`` afterwards.
        """
        value = self._check_value(x)
        self._n_seen += 1
        if self._drift_detected:
            self._reset_state()
        self._drift_detected = self._update_one(value)
        if self._drift_detected:
            self._n_detections += 1
        return self

    def update_many(self, values: Any) -> IntArray:
        """Process many values; return the positions in ``values`` that raised an alarm.

        Same alarms as calling :meth:`update` on each value, computed block-wise.

        Parameters
        ----------
        values : array-like, 1-D
            Finite numbers (0/1 for binary detectors).

        Returns
        -------
        numpy.ndarray of int64
            Indices into ``values``; the detector resets after each.
        """
        array = self._check_values(values)
        if array.size == 0:
            return np.zeros(0, dtype=np.int64)
        if self._drift_detected:
            self._reset_state()
        self._drift_detected = False
        detections = self._update_block(array)
        self._n_seen += int(array.size)
        self._n_detections += int(detections.size)
        self._drift_detected = bool(detections.size) and int(detections[-1]) == array.size - 1
        return detections

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # ----------------------------------------------------------------- validation
    def _check_value(self, x: Any) -> float:
        try:
            value = float(x)
        except (TypeError, ValueError):
            raise DataError(f"{type(self).__name__}.update needs a number; got {x!r}.") from None
        if not math.isfinite(value):
            raise DataError(f"{type(self).__name__}.update got a non-finite value {value}.")
        if self._binary and value not in (0.0, 1.0):
            raise DataError(
                f"{type(self).__name__} watches an error stream of 0 (correct) and 1 (error); "
                f"got {x!r}."
            )
        return value

    def _check_values(self, values: Any) -> FloatArray:
        name = f"{type(self).__name__}.update_many"
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{name} needs numbers; got values of another type.") from None
        if array.ndim != 1:
            raise DataError(f"{name} needs a 1-D sequence; got shape {array.shape}.")
        bad = ~np.isfinite(array)
        if bad.any():
            raise DataError(
                f"{name} got {int(bad.sum())} non-finite values (first at index "
                f"{int(np.argmax(bad))}); drop or fill them first."
            )
        if self._binary and not np.isin(array, (0.0, 1.0)).all():
            raise DataError(
                f"{name}: {type(self).__name__} watches an error stream of 0 (correct) and 1 "
                "(error); other values were given."
            )
        return array

    # ----------------------------------------------------------------- hooks
    def _reset_state(self) -> None:
        raise NotImplementedError

    def _update_one(self, value: float) -> bool:
        raise NotImplementedError

    def _update_block(self, values: FloatArray) -> IntArray:
        raise NotImplementedError


def _check_positive(owner: str, name: str, value: Any, integer: bool = False) -> None:
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not value > 0:
        kind = "an integer" if integer else "a number"
        raise invalid_argument(owner, name, value, f"{kind} > 0")


# --------------------------------------------------------------------------- ADWIN
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
        _check_positive("ADWIN", "clock", clock, integer=True)
        _check_positive("ADWIN", "max_buckets", max_buckets, integer=True)
        _check_positive("ADWIN", "min_window_length", min_window_length, integer=True)
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


# --------------------------------------------------------------------------- Page-Hinkley
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
        _check_positive("PageHinkley", "min_instances", min_instances, integer=True)
        if not isinstance(delta, (int, float)) or isinstance(delta, bool) or delta < 0:
            raise invalid_argument("PageHinkley", "delta", delta, "a number >= 0")
        _check_positive("PageHinkley", "threshold", threshold)
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


# --------------------------------------------------------------------------- DDM
class DDM(DriftDetector):
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
    _binary = True
    _BLOCK = 8192

    def __init__(
        self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        _check_positive("DDM", "warm_start", warm_start, integer=True)
        _check_positive("DDM", "warning_threshold", warning_threshold)
        _check_positive("DDM", "drift_threshold", drift_threshold)
        super().__init__()
        self.warm_start = int(warm_start)
        self.warning_threshold = float(warning_threshold)
        self.drift_threshold = float(drift_threshold)
        self._reset_state()

    @property
    def warning_detected(self) -> bool:
        """Whether the last value put the detector in its warning zone (not at a drift)."""
        return self._warning_detected

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

    def _update_block(self, values: FloatArray) -> IntArray:
        detections: list[int] = []
        start = 0
        while start < values.size:
            block = values[start : start + self._BLOCK]
            counts = self._count + np.arange(1, block.size + 1)
            errors = self._errors + np.cumsum(block)
            p = errors / counts
            s = np.sqrt(p * (1.0 - p) / counts)
            ps = p + s
            armed = counts > self.warm_start
            tracked = np.where(armed, ps, np.inf)
            # Running minimum *before* each step, then whether the step sets a new minimum
            # (ties move it, as in river: ``p + s <= ps_min``).
            before = np.minimum.accumulate(np.concatenate([[self._ps_min], tracked[:-1]]))
            renew = armed & (ps <= before)
            last = np.maximum.accumulate(np.where(renew, np.arange(block.size), -1))
            known = last >= 0
            p_min = np.where(known, p[np.maximum(last, 0)], self._p_min)
            s_min = np.where(known, s[np.maximum(last, 0)], self._s_min)
            with np.errstate(invalid="ignore"):
                drift = armed & (ps > p_min + self.drift_threshold * s_min)
            hit = np.flatnonzero(drift)
            if hit.size:
                detections.append(start + int(hit[0]))
                self._reset_state()
                start += int(hit[0]) + 1
                self._warning_detected = False
                continue
            self._count, self._errors = int(counts[-1]), float(errors[-1])
            self._p_min, self._s_min = float(p_min[-1]), float(s_min[-1])
            self._ps_min = min(self._ps_min, float(tracked.min()))
            with np.errstate(invalid="ignore"):
                self._warning_detected = bool(
                    armed[-1] and ps[-1] > p_min[-1] + self.warning_threshold * s_min[-1]
                )
            start += block.size
        return np.array(detections, dtype=np.int64)


# --------------------------------------------------------------------------- HDDM_A
class HDDM_A(DriftDetector):  # noqa: N801 - the method's published name
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
    _binary = True
    _BLOCK = 8192

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

    @property
    def warning_detected(self) -> bool:
        """Whether the last value put the detector in its warning zone."""
        return self._warning_detected

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

    def _update_block(self, values: FloatArray) -> IntArray:
        detections: list[int] = []
        start = 0
        while start < values.size:
            block = values[start : start + self._BLOCK]
            counts = self._count + np.arange(1, block.size + 1)
            errors = self._errors + np.cumsum(block)
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
                down_drift, down_warning = self._tests(
                    counts, mean, found[1][0], found[1][1], False
                )
                drift = drift | down_drift
                warning = warning | (down_warning & ~down_drift)
            hit = np.flatnonzero(drift)
            if hit.size:
                detections.append(start + int(hit[0]))
                self._reset_state()
                self._warning_detected = False
                start += int(hit[0]) + 1
                continue
            self._count, self._errors = int(counts[-1]), float(errors[-1])
            self._low = (int(found[0][0][-1]), float(found[0][1][-1]), float(found[0][2][-1]))
            self._high = (int(found[1][0][-1]), float(found[1][1][-1]), float(found[1][2][-1]))
            self._warning_detected = bool(warning[-1])
            start += block.size
        return np.array(detections, dtype=np.int64)
