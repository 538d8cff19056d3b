"""Screen client replies before any average: what is excluded is logged and reported.

A reply is excluded (never silently averaged) when it carries a Flower error (the
client failed or dropped out), has no weights, has weights whose number, names or
shapes differ from the global model, has NaN or infinite values, or trained on zero
examples.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Exclusion", "Screened", "missing_replies", "screen_replies"]

logger = logging.getLogger("edgeml")


@dataclass(frozen=True)
class Exclusion:
    """A reply left out of a round's average, and why."""

    node_id: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {"node_id": self.node_id, "reason": self.reason}


@dataclass(frozen=True)
class Screened:
    """A usable reply: the client's weights and metrics."""

    node_id: int
    weights: list[np.ndarray]
    num_examples: int
    message: Any


def _num_examples(content: Any) -> float | None:
    for record in content.metric_records.values():
        if "num-examples" in record:
            value = record["num-examples"]
            return float(value) if isinstance(value, (int, float)) else None
    return None


def screen_replies(
    replies: Iterable[Any],
    reference: Sequence[np.ndarray] | None,
    *,
    round_number: int,
    need_weights: bool = True,
) -> tuple[list[Screened], list[Exclusion]]:
    """Split replies into usable ones and logged exclusions.

    Parameters
    ----------
    replies : iterable of flwr.app.Message
    reference : sequence of numpy.ndarray or None
        The global weights the replies must match (shapes and count).
    round_number : int
        For the log.
    need_weights : bool, default True
        ``False`` for evaluation replies (metrics only).

    Returns
    -------
    usable : list of Screened
    excluded : list of Exclusion
    """
    usable: list[Screened] = []
    excluded: list[Exclusion] = []
    for msg in replies:
        node = int(msg.metadata.src_node_id)
        reason = None
        weights: list[np.ndarray] = []
        n = None
        if msg.has_error():
            reason = f"client error or dropout: {msg.error.reason}"
        else:
            content = msg.content
            n = _num_examples(content)
            if n is None or not math.isfinite(n) or n < 0:
                reason = "no valid 'num-examples' metric"
            elif n == 0:
                reason = "trained on zero examples"
            elif need_weights:
                if "arrays" not in content.array_records:
                    reason = "no 'arrays' record in the reply"
                else:
                    weights = content.array_records["arrays"].to_numpy_ndarrays()
                    reason = _weights_problem(weights, reference)
        if reason is None:
            usable.append(Screened(node, weights, int(n or 0), msg))
        else:
            logger.warning(
                "round %d: excluded the reply of node %d: %s", round_number, node, reason
            )
            excluded.append(Exclusion(node, reason))
    return usable, excluded


def _weights_problem(
    weights: Sequence[np.ndarray], reference: Sequence[np.ndarray] | None
) -> str | None:
    if reference is not None:
        if len(weights) != len(reference):
            return f"{len(weights)} weight arrays where the global model has {len(reference)}"
        for i, (got, want) in enumerate(zip(weights, reference, strict=True)):
            if got.shape != want.shape:
                return f"weight {i} has shape {got.shape}, the global model {want.shape}"
    for i, array in enumerate(weights):
        if not np.issubdtype(array.dtype, np.number):
            return f"weight {i} is not numeric ({array.dtype})"
        if not np.isfinite(array).all():
            return f"weight {i} has NaN or infinite values"
    return None


def missing_replies(
    sampled: Iterable[int], replies: Sequence[Any], *, round_number: int
) -> list[Exclusion]:
    """Exclusions for sampled clients that sent no reply at all (dropped out, timed out).

    Parameters
    ----------
    sampled : iterable of int
        Node ids the round's messages went to.
    replies : sequence of flwr.app.Message
        What came back.
    round_number : int
        For the log.

    Returns
    -------
    list of Exclusion
    """
    answered = {int(msg.metadata.src_node_id) for msg in replies}
    missing = [node for node in sampled if node not in answered]
    for node in missing:
        logger.warning("round %d: node %d sent no reply (dropped out)", round_number, node)
    return [Exclusion(node, "no reply before the timeout (dropped out)") for node in missing]
