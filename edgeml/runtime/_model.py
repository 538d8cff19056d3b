"""``load`` and ``EdgeModel``: a safe, fast wrapper around one LiteRT interpreter."""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from edgeml._optional import is_available, require
from edgeml.errors import (
    ConfigError,
    DataError,
    InferenceError,
    ModelFormatError,
    UnsupportedModelError,
    invalid_argument,
)
from edgeml.runtime._quantize import AffineQuantizer
from edgeml.runtime._specs import Quantization, Signature, TensorSpec
from edgeml.runtime._training import TrainingMixin  # on-device training (issue 14)

if TYPE_CHECKING:  # pragma: no cover
    from edgeml.conversion.metadata import Integrity
    from edgeml.runtime._benchmark import BenchmarkResult

__all__ = ["EdgeModel", "load"]

logger = logging.getLogger("edgeml.runtime")

Backend = Literal["auto", "litert", "tflite"]
NonFinitePolicy = Literal["raise", "allow"]
OutputForm = Literal["auto", "dict", "tuple"]

_FLOAT32 = np.dtype(np.float32)
_QUANTIZABLE = frozenset({np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16)})
#: Default cap on one batched invocation (see ``batch_size``): the activations of all
#: samples together (measured on MobileNetV2: larger batches fall out of cache and run
#: slower per sample than one at a time; 8 MiB is near the best chunk for int8 and float).
_CHUNK_ACTIVATION_BYTES = 8 * 1024 * 1024
_MAX_CHUNK = 1024
#: Bytes per element of each TFLite TensorType name (4 for anything unlisted).
_TYPE_BYTES = {
    "FLOAT16": 2,
    "INT16": 2,
    "UINT16": 2,
    "UINT8": 1,
    "INT8": 1,
    "BOOL": 1,
    "INT4": 1,
    "FLOAT64": 8,
    "INT64": 8,
    "UINT64": 8,
    "COMPLEX64": 8,
    "COMPLEX128": 16,
}
_WRAPPER_METHODS = (
    "SetTensor",
    "GetTensor",
    "Invoke",
    "ResizeInputTensor",
    "AllocateTensors",
    "GetSubgraphIndexFromSignature",
)


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class _Port:
    """Everything predict needs about one input or output, computed once at load."""

    __slots__ = (
        "dtype",
        "float_tensor",
        "index",
        "info",
        "name",
        "quantizer",
        "rank",
        "signature_shape",
        "spec",
        "tail",
    )

    def __init__(self, name: str, details: Mapping[str, Any]) -> None:
        self.name = name
        self.index = int(details["index"])
        self.dtype = np.dtype(details["dtype"])
        shape = tuple(int(d) for d in details["shape"])
        signature = details.get("shape_signature")
        signature_shape = (
            tuple(int(d) for d in signature) if signature is not None and len(signature) else shape
        )
        self.signature_shape = signature_shape
        self.rank = len(signature_shape)
        # Non-batch dimensions that must match exactly (None when some are dynamic).
        tail = signature_shape[1:]
        self.tail = None if any(d < 0 for d in tail) else tail
        self.float_tensor = self.dtype.kind == "f"
        self.info = np.iinfo(self.dtype) if self.dtype.kind in "iu" else None
        params = details.get("quantization_parameters") or {}
        scales = np.asarray(params.get("scales", []), dtype=np.float32)
        zero_points = np.asarray(params.get("zero_points", []), dtype=np.int64)
        axis = int(params.get("quantized_dimension", 0))
        quantization = None
        self.quantizer: AffineQuantizer | None = None
        if self.dtype in _QUANTIZABLE and scales.size and np.all(scales > 0):
            if zero_points.size != scales.size:
                zero_points = np.zeros_like(scales, dtype=np.int64)
            quantization = Quantization(
                tuple(float(s) for s in scales), tuple(int(z) for z in zero_points), axis
            )
            if scales.size == 1:
                self.quantizer = AffineQuantizer(scales[0], zero_points[0], self.dtype)
            else:
                if not 0 <= axis < self.rank or signature_shape[axis] not in (-1, scales.size):
                    raise ModelFormatError(
                        f"Tensor {name!r} of shape {signature_shape} has {scales.size} "
                        f"quantization scales along axis {axis}, which do not fit."
                    )
                broadcast = [1] * self.rank
                broadcast[axis] = scales.size
                self.quantizer = AffineQuantizer(
                    scales.reshape(broadcast), zero_points.reshape(broadcast), self.dtype
                )
        self.spec = TensorSpec(
            name=name,
            shape=tuple(None if d < 0 else d for d in signature_shape),
            dtype=self.dtype.name,
            quantization=quantization,
            tensor_name=str(details.get("name", "")),
            index=self.index,
        )

    def describe(self) -> str:
        shape = ", ".join("?" if d is None else str(d) for d in self.spec.shape)
        return f"shape ({shape}) of {self.dtype.name}"


