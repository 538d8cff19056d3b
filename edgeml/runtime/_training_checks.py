"""Checks of on-device training: the ``on_device_training`` document, inputs and labels.

The runtime trusts neither the metadata document (it is not covered by the weights hash)
nor the caller's arrays; these checks turn both into named :class:`~edgeml.errors.DataError`
or a clean refusal before the interpreter sees them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.errors import DataError


def check_xy(
    owner: str, x: Any, y: Any, spec: dict[str, Any]
) -> tuple[NDArray[np.float32], NDArray[Any]]:
    tail = tuple(int(d) for d in spec["input_shape"][1:])
    try:
        xa = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"Input 'x' of {owner} is not numeric ({exc}).") from exc
    if xa.shape[1:] != tail or xa.ndim != len(tail) + 1 or xa.shape[0] < 1:
        raise DataError(
            f"Input 'x' of {owner} must have shape (batch, {', '.join(map(str, tail))}) "
            f"with batch >= 1; got {xa.shape}."
        )
    if not np.all(np.isfinite(xa)):
        raise DataError(f"Input 'x' of {owner} has NaN or infinite values.")
    label = spec["label"]
    y_raw = np.asarray(y)
    n = xa.shape[0]
    if label["dtype"] == "int32":
        if y_raw.ndim == 2 and y_raw.shape[1] == 1:
            y_raw = y_raw[:, 0]
        if y_raw.dtype.kind not in "iu":
            raise DataError(
                f"Label 'y' of {owner} must hold integer class indices for loss "
                f"{spec['loss']!r}; got dtype {y_raw.dtype}. Fix: pass y.astype(int), or "
                "convert with loss='categorical_crossentropy' for one-hot labels."
            )
        if y_raw.shape != (n,):
            raise DataError(
                f"Label 'y' of {owner} must have shape ({n},), one class index per "
                f"example; got {y_raw.shape}."
            )
        classes = int(label["classes"])
        if y_raw.size and (y_raw.min() < 0 or y_raw.max() >= classes):
            raise DataError(
                f"Label 'y' of {owner} must be class indices in [0, {classes}); got values "
                f"from {y_raw.min()} to {y_raw.max()}."
            )
        return xa, y_raw.astype(np.int32)
    y_tail = tuple(int(d) for d in label["shape"][1:])
    if y_raw.dtype.kind not in "fiub":
        raise DataError(
            f"Label 'y' of {owner} must be numeric for loss {spec['loss']!r}; got dtype "
            f"{y_raw.dtype}."
        )
    ya = y_raw.astype(np.float32)
    if ya.shape == (n,) and y_tail == (1,):  # a flat column of scalar targets
        ya = ya[:, None]
    if ya.shape != (n, *y_tail):
        raise DataError(
            f"Label 'y' of {owner} must have shape {(n, *y_tail)} for loss "
            f"{spec['loss']!r}; got {y_raw.shape}."
        )
    if not np.all(np.isfinite(ya)):
        raise DataError(f"Label 'y' of {owner} has NaN or infinite values.")
    return xa, ya


def well_formed(spec: Any) -> bool:
    """Check the fields of the training document that the runtime relies on."""
    try:
        label = spec["label"]
        weights = spec["weights"]
        return (
            isinstance(spec["loss"], str)
            and label["dtype"] in ("int32", "float32")
            and (label["dtype"] == "float32" or int(label["classes"]) >= 1)
            and all(isinstance(d, int) for d in spec["input_shape"][1:])
            and all(isinstance(d, int) for d in label["shape"][1:])
            and isinstance(spec["trained_layers"], list)
            and all(
                isinstance(w["name"], str)
                and w["name"].startswith("w")
                and all(isinstance(d, int) for d in w["shape"])
                for w in weights
            )
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return False
