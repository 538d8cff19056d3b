"""Poisson sampling for DP-SGD: every example joins each batch independently.

This is the sampling the privacy accounting assumes. The datasets it makes are tagged
with their sampling rate and the number of examples they sample from, so that a private
``fit`` can check both.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

from edgeml._optional import require
from edgeml.errors import DataError, invalid_argument

tf = require("tensorflow", extra="tf", feature="DP-SGD (edgeml.privacy.make_private)")


__all__ = ["poisson_batches"]


_SAMPLING_RATE_ATTR = "_edgeml_poisson_sampling_rate"
_NUM_EXAMPLES_ATTR = "_edgeml_poisson_num_examples"


def poisson_batches(
    x: Any,
    y: Any = None,
    *,
    sampling_rate: float,
    seed: int | None = None,
    sample_weight: Any = None,
    steps: int | None = None,
) -> Any:
    """Batches in which each example appears independently with probability ``sampling_rate``.

    This is the sampling DP-SGD's privacy accounting assumes. Batch sizes vary around
    ``sampling_rate * len(x)`` (and can be 0); the private training step handles that.

    Parameters
    ----------
    x : array-like
        Features, first axis = examples.
    y : array-like, optional
        Labels, same length as ``x``.
    sampling_rate : float
        Probability that an example is in a batch, in (0, 1].
    seed : int, optional
        Seed for reproducible batches. ``None`` (the default, and what private training
        should use) draws a fresh seed from the operating system's secure source.
    sample_weight : array-like, optional
        Per-example weights, yielded as the third element.
    steps : int, optional
        Number of batches; infinite when ``None``.

    Returns
    -------
    tf.data.Dataset
        Yields ``(x_batch, y_batch[, weight_batch])`` or ``x_batch``.

    Examples
    --------
    >>> import numpy as np
    >>> ds = poisson_batches(np.arange(1000.0)[:, None], np.zeros(1000), sampling_rate=0.05,
    ...                      seed=0, steps=3)
    >>> sizes = [int(xb.shape[0]) for xb, yb in ds]
    >>> len(sizes), all(20 <= s <= 80 for s in sizes)
    (3, True)
    """
    owner = "poisson_batches"
    if (
        isinstance(sampling_rate, bool)
        or not isinstance(sampling_rate, (int, float))
        or not 0 < sampling_rate <= 1
    ):
        raise invalid_argument(owner, "sampling_rate", sampling_rate, "a float in (0, 1]")
    features = np.asarray(x)
    n = int(features.shape[0]) if features.ndim else 0
    if n == 0:
        raise DataError("poisson_batches needs at least one example in x.")
    parts = [features]
    for name, extra in (("y", y), ("sample_weight", sample_weight)):
        if extra is None:
            continue
        values = np.asarray(extra)
        if values.shape[:1] != (n,):
            raise DataError(
                f"{owner}: {name} has {values.shape[:1]} rows but x has {n}. Fix: pass "
                "arrays with one row per example."
            )
        parts.append(values)
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise invalid_argument(owner, "steps", steps, "a positive integer or None")
    base_seed = secrets.randbits(62) if seed is None else int(seed)
    tensors = tuple(tf.constant(p) for p in parts)
    rate = float(sampling_rate)

    def sample(step: Any) -> Any:
        draws = tf.random.stateless_uniform(
            [n], seed=tf.stack([tf.constant(base_seed, tf.int64), step]), dtype=tf.float64
        )
        chosen = tf.where(draws < rate)[:, 0]
        batch = tuple(tf.gather(t, chosen) for t in tensors)
        return batch if len(batch) > 1 else batch[0]

    counter = tf.data.Dataset.range(steps) if steps is not None else tf.data.Dataset.counter()
    dataset = counter.map(sample, num_parallel_calls=1).prefetch(2)
    setattr(dataset, _SAMPLING_RATE_ATTR, rate)
    setattr(dataset, _NUM_EXAMPLES_ATTR, n)
    return dataset
