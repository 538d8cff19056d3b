"""Sliding-window drift for a monitor: a copy on the hot path, sketches on recompute.

The hot path copies a few numbers per sample into a list: the input's columns (narrow
inputs) or evenly spaced values of each sample (images and wide inputs), and the
outputs. Every ``recompute_every`` samples the new rows become watched features and
predicted labels in a ring buffer of the last ``window`` samples, which is binned with
the reference sketch's fixed edges (:class:`edgeml.drift.Histogram`) and compared with
the reference by :func:`edgeml.drift.psi`, :func:`~edgeml.drift.js` and
:func:`~edgeml.drift.wasserstein`, which accept sketches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeml.errors import ConfigError, DataError, EdgeMLError, invalid_argument

__all__ = ["DriftTracker", "DriftValues", "card_feature_names", "subsample", "summary_features"]

#: Inputs with at most this many columns are watched column by column.
MAX_COLUMNS = 64
#: Values per sample used to estimate the mean and standard deviation of wide inputs.
SUMMARY_VALUES = 256


def subsample(x: Any) -> np.ndarray:
    """Return at most :data:`SUMMARY_VALUES` evenly spaced values of each sample.

    Parameters
    ----------
    x : array_like
        A batch ``(n, ...)``.

    Returns
    -------
    numpy.ndarray
        ``(n, m)``, a strided view of ``x`` when possible (no copy).

    Examples
    --------
    >>> subsample(np.zeros((2, 96, 96, 3))).shape
    (2, 256)
    """
    array = np.asarray(x)
    flat = array.reshape(array.shape[0], -1)
    stride = max(1, math.ceil(flat.shape[1] / SUMMARY_VALUES))
    return flat[:, ::stride]


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
    >>> summary_features(np.stack([np.zeros((8, 8, 3)), np.ones((8, 8, 3))])).tolist()
    [[0.0, 0.0], [1.0, 0.0]]
    """
    values = subsample(x).astype(np.float64)
    count = values.shape[1]
    mean = values.sum(axis=1) / count
    # E[v^2] - E[v]^2 in one pass over the values (clipped at 0 against rounding).
    square = np.einsum("ij,ij->i", values, values) / count
    return np.stack([mean, np.sqrt(np.maximum(square - mean * mean, 0.0))], axis=1)


