"""``TFLiteModel``: a converted model's bytes with its report, evaluation and exports.

Examples
--------
>>> from edgeml.modelfile import example_model
>>> tfl = TFLiteModel(example_model()).with_metadata("labels", {"n": 3})
>>> tfl.metadata["labels"]
{'n': 3}
>>> tfl.predict([[1.0, 1.0]])
array([[1., 5., 9.]], dtype=float32)
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from edgeml._io import atomic_write
from edgeml.conversion._interpret import predict as _predict
from edgeml.conversion._metrics import Metric, score
from edgeml.conversion.c_array import write_c_array
from edgeml.conversion.report import ConversionReport, analyze
from edgeml.errors import invalid_argument
from edgeml.modelfile import EDGEML_ENTRY, read_metadata, read_model_file, with_metadata
from edgeml.modelfile._flatbuffer import check_identifier

__all__ = ["TFLiteModel"]


class TFLiteModel:
    """A ``.tflite`` model in memory: bytes, report, metadata, evaluation and export.

    :func:`edgeml.convert` returns one; :meth:`load` reads one from a file. It is
    immutable: :meth:`with_metadata` returns a new model.

    Parameters
    ----------
    model_bytes : bytes
        The content of a ``.tflite`` file.

    Raises
    ------
    ModelFormatError
        When the bytes are not a TFLite flatbuffer.
    """

    __slots__ = ("__dict__", "_bytes")

    def __init__(self, model_bytes: bytes | bytearray | memoryview) -> None:
        if not isinstance(model_bytes, (bytes, bytearray, memoryview)):
            raise invalid_argument(
                "TFLiteModel", "model_bytes", model_bytes, "the bytes of a .tflite model"
            )
        content = bytes(model_bytes)
        check_identifier(content)
        self._bytes = content

    @classmethod
    def load(cls, path: str | os.PathLike[str] | bytes) -> TFLiteModel:
        """Read a model from a ``.tflite`` file (or wrap bytes).

        Parameters
        ----------
        path : str or os.PathLike or bytes
            A file path, or the model's bytes.

        Returns
        -------
        TFLiteModel
            The model.
        """
        if isinstance(path, (bytes, bytearray, memoryview)):
            return cls(path)
        return cls(read_model_file(path, "TFLiteModel.load"))

    @property
    def bytes(self) -> bytes:
        """The model's content, ready to write to a ``.tflite`` file."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._bytes)

    @cached_property
    def _documents(self) -> dict[str, dict[str, Any]]:
        return read_metadata(self._bytes)

    @property
    def metadata(self) -> dict[str, dict[str, Any]]:
        """The named JSON documents stored in the model (see ``read_metadata``).

        Returns a copy; editing it does not change the model (use :meth:`with_metadata`).
        """
        return copy.deepcopy(self._documents)

    @cached_property
    def report(self) -> ConversionReport:
        """What the model contains and how it was converted."""
        entry = self._documents.get(EDGEML_ENTRY, {})
        conversion = dict(entry.get("conversion", {}))
        for key in ("edgeml_version", "tensorflow_version", "weights_sha256"):
            if key in entry:
                conversion[key] = entry[key]
        return analyze(self._bytes, conversion)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to ``path`` atomically (never a half-written file).

        Parameters
        ----------
        path : str or os.PathLike
            Destination, usually ending in ``.tflite``.

        Returns
        -------
        pathlib.Path
            The written file.
        """
        return atomic_write(path, self._bytes)

    def with_metadata(self, name: str, document: Mapping[str, Any]) -> TFLiteModel:
        """Return a copy with a named JSON document stored in the model's metadata.

        Re-using a name replaces that document; the converter's entries and the weights
        are kept, so the interpreter computes identical outputs.

        Parameters
        ----------
        name : str
            The document's name, e.g. ``"labels"``.
        document : Mapping
            A JSON object.

        Returns
        -------
        TFLiteModel
            The new model.
        """
        return TFLiteModel(with_metadata(self._bytes, name, document))

    def predict(self, x: Any) -> np.ndarray:
        """Run the model through the LiteRT interpreter on float inputs.

        Quantized inputs and outputs are converted with the model's scale and zero
        point, so callers always pass and receive float data.

        Parameters
        ----------
        x : array_like or sequence of array_like
            Inputs, batch first (one array per input for multi-input models).

        Returns
        -------
        numpy.ndarray
            The first output (float32 for a quantized output).
        """
        inputs = (
            [np.asarray(a) for a in x]
            if isinstance(x, (list, tuple)) and len(self.report.inputs) > 1
            else np.asarray(x)
        )
        return _predict(self._bytes, inputs)[0]

    def evaluate(self, x: Any, y: Any, *, metric: Metric = "accuracy") -> float:
        """Compute a metric of the model's predictions through the interpreter.

        Parameters
        ----------
        x : array_like or sequence of array_like
            Inputs, batch first.
        y : array_like
            Targets (class labels, one-hot rows, or values).
        metric : {"accuracy", "mae", "mse"} or callable, default "accuracy"
            See :func:`edgeml.conversion.evaluation.score`.

        Returns
        -------
        float
            The metric.
        """
        return score(metric, y, self.predict(x))

    def to_c_array(self, path: str | os.PathLike[str], *, name: str = "g_model") -> Path:
        """Write the model as a C/C++ source file for TensorFlow Lite Micro.

        The file defines ``alignas(16) const unsigned char {name}[]`` and
        ``const unsigned int {name}_len``.

        Parameters
        ----------
        path : str or os.PathLike
            Destination, e.g. ``"model_data.cc"``.
        name : str, default "g_model"
            The array's C identifier.

        Returns
        -------
        pathlib.Path
            The written file.
        """
        return write_c_array(self._bytes, path, name=name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TFLiteModel) and other._bytes == self._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __repr__(self) -> str:
        report = self.report
        return f"TFLiteModel(mode={report.mode!r}, io={report.io!r}, bytes={report.bytes})"

    def _repr_html_(self) -> str:
        return self.report._repr_html_()
