"""Tests on binned data: PSI, Jensen-Shannon distance and the chi-square test.

Binning (shared with :class:`~edgeml.drift.Histogram`): edges come from the *reference
only* (its minimum, its ``k / bins`` quantiles, its maximum), so the reference profile
never depends on the current data. Each feature gets ``bins + 2`` bins: values below the
reference minimum, the inner bins ``[e_k, e_k+1)`` (the last one closed) and values above
the reference maximum, so values outside the reference range are counted on their own
instead of being clipped into the tail bins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeml.drift import _kernels
from edgeml.drift._inputs import (
    MAX_BINS,
    MAX_CELLS,
    as_columns,
    check_bins,
    check_nan_policy,
    check_same_columns,
    check_size,
    sorted_blocks,
)
from edgeml.drift._result import DriftResult
from edgeml.drift._sketch import Histogram, check_not_empty
from edgeml.errors import DataError, invalid_argument

__all__ = ["BinnedPair", "binned_pair", "check_threshold", "effect_size_results", "sketch_pair"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def _edge_rows(owner: str, edges: Any, p: int) -> FloatArray:
    given = np.array(edges, dtype=np.float64, ndmin=2)
    if (
        given.ndim != 2
        or given.shape[1] < 2
        or given.shape[0] not in (1, p)
        or not np.isfinite(given).all()
        or (np.diff(given, axis=1) < 0).any()
    ):
        raise invalid_argument(
            owner,
            "edges",
            edges,
            f"finite, non-decreasing edges: one row shared by all features or {p} rows",
        )
    if p * (given.shape[1] + 1) > MAX_CELLS:
        raise invalid_argument(
            owner,
            "edges",
            f"<{given.shape[0]} x {given.shape[1]} array>",
            f"at most {MAX_CELLS:,} count cells (features x (edges + 1))",
        )
    return np.array(np.broadcast_to(given, (p, given.shape[1])))


def _sketch_counts(
    sketch: Histogram, other: Any, owner: str, nan_policy: str, role: str
) -> Histogram:
    """Count the other sample as a sketch with ``sketch``'s edges."""
    if isinstance(other, Histogram):
        sketch.check_compatible(other, owner)
        return other
    counted = sketch.empty().update(as_columns(other, owner, role))
    bad = np.flatnonzero(counted.nonfinite)
    if bad.size and nan_policy == "raise":
        j = int(bad[0])
        raise DataError(
            f"Column {sketch.names[j]!r} of {role} in {owner} has {counted.nonfinite[j]} NaN "
            "or infinite values. Fix: clean the data, or pass nan_policy='omit' to drop them."
        )
    return counted


def sketch_pair(
    owner: str, reference: Any, current: Any, nan_policy: str
) -> tuple[Histogram, Histogram]:
    """Both samples as sketches on the edges of the one that is a sketch."""
    if isinstance(reference, Histogram):
        pair = reference, _sketch_counts(reference, current, owner, nan_policy, "current")
    else:
        pair = _sketch_counts(current, reference, owner, nan_policy, "reference"), current
    for role, sketch in zip(("reference", "current"), pair, strict=True):
        check_not_empty(owner, role, sketch.counts, sketch.names)
    return pair


class BinnedPair:
    """Counts of reference and current in the same bins, per feature."""

    def __init__(
        self,
        reference: IntArray,
        current: IntArray,
        names: Sequence[str],
        is_1d: bool,
        edges: FloatArray,
    ) -> None:
        self.reference, self.current = reference, current
        # Never empty: sketch_pair refuses empty sketches, sorted_blocks empty columns.
        self.names, self.is_1d, self.edges = tuple(names), is_1d, edges


def binned_pair(
    owner: str,
    reference: Any,
    current: Any,
    bins: Any,
    edges: Any,
    nan_policy: str,
    feature_names: Any = None,
) -> BinnedPair:
    """Bin both samples with edges from the reference (or from a given sketch)."""
    check_nan_policy(owner, nan_policy)
    check_size(owner, "bins", bins, minimum=2, maximum=MAX_BINS, fix="use bins=10")
    if isinstance(reference, Histogram) or isinstance(current, Histogram):
        ref_sketch, cur_sketch = sketch_pair(owner, reference, current, nan_policy)
        return BinnedPair(
            ref_sketch.counts,
            cur_sketch.counts,
            ref_sketch.names,
            ref_sketch.is_1d,
            ref_sketch.edges,
        )
    ref = as_columns(reference, owner, "reference", feature_names)
    cur = as_columns(current, owner, "current", feature_names)
    check_same_columns(ref, cur, owner)
    p = ref.n_features
    n_bins = check_bins(owner, bins, p)
    fixed = None if edges is None else _edge_rows(owner, edges, p)
    width = (n_bins + 1) if fixed is None else fixed.shape[1]
    all_edges = np.empty((p, width))
    ref_counts = np.empty((p, width + 1), dtype=np.int64)
    cur_counts = np.empty((p, width + 1), dtype=np.int64)
    for columns, a, b in sorted_blocks(ref, cur, owner=owner, nan_policy=nan_policy):
        index = np.asarray(columns)
        block_edges = _kernels.quantile_edges(a, n_bins) if fixed is None else fixed[index]
        all_edges[index] = block_edges
        ref_counts[index] = _kernels.bin_counts_sorted(a, block_edges)
        cur_counts[index] = _kernels.bin_counts_sorted(b, block_edges)
    return BinnedPair(ref_counts, cur_counts, ref.names, ref.is_1d, all_edges)


def effect_size_results(
    pair: BinnedPair,
    statistics: FloatArray,
    method: str,
    threshold: float,
    extra: dict[str, Any],
) -> DriftResult | list[DriftResult]:
    n = pair.reference.sum(axis=1)
    m = pair.current.sum(axis=1)
    results = [
        DriftResult(
            float(statistics[j]),
            None,
            threshold=threshold,
            drifted=bool(statistics[j] >= threshold),
            method=method,
            details={
                "bins": int(pair.edges.shape[1] - 1),
                "n_reference": int(n[j]),
                "n_current": int(m[j]),
                "edges": pair.edges[j].tolist(),
                "reference_counts": pair.reference[j].tolist(),
                "current_counts": pair.current[j].tolist(),
                **extra,
            },
            feature=None if pair.is_1d else pair.names[j],
        )
        for j in range(len(pair.names))
    ]
    return results[0] if pair.is_1d else results


def check_threshold(owner: str, threshold: Any) -> float:
    if not isinstance(threshold, (int, float)) or not threshold > 0:
        raise invalid_argument(owner, "threshold", threshold, "a number > 0")
    return float(threshold)
