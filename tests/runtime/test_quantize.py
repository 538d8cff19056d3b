"""AffineQuantizer against an exact rational reference of LiteRT's kernels.

Reference: the QUANTIZE kernel the LiteRT interpreter runs (its optimized kernel, with
or without XNNPACK; tests/conformance/test_tflite_quantize.py checks this against the
interpreter itself) computes ``x * (1.0f / scale)`` in float32, rounds half to even,
adds the zero point and clamps; DEQUANTIZE computes ``float(scale * (q - zero_point))``.
Here the rounding is done with fractions.Fraction, so the reference has no float error
of its own beyond the float32 reciprocal and product that define the kernel.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeml.runtime._quantize import AffineQuantizer, dequantize, quantize

pytestmark = pytest.mark.compat

DTYPES = [np.int8, np.uint8, np.int16]


def _reference_quantize(x: float, scale: float, zero_point: int, dtype: type) -> int:
    inverse = np.float32(1.0) / np.float32(scale)
    ratio = Fraction(float(np.float32(np.float32(x) * inverse)))
    rounded = round(ratio)  # Fraction rounds half to even, exactly
    info = np.iinfo(dtype)
    return int(min(max(rounded + zero_point, info.min), info.max))


scales = st.floats(2.0**-20, 10.0, width=32)


@st.composite
def quantization(draw: st.DrawFn) -> tuple[float, int, type]:
    dtype = draw(st.sampled_from(DTYPES))
    info = np.iinfo(dtype)
    zero_point = draw(st.integers(int(info.min), int(info.max)))
    return draw(scales), zero_point, dtype


@given(
    params=quantization(),
    values=st.lists(st.floats(-(2.0**20), 2.0**20, width=32), min_size=1, max_size=40),
    halves=st.lists(st.integers(-300, 300), max_size=10),
)
def test_quantize_matches_the_exact_reference_on_both_paths(
    params: tuple[float, int, type], values: list[float], halves: list[int]
) -> None:
    scale, zero_point, dtype = params
    # Exact ties (k + 1/2) * scale are where half-away and half-to-even differ.
    ties = [float(np.float32((k + 0.5) * np.float32(scale))) for k in halves]
    x = np.array(values + ties, dtype=np.float32)
    quantizer = AffineQuantizer(scale, zero_point, dtype)
    expected = [_reference_quantize(v, scale, zero_point, dtype) for v in x]
    assert quantizer.quantize(x).tolist() == expected  # threshold search (small input)
    assert quantizer._quantize_arithmetic(x).tolist() == expected
    assert quantizer.quantize(x).dtype == np.dtype(dtype)


@given(params=quantization(), seed=st.integers(0, 2**32 - 1))
def test_dequantize_matches_the_kernel_formula(params: tuple[float, int, type], seed: int) -> None:
    scale, zero_point, dtype = params
    info = np.iinfo(dtype)
    q = np.random.default_rng(seed).integers(info.min, info.max, 50, endpoint=True).astype(dtype)
    expected = [float(np.float32(float(np.float32(scale)) * (int(v) - zero_point))) for v in q]
    quantizer = AffineQuantizer(scale, zero_point, dtype)
    assert quantizer.dequantize(q).tolist() == expected  # lookup table
    assert quantizer._dequantize_arithmetic(q).tolist() == expected


def test_large_inputs_use_arithmetic_and_agree_with_small_ones() -> None:
    quantizer = AffineQuantizer(0.037, -7, np.int8)
    x = np.random.default_rng(0).normal(size=5000).astype(np.float32) * 3
    big = quantizer.quantize(x)
    small = np.concatenate([quantizer.quantize(x[i : i + 100]) for i in range(0, 5000, 100)])
    np.testing.assert_array_equal(big, small)


def test_saturation_and_signed_zero() -> None:
    assert quantize([-1e30, -0.0, 0.0, 1e30], 0.5, 0, np.int8).tolist() == [-128, 0, 0, 127]
    assert quantize([-1e30, 1e30], 0.5, 128, np.uint8).tolist() == [0, 255]
    assert quantize([np.inf, -np.inf], 1.0, 0, np.int16).tolist() == [32767, -32768]


def test_per_channel_broadcasting() -> None:
    scale = np.array([[0.5, 2.0]], dtype=np.float32)
    zero = np.array([[1, -1]])
    x = np.array([[1.0, 4.0], [-1.0, -3.0]], dtype=np.float32)
    q = quantize(x, scale, zero, np.int8)
    assert q.tolist() == [[3, 1], [-1, -3]]  # [1/0.5+1, 4/2-1], [-2+1, rint(-1.5)-1]
    assert dequantize(q, scale, zero).tolist() == [[1.0, 4.0], [-1.0, -4.0]]