def _as_2d(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ConfigError(f"features(x) must return an (n, k) array; got shape {array.shape}.")
    return array


def _check_names(feature_names: Any) -> tuple[str, ...]:
    """Validate user-given feature names: they become Prometheus label values."""
    if isinstance(feature_names, (str, bytes)) or not isinstance(feature_names, Sequence):
        raise invalid_argument(
            "ModelMonitor",
            "feature_names",
            feature_names,
            "a sequence of names, one per watched feature",
            fix="e.g. feature_names=['heart_rate', 'age'] (from the command line: "
            "--feature-names heart_rate,age)",
        )
    names = tuple(feature_names)
    if not all(_good_name(name) for name in names):
        raise invalid_argument(
            "ModelMonitor",
            "feature_names",
            feature_names,
            "printable str names of 1 to 128 characters",
        )
    return names


def _good_name(name: object) -> bool:
    return isinstance(name, str) and 0 < len(name) <= 128 and name.isprintable()


def _names_of(columns: Any, width: int) -> tuple[str, ...] | None:
    """Return a DataFrame's column names as strings, when there is one per column."""
    if columns is None:
        return None
    names = tuple(str(c) for c in columns)
    ok = len(names) == width and len(set(names)) == width and all(map(_good_name, names))
    return names if ok else None


def card_feature_names(model: Any, width: int) -> tuple[str, ...] | None:
    """Feature names from the drift baseline of the model's card, when they mean something.

    A baseline fitted on a DataFrame or a dict (or with ``feature_names``) carries the
    columns' names; one fitted on a bare array has ``"0"``, ``"1"``..., which say nothing
    and are ignored, as are names that do not match ``width`` watched features.

    Parameters
    ----------
    model : object
        Usually an :class:`edgeml.runtime.EdgeModel`; its ``card`` is read when present.
    width : int
        Number of watched features.

    Returns
    -------
    tuple of str or None

    Examples
    --------
    >>> from edgeml.card import ModelCard
    >>> from edgeml.drift import Histogram
    >>> class Model:
    ...     card = ModelCard.build("ecg", drift_baseline=Histogram.fit(
    ...         {"heart_rate": np.arange(60.0, 90.0), "spo2": np.arange(90.0, 120.0)}))
    >>> card_feature_names(Model(), 2), card_feature_names(Model(), 3)
    (('heart_rate', 'spo2'), None)
    """
    try:
        card = getattr(model, "card", None)
    except EdgeMLError:  # a damaged card: serve without its names
        return None
    baseline = getattr(card, "drift_baseline", None)
    if not isinstance(baseline, Mapping):
        return None
    names = baseline.get("names")
    if not isinstance(names, list) or names == [str(j) for j in range(len(names))]:
        return None
    return _names_of(names, width)


class _Ring:
    """The last ``capacity`` samples of a stream: ``width`` values and a label each."""

    def __init__(self, capacity: int, width: int) -> None:
        self.data = np.empty((capacity, width + 1), dtype=np.float64)
        self.position = 0
        self.filled = 0

    def _write(self, start: int, rows: np.ndarray, labels: np.ndarray) -> None:
        stop = start + rows.shape[0]
        self.data[start:stop, :-1] = rows
        self.data[start:stop, -1] = labels

    def add(self, rows: np.ndarray, labels: np.ndarray) -> None:
        capacity = self.data.shape[0]
        n = rows.shape[0]
        if n >= capacity:
            self._write(0, rows[-capacity:], labels[-capacity:])
            self.position, self.filled = 0, capacity
            return
        end = self.position + n
        if end <= capacity:
            self._write(self.position, rows, labels)
        else:
            first = capacity - self.position
            self._write(self.position, rows[:first], labels[:first])
            self._write(0, rows[first:], labels[first:])
        self.position = end % capacity
        self.filled = min(capacity, self.filled + n)

    def values(self) -> np.ndarray:
        """Gathered values of the samples in the window (ring order; order is irrelevant)."""
        return self.data[: self.filled, :-1]

    def labels(self) -> np.ndarray:
        """Predicted labels of the samples in the window, ``(n, 1)``."""
        return self.data[: self.filled, -1:]


def _primary_output(outputs: Any) -> np.ndarray:
    """Return the output watched for drift and labels: the only one, or the first."""
    if isinstance(outputs, dict):
        outputs = next(iter(outputs.values()))
    elif isinstance(outputs, (tuple, list)) and outputs and isinstance(outputs[0], np.ndarray):
        outputs = outputs[0]
    return np.asarray(outputs)


@dataclass(frozen=True)
class DriftValues:
    """Drift statistics of one recomputation."""

    input_drift: dict[str, dict[str, float]]
    prediction_drift: dict[str, float]
    features_drifted: int
    window_samples: int


class DriftTracker:
    """Reference sketches plus ring buffers of recent inputs and predictions.

    Parameters are those of :class:`~edgeml.monitor.ModelMonitor` of the same names;
    ``class_count(outputs)`` gives the number of classes when predictions are class ids
    (one histogram bin per class), ``None`` for other decisions (quantile bins).
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
        dp_epsilon: float | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        from edgeml import drift

        self._drift = drift
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
            raise invalid_argument("ModelMonitor", "bins", bins, "an integer >= 2")
        if not (isinstance(psi_threshold, (int, float)) and psi_threshold > 0):
            raise invalid_argument("ModelMonitor", "psi_threshold", psi_threshold, "a number > 0")
        if dp_epsilon is not None and not (
            isinstance(dp_epsilon, (int, float))
            and not isinstance(dp_epsilon, bool)
            and math.isfinite(dp_epsilon)
            and dp_epsilon > 0
        ):
            raise invalid_argument("ModelMonitor", "dp_epsilon", dp_epsilon, "a finite number > 0")
        self.dp_epsilon = None if dp_epsilon is None else float(dp_epsilon)
        # A seed makes the noise reproducible (tests); by default each release draws a
        # fresh generator seeded from the operating system (edgeml.privacy.mechanisms).
        if (
            not isinstance(seed, np.random.Generator)
            and seed is not None
            and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0)
        ):
            raise invalid_argument(
                "ModelMonitor", "seed", seed, "None, an integer >= 0 or a numpy Generator"
            )
        self._dp_rng = None if seed is None else np.random.default_rng(seed)
        columns = getattr(reference, "columns", None)  # a pandas DataFrame's column names
        try:
            ref = np.asarray(reference, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(
                "reference must be an array of numbers shaped like the model's input; "
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

        # Hot path: gather a few numbers per sample. Recompute: turn the window into the
        # watched features (only wide inputs need that second step).
        self._summarize = False
        # Batches that are DataFrames must then have the reference's columns, in order.
        self._frame_columns: tuple[str, ...] | None = None
        self._gather: Callable[[Any], np.ndarray]
        if features is not None:
            self._gather = lambda x: _as_2d(features(np.asarray(x)))
            default_names: tuple[str, ...] = ()
        elif ref.ndim == 2 and ref.shape[1] <= MAX_COLUMNS:
            self._gather = np.asarray
            self._frame_columns = _names_of(columns, ref.shape[1])
            default_names = (
                self._frame_columns
                or card_feature_names(model, ref.shape[1])
                or tuple(f"x{i}" for i in range(ref.shape[1]))
            )
        else:
            self._gather = subsample
            self._summarize = True
            default_names = ("mean", "std")
        gathered = self._gather(ref)
        ref_features = self._finish(gathered)
        width = ref_features.shape[1]
        names = _check_names(feature_names) if feature_names is not None else default_names
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
        self._reference_sketch = drift.Histogram.fit(ref_features, bins=bins)

        ref_outputs = _primary_output(model.predict(ref.astype(np.float32)))
        ref_predicted = np.asarray(decision(ref_outputs), dtype=np.float64).reshape(-1, 1)
        self._categorical = class_count is not None
        if class_count is not None:
            # One bin per class: edges halfway between consecutive class ids.
            edges = np.arange(class_count(ref_outputs) + 1, dtype=np.float64) - 0.5
            self._prediction_sketch = drift.Histogram.fit(ref_predicted, edges=edges)
        else:
            self._prediction_sketch = drift.Histogram.fit(ref_predicted, bins=bins)

        self._gathered_width = gathered.shape[1]
        self._staged_dtype = np.float32 if self._summarize else np.float64
        self._ring = _Ring(window, width)
        # Batches since the last recomputation, copied (callers may reuse their buffers)
        # and moved into the ring in one go when the gauges are recomputed.
        self._staged: list[tuple[np.ndarray, np.ndarray]] = []
        self.last: DriftValues | None = None

    def _finish(self, gathered: np.ndarray) -> np.ndarray:
        if self._summarize:
            return summary_features(gathered)
        return np.asarray(gathered, dtype=np.float64)

    @property
    def window_samples(self) -> int:
        """Samples in the window, counting those not yet moved into the ring."""
        staged = sum(int(rows.shape[0]) for rows, _ in self._staged)
        return min(int(self._ring.data.shape[0]), self._ring.filled + staged)

    def add(self, x: Any, outputs: np.ndarray) -> None:
        """Stage a batch's gathered values and outputs for the next recomputation.

        Non-finite values are kept: the sketches count them apart and never bin them.
        """
        columns = getattr(x, "columns", None)
        if self._frame_columns is not None and columns is not None:
            given = tuple(str(c) for c in columns)
            if given != self._frame_columns:
                raise DataError(
                    f"The batch's columns {list(given)} differ from the reference's "
                    f"{list(self._frame_columns)}; the drift of one column would be "
                    "reported under another's name. Fix: pass "
                    "frame[list(monitor.feature_names)]."
                )
        gathered = self._gather(x)
        if gathered.ndim != 2 or gathered.shape[1] != self._gathered_width:
            raise DataError(
                f"The batch gives {gathered.shape[1:]} values per sample to watch; the "
                f"reference gave ({self._gathered_width},). Pass inputs shaped like the "
                "reference."
            )
        self._staged.append((np.array(gathered, dtype=self._staged_dtype), np.array(outputs)))

    def _flush(self) -> None:
        if not self._staged:
            return
        rows = np.concatenate([rows for rows, _ in self._staged])
        outputs = np.concatenate([out for _, out in self._staged])
        self._staged.clear()
        # Only the new rows are summarized: the ring holds watched features already.
        self._ring.add(self._finish(rows), np.asarray(self._decision(outputs)).reshape(-1))

    def _privatize(self, sketch: Any, epsilon: float) -> Any:
        """Release ``sketch``'s counts with Laplace noise; drop everything else it knows.

        Each sample adds one to one bin per feature (sensitivity 1 per histogram). Noisy
        counts are rounded and clipped at 0 (post-processing keeps the guarantee); the
        window's minimum, maximum and non-finite counts are not released.
        """
        from edgeml.privacy.mechanisms import dp_histogram

        noisy = np.empty_like(sketch.counts)
        n_bins = sketch.counts.shape[1]
        bin_edges = np.arange(n_bins + 1, dtype=np.float64) - 0.5
        for j, counts in enumerate(sketch.counts):
            bin_of_each_sample = np.repeat(np.arange(n_bins, dtype=np.float64), counts)
            release = dp_histogram(
                bin_of_each_sample, bins=bin_edges, epsilon=epsilon, seed=self._dp_rng
            )
            noisy[j] = np.maximum(np.rint(np.asarray(release.value)), 0)
        return self._drift.Histogram(
            sketch.edges, noisy, scale=sketch.scale, names=sketch.names, is_1d=sketch.is_1d
        )

    def _statistics(self, reference: Any, window: np.ndarray) -> list[dict[str, float]]:
        drift = self._drift
        current = reference.empty().update(window)
        if self.dp_epsilon is not None:
            # One recomputation releases every input histogram and the prediction
            # histogram; splitting epsilon evenly bounds what any sample spends on it.
            histograms = len(self.feature_names) + 1
            current = self._privatize(current, self.dp_epsilon / histograms)
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
        """Compare the window with the reference; return and remember the values."""
        self._flush()
        window = self._ring.values()
        stats = self._statistics(self._reference_sketch, window)
        input_drift = dict(zip(self.feature_names, stats, strict=True))
        predictions = np.asarray(self._ring.labels(), dtype=np.float64)
        prediction_drift = self._statistics(self._prediction_sketch, predictions)[0]
        if self._categorical:  # class ids have shares but no distance between them
            del prediction_drift["wasserstein"]
        drifted = sum(s["psi"] > self.psi_threshold for s in stats)
        self.last = DriftValues(input_drift, prediction_drift, drifted, window.shape[0])
        return self.last
