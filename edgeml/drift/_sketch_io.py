"""The serialized forms of a :class:`~edgeml.drift.Histogram`: a JSON-safe dict, and bytes.

The bytes are a magic tag, a little-endian length, a JSON header (names, ``is_1d``,
``bins``) and the six arrays as little-endian float64/int64. Decoding validates the
layout before building anything, so corrupt or hostile payloads raise
:class:`~edgeml.errors.DataError`; the Histogram's constructor is passed in as ``make``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from edgeml._display import to_jsonable
from edgeml.drift._inputs import MAX_CELLS
from edgeml.errors import DataError

MAGIC = b"EDGEMLH1"

FloatArray = NDArray[np.float64]
T = TypeVar("T")


def encode_dict(sketch: Any) -> dict[str, Any]:
    """Return the JSON-safe dict form of a Histogram."""
    return {
        "format": "edgeml.drift.Histogram",
        "version": 1,
        "names": list(sketch.names),
        "is_1d": sketch.is_1d,
        "edges": to_jsonable(sketch.edges),
        "counts": to_jsonable(sketch.counts),
        "minimum": to_jsonable(sketch.minimum),
        "maximum": to_jsonable(sketch.maximum),
        "nonfinite": to_jsonable(sketch.nonfinite),
        "scale": to_jsonable(sketch.scale),
    }


def decode_dict(make: Callable[..., T], data: Mapping[str, Any]) -> T:
    """Build a Histogram with ``make`` from its dict form, or raise DataError."""
    if not isinstance(data, Mapping) or data.get("format") != "edgeml.drift.Histogram":
        raise DataError("Not a serialized edgeml Histogram (missing 'format' marker).")

    def floats(key: str) -> FloatArray:
        return np.array([np.nan if v is None else v for v in data[key]], dtype=np.float64)

    try:
        return make(
            data["edges"],
            data["counts"],
            minimum=floats("minimum"),
            maximum=floats("maximum"),
            nonfinite=data["nonfinite"],
            scale=floats("scale"),
            names=data["names"],
            is_1d=data["is_1d"] is True,
        )
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise DataError(f"A serialized Histogram is incomplete or invalid: {exc}") from exc


def decode_json(text: str | bytes) -> Any:
    """Parse the JSON text of a Histogram's dict form, or raise DataError."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise DataError(
            f"Histogram.from_json needs a str or bytes; got {type(text).__name__}. "
            "Fix: pass the text written by Histogram.to_json()."
        )
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"A serialized Histogram is not valid JSON: {exc}") from exc
    except RecursionError:
        raise DataError("A serialized Histogram is nested too deeply to be one.") from None
    return data


def encode_bytes(sketch: Any) -> bytes:
    """Return the compact binary form of a Histogram."""
    header = json.dumps(
        {"names": list(sketch.names), "is_1d": sketch.is_1d, "bins": sketch.bins},
        separators=(",", ":"),
    ).encode("utf-8")
    arrays = [
        sketch.edges.astype("<f8"),
        sketch.counts.astype("<i8"),
        sketch.minimum.astype("<f8"),
        sketch.maximum.astype("<f8"),
        sketch.nonfinite.astype("<i8"),
        sketch.scale.astype("<f8"),
    ]
    return b"".join([MAGIC, struct.pack("<I", len(header)), header, *(a.tobytes() for a in arrays)])


def decode_bytes(make: Callable[..., T], payload: bytes) -> T:
    """Build a Histogram with ``make`` from its binary form, validating the layout."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise DataError(
            f"Histogram.from_bytes needs bytes; got {type(payload).__name__}. "
            "Fix: pass the bytes written by Histogram.to_bytes()."
        )
    data = bytes(payload)
    if data[: len(MAGIC)] != MAGIC or len(data) < len(MAGIC) + 4:
        raise DataError("Not a serialized edgeml Histogram (bad magic bytes).")
    (header_len,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    try:
        header = json.loads(data[start : start + header_len].decode("utf-8"))
        p, bins = len(header["names"]), int(header["bins"])
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise DataError(f"A serialized Histogram has a corrupt header: {exc}") from exc
    except RecursionError:
        raise DataError(
            "A serialized Histogram has a corrupt header (nested too deeply)."
        ) from None
    if bins < 1 or p * (bins + 2) > MAX_CELLS:
        raise DataError(
            f"A serialized Histogram announces {p} features x {bins} bins; at most "
            f"{MAX_CELLS:,} count cells are accepted. The payload is corrupt."
        )
    sizes = [p * (bins + 1), p * (bins + 2), p, p, p, p]
    expected = start + header_len + 8 * sum(sizes)
    if len(data) != expected or p == 0:
        raise DataError(
            f"A serialized Histogram has {len(data)} bytes; its header announces "
            f"{expected}. The payload is truncated or corrupt."
        )
    offset, parts = start + header_len, []
    for k, size in enumerate(sizes):
        dtype = "<i8" if k in (1, 4) else "<f8"
        parts.append(np.frombuffer(data, dtype=dtype, count=size, offset=offset))
        offset += 8 * size
    edges, counts, minimum, maximum, nonfinite, scale = parts
    try:
        return make(
            edges.reshape(p, bins + 1),
            counts.reshape(p, bins + 2),
            minimum=minimum,
            maximum=maximum,
            nonfinite=nonfinite,
            scale=scale,
            names=header["names"],
            is_1d=header.get("is_1d", False) is True,
        )
    except (ValueError, TypeError) as exc:
        raise DataError(f"A serialized Histogram holds invalid values: {exc}") from exc