class _Plan:
    """One signature: its ports, batching strategy and currently allocated shapes."""

    def __init__(
        self,
        wrapper: Any,
        name: str,
        subgraph: int,
        inputs: list[_Port],
        outputs: list[_Port],
        current_shapes: list[tuple[int, ...]],
        activation_bytes: int,
    ) -> None:
        self.wrapper = wrapper
        self.name = name
        self.subgraph = subgraph
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.by_name: dict[str, _Port] = {}
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
                raise _inference_error(exc) from exc
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

    def _prepare_one(self, port: _Port, value: Any, raw: bool, nonfinite: str) -> NDArray[Any]:
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
    def _dynamic_shape_ok(port: _Port, shape: tuple[int, ...]) -> bool:
        if port.tail is not None:
            return True
        return all(
            want < 0 or want == got
            for want, got in zip(port.signature_shape[1:], shape[1:], strict=True)
        )

    @staticmethod
    def _dtype_error(port: _Port, value: NDArray[Any], what: str) -> DataError:
        return DataError(
            f"Input {port.name!r} must hold {what} for a {port.dtype.name} tensor; got "
            f"dtype {value.dtype}."
        )

    @staticmethod
    def _check_finite(port: _Port, value: NDArray[Any], nonfinite: str, always: bool) -> None:
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

    def _output_tail(self, port: _Port) -> tuple[int, ...]:
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
            raise _inference_error(exc) from exc
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
            raise DataError(
                f"The model cannot run on inputs of shapes {list(shapes)} ({exc}). "
                f"Expected: {[p.describe() for p in self.inputs]}."
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


def _inference_error(exc: Exception) -> InferenceError:
    reason = str(exc).strip().rstrip(".")
    return InferenceError(
        f"The interpreter failed while running the model: {reason}. The model "
        "loaded but cannot compute on these inputs; a corrupted constant (shape or "
        "weights) is the usual cause. Fix: re-convert or re-download the model."
    )


def _make_interpreter(content: bytes, num_threads: int | None, backend: str) -> tuple[Any, str]:
    if backend == "auto":
        backend = "litert" if is_available("ai_edge_litert") else "tflite"
        if backend == "tflite" and not is_available("tensorflow"):
            backend = "litert"  # so the error names the extra a device needs
    if backend == "litert":
        module = require(
            "ai_edge_litert.interpreter", extra="litert", feature="Running .tflite models"
        )
        factory = module.Interpreter
    else:
        tf = require("tensorflow", extra="tf", feature="The tf.lite fallback interpreter")
        factory = tf.lite.Interpreter
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            # Always from bytes: tf.lite.Interpreter(model_path=...) segfaults on
            # truncated or corrupted files, model_content raises instead.
            interpreter = factory(model_content=content, num_threads=num_threads)
    except (ValueError, RuntimeError) as exc:
        raise ModelFormatError(
            f"The interpreter rejected the model ({len(content)} bytes): "
            f"{str(exc).strip().rstrip('.')}. Fix: check that the file is a complete .tflite model."
        ) from exc
    wrapper: Any = getattr(interpreter, "_interpreter", None)
    missing = [m for m in _WRAPPER_METHODS if not hasattr(wrapper, m)]
    if missing:  # pragma: no cover - guards against an incompatible interpreter release
        raise UnsupportedModelError(
            f"The {backend} interpreter lacks {missing}; edgeml supports ai-edge-litert "
            '2.3 and tf.lite from TensorFlow 2.21. Fix: pip install "edgeml[litert]".'
        )
    try:
        wrapper.AllocateTensors()
    except (ValueError, RuntimeError) as exc:
        text = str(exc).strip().rstrip(".")
        error = UnsupportedModelError if re.search(r"(?i)custom op|flex|select", text) else None
        if error is not None:
            raise error(
                f"The {backend} interpreter cannot run this model: {text}. Fix: convert "
                "without Flex/custom ops, or use an interpreter built with them."
            ) from exc
        raise ModelFormatError(f"The model failed to allocate its tensors: {text}.") from exc
    return interpreter, backend


def _build_plans(interpreter: Any, content: bytes) -> dict[str, _Plan]:
    from edgeml.conversion.metadata import _flatbuffer_utils

    wrapper = interpreter._interpreter
    schema = _flatbuffer_utils().schema_fb
    root = schema.Model.GetRootAs(content, 0)
    type_bytes = {
        code: _TYPE_BYTES.get(name, 4)
        for name, code in vars(schema.TensorType).items()
        if name.isupper()
    }
    signatures = interpreter.get_signature_list()
    plans: dict[str, _Plan] = {}
    if not signatures:
        inputs = [_Port(str(d["name"]), d) for d in interpreter.get_input_details()]
        outputs = [_Port(str(d["name"]), d) for d in interpreter.get_output_details()]
        shapes = [tuple(int(v) for v in d["shape"]) for d in interpreter.get_input_details()]
        plans[""] = _Plan(
            wrapper, "", 0, inputs, outputs, shapes, _activation_bytes(root, 0, type_bytes)
        )
        return plans
    for key in signatures:
        runner = interpreter.get_signature_runner(key)
        subgraph = int(wrapper.GetSubgraphIndexFromSignature(key))
        in_details = runner.get_input_details()
        out_details = runner.get_output_details()
        order = [int(i) for i in root.Subgraphs(subgraph).InputsAsNumpy()]
        position = {index: i for i, index in enumerate(order)}
        in_names = sorted(in_details, key=lambda n: position.get(int(in_details[n]["index"]), 0))
        out_names = sorted(out_details, key=_natural_key)
        inputs = [_Port(n, in_details[n]) for n in in_names]
        outputs = [_Port(n, out_details[n]) for n in out_names]
        shapes = [tuple(int(v) for v in in_details[n]["shape"]) for n in in_names]
        if subgraph != 0:
            # Other subgraphs are allocated lazily by the interpreter; do it now so the
            # first predict does not pay for it and shapes are known.
            wrapper.AllocateTensors(subgraph)
        activations = _activation_bytes(root, subgraph, type_bytes)
        plans[key] = _Plan(wrapper, key, subgraph, inputs, outputs, shapes, activations)
    return plans


def _activation_bytes(root: Any, subgraph_index: int, type_bytes: dict[int, int]) -> int:
    """Bytes of one sample's non-constant tensors in a subgraph (dynamic sizes as 1)."""
    subgraph = root.Subgraphs(subgraph_index)
    total = 0
    for t in range(subgraph.TensorsLength()):
        tensor = subgraph.Tensors(t)
        if root.Buffers(tensor.Buffer()).DataLength():
            continue  # a constant
        shape = tensor.ShapeAsNumpy() if tensor.ShapeLength() else ()
        total += type_bytes.get(int(tensor.Type()), 4) * math.prod(max(1, int(d)) for d in shape)
    return total


def _check_num_threads(owner: str, num_threads: object) -> None:
    if num_threads is not None and (
        isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1
    ):
        raise invalid_argument(owner, "num_threads", num_threads, "None or an integer >= 1")


def _read_source(model: object) -> tuple[bytes, str | None]:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), None
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.is_file():
            raise ConfigError(
                f"The 'model' argument of load must be an existing .tflite file. Got "
                f"{str(path)!r}, which {'is a directory' if path.is_dir() else 'does not exist'}."
            )
        return path.read_bytes(), str(path)
    raise invalid_argument("load", "model", model, "a path to a .tflite file or the model's bytes")


