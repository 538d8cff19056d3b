"""Float <-> integer conversion of model inputs and outputs, exactly as LiteRT does it.

When a float-input model quantizes inside the LiteRT interpreter, its optimized
``QUANTIZE`` kernel (the one the pip interpreter runs, with or without XNNPACK)
multiplies by the float32 reciprocal of the scale, rounds half to even, adds the zero
point and saturates to the integer type's range. (TFLite's *reference* kernel divides
and rounds half away from zero instead; the two differ on exact ties such as
``pixel / 255`` inputs.) Its ``DEQUANTIZE`` kernel computes ``scale * (q - zero_point)``
and narrows to float32. (One measured exception: for int16, which XNNPACK does not
take, the builtin kernel rounds ties away from zero in the last ``size % 8`` values of
a tensor; edgeml rounds them half to even like the rest.)
:class:`AffineQuantizer` reproduces both bit for bit, so feeding
a quantized-I/O model through it gives the same numbers as the same model converted with
float I/O and run by the interpreter (``tests/conformance/test_tflite_quantize.py``
checks it against the interpreter on tie-heavy inputs). Everything is prepared once per
tensor: for per-tensor quantization small inputs are quantized with one binary search
over the exact float32 thresholds between integer levels (found by bisection of the
arithmetic definition, so both agree bit for bit), larger ones arithmetically in
float32 and int32 in cache-sized blocks, and outputs are dequantized with a lookup table
indexed by the raw bytes. Inputs must be finite (NaN has no integer value;
``EdgeModel.predict`` rejects it first).

Examples
--------
>>> import numpy as np
>>> from edgeml.runtime._quantize import quantize, dequantize
>>> quantize(np.array([-1.0, 0.25, 0.75, 9.0]), 0.5, 0, np.int8)
array([-2,  0,  2, 18], dtype=int8)
>>> dequantize(np.array([-2, 1], dtype=np.int8), 0.5, 0)
array([-1. ,  0.5], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["AffineQuantizer", "dequantize", "quantize"]

_BLOCK = 1 << 16


class AffineQuantizer:
    """Quantize and dequantize with one tensor's scale and zero point.

    Parameters
    ----------
    scale : float or numpy.ndarray
        The scale; an array broadcastable to the tensor for per-axis quantization.
    zero_point : int or numpy.ndarray
        The zero point, shaped like ``scale``.
    dtype : numpy dtype
        The integer type: int8, uint8 or int16 (any integer type works).

    Examples
    --------
    >>> q = AffineQuantizer(0.25, 10, np.uint8)
    >>> q.quantize(np.array([0.125, -0.125, 0.375, 100.0], dtype=np.float32))
    array([ 10,  10,  12, 255], dtype=uint8)
    >>> q.dequantize(np.array([10, 14], dtype=np.uint8))
    array([0., 1.], dtype=float32)
    """

    __slots__ = (
        "_inverse",
        "_levels",
        "_scale",
        "_table",
        "_thresholds",
        "_unsigned",
        "_vhi",
        "_vlo",
        "_zp32",
        "_zp_int",
        "dtype",
    )

    #: Inputs up to this many elements use the threshold search (faster when small).
    SEARCH_LIMIT = 512

    def __init__(self, scale: Any, zero_point: Any, dtype: DTypeLike) -> None:
        self.dtype = np.dtype(dtype)
        info = np.iinfo(self.dtype)
        self._scale = np.float32(scale) if np.ndim(scale) == 0 else np.asarray(scale, np.float32)
        # The kernel multiplies by 1.0f / scale (one float32 division, as here).
        self._inverse = np.float32(1.0) / self._scale
        zero = np.asarray(zero_point, dtype=np.int64)
        self._zp_int: Any = zero.astype(np.int32)
        self._zp32: Any = zero.astype(np.float32)
        self._vlo: Any = (info.min - zero).astype(np.float32)
        self._vhi: Any = (info.max - zero).astype(np.float32)
        self._thresholds: NDArray[np.float32] | None = None
        self._table: NDArray[np.float32] | None = None
        if np.ndim(scale) == 0 and self.dtype.itemsize <= 2:
            self._levels = np.arange(info.min, info.max + 1).astype(self.dtype)
            self._thresholds = self._exact_thresholds()
            self._unsigned = np.dtype(f"u{self.dtype.itemsize}")
            by_bits = np.arange(2 ** (8 * self.dtype.itemsize)).astype(self._unsigned)
            self._table = self._dequantize_arithmetic(by_bits.view(self.dtype))

    def _exact_thresholds(self) -> NDArray[np.float32]:
        """Smallest float32 reaching each level after the first, by bisection."""
        levels = self._levels[1:].astype(np.int64)
        # float32 values ordered as integers: s >= 0 -> bits s; s < 0 -> -(|s| bits).
        low = np.full(levels.shape, -0x7F800000, dtype=np.int64)  # -inf: lowest level
        high = np.full(levels.shape, 0x7F800000, dtype=np.int64)  # +inf: highest level
        while np.any(high - low > 1):
            middle = (low + high) // 2
            reached = self._quantize_arithmetic(_ordered_to_float32(middle)) >= levels
            high = np.where(reached, middle, high)
            low = np.where(reached, low, middle)
        return _ordered_to_float32(high)

    def quantize(self, x: NDArray[np.float32]) -> NDArray[Any]:
        """Quantize float32 values: ``clip(round_half_even(x * (1 / scale)) + zero_point)``."""
        if self._thresholds is not None and x.size <= self.SEARCH_LIMIT:
            return self._levels[self._thresholds.searchsorted(x, "right")]
        return self._quantize_arithmetic(x)

    def _quantize_arithmetic(self, x: NDArray[np.float32]) -> NDArray[Any]:
        if x.size <= _BLOCK or self._vlo.ndim:
            return self._quantize_block(x)
        # Cache-sized blocks: several passes over a block that stays in cache are much
        # faster than several passes over a large array.
        flat = np.ascontiguousarray(x).reshape(-1)
        out = np.empty(flat.size, dtype=self.dtype)
        for start in range(0, flat.size, _BLOCK):
            out[start : start + _BLOCK] = self._quantize_block(flat[start : start + _BLOCK])
        return out.reshape(x.shape)

    def _quantize_block(self, x: NDArray[np.float32]) -> NDArray[Any]:
        ratio = np.multiply(x, self._inverse, dtype=np.float32)
        # Saturating first is exact (rounding is monotone and the bounds are integers)
        # and keeps every value small enough for int32.
        np.maximum(ratio, self._vlo, out=ratio)
        np.minimum(ratio, self._vhi, out=ratio)
        np.rint(ratio, out=ratio)  # round half to even, like the kernel's conversion
        rounded = ratio.astype(np.int32)
        rounded += self._zp_int
        return rounded.astype(self.dtype)

    def dequantize(self, q: NDArray[Any]) -> NDArray[np.float32]:
        """Map integers to float32: ``scale * (q - zero_point)``.

        ``q - zero_point`` is an exact integer in float32 and its product with a float32
        scale rounds once, which equals the kernel's double product narrowed to float32.
        """
        if self._table is not None and q.dtype == self.dtype:
            return self._table.take(q.view(self._unsigned))
        return self._dequantize_arithmetic(q)

    def _dequantize_arithmetic(self, q: NDArray[Any]) -> NDArray[np.float32]:
        real = q.astype(np.float32)
        real -= self._zp32
        real *= self._scale
        return real


def quantize(x: Any, scale: Any, zero_point: Any, dtype: DTypeLike) -> NDArray[Any]:
    """Quantize real values to ``dtype`` as LiteRT's QUANTIZE kernel does.

    Parameters
    ----------
    x : array_like
        Real values (computed in float32, like the kernel).
    scale : float or numpy.ndarray
        The tensor's scale.
    zero_point : int or numpy.ndarray
        The tensor's zero point.
    dtype : numpy dtype
        The integer type.

    Returns
    -------
    numpy.ndarray
        The quantized values.

    Examples
    --------
    >>> quantize([0.5, -0.5, 1.5, 300.0], 1.0, 0, np.int8)  # ties go to even
    array([  0,   0,   2, 127], dtype=int8)
    """
    return AffineQuantizer(scale, zero_point, dtype).quantize(np.asarray(x, dtype=np.float32))


def dequantize(q: Any, scale: Any, zero_point: Any) -> NDArray[np.float32]:
    """Map quantized values back to float32 as TFLite's ``DEQUANTIZE`` kernel does.

    Parameters
    ----------
    q : array_like of int
        Quantized values.
    scale : float or numpy.ndarray
        The tensor's scale.
    zero_point : int or numpy.ndarray
        The tensor's zero point.

    Returns
    -------
    numpy.ndarray
        ``scale * (q - zero_point)`` as float32.

    Examples
    --------
    >>> dequantize(np.array([0, 255], dtype=np.uint8), 0.1, 128)
    array([-12.8,  12.7], dtype=float32)
    """
    array = np.asarray(q)
    return AffineQuantizer(scale, zero_point, array.dtype).dequantize(array)


def _ordered_to_float32(ordered: NDArray[np.int64]) -> NDArray[np.float32]:
    """Map integers ordered like float32 values back to those float32 values."""
    bits = np.where(ordered >= 0, ordered, (-ordered) | 0x80000000).astype(np.uint32)
    return bits.view(np.float32)
