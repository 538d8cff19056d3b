"""Score a streaming detector on a stream whose change points are known."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml.drift._detector import DriftDetector
from edgeml.drift._inputs import input_boundary, real_array
from edgeml.errors import DataError, invalid_argument

__all__ = ["DetectorEvaluation", "evaluate_detector"]


@dataclass(frozen=True, repr=False)
class DetectorEvaluation:
    """Detections, delays and false alarms of one detector on one stream.

    A detection at or after change point ``c_k`` and before ``c_(k+1)`` (and within
    ``max_delay`` of ``c_k`` when given) detects that change if it is the first such;
    every other detection is a false alarm. A change with no detection is missed.

    Attributes
    ----------
    detector : str
        The detector's ``repr``.
    n_values : int
        Length of the stream.
    change_points : tuple of int
        Indices where the stream changes.
    detections : tuple of int
        Every alarm.
    delays : tuple of (int or None)
        Per change point, ``detection - change_point`` or ``None`` when missed.
    false_alarms : int
        Alarms that detect no change.
    """

    detector: str
    n_values: int
    change_points: tuple[int, ...]
    detections: tuple[int, ...]
    delays: tuple[int | None, ...]
    false_alarms: int

    @property
    def missed(self) -> int:
        """Change points with no detection."""
        return sum(d is None for d in self.delays)

    @property
    def mean_delay(self) -> float | None:
        """Mean delay over detected changes, ``None`` when none was detected."""
        found = [d for d in self.delays if d is not None]
        return float(np.mean(found)) if found else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict, including ``missed`` and ``mean_delay``.

        Returns
        -------
        dict
        """
        data = {
            "detector": self.detector,
            "n_values": self.n_values,
            "change_points": list(self.change_points),
            "detections": list(self.detections),
            "delays": list(self.delays),
            "false_alarms": self.false_alarms,
            "missed": self.missed,
            "mean_delay": self.mean_delay,
        }
        return dict(to_jsonable(data))

    def to_markdown(self) -> str:
        """Return one table row per change point.

        Returns
        -------
        str
        """
        summary = f"\n\n{self._summary()}."
        return markdown_table(["change point", "delay"], self._rows()) + summary

    def _repr_html_(self) -> str:
        caption = f"{self.detector}: {self._summary()}"
        return html_table(["change point", "delay"], self._rows(), caption=caption)

    def _rows(self) -> list[list[Any]]:
        return [[c, d] for c, d in zip(self.change_points, self.delays, strict=True)]

    def _summary(self) -> str:
        return f"{self.false_alarms} false alarm(s), {self.missed} missed"

    def __repr__(self) -> str:
        return (
            f"DetectorEvaluation(detector={self.detector}, delays={list(self.delays)}, "
            f"false_alarms={self.false_alarms}, missed={self.missed})"
        )


@input_boundary("evaluate_detector")
def evaluate_detector(
    detector: DriftDetector,
    stream: Any,
    change_points: Sequence[int],
    *,
    max_delay: int | None = None,
) -> DetectorEvaluation:
    """Run a fresh clone of ``detector`` over ``stream`` and score its alarms.

    Parameters
    ----------
    detector : DriftDetector
        Cloned first, so the detector passed in is left untouched.
    stream : array-like, 1-D
        The values (0/1 errors for DDM).
    change_points : sequence of int
        Indices (in ``[1, len(stream))``, increasing) where the distribution changes.
    max_delay : int, optional
        An alarm later than this after a change does not count as detecting it.

    Returns
    -------
    DetectorEvaluation

    Raises
    ------
    DataError
        Change points out of range or not increasing.

    Examples
    --------
    >>> import numpy as np
    >>> from edgeml.drift import ADWIN, evaluate_detector
    >>> rng = np.random.default_rng(1)
    >>> stream = np.r_[rng.random(2000) < 0.1, rng.random(2000) < 0.5].astype(float)
    >>> result = evaluate_detector(ADWIN(), stream, [2000])
    >>> result.delays, result.false_alarms
    ((47,), 0)
    """
    if not isinstance(detector, DriftDetector):
        raise invalid_argument(
            "evaluate_detector", "detector", detector, "an edgeml drift detector"
        )
    values = real_array(stream, "evaluate_detector", "stream")
    points = [int(c) for c in change_points]
    if any(not 0 < c < values.size for c in points) or points != sorted(set(points)):
        raise DataError(
            f"change_points must be increasing indices in [1, {values.size}); got {points}."
        )
    if max_delay is not None and (isinstance(max_delay, bool) or max_delay < 0):
        raise invalid_argument("evaluate_detector", "max_delay", max_delay, "an integer >= 0")
    detections = detector.clone().update_many(values).tolist()
    bounds = [*points, values.size]
    delays: list[int | None] = []
    used: set[int] = set()
    for k, start in enumerate(points):
        limit = bounds[k + 1] if max_delay is None else min(bounds[k + 1], start + max_delay + 1)
        hit = next((d for d in detections if start <= d < limit), None)
        delays.append(None if hit is None else hit - start)
        if hit is not None:
            used.add(hit)
    return DetectorEvaluation(
        detector=repr(detector),
        n_values=int(values.size),
        change_points=tuple(points),
        detections=tuple(detections),
        delays=tuple(delays),
        false_alarms=len(detections) - len(used),
    )
