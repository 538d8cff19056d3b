"""Measure a converted model through the interpreter and compare it with the original.

Examples
--------
>>> import numpy as np
>>> score("accuracy", np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]))
0.6666666666666666
>>> score("mae", np.array([1.0, 2.0]), np.array([[1.5], [2.0]]))
0.25
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml.conversion._metrics import Metric, class_labels, score
from edgeml.conversion.model import TFLiteModel
from edgeml.errors import DataError, invalid_argument

__all__ = ["Comparison", "Metric", "compare", "score"]


@dataclass(frozen=True)
class Comparison:
    """How a converted model's outputs differ from the original model's.

    Attributes
    ----------
    metric : str
        The metric's name.
    reference, converted : float or None
        The metric of the original and of the converted model (``None`` without ``y``).
    delta : float or None
        ``converted - reference``.
    max_abs_diff, mean_abs_diff : float
        Largest and mean absolute difference between the two models' outputs.
    agreement : float or None
        Share of samples where both predict the same class (``None`` for outputs that
        are not class scores).
    n : int
        Number of samples compared.
    """

    metric: str
    reference: float | None
    converted: float | None
    delta: float | None
    max_abs_diff: float
    mean_abs_diff: float
    agreement: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(to_jsonable(self.__dict__))

    def _rows(self) -> list[list[Any]]:
        return [[k, v] for k, v in self.__dict__.items()]

    def to_markdown(self) -> str:
        """Return the comparison as a Markdown table."""
        return markdown_table(["field", "value"], self._rows())

    def _repr_html_(self) -> str:
        return html_table(["field", "value"], self._rows(), caption="Original vs converted")

    def __repr__(self) -> str:
        def fmt(value: float | None) -> str:
            return "None" if value is None else f"{value:.4g}"

        return (
            f"Comparison({self.metric}: {fmt(self.reference)} -> {fmt(self.converted)}, "
            f"max_abs_diff={self.max_abs_diff:.3g}, agreement={fmt(self.agreement)}, "
            f"n={self.n})"
        )


def _reference_outputs(model: Any, x: Any) -> np.ndarray:
    predict = getattr(model, "predict", None)
    if callable(predict):
        try:
            return np.asarray(predict(x, verbose=0))
        except TypeError:
            return np.asarray(predict(x))
    if callable(model):
        out = model(x)
        return np.asarray(out.numpy() if hasattr(out, "numpy") else out)
    raise invalid_argument(
        "compare", "reference_model", model, "a Keras model or a callable returning outputs"
    )


def compare(
    reference_model: Any,
    tflite_model: Any,
    x: np.ndarray | Sequence[np.ndarray],
    y: Any = None,
    *,
    metric: Metric = "accuracy",
) -> Comparison:
    """Compare the original model with its conversion on the same data.

    Parameters
    ----------
    reference_model : Keras model or callable
        The float model (``predict(x)`` is used when it exists, else ``model(x)``).
    tflite_model : TFLiteModel or bytes or str or os.PathLike
        The converted model; it runs through the LiteRT interpreter.
    x : numpy.ndarray or sequence of numpy.ndarray
        Inputs, batch first.
    y : array_like, optional
        Targets; without them only the output differences are reported.
    metric : {"accuracy", "mae", "mse"} or callable, default "accuracy"
        See :func:`score`.

    Returns
    -------
    Comparison
        Both metrics, their difference, output differences and class agreement.

    Examples
    --------
    >>> import numpy as np
    >>> from edgeml.conversion import TFLiteModel
    >>> from edgeml.modelfile import example_model
    >>> tfl = TFLiteModel(example_model())   # y = x @ W.T, W = [[0,1],[2,3],[4,5]]
    >>> weights = np.arange(6, dtype=np.float32).reshape(3, 2)
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    >>> compare(lambda v: v @ weights.T, tfl, x, np.array([2, 2])).agreement
    1.0
    """
    converted_model = tflite_model if isinstance(tflite_model, TFLiteModel) else None
    if converted_model is None:
        converted_model = TFLiteModel.load(tflite_model)
    reference = _reference_outputs(reference_model, x)
    converted = converted_model.predict(x)
    if reference.shape != converted.shape:
        raise DataError(
            f"The original model's outputs have shape {reference.shape} but the converted "
            f"model's have shape {converted.shape}; they cannot be compared."
        )
    diff = np.abs(reference.astype(np.float64) - converted.astype(np.float64))
    is_scores = reference.ndim >= 2 and reference.shape[-1] > 1
    agreement = (
        float(np.mean(class_labels(reference) == class_labels(converted))) if is_scores else None
    )
    ref_metric = conv_metric = None
    if y is not None:
        ref_metric = score(metric, y, reference)
        conv_metric = score(metric, y, converted)
    name = metric if isinstance(metric, str) else getattr(metric, "__name__", "custom")
    return Comparison(
        metric=name,
        reference=ref_metric,
        converted=conv_metric,
        delta=None if ref_metric is None or conv_metric is None else conv_metric - ref_metric,
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        mean_abs_diff=float(diff.mean()) if diff.size else 0.0,
        agreement=agreement,
        n=len(reference),
    )
