"""The shared API of the streaming drift detectors, modelled on river's.

Every detector offers ``update(x)`` (returns ``self``), read-only ``drift_detected``
(and ``warning_detected`` for the error-rate detectors), a reset at the update after an
alarm, and ``update_many(values)`` that returns the positions of the alarms in
``values`` and processes blocks of values with numpy instead of one Python call per
value. Both paths give the same alarms. Detectors are deterministic (no randomness),
picklable, and ``clone()`` returns a fresh detector with the same parameters.

The semantics follow river 0.26 (``river.drift.ADWIN``, ``river.drift.PageHinkley``,
``river.drift.binary.DDM``, ``river.drift.binary.HDDMA``), which follow the published
algorithms; see :class:`~edgeml.drift.ADWIN`, :class:`~edgeml.drift.PageHinkley`,
:class:`~edgeml.drift.DDM` and :class:`~edgeml.drift.HDDM_A`.

Stable API (used by ``edgeml.monitor``): the detector classes, ``update``,
``update_many``, ``drift_detected``, ``warning_detected``, ``n_detections``,
``reset``, ``clone``, ``get_params``.
"""

from __future__ import annotations

import math
import reprlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml._display import html_table
from edgeml.errors import DataError, invalid_argument

__all__ = ["DriftDetector", "check_positive"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


#: Largest magnitude a detector accepts: squares and sums of 1e100 stay finite.
MAX_ABS = 1e100


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

    def _state(self) -> dict[str, Any]:
        """Every public read-only property (``drift_detected``, ``n_seen``, ``width``...)."""
        kind = type(self)
        names = sorted(
            name
            for name in dir(kind)
            if not name.startswith("_") and isinstance(getattr(kind, name), property)
        )
        return {name: getattr(self, name) for name in names}

    def _repr_html_(self) -> str:
        rows = [[name, "parameter", value] for name, value in self.get_params().items()]
        rows += [[name, "state", value] for name, value in self._state().items()]
        return html_table(["name", "kind", "value"], rows, caption=type(self).__name__)

    # ----------------------------------------------------------------- validation
    def _check_value(self, x: Any) -> float:
        try:
            if isinstance(x, (complex, np.complexfloating)):
                raise TypeError("complex")
            value = float(x)
        except (TypeError, ValueError, OverflowError):
            raise DataError(
                f"{type(self).__name__}.update needs a real number; got {reprlib.repr(x)}."
            ) from None
        if not math.isfinite(value):
            raise DataError(f"{type(self).__name__}.update got a non-finite value {value}.")
        if abs(value) > MAX_ABS:
            raise DataError(
                f"{type(self).__name__}.update got {value:g}; values beyond +-{MAX_ABS:g} "
                "overflow the running sums. Fix: rescale the stream."
            )
        if self._binary and value not in (0.0, 1.0):
            raise DataError(
                f"{type(self).__name__} watches an error stream of 0 (correct) and 1 (error); "
                f"got {reprlib.repr(x)}."
            )
        return value

    def _check_values(self, values: Any) -> FloatArray:
        name = f"{type(self).__name__}.update_many"
        try:
            raw = np.asarray(values)
            if raw.dtype.kind not in "biufO":
                raise TypeError(raw.dtype)
            array = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError, OverflowError, RecursionError):
            raise DataError(f"{name} needs real numbers; got values of another type.") from None
        if array.ndim != 1:
            raise DataError(f"{name} needs a 1-D sequence; got shape {array.shape}.")
        bad = ~np.isfinite(array)
        if bad.any():
            raise DataError(
                f"{name} got {int(bad.sum())} non-finite values (first at index "
                f"{int(np.argmax(bad))}); drop or fill them first."
            )
        if (np.abs(array) > MAX_ABS).any():
            raise DataError(
                f"{name} got values beyond +-{MAX_ABS:g}, which overflow the running sums. "
                "Fix: rescale the stream."
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


def check_positive(owner: str, name: str, value: Any, integer: bool = False) -> None:
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not value > 0:
        kind = "an integer" if integer else "a number"
        raise invalid_argument(owner, name, value, f"{kind} > 0")
