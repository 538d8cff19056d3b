"""Local differential privacy of on-device training: the plan, the epoch, the noise.

Each example's gradient is computed alone, clipped, summed and noised with samples from
the operating system's CSPRNG; batches are Poisson-sampled and accounted with the RDP
accountant of :mod:`edgeml.privacy.accounting`, which loads only when DP is asked for.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.errors import InferenceError, invalid_argument

__all__ = ["secure_normal"]


def secure_normal(size: int) -> NDArray[np.float64]:
    """Draw standard normal samples from the operating system's CSPRNG (Box-Muller).

    Parameters
    ----------
    size : int
        How many samples.

    Returns
    -------
    numpy.ndarray
        float64 samples.

    Examples
    --------
    >>> z = secure_normal(20000)
    >>> abs(float(z.mean())) < 0.05 and abs(float(z.std()) - 1) < 0.05
    True
    """
    pairs = (size + 1) // 2
    raw = np.frombuffer(os.urandom(16 * pairs), dtype=np.uint64).reshape(2, pairs)
    # 53 random bits -> a float in (0, 1]; never 0, so the log is finite.
    u1 = ((raw[0] >> np.uint64(11)).astype(np.float64) + 1.0) / 2.0**53
    u2 = (raw[1] >> np.uint64(11)).astype(np.float64) / 2.0**53
    radius = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * np.pi * u2
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])[:size]


def dp_plan(
    n: int, epochs: int, batch_size: int, clip: Any, sigma: Any, delta: float
) -> dict[str, Any]:
    if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not clip > 0:
        raise invalid_argument("fit", "l2_norm_clip", clip, "a float > 0")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or sigma < 0:
        raise invalid_argument("fit", "noise_multiplier", sigma, "a float >= 0")
    if batch_size > n:
        raise invalid_argument("fit", "batch_size", batch_size, f"at most the {n} examples given")
    rate = batch_size / n
    steps_per_epoch = max(1, round(1 / rate))
    # The privacy layer (and dp-accounting) load only when DP is asked for.
    from edgeml.privacy.accounting import epsilon

    steps = steps_per_epoch * epochs
    spent = (
        math.inf
        if sigma == 0
        else epsilon(noise_multiplier=float(sigma), sampling_rate=rate, steps=steps, delta=delta)
    )
    return {
        "l2_norm_clip": float(clip),
        "noise_multiplier": float(sigma),
        "sampling_rate": rate,
        "steps": steps,
        "steps_per_epoch": steps_per_epoch,
        "expected_batch_size": float(batch_size),
        "delta": float(delta),
        "epsilon": spent,
        "accountant": "rdp",
        "noise": "os.urandom (CSPRNG), Box-Muller",
    }


def dp_epoch(
    spec: dict[str, Any],
    gradients: Callable[..., Mapping[str, Any]],
    apply: Callable[..., Mapping[str, Any]],
    x: NDArray[Any],
    y: NDArray[Any],
    dp: dict[str, Any],
    rng: np.random.Generator,
) -> list[float]:
    """Run one epoch of local DP-SGD; ``gradients`` and ``apply`` are the signatures."""
    names = [w["name"].replace("w", "g", 1) for w in spec["weights"]]
    shapes = [tuple(w["shape"]) for w in spec["weights"]]
    sizes = [math.prod(shape) for shape in shapes]
    starts = [0, *itertools.accumulate(sizes)]
    clip, sigma = dp["l2_norm_clip"], dp["noise_multiplier"]
    losses = []
    for _ in range(dp["steps_per_epoch"]):
        chosen = np.flatnonzero(rng.random(len(x)) < dp["sampling_rate"])
        # One row per example: its gradient, flattened (microbatches of 1).
        rows = np.zeros((len(chosen), sum(sizes)), dtype=np.float64)
        batch_loss = 0.0
        for row, i in enumerate(chosen):
            try:
                out = gradients(x=x[i : i + 1], y=y[i : i + 1])
            except (ValueError, RuntimeError) as exc:
                raise InferenceError(
                    f"The interpreter failed while computing a per-example gradient: "
                    f"{exc}. Fix: check the inputs."
                ) from exc
            rows[row] = np.concatenate([out[name].ravel() for name in names])
            batch_loss += float(out["loss"])
        norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))
        factors = np.minimum(1.0, clip / np.maximum(norms, 1e-300))
        total = factors @ rows if len(chosen) else np.zeros(sum(sizes))
        total += secure_normal(total.size) * (sigma * clip)
        total /= dp["expected_batch_size"]
        noisy = {
            name: total[start:stop].reshape(shape).astype(np.float32)
            for name, start, stop, shape in zip(names, starts[:-1], starts[1:], shapes, strict=True)
        }
        applied = apply(**noisy)
        if float(applied["applied"]) != 1.0:
            raise InferenceError(
                "A private training step was not applied: an updated weight was not "
                "finite. Fix: lower the learning rate or the noise."
            )
        losses.append(batch_loss / max(1, len(chosen)))
    return losses


def record(ledger: Any, dp: dict[str, Any], *, dry_run: bool) -> None:
    # The privacy layer (and dp-accounting) load only when DP is asked for.
    from edgeml.privacy.accounting import Ledger

    if not isinstance(ledger, Ledger):
        raise invalid_argument("fit", "ledger", ledger, "an edgeml.privacy.accounting.Ledger")
    target = Ledger.from_dict(ledger.to_dict()) if dry_run else ledger
    target.record(
        name="on-device DP-SGD",
        noise_multiplier=dp["noise_multiplier"],
        sampling_rate=dp["sampling_rate"],
        steps=dp["steps"],
    )
