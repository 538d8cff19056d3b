"""Turn representative data (arrays, a tf.data.Dataset, a generator) into checked samples.

The converter calibrates activation ranges by running single samples through the float
model. Here the user's data is read once, up to ``limit`` samples, each sample is
checked against the model's inputs (an error names both shapes before any conversion
work), and the samples are replayed to the converter with progress logging. The ranges are exact
statistics of these samples, so :func:`calibration_protection` records what protects them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from edgeml.conversion._quiet import passthrough
from edgeml.conversion._sources import InputSpec
from edgeml.errors import DataError, invalid_argument
from edgeml.privacy.scope import Declared, Protection

__all__ = ["calibration_protection", "collect_samples", "replay"]

logger = logging.getLogger("edgeml.conversion")
_PROGRESS_SECONDS = 2.0


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def _split_features(element: Any, specs: list[InputSpec] | None) -> list[Any]:
    """Return the model inputs of one element, dropping labels and weights."""
    n_inputs = len(specs) if specs is not None else 1
    if isinstance(element, Mapping):
        names = [s.name for s in specs or []]
        if not names or any(n not in element for n in names):
            raise DataError(
                f"representative_data yields a dict with keys {sorted(element)}; the model's "
                f"inputs are named {names}. Fix: use those keys, or yield arrays in order."
            )
        return [element[n] for n in names]
    if isinstance(element, (tuple, list)):
        if n_inputs == 1:
            return [element[0]]
        first = element[0]
        if isinstance(first, (tuple, list)) and len(first) == n_inputs:
            return list(first)  # ((x1, x2), y)
        return list(element[:n_inputs])
    return [element]


def _rows(arrays: list[np.ndarray], specs: list[InputSpec] | None) -> Iterator[list[np.ndarray]]:
    """Yield samples (each with a batch dimension of 1) from arrays of one element."""
    batched = arrays[0].ndim >= 2 if specs is None else arrays[0].ndim == len(specs[0].shape)
    if not batched:
        yield [a[np.newaxis] for a in arrays]
        return
    for i in range(len(arrays[0])):
        yield [a[i : i + 1] for a in arrays]


def _check(sample: list[np.ndarray], specs: list[InputSpec] | None, owner: str) -> list[np.ndarray]:
    if specs is not None and len(sample) != len(specs):
        raise DataError(
            f"representative_data gives {len(sample)} array(s) per sample but the model has "
            f"{len(specs)} input(s): {', '.join(map(str, specs))}. Fix: yield one array "
            "per input, in that order."
        )
    checked = []
    for i, array in enumerate(sample):
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise DataError(
                f"representative_data holds {array.dtype} values; {owner} needs numbers."
            )
        if specs is None:
            checked.append(array.astype(np.float32, copy=False))
            continue
        spec = specs[i]
        if not spec.fits(array.shape):
            raise DataError(
                f"A representative_data sample has shape {tuple(array.shape)} (batch of 1 "
                f"included) but the model's input {spec} does not accept it. Fix: pass "
                "samples shaped like the training inputs."
            )
        target = np.dtype(spec.dtype) if spec.dtype != "string" else None
        if target is None or (
            np.issubdtype(target, np.integer) and np.issubdtype(array.dtype, np.floating)
        ):
            raise DataError(
                f"A representative_data sample has dtype {array.dtype} but the model's input "
                f"{spec} cannot take it."
            )
        checked.append(array.astype(target, copy=False))
    return checked


def calibration_protection(data: Any) -> tuple[Any, dict[str, Any]]:
    """Unwrap declared representative data; return ``(data, protection as a dict)``.

    Data wrapped by :func:`edgeml.privacy.declare` or drawn from a DP release
    (:meth:`edgeml.privacy.DPBaseline.sample`) carries its protection; anything else is
    ``"not protected"``, with a warning, because int8 ranges are exact statistics of it.
    """
    if isinstance(data, Declared):
        return data.data, data.protection.to_dict()
    logger.warning(
        "int8 calibration on undeclared representative_data: the model's quantization "
        "ranges are exact statistics of it, and the card will mark them 'not protected'. "
        "Fix: pass edgeml.privacy.dp_baseline(x, ...).sample(300) for private data, or "
        "edgeml.privacy.declare(x, kind='public' or 'held-out', source=...) for data "
        "you may release."
    )
    protection = Protection.none(
        "calibrated on undeclared representative_data: the quantization ranges are exact "
        "statistics of it"
    )
    return data, protection.to_dict()


def collect_samples(
    data: Any,
    specs: list[InputSpec] | None,
    *,
    limit: int,
    seed: int | None = 0,
) -> list[list[np.ndarray]]:
    """Read up to ``limit`` checked samples from ``data``.

    Parameters
    ----------
    data : numpy.ndarray, sequence of arrays, tf.data.Dataset, iterable or callable
        Representative inputs. A numpy array (or a list/tuple of arrays for a
        multi-input model) is sampled at random without replacement (``seed``);
        datasets, generators and callables returning an iterable are read in order.
        ``(x, y)`` elements are accepted and the labels ignored.
    specs : list of InputSpec or None
        The model's inputs (``None`` when unknown: then only dtypes are checked).
    limit : int
        Maximum number of samples.
    seed : int or None
        Seed of the random subset drawn from arrays.

    Returns
    -------
    list of list of numpy.ndarray
        Samples, each a list with one ``(1, ...)`` array per model input.
    """
    n_inputs = len(specs) if specs is not None else 1
    if isinstance(data, np.ndarray) or (
        isinstance(data, (list, tuple)) and data and all(isinstance(a, np.ndarray) for a in data)
    ):
        columns = [data] if isinstance(data, np.ndarray) else list(data)
        if len(columns) != n_inputs and n_inputs == 1:
            columns = columns[:1]  # (x, y) tuple of arrays
        count = len(columns[0])
        if count == 0:
            raise DataError("representative_data is empty (0 samples).")
        order = np.sort(np.random.default_rng(seed).permutation(count)[: min(limit, count)])
        iterable: Iterable[Any] = (
            [c[i] for c in columns] if len(columns) > 1 else columns[0][i] for i in order
        )
    elif callable(data) and not hasattr(data, "__iter__"):
        iterable = data()
    elif hasattr(data, "__iter__"):
        iterable = data
    else:
        raise invalid_argument(
            "convert",
            "representative_data",
            data,
            "a numpy array, a tf.data.Dataset, a generator or a callable returning one",
        )
    samples: list[list[np.ndarray]] = []
    for element in iterable:
        arrays = [_to_numpy(v) for v in _split_features(element, specs)]
        for sample in _rows(arrays, specs):
            samples.append(_check(sample, specs, "convert"))
            if len(samples) >= limit:
                return samples
    if not samples:
        raise DataError("representative_data yielded no samples.")
    return samples


def replay(samples: list[list[np.ndarray]]) -> Callable[[], Iterator[list[np.ndarray]]]:
    """Return a representative-dataset function that logs progress while calibrating."""

    def generate() -> Iterator[list[np.ndarray]]:
        start = last = time.perf_counter()
        for i, sample in enumerate(samples, start=1):
            yield sample
            now = time.perf_counter()
            if now - last >= _PROGRESS_SECONDS:
                last = now
                with passthrough():
                    logger.info("Calibrating: %d/%d samples (%.0f s)", i, len(samples), now - start)

    return generate