def load(
    model: bytes | str | os.PathLike[str],
    *,
    num_threads: int | None = None,
    backend: Backend = "auto",
    nonfinite: NonFinitePolicy = "raise",
    key: Any = None,
    verify_with: Any = None,
    signature: bytes | str | os.PathLike[str] | None = None,
    associated_data: bytes | str | None = None,
) -> EdgeModel:
    """Load a ``.tflite`` model for inference, checking it before it runs.

    The model is read into memory and handed to the interpreter as bytes, so a
    truncated or corrupted file raises :class:`~edgeml.errors.ModelFormatError` instead
    of crashing the process. When the model carries edgeml's metadata with a weights
    SHA-256 (every model from :func:`edgeml.convert` does), the weights are hashed and
    compared: a mismatch raises :class:`~edgeml.errors.IntegrityError`.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        A path to a ``.tflite`` file, or the model's bytes.
    num_threads : int, optional
        Threads the interpreter may use; ``None`` lets it choose. On small devices one
        thread is often fastest.
    backend : {"auto", "litert", "tflite"}, default "auto"
        ``"litert"`` uses ``ai_edge_litert`` (the ``litert`` extra, no TensorFlow);
        ``"tflite"`` uses ``tf.lite.Interpreter`` from TensorFlow; ``"auto"`` picks
        LiteRT and falls back to ``tf.lite`` only when LiteRT is not installed.
    nonfinite : {"raise", "allow"}, default "raise"
        What ``predict`` does with NaN or infinite values in a float input: raise a
        :class:`~edgeml.errors.DataError` naming the input, or pass them to the model.
        Inputs that must be quantized always reject them (they have no integer value).
    key : edgeml.security.SecretKey or bytes, optional
        Opens a model sealed with :func:`edgeml.security.seal`. Given a key, an unsealed
        file is refused (so a plain file cannot be swapped in for a sealed one).
    verify_with : Ed25519PublicKey or bytes, optional
        The publisher's public key: the model is refused unless its detached Ed25519
        signature (``signature``, by default ``<path>.sig``) verifies.
    signature : bytes or str or os.PathLike, optional
        The detached signature or its path, with ``verify_with``.
    associated_data : bytes or str, optional
        What the model was sealed with as associated data (e.g. its card's ``hash``).

    Returns
    -------
    EdgeModel
        The loaded model.

    Raises
    ------
    ModelFormatError
        When the bytes are not a valid model.
    IntegrityError
        When the weights do not match the hash stored at conversion, a signature does
        not verify, or a sealed model does not open with ``key``.
    ConfigError
        When the model is sealed and no ``key`` was given (the message names the key's
        fingerprint).
    UnsupportedModelError
        When the model needs ops this interpreter lacks (Flex or custom ops).
    MissingDependencyError
        When neither ``ai-edge-litert`` nor TensorFlow is installed.

    Examples
    --------
    >>> import numpy as np
    >>> import edgeml.runtime
    >>> from edgeml.conversion.metadata import _tiny_model_for_examples
    >>> model = edgeml.runtime.load(_tiny_model_for_examples(), num_threads=1)
    >>> model.inputs
    (TensorSpec('x', shape=(1, 2), dtype=float32),)
    >>> model.predict(np.array([[1.0, 2.0], [0.0, 1.0]]))
    array([[ 2.,  8., 14.],
           [ 1.,  3.,  5.]], dtype=float32)
    """
    _check_num_threads("load", num_threads)
    if backend not in ("auto", "litert", "tflite"):
        raise invalid_argument("load", "backend", backend, "'auto', 'litert' or 'tflite'")
    if nonfinite not in ("raise", "allow"):
        raise invalid_argument("load", "nonfinite", nonfinite, "'raise' or 'allow'")
    content, path = _read_source(model)
    from edgeml.security import is_sealed, open_model_bytes

    if key is not None or verify_with is not None or signature is not None or is_sealed(content):
        content = open_model_bytes(
            model if path is not None else content,
            key=key,
            verify_with=verify_with,
            signature=signature,
            associated_data=associated_data,
        )
    return EdgeModel._from_bytes(content, path, num_threads, backend, nonfinite, None)


