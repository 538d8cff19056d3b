"""One input or output of a signature: its spec and quantizer, computed once at load."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeml.errors import ModelFormatError
from edgeml.runtime._quantize import AffineQuantizer
from edgeml.runtime._specs import Quantization, TensorSpec

__all__ = ["Port", "natural_key"]

_QUANTIZABLE = frozenset({np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16)})


def natural_key(name: str) -> list[Any]:
    """Sort key that orders ``output_2`` before ``output_10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class Port:
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
