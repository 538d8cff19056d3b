"""A signature's plan: input checks, batching, invocation and output conversion."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.errors import DataError, InferenceError
from edgeml.runtime._ports import Port
from edgeml.runtime._specs import Signature

__all__ = ["Plan", "inference_error"]

_FLOAT32 = np.dtype(np.float32)
#: Default cap on one batched invocation (see ``batch_size``): the activations of all
#: samples together (measured on MobileNetV2: larger batches fall out of cache and run
#: slower per sample than one at a time; 8 MiB is near the best chunk for int8 and float).
_CHUNK_ACTIVATION_BYTES = 8 * 1024 * 1024
_MAX_CHUNK = 1024


class Plan:
    """One signature: its ports, batching strategy and currently allocated shapes."""

    def __init__(
        self,
        wrapper: Any,
        name: str,
        subgraph: int,
        inputs: list[Port],
        outputs: list[Port],
        current_shapes: list[tuple[int, ...]],
        activation_bytes: int,
    ) -> None:
        self.wrapper = wrapper
        self.name = name
        self.subgraph = subgraph
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.by_name: dict[str, Port] = {}
        for port in inputs:
            self.by_name[port.name] = port
            self.by_name.setdefault(port.spec.tensor_name, port)
        self.single = len(inputs) == 1
        self.signature = Signature(
            name, tuple(p.spec for p in inputs), tuple(p.spec for p in outputs), subgraph
        )
        self.current = tuple(current_shapes)
        self.resizable = bool(inputs) and all(
            p.rank >= 1 and p.signature_shape[0] < 0 for p in inputs
        )
        batch_sizes = {p.signature_shape[0] for p in inputs if p.rank >= 1}
        self.fixed_batch = (
            max(1, batch_sizes.pop()) if not self.resizable and len(batch_sizes) == 1 else 1
        )
        chunk = _CHUNK_ACTIVATION_BYTES // max(1, activation_bytes)
        self.default_chunk = max(1, min(_MAX_CHUNK, chunk))
        self.batched = all(p.rank >= 1 for p in inputs)
        # Single input and output: predict can skip the general machinery when the
        # array already has the allocated shape (the common one-sample loop).
        self.fast = len(inputs) == 1 and len(outputs) == 1 and self.batched
        self.current0 = self.current[0] if self.current else None
        self.zeros0 = np.zeros(math.prod(self.current0 or ()), dtype=np.float32)

    def fast_predict(
        self, x: NDArray[Any], raw: bool, nonfinite: str, lock: threading.Lock
    ) -> NDArray[Any] | None:
        """Run one allocated-shape array through a 1-in 1-out signature, or return None.

        ``None`` means "use the general path" (which also produces the errors).
        """
        port = self.inputs[0]
        quantizer = port.quantizer
        if raw or quantizer is None:
            if x.dtype != port.dtype:
                return None
            if port.float_tensor and nonfinite == "raise" and not self._finite(x):
                return None
        else:
            if x.dtype != _FLOAT32 or not self._finite(x):
                return None
            x = quantizer.quantize(x)
        wrapper, subgraph = self.wrapper, self.subgraph
        with lock:
            if x.shape != self.current0:
                return None
            try:
                wrapper.SetTensor(port.index, x, subgraph)
                wrapper.Invoke(subgraph)
            except (ValueError, RuntimeError) as exc:
                raise inference_error(exc) from exc
            y: NDArray[Any] = wrapper.GetTensor(self.outputs[0].index, subgraph)
        out_quantizer = self.outputs[0].quantizer
        if raw or out_quantizer is None:
            return y
        return out_quantizer.dequantize(y)

    def _finite(self, x: NDArray[Any]) -> bool:
        """Whether every element is finite, cheaply for the allocated float32 shape."""
        zeros = self.zeros0
        if x.dtype == _FLOAT32 and zeros.size == x.size:
            # x . 0 is exactly +-0 unless some element is NaN or infinite (inf * 0 = NaN).
            return bool(np.vdot(x, zeros) == 0)
        return math.isfinite(np.add.reduce(x, axis=None, dtype=np.float64))

    # -- input preparation (no interpreter access; runs outside the lock) -------------

    def prepare(self, x: Any, raw: bool, nonfinite: str) -> list[NDArray[Any]]:
        if self.single and not isinstance(x, Mapping):
            if isinstance(x, tuple) and len(x) == 1:
                x = x[0]
            return [self._prepare_one(self.inputs[0], x, raw, nonfinite)]
        if isinstance(x, Mapping):
            unknown = [k for k in x if k not in self.by_name]
            given = {self.by_name[k].name for k in x if k in self.by_name}
            missing = [p.name for p in self.inputs if p.name not in given]
            if unknown or missing or len(given) != len(x):
                raise DataError(
                    f"The inputs of signature {self.name!r} are {self._names()}; got "
                    f"{sorted(map(str, x))}"
                    + (f" (missing {missing})" if missing else "")
                    + (f" (unknown {unknown})" if unknown else "")
                    + ". Fix: pass one array per input name."
                )
            by_port = {self.by_name[k].name: v for k, v in x.items()}
            values = [by_port[p.name] for p in self.inputs]
        elif isinstance(x, (list, tuple)):
            if len(x) != len(self.inputs):
                raise DataError(
                    f"Signature {self.name!r} has {len(self.inputs)} inputs "
                    f"{self._names()}; got {len(x)} arrays. Fix: pass them in this order, "
                    "or as a dict by name."
                )
            values = list(x)
        else:
            raise DataError(
                f"Signature {self.name!r} has {len(self.inputs)} inputs {self._names()}; "
                f"got one {type(x).__name__}. Fix: pass a dict by name or a list in order."
            )
        arrays = [
            self._prepare_one(port, value, raw, nonfinite)
            for port, value in zip(self.inputs, values, strict=True)
        ]
        batch = {a.shape[0] for a in arrays if a.ndim}
        if len(batch) > 1:
            sizes = {p.name: a.shape[0] for p, a in zip(self.inputs, arrays, strict=True)}
            raise DataError(
                f"All inputs must have the same batch size (first dimension); got {sizes}."
            )
        return arrays

    def _names(self) -> list[str]:
        return [p.name for p in self.inputs]

    def _prepare_one(self, port: Port, value: Any, raw: bool, nonfinite: str) -> NDArray[Any]:
        if isinstance(value, np.ma.MaskedArray):
            value = _unmasked(port, value)
        if type(value) is not np.ndarray:
            try:
                value = np.asarray(value)
            except (ValueError, TypeError) as exc:
                raise DataError(
                    f"Input {port.name!r} could not be read as an array ({exc}); expected "
                    f"{port.describe()}."
                ) from exc
        if (
            value.ndim != port.rank
            or (port.tail is not None and value.shape[1:] != port.tail)
            or not self._dynamic_shape_ok(port, value.shape)
        ):
            fix = ""
            if value.ndim == port.rank - 1:
                fix = " Fix: add the batch dimension, e.g. x[np.newaxis] for one sample."
            raise DataError(
                f"Input {port.name!r} must have {port.describe()}, with any batch size "
                f"first; got shape {value.shape}.{fix}"
            )
        kind = value.dtype.kind
        if port.quantizer is not None and not raw:
            if value.dtype == port.dtype:
                raise DataError(
                    f"Input {port.name!r} is already {port.dtype.name}, the model's "
                    "quantized type. Fix: pass raw=True if these are quantized values, or "
                    "float values to have edgeml quantize them."
                )
            if kind not in "fiu":
                raise self._dtype_error(port, value, "real numbers")
            value = value.astype(np.float32, copy=False)
            self._check_finite(port, value, nonfinite, always=True)
            return port.quantizer.quantize(value)
        if value.dtype != port.dtype:
            if port.float_tensor:
                if kind not in "fiu":
                    raise self._dtype_error(port, value, "real numbers")
                value = value.astype(port.dtype)
            elif port.info is not None:
                if kind not in "iu":
                    what = "integers" + (" (raw=True expects quantized values)" if raw else "")
                    raise self._dtype_error(port, value, what)
                if value.size and (value.min() < port.info.min or value.max() > port.info.max):
                    raise DataError(
                        f"Input {port.name!r} has values outside the range of "
                        f"{port.dtype.name} [{port.info.min}, {port.info.max}]."
                    )
                value = value.astype(port.dtype)
            elif not np.can_cast(value.dtype, port.dtype, "same_kind"):
                raise self._dtype_error(port, value, port.dtype.name)
            else:
                value = value.astype(port.dtype)
        if port.float_tensor:
            self._check_finite(port, value, nonfinite, always=False)
        prepared: NDArray[Any] = value
        return prepared

    @staticmethod
    def _dynamic_shape_ok(port: Port, shape: tuple[int, ...]) -> bool:
        if port.tail is not None:
            return True
        return all(
            want < 0 or want == got
            for want, got in zip(port.signature_shape[1:], shape[1:], strict=True)
        )

    @staticmethod
    def _dtype_error(port: Port, value: NDArray[Any], what: str) -> DataError:
        return DataError(
            f"Input {port.name!r} must hold {what} for a {port.dtype.name} tensor; got "
            f"dtype {value.dtype}."
        )

    @staticmethod
    def _check_finite(port: Port, value: NDArray[Any], nonfinite: str, always: bool) -> None:
        if nonfinite == "allow" and not always:
            return
        # A float64 sum is finite exactly when every float32 element is.
        if value.size and not math.isfinite(np.add.reduce(value, axis=None, dtype=np.float64)):
            bad = int(value.size - np.count_nonzero(np.isfinite(value)))
            if always:
                raise DataError(
                    f"Input {port.name!r} has {bad} NaN or infinite values, which cannot "
                    f"be quantized to {port.dtype.name}. Fix: clean or impute them first."
                )
            raise DataError(
                f"Input {port.name!r} has {bad} NaN or infinite values. Fix: clean or "
                "impute them, or load the model with nonfinite='allow'."
            )

    # -- invocation (holds the model's lock) ------------------------------------------

    def run(self, arrays: list[NDArray[Any]], batch_size: int | None) -> list[NDArray[Any]]:
        if not self.batched:
            return self._invoke(arrays)
        n = arrays[0].shape[0] if arrays else 1
        if n == 0:
            return [np.empty((0, *self._output_tail(p)), dtype=p.dtype) for p in self.outputs]
        chunk = (batch_size or self.default_chunk) if self.resizable else self.fixed_batch
        if n <= chunk and (self.resizable or n == chunk):
            return self._invoke(arrays)
        parts: list[list[NDArray[Any]]] = []
        for start in range(0, n, chunk):
            piece = [a[start : start + chunk] for a in arrays]
            taken = piece[0].shape[0]
            if not self.resizable and taken < chunk:
                piece = [
                    np.concatenate([p, np.zeros((chunk - taken, *p.shape[1:]), p.dtype)])
                    for p in piece
                ]
                parts.append([out[:taken] for out in self._invoke(piece)])
            else:
                parts.append(self._invoke(piece))
        return [np.concatenate(column) for column in zip(*parts, strict=True)]

    def _output_tail(self, port: Port) -> tuple[int, ...]:
        shape = self.wrapper.GetTensor(port.index, self.subgraph).shape
        return tuple(shape[1:])

    def _invoke(self, arrays: list[NDArray[Any]]) -> list[NDArray[Any]]:
        wrapper, subgraph = self.wrapper, self.subgraph
        shapes = tuple(a.shape for a in arrays)
        if shapes != self.current:
            self._resize(shapes)
        try:
            for port, array in zip(self.inputs, arrays, strict=True):
                wrapper.SetTensor(port.index, array, subgraph)
            wrapper.Invoke(subgraph)
        except (ValueError, RuntimeError) as exc:
            raise inference_error(exc) from exc
        return [wrapper.GetTensor(port.index, subgraph) for port in self.outputs]

    def _resize(self, shapes: tuple[tuple[int, ...], ...]) -> None:
        try:
            for port, shape in zip(self.inputs, shapes, strict=True):
                self.wrapper.ResizeInputTensor(
                    port.index, np.array(shape, dtype=np.int32), True, self.subgraph
                )
            self.wrapper.AllocateTensors(self.subgraph)
        except (ValueError, RuntimeError) as exc:
            self.current, self.current0 = (), None
            reason = str(exc).strip().rstrip(".")
            if all(p.tail is not None for p in self.inputs):
                # Only the batch size changed, and the model declares it dynamic: the
                # inputs are what the model asks for, so the model is at fault.
                raise InferenceError(
                    f"The model declares a dynamic batch size but the interpreter cannot "
                    f"resize it to inputs of shapes {list(shapes)}: {reason}. The inputs "
                    "match the model's signature; a corrupted shape constant in the model "
                    "is the usual cause. Fix: re-convert or re-download the model, or "
                    "predict with batch_size=1."
                ) from exc
            raise DataError(
                f"The model cannot run on inputs of shapes {list(shapes)} ({reason}). "
                f"Expected: {[p.describe() for p in self.inputs]}; the model's dynamic "
                "dimensions may not accept these sizes. Fix: pass sizes the model was "
                "built for."
            ) from exc
        self.current = shapes
        self.current0 = shapes[0]
        self.zeros0 = np.zeros(math.prod(shapes[0]), dtype=np.float32)

    # -- outputs (outside the lock) ---------------------------------------------------

    def finish(self, results: list[NDArray[Any]], raw: bool, output: str) -> Any:
        if not raw:
            results = [
                p.quantizer.dequantize(r) if p.quantizer is not None else r
                for p, r in zip(self.outputs, results, strict=True)
            ]
        if output == "tuple":
            return tuple(results)
        if output == "dict" or len(results) != 1:
            return {p.name: r for p, r in zip(self.outputs, results, strict=True)}
        return results[0]


def inference_error(exc: Exception) -> InferenceError:
    reason = str(exc).strip().rstrip(".")
    return InferenceError(
        f"The interpreter failed while running the model: {reason}. The model "
        "loaded but cannot compute on these inputs; a corrupted constant (shape or "
        "weights) is the usual cause. Fix: re-convert or re-download the model."
    )


def _unmasked(port: Port, value: np.ma.MaskedArray[Any, Any]) -> NDArray[Any]:
    """Return the data of a masked array with nothing masked; refuse masked values.

    ``numpy.asarray`` would silently drop the mask and feed the hidden values.
    """
    hidden = int(np.count_nonzero(np.ma.getmaskarray(value)))
    if hidden:
        raise DataError(
            f"Input {port.name!r} is a masked array with {hidden} masked values; the model "
            "cannot honour a mask and would see the hidden values. Fix: fill or drop them "
            "first, e.g. x.filled(0) or x[~x.mask.any(axis=1)]."
        )
    data: NDArray[Any] = np.ma.getdata(value)
    return data