class EdgeModel(TrainingMixin):
    """A loaded ``.tflite`` model: validated inputs, float I/O, any batch size.

    Create it with :func:`load`. ``predict`` takes real-valued inputs even when the
    model is quantized (int8, uint8 or int16 I/O): they are quantized with each input's
    scale and zero point exactly as TFLite's QUANTIZE kernel does (round half away from
    zero, saturate), and outputs are dequantized. ``raw=True`` skips both.

    Thread safety: one interpreter must not run two calls at once. ``predict`` holds a
    lock, so calling it from several threads is safe (calls are serialized). For calls
    that run in parallel, give each thread its own interpreter with :meth:`clone`
    (the interpreter releases the GIL while it computes).

    Attributes
    ----------
    path : str or None
        The file the model came from, if any.
    size : int
        The model's size in bytes.
    backend : str
        ``"litert"`` or ``"tflite"``.
    num_threads : int or None
        As passed to :func:`load`.
    """

    path: str | None
    size: int
    backend: str
    num_threads: int | None
    _content: bytes
    _nonfinite: str
    _interpreter: Any
    _plans: dict[str, _Plan]
    _default: _Plan
    _metadata: dict[str, dict[str, Any]]
    _integrity: Integrity
    _lock: threading.Lock

    def __init__(self) -> None:  # pragma: no cover - use edgeml.runtime.load
        raise TypeError("Create an EdgeModel with edgeml.runtime.load(path_or_bytes).")

    @classmethod
    def _from_bytes(
        cls,
        content: bytes,
        path: str | None,
        num_threads: int | None,
        backend: str,
        nonfinite: str,
        known: tuple[dict[str, dict[str, Any]], Integrity] | None,
    ) -> EdgeModel:
        from edgeml.conversion.metadata import _check_identifier, read_metadata, verify_integrity

        _check_identifier(content)
        interpreter, resolved = _make_interpreter(content, num_threads, backend)
        if known is None:
            integrity = verify_integrity(content)
            metadata = read_metadata(content)
        else:
            metadata, integrity = known
        self = object.__new__(cls)
        self._content = content
        self.path = path
        self.size = len(content)
        self.backend = resolved
        self.num_threads = num_threads
        self._nonfinite = nonfinite
        self._interpreter = interpreter
        self._plans = _build_plans(interpreter, content)
        self._default = self._plans.get("infer") or next(  # trainable models: "infer"
            (p for p in self._plans.values() if p.subgraph == 0),
            next(iter(self._plans.values())),
        )
        self._metadata = metadata
        self._integrity = integrity
        self._lock = threading.Lock()
        logger.debug("loaded %s (%d bytes) with %s", path or "model bytes", self.size, resolved)
        return self

    # -- description ------------------------------------------------------------------

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        """The default signature's inputs, in positional order."""
        return self._default.signature.inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        """The default signature's outputs, in tuple order."""
        return self._default.signature.outputs

    @property
    def signatures(self) -> dict[str, Signature]:
        """Every signature by name (``{"": ...}`` for a model without signatures)."""
        return {name: plan.signature for name, plan in self._plans.items()}

    @property
    def metadata(self) -> dict[str, dict[str, Any]]:
        """The JSON documents embedded in the model (see :mod:`edgeml.conversion.metadata`).

        Returns a copy; editing it does not change the model.
        """
        import copy

        return copy.deepcopy(self._metadata)

    @property
    def card(self) -> dict[str, Any] | None:
        """The embedded model card document (a copy), or ``None`` when the model has none."""
        import copy

        from edgeml.conversion.metadata import CARD_ENTRY

        return copy.deepcopy(self._metadata.get(CARD_ENTRY))

    @property
    def integrity(self) -> Integrity:
        """The result of the weights check made at load (``verified`` or ``unverified``)."""
        return self._integrity

    @property
    def content(self) -> bytes:
        """The model's bytes."""
        return self._content

    def __repr__(self) -> str:
        where = repr(Path(self.path).name) if self.path else "bytes"

        def ports(specs: tuple[TensorSpec, ...]) -> str:
            return ", ".join(
                f"{s.name} {tuple('?' if d is None else d for d in s.shape)} {s.dtype}"
                for s in specs
            ).replace("'?'", "?")

        return (
            f"EdgeModel({where}, {self.size:,} bytes, inputs=[{ports(self.inputs)}], "
            f"outputs=[{ports(self.outputs)}], backend={self.backend!r}, "
            f"integrity={self._integrity.status!r})"
        )

    def _repr_html_(self) -> str:
        return self._default.signature._repr_html_()

    def to_markdown(self) -> str:
        """Return the default signature's inputs and outputs as a Markdown table."""
        return self._default.signature.to_markdown()

    # -- inference --------------------------------------------------------------------

    def predict(
        self,
        x: Any,
        *,
        signature: str | None = None,
        raw: bool = False,
        output: OutputForm = "auto",
        batch_size: int | None = None,
    ) -> Any:
        """Run the model on a batch of inputs.

        Parameters
        ----------
        x : array_like, sequence of array_like, or dict
            One array for a single-input model; for several inputs, a dict by input
            name or a list in the order of :attr:`inputs`. The first dimension is the
            batch and may have any size: the model is resized when its batch dimension
            is dynamic, otherwise it runs once per batch it accepts (results are the
            same as running each sample alone).
        signature : str, optional
            Which signature to run (see :attr:`signatures`); default: the main one.
        raw : bool, default False
            Pass inputs and return outputs in the tensors' own types, skipping
            quantization and dequantization.
        output : {"auto", "dict", "tuple"}, default "auto"
            "auto" returns an array for one output and a dict by name for several.
        batch_size : int, optional
            The largest batch run in one invocation of a resizable model; default:
            as many samples as keep the model's activations (the sum of its
            non-constant tensors) within 8 MiB, at most 1024.

        Returns
        -------
        numpy.ndarray or dict or tuple
            The outputs, float32 for quantized outputs unless ``raw=True``.

        Raises
        ------
        DataError
            When an input is missing or unknown, or has the wrong rank, shape or dtype,
            or holds NaN or infinite values (see ``nonfinite`` in :func:`load`). The
            message names the input, what was given and what is expected.
        ConfigError
            For an unknown signature or a bad ``output`` or ``batch_size``.

        Examples
        --------
        >>> import numpy as np
        >>> from edgeml.conversion.metadata import _tiny_model_for_examples
        >>> model = load(_tiny_model_for_examples())
        >>> model.predict(np.ones((3, 2))).shape
        (3, 3)
        >>> model.predict(np.ones((1, 3)))
        Traceback (most recent call last):
        ...
        edgeml.errors.DataError: Input 'x' must have shape (1, 2) of float32, with any batch size first; got shape (1, 3).
        """  # noqa: E501
        plan = self._default if signature is None else self._plan(signature)
        if (
            plan.fast
            and type(x) is np.ndarray
            and x.shape == plan.current0
            and output == "auto"
            and batch_size is None
        ):
            result = plan.fast_predict(x, raw, self._nonfinite, self._lock)
            if result is not None:
                return result
        if output not in ("auto", "dict", "tuple"):
            raise invalid_argument("predict", "output", output, "'auto', 'dict' or 'tuple'")
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise invalid_argument("predict", "batch_size", batch_size, "None or an int >= 1")
        arrays = plan.prepare(x, raw, self._nonfinite)
        with self._lock:
            results = plan.run(arrays, batch_size)
        return plan.finish(results, raw, output)

    def _plan(self, signature: str) -> _Plan:
        plan = self._plans.get(signature)
        if plan is None:
            raise invalid_argument(
                "predict",
                "signature",
                signature,
                f"one of {sorted(self._plans)}",
                fix="see EdgeModel.signatures",
            )
        return plan

    def clone(self, *, num_threads: int | None = None) -> EdgeModel:
        """Return an independent copy with its own interpreter (one per thread).

        Parameters
        ----------
        num_threads : int, optional
            Threads for the new interpreter; default: the same as this model.

        Returns
        -------
        EdgeModel
            A model over the same bytes; the integrity check is not repeated.

        Examples
        --------
        >>> from edgeml.conversion.metadata import _tiny_model_for_examples
        >>> model = load(_tiny_model_for_examples())
        >>> model.clone().predict([[1.0, 1.0]]).tolist()
        [[1.0, 5.0, 9.0]]
        """
        _check_num_threads("clone", num_threads)
        threads = self.num_threads if num_threads is None else num_threads
        return EdgeModel._from_bytes(
            self._content,
            self.path,
            threads,
            self.backend,
            self._nonfinite,
            (self._metadata, self._integrity),
        )

    def benchmark(
        self,
        *,
        batch_size: int = 1,
        runs: int = 200,
        warmup: int = 20,
        num_threads: int | None = None,
        seed: int = 0,
    ) -> BenchmarkResult:
        """Measure latency, throughput and peak memory of :meth:`predict`.

        Parameters
        ----------
        batch_size : int, default 1
            Samples per call.
        runs : int, default 200
            Timed calls.
        warmup : int, default 20
            Untimed calls first.
        num_threads : int, optional
            Run on a clone with this many threads; default: this model as loaded.
        seed : int, default 0
            Seed of the random inputs.

        Returns
        -------
        BenchmarkResult
            Latency percentiles and mean in milliseconds, samples per second, peak RSS.

        Examples
        --------
        >>> from edgeml.conversion.metadata import _tiny_model_for_examples
        >>> result = load(_tiny_model_for_examples()).benchmark(runs=20, warmup=2)
        >>> result.runs, result.p50_ms <= result.p99_ms
        (20, True)
        """
        from edgeml.runtime._benchmark import run_benchmark

        return run_benchmark(
            self,
            batch_size=batch_size,
            runs=runs,
            warmup=warmup,
            num_threads=num_threads,
            seed=seed,
        )
