"""Run a ``.tflite`` model on float data through the LiteRT interpreter.

Quantized inputs are quantized with the model's own scale and zero point, quantized
outputs are dequantized, and any batch size is accepted (the model's batch dimension is
resized when it is dynamic, otherwise samples are fed in chunks of the fixed size).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeml._optional import require
from edgeml.conversion._quiet import quiet_tensorflow
from edgeml.errors import DataError, ModelFormatError

__all__ = ["predict"]

_CHUNK = 512


def _interpreter(model_bytes: bytes) -> Any:
    module = require(
        "ai_edge_litert.interpreter", extra="litert", feature="Running a .tflite model"
    )
    try:
        interpreter = module.Interpreter(model_content=model_bytes, num_threads=1)
    except ValueError as exc:
        raise ModelFormatError(f"LiteRT cannot load this model: {exc}") from exc
    return interpreter


def _to_model_input(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if np.issubdtype(dtype, np.integer) and scale and np.issubdtype(x.dtype, np.floating):
        # The interpreter's QUANTIZE arithmetic, as edgeml.runtime does it: multiply by the
        # float32 reciprocal of the scale, round half to even, add the zero point. Dividing
        # in float64 and rounding ties away from zero differs on exact ties (pixel / 255).
        info = np.iinfo(dtype)
        inverse = np.float32(1.0) / np.float32(scale)
        ratio = np.multiply(x.astype(np.float32), inverse, dtype=np.float32)
        ratio = np.clip(ratio, info.min - zero_point, info.max - zero_point)
        return np.asarray((np.rint(ratio).astype(np.int64) + zero_point).astype(dtype))
    return x.astype(dtype, copy=False)


def _from_model_output(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if np.issubdtype(y.dtype, np.integer) and scale:
        return ((y.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)).astype(
            np.float32
        )
    return np.asarray(y)


def _as_input_list(x: Any, count: int) -> list[np.ndarray]:
    arrays = list(x) if isinstance(x, (list, tuple)) else [x]
    if len(arrays) != count:
        raise DataError(
            f"The model has {count} input(s) but {len(arrays)} array(s) were given. "
            "Fix: pass one array per model input, in the model's input order."
        )
    out = [np.asarray(a) for a in arrays]
    if len({len(a) for a in out}) != 1:
        raise DataError(
            f"The input arrays have different numbers of samples: {[len(a) for a in out]}."
        )
    return out


def predict(model_bytes: bytes, x: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run the model on ``x`` (one array per input, batch first); return float outputs.

    Parameters
    ----------
    model_bytes : bytes
        The ``.tflite`` model.
    x : numpy.ndarray or sequence of numpy.ndarray
        Inputs with the batch dimension first.

    Returns
    -------
    list of numpy.ndarray
        One array per model output, dequantized to float32 when the output is quantized.
    """
    with quiet_tensorflow():
        return _predict(model_bytes, x)


def _predict(model_bytes: bytes, x: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    interpreter = _interpreter(model_bytes)
    details = interpreter.get_input_details()
    inputs = _as_input_list(x, len(details))
    n = len(inputs[0])
    for array, detail in zip(inputs, details, strict=True):
        expected = tuple(int(d) for d in detail["shape_signature"])[1:]
        sample = tuple(array.shape[1:])
        if len(sample) != len(expected) or any(
            e not in (-1, a) for a, e in zip(sample, expected, strict=True)
        ):
            raise DataError(
                f"Input {detail['name']!r} expects samples of shape {list(expected)} "
                f"(-1 = any) but got an array of shape {list(array.shape)}."
            )
    dynamic_batch = all(int(d["shape_signature"][0]) == -1 for d in details)
    chunk = _CHUNK if dynamic_batch else int(details[0]["shape"][0])
    outputs: list[list[np.ndarray]] | None = None
    for start in range(0, n, chunk):
        parts = [a[start : start + chunk] for a in inputs]
        size = len(parts[0])
        if not dynamic_batch and size != chunk:
            raise DataError(
                f"The model has a fixed batch size of {chunk}; {n} samples are not a "
                f"multiple of it. Fix: pass a multiple of {chunk} samples."
            )
        if dynamic_batch:
            for part, detail in zip(parts, details, strict=True):
                interpreter.resize_tensor_input(detail["index"], [size, *part.shape[1:]])
        interpreter.allocate_tensors()
        for part, detail in zip(parts, details, strict=True):
            interpreter.set_tensor(detail["index"], _to_model_input(part, detail))
        interpreter.invoke()
        results = [
            _from_model_output(interpreter.get_tensor(d["index"]), d)
            for d in interpreter.get_output_details()
        ]
        if outputs is None:
            outputs = [[] for _ in results]
        for collected, result in zip(outputs, results, strict=True):
            collected.append(result)
    if outputs is None:
        raise DataError("No samples were given (the input has 0 rows).")
    return [np.concatenate(parts, axis=0) for parts in outputs]
