"""Metrics of a model's predictions: accuracy on class scores, MAE and MSE.

Examples
--------
>>> import numpy as np
>>> score("accuracy", np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]))
0.6666666666666666
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from edgeml.errors import DataError, invalid_argument

__all__ = ["Metric", "class_labels", "score"]

Metric = str | Callable[[np.ndarray, np.ndarray], float]
_METRICS = ("accuracy", "mae", "mse")


def class_labels(values: np.ndarray) -> np.ndarray:
    """Class index per sample from scores (argmax, or threshold 0.5 for one column)."""
    if values.ndim >= 2 and values.shape[-1] > 1:
        return np.asarray(np.argmax(values, axis=-1))
    return (values.reshape(len(values), -1)[:, 0] > 0.5).astype(np.int64)


def score(metric: Metric, y_true: Any, y_pred: np.ndarray) -> float:
    """Compute ``metric`` of predictions against targets.

    Parameters
    ----------
    metric : {"accuracy", "mae", "mse"} or callable
        ``"accuracy"`` compares class labels: predictions with several columns are
        argmax'ed, a single column is thresholded at 0.5; targets may be labels or
        one-hot. ``"mae"``/``"mse"`` compare values. A callable gets
        ``(y_true, y_pred)`` and returns a float.
    y_true : array_like
        Targets.
    y_pred : numpy.ndarray
        Model outputs, one row per sample.

    Returns
    -------
    float
        The metric.

    Raises
    ------
    ConfigError
        For an unknown metric name.
    DataError
        When targets and predictions have different numbers of samples.

    Examples
    --------
    >>> import numpy as np
    >>> score("mse", np.array([0.0, 2.0]), np.array([[1.0], [2.0]]))
    0.5
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if len(y_true) != len(y_pred):
        raise DataError(
            f"y has {len(y_true)} samples but the model produced {len(y_pred)} predictions."
        )
    if callable(metric):
        return float(metric(y_true, y_pred))
    if metric == "accuracy":
        labels = class_labels(y_true) if y_true.ndim > 1 else y_true.astype(np.int64)
        return float(np.mean(class_labels(y_pred) == labels))
    if metric in ("mae", "mse"):
        diff = y_pred.reshape(len(y_pred), -1) - y_true.reshape(len(y_true), -1)
        return float(np.mean(np.abs(diff)) if metric == "mae" else np.mean(diff**2))
    raise invalid_argument(
        "score", "metric", metric, f"one of {_METRICS} or a callable(y_true, y_pred)"
    )
