"""Join predictions with ground-truth labels that arrive later, in bounded memory.

Labels often come hours after a prediction (a click, a return, a doctor's diagnosis).
:class:`LabelJoin` keeps each prediction under its id until its label arrives, the
prediction is older than ``ttl`` seconds (``expired``: the label never came), or the
store is full (``evicted``: the oldest prediction is dropped). Joined pairs feed a
rolling accuracy over the last ``window`` labels and, optionally, a streaming
concept-drift detector on the error stream (1 = wrong, 0 = right).

Ids and labels stay in this object's memory only; what it reports are counts and rates.

Examples
--------
>>> from edgeml.monitor import LabelJoin
>>> now = [0.0]
>>> join = LabelJoin(ttl=60.0, clock=lambda: now[0])
>>> join.record_prediction("a", 1)
>>> join.record_prediction("b", 0)
>>> now[0] = 5.0
>>> join.record_label("a", 1)
JoinResult(outcome='joined', error=False, delay=5.0)
>>> join.record_label("zzz", 1).outcome
'unknown'
>>> now[0] = 100.0   # "b" waited too long: its label never arrived
>>> join.stats()
LabelStats(pending=0, joined=1, expired=1, evicted=0, unknown=1, accuracy=1.0, alarms=0)
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml.errors import invalid_argument

__all__ = ["JoinResult", "LabelJoin", "LabelStats"]

Outcome = Literal["joined", "unknown"]


class ErrorStreamDetector(Protocol):
    """A streaming detector fed with 0/1 errors (``edgeml.drift.DDM`` and friends)."""

    def update(self, x: float) -> Any:
        """Add one observation."""

    @property
    def drift_detected(self) -> bool:
        """Whether the last update raised an alarm."""


@dataclass(frozen=True)
class JoinResult:
    """What happened to one ground-truth label.

    Attributes
    ----------
    outcome : {"joined", "unknown"}
        ``joined`` when a pending prediction had this id; ``unknown`` when none had
        (never predicted, already joined, expired or evicted).
    error : bool or None
        Whether the prediction was wrong (``None`` unless joined).
    delay : float or None
        Seconds between the prediction and the label (``None`` unless joined).
    """

    outcome: Outcome
    error: bool | None = None
    delay: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {"outcome": self.outcome, "error": self.error, "delay": self.delay}


@dataclass(frozen=True)
class LabelStats:
    """Counts and rates of a :class:`LabelJoin` at one moment.

    Attributes
    ----------
    pending : int
        Predictions waiting for their label.
    joined, expired, evicted, unknown : int
        Labels joined; predictions whose label did not arrive within ``ttl``;
        predictions dropped because ``max_pending`` was reached; labels with no
        pending prediction.
    accuracy : float or None
        Accuracy over the last ``window`` joined labels (``None`` before the first).
    alarms : int
        Alarms raised by the concept-drift detector.
    """

    pending: int
    joined: int
    expired: int
    evicted: int
    unknown: int
    accuracy: float | None
    alarms: int

    @property
    def error_rate(self) -> float | None:
        """``1 - accuracy`` (``None`` before the first joined label)."""
        return None if self.accuracy is None else 1.0 - self.accuracy

    @property
    def missing(self) -> int:
        """Predictions whose label never arrived (expired + evicted)."""
        return self.expired + self.evicted

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        fields = ("pending", "joined", "expired", "evicted", "unknown", "accuracy", "alarms")
        return {name: to_jsonable(getattr(self, name)) for name in fields}

    def _rows(self) -> list[list[Any]]:
        return [[key, value] for key, value in self.to_dict().items()]

    def to_markdown(self) -> str:
        """Return a two-column Markdown table."""
        return markdown_table(["", "value"], self._rows())

    def _repr_html_(self) -> str:
        return html_table(["", "value"], self._rows(), caption="delayed labels")


def _default_is_error(prediction: Any, label: Any) -> bool:
    return bool(prediction != label)


class LabelJoin:
    """Join predictions and delayed ground-truth labels by id, in bounded memory.

    Parameters
    ----------
    ttl : float, default 86400.0
        Seconds a prediction waits for its label before it counts as ``expired``.
    max_pending : int, default 100_000
        Predictions kept at most; beyond, the oldest is ``evicted``.
    window : int, default 1000
        Joined labels the rolling accuracy is computed over.
    detector : object, optional
        A streaming detector with ``update(x)`` and ``drift_detected`` (for example
        ``edgeml.drift.DDM()``), fed 1 for each wrong prediction and 0 for each right one.
    is_error : callable, optional
        ``is_error(prediction, label) -> bool``; defaults to ``prediction != label``.
    clock : callable, optional
        Returns the current time in seconds; defaults to :func:`time.monotonic`.

    Examples
    --------
    >>> join = LabelJoin(max_pending=2)
    >>> for request_id in ["r1", "r2", "r3"]:
    ...     join.record_prediction(request_id, 0)
    >>> join.stats().evicted, join.record_label("r1", 0).outcome
    (1, 'unknown')
    """

    def __init__(
        self,
        *,
        ttl: float = 86400.0,
        max_pending: int = 100_000,
        window: int = 1000,
        detector: ErrorStreamDetector | None = None,
        is_error: Callable[[Any, Any], bool] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not (isinstance(ttl, (int, float)) and math.isfinite(ttl) and ttl > 0):
            raise invalid_argument("LabelJoin", "ttl", ttl, "a finite number of seconds > 0")
        for name, value in (("max_pending", max_pending), ("window", window)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise invalid_argument("LabelJoin", name, value, "an integer >= 1")
        self.ttl = float(ttl)
        self.max_pending = max_pending
        self.window = window
        self.detector = detector
        self._is_error = is_error or _default_is_error
        self._clock = clock or time.monotonic
        self._pending: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._errors: deque[int] = deque(maxlen=window)
        self._error_sum = 0
        self.joined = 0
        self.expired = 0
        self.evicted = 0
        self.unknown = 0
        self.alarms = 0

    def __repr__(self) -> str:
        return (
            f"LabelJoin(ttl={self.ttl:g}, max_pending={self.max_pending}, "
            f"window={self.window}, pending={len(self._pending)})"
        )

    def expire(self) -> int:
        """Drop predictions older than ``ttl``; return how many were dropped."""
        deadline = self._clock() - self.ttl
        dropped = 0
        while self._pending:
            recorded_at, _ = next(iter(self._pending.values()))
            if recorded_at > deadline:
                break
            self._pending.popitem(last=False)
            dropped += 1
        self.expired += dropped
        return dropped

    def record_prediction(self, id: Hashable, prediction: Any) -> None:
        """Remember ``prediction`` under ``id`` until its label arrives.

        A second prediction with a pending id replaces the first (and restarts its TTL).

        Parameters
        ----------
        id : hashable
            The caller's id for the request or sample (kept in memory only).
        prediction : Any
            The predicted class (or value compared by ``is_error``).
        """
        self.expire()
        if id in self._pending:
            self._pending.move_to_end(id)
        self._pending[id] = (self._clock(), prediction)
        if len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
            self.evicted += 1

    def record_label(self, id: Hashable, label: Any) -> JoinResult:
        """Join the ground-truth ``label`` with the pending prediction of ``id``.

        Parameters
        ----------
        id : hashable
            The id given to :meth:`record_prediction`.
        label : Any
            The true class (or value).

        Returns
        -------
        JoinResult
            ``joined`` with whether the prediction was wrong and the delay, or
            ``unknown`` when no prediction with this id is pending.
        """
        self.expire()
        entry = self._pending.pop(id, None)
        if entry is None:
            self.unknown += 1
            return JoinResult("unknown")
        recorded_at, prediction = entry
        error = bool(self._is_error(prediction, label))  # numpy.bool_ is not JSON-safe
        if len(self._errors) == self._errors.maxlen:
            self._error_sum -= self._errors[0]
        self._errors.append(int(error))
        self._error_sum += int(error)
        self.joined += 1
        if self.detector is not None:
            self.detector.update(float(error))
            if self.detector.drift_detected:
                self.alarms += 1
        return JoinResult("joined", error=error, delay=self._clock() - recorded_at)

    @property
    def pending(self) -> int:
        """Predictions currently waiting for a label."""
        return len(self._pending)

    @property
    def accuracy(self) -> float | None:
        """Accuracy over the last ``window`` joined labels, or ``None`` before any."""
        if not self._errors:
            return None
        return 1.0 - self._error_sum / len(self._errors)

    def stats(self) -> LabelStats:
        """Return the current counts and accuracy (expiring old predictions first)."""
        self.expire()
        return LabelStats(
            pending=len(self._pending),
            joined=self.joined,
            expired=self.expired,
            evicted=self.evicted,
            unknown=self.unknown,
            accuracy=self.accuracy,
            alarms=self.alarms,
        )
