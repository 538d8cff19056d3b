"""Sliding-window drift for a monitor: ring buffers on the hot path, sketches on recompute.

The hot path copies a few numbers per sample into ring buffers (the watched features
and the predicted label). Every ``recompute_every`` samples the window is binned with
the reference sketch's fixed edges (:class:`edgeml.drift.Histogram`) and compared with
the reference with :func:`edgeml.drift.psi`, :func:`~edgeml.drift.js` and
:func:`~edgeml.drift.wasserstein`, which accept sketches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeml.errors import ConfigError, DataError, invalid_argument

__all__ = ["DriftTracker", "DriftValues", "summary_features"]

#: Inputs with at most this many columns are watched column by column.
MAX_COLUMNS = 64
#: Values per sample used to estimate the mean and standard deviation of wide inputs.
SUMMARY_VALUES = 1024


def summary_features(x: Any) -> np.ndarray:
    """Per-sample mean and standard deviation, estimated on evenly spaced values.

    Parameters
    ----------
    x : array_like
        A batch ``(n, ...)`` of images, spectrograms or wide vectors.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)``: mean and standard deviation of each sample.

    Examples
    --------
    >>> import numpy as np
    >>> summary_features(np.stack([np.zeros((8, 8, 3)), np.ones((8, 8, 3))])).tolist()
    [[0.0, 0.0], [1.0, 0.0]]
    """
    array = np.asarray(x)
    flat = array.reshape(array.shape[0], -1)
    stride = max(1, math.ceil(flat.shape[1] / SUMMARY_VALUES))
    values = flat[:, ::stride].astype(np.float64, copy=False)
    return np.stack([values.mean(axis=1), values.std(axis=1)], axis=1)


class _Ring:
    """The last ``capacity`` rows of a ``(n, width)`` stream."""

    def __init__(self, capacity: int, width: int) -> None:
        self.data = np.empty((capacity, width), dtype=np.float64)
        self.position = 0
        self.filled = 0

    def add(self, rows: np.ndarray) -> None:
        capacity = self.data.shape[0]
        if rows.shape[0] >= capacity:
            self.data[:] = rows[-capacity:]
            self.position, self.filled = 0, capacity
            return
        end = self.position + rows.shape[0]
        if end <= capacity:
            self.data[self.position : end] = rows
        else:
            first = capacity - self.position
            self.data[self.position :] = rows[:first]
            self.data[: end - capacity] = rows[first:]
        self.position = end % capacity
        self.filled = min(capacity, self.filled + rows.shape[0])

    def values(self) -> np.ndarray:
        return self.data[: self.filled]


@dataclass(frozen=True)
class DriftValues:
    """Drift statistics of one recomputation."""

    input_drift: dict[str, dict[str, float]]
    prediction_drift: dict[str, float]
    features_drifted: int
    window_samples: int


class DriftTracker:
    """Reference sketches plus ring buffers of recent features and predictions.

    Parameters are those of :class:`~edgeml.monitor.ModelMonitor` of the same names.
    """

    def __init__(
        self,
        model: Any,
        reference: Any,
        *,
        window: int,
        bins: int,
        psi_threshold: float,
        features: Callable[[np.ndarray], np.ndarray] | None,
        feature_names: Sequence[str] | None,
        decision: Callable[[np.ndarray], np.ndarray],
        class_count: Callable[[np.ndarray], int] | None,
    ) -> None:
        from edgeml import drift

        self._drift = drift
        try:
            ref = np.asarray(reference, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"reference must be an array of numbers shaped like the model's input; "
                f"converting it failed: {exc}. Fix: pass a numpy array (n, ...)."
            ) from None
        if ref.ndim < 1 or ref.shape[0] < 2 * bins:
            raise invalid_argument(
                "ModelMonitor",
                "reference",
                f"array of shape {ref.shape}",
                f"at least 2 * bins = {2 * bins} samples",
            )
        if not np.isfinite(ref).all():
            raise DataError("reference contains NaN or infinite values. Fix: drop those rows.")
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
            raise invalid_argument("ModelMonitor", "bins", bins, "an integer >= 2")
        if not (isinstance(psi_threshold, (int, float)) and psi_threshold > 0):
            raise invalid_argument("ModelMonitor", "psi_threshold", psi_threshold, "a number > 0")
        if features is None:
            columns = ref.ndim == 2 and ref.shape[1] <= MAX_COLUMNS
            features = _columns if columns else summary_features
            default_names = (
                tuple(f"x{i}" for i in range(ref.shape[1])) if columns else ("mean", "std")
            )
        else:
            default_names = ()
        self._features = features
        ref_features = self._extract(ref)
        width = ref_features.shape[1]
        names = tuple(feature_names) if feature_names is not None else default_names
        if not names:
            names = tuple(f"f{i}" for i in range(width))
        if len(names) != width or len(set(names)) != width:
            raise invalid_argument(
                "ModelMonitor",
                "feature_names",
                names,
                f"{width} distinct names, one per watched feature",
            )
        self.feature_names = names
        self.psi_threshold = float(psi_threshold)
        self._decision = decision
        self._bins = bins
        self._reference_features = ref_features
        self._reference_sketch = self._fit(ref_features)
        from edgeml.monitor._monitor import _primary_output

        ref_outputs = _primary_output(model.predict(ref.astype(np.float32)))
        ref_predicted = np.asarray(decision(ref_outputs), dtype=np.float64).reshape(-1, 1)
        class_edges = None
        if class_count is not None:
            # One bin per class: edges halfway between consecutive class ids.
            classes = class_count(ref_outputs)
            class_edges = np.arange(classes + 1, dtype=np.float64) - 0.5
        self._prediction_sketch = self._fit(ref_predicted, class_edges)
        self._features_ring = _Ring(window, width)
        self._predictions_ring = _Ring(window, 1)
        self.last: DriftValues | None = None

    def _extract(self, x: Any) -> np.ndarray:
        values = np.asarray(self._features(np.asarray(x)), dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ConfigError(f"features(x) must return an (n, k) array; got shape {values.shape}.")
        return values

    def _fit(self, columns: np.ndarray, edges: np.ndarray | None = None) -> Any:
        if edges is not None:
            return self._drift.Histogram.fit(columns, edges=edges)
        return self._drift.Histogram.fit(columns, bins=self._bins)

    @property
    def window_samples(self) -> int:
        """Samples currently in the window."""
        return self._features_ring.filled

    def add(self, x: Any, outputs: np.ndarray) -> None:
        """Append a batch's watched features and predicted labels (finite rows only)."""
        values = self._extract(x)
        predicted = np.asarray(self._decision(outputs), dtype=np.float64).reshape(-1, 1)
        finite = np.isfinite(values).all(axis=1) & np.isfinite(predicted[:, 0])
        if not finite.all():
            values, predicted = values[finite], predicted[finite]
        self._features_ring.add(values)
        self._predictions_ring.add(predicted)

    def _statistics(self, reference: Any, window: np.ndarray) -> list[dict[str, float]]:
        drift = self._drift
        current = reference.empty().update(window)
        results = {
            "psi": drift.psi(reference, current),
            "js": drift.js(reference, current),
            "wasserstein": drift.wasserstein(reference, current),
        }
        per_feature: list[dict[str, float]] = [{} for _ in range(window.shape[1])]
        for statistic, result in results.items():
            listed = result if isinstance(result, list) else [result]
            for j, item in enumerate(listed):
                per_feature[j][statistic] = float(item.statistic)
        return per_feature

    def compute(self) -> DriftValues:
        """Compare the window with the reference; returns and remembers the values."""
        window = self._features_ring.values()
        stats = self._statistics(self._reference_sketch, window)
        input_drift = dict(zip(self.feature_names, stats, strict=True))
        predictions = self._predictions_ring.values()
        prediction_drift = self._statistics(self._prediction_sketch, predictions)[0]
        drifted = sum(s["psi"] > self.psi_threshold for s in stats)
        self.last = DriftValues(input_drift, prediction_drift, drifted, window.shape[0])
        return self.last


def _columns(x: np.ndarray) -> np.ndarray:
    return x
