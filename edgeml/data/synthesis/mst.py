"""The steps of MST (McKenna, Miklau and Sheldon, 2021) as small functions.

1. :func:`measure` the 1-way marginal of every column with Gaussian noise;
2. :func:`compress` each column's domain: categories whose noisy count is below three
   noise standard deviations are merged into one "rare" cell (post-processing of the
   noisy counts, so free; sampling later spreads a rare cell over its members in
   proportion to their noisy counts projected onto the simplex);
3. :func:`select` a spanning tree over the columns: starting from a model of independent
   columns, each pair is scored by how badly independence explains it (the L1 distance
   between its true 2-way counts and the model's), and Kruskal's algorithm picks each
   next edge with the exponential mechanism;
4. :func:`measure` the 2-way marginals of the tree's edges;
5. estimate a consistent tree model from all measurements
   (:func:`edgeml.data.synthesis.estimation.estimate`) and sample records from it.

Neighbouring tables differ by adding or removing one record; a record changes each
marginal by one count in one cell (L2 sensitivity 1) and each selection score by at most 1.
With budget ``rho`` split evenly over steps 1, 3 and 4 and ``d`` columns, the noise is
``sigma_1 = sqrt(d / (2 rho / 3))`` per 1-way cell, ``sigma_2 = sqrt((d - 1) / (2 rho / 3))``
per 2-way cell, and each of the ``d - 1`` selections is ``epsilon_s``-DP with
``epsilon_s = sqrt(8 (rho / 3) / (d - 1))`` (``epsilon_s^2 / 8``-zCDP as a bounded-range
mechanism).

Examples
--------
>>> from edgeml.data.synthesis.mst import noise_scales
>>> scales = noise_scales(rho=0.3, n_columns=4)
>>> round(scales.sigma_one_way, 4), round(scales.sigma_two_way, 4), round(scales.epsilon_select, 4)
(4.4721, 3.873, 0.5164)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence

import numpy as np

from edgeml.data.synthesis.estimation import Measurement, TreeModel, estimate, project_simplex

__all__ = [
    "NoiseScales",
    "compress",
    "compress_codes",
    "expand_codes",
    "marginal_counts",
    "measure",
    "noise_scales",
    "select",
]


@dataclasses.dataclass(frozen=True)
class NoiseScales:
    """How a zCDP budget ``rho`` is spent by MST on ``n_columns`` columns.

    Attributes
    ----------
    rho : float
        The total budget.
    rho_one_way, rho_select, rho_two_way : float
        Its three equal parts.
    sigma_one_way, sigma_two_way : float
        Gaussian noise standard deviation per cell of a 1-way / 2-way marginal.
    epsilon_select : float
        The epsilon of each of the ``n_columns - 1`` exponential-mechanism selections.
    n_columns : int
        The number of columns.
    """

    rho: float
    rho_one_way: float
    rho_select: float
    rho_two_way: float
    sigma_one_way: float
    sigma_two_way: float
    epsilon_select: float
    n_columns: int


def noise_scales(rho: float, n_columns: int) -> NoiseScales:
    """Split ``rho`` evenly over the three steps and derive each step's noise.

    Parameters
    ----------
    rho : float
        The zCDP budget, > 0.
    n_columns : int
        Columns modelled, >= 2.

    Returns
    -------
    NoiseScales
        The split and the noise levels.
    """
    part = rho / 3.0
    edges = n_columns - 1
    return NoiseScales(
        rho=rho,
        rho_one_way=part,
        rho_select=part,
        rho_two_way=part,
        sigma_one_way=math.sqrt(n_columns / (2.0 * part)),
        sigma_two_way=math.sqrt(edges / (2.0 * part)),
        epsilon_select=math.sqrt(8.0 * part / edges),
        n_columns=n_columns,
    )


def marginal_counts(codes: np.ndarray, sizes: Sequence[int], clique: tuple[int, ...]) -> np.ndarray:
    """Count the records in each cell of a marginal.

    Parameters
    ----------
    codes : numpy.ndarray
        Category indices, shape ``(n_rows, n_columns)``.
    sizes : sequence of int
        Categories per column.
    clique : tuple of int
        The columns of the marginal.

    Returns
    -------
    numpy.ndarray
        Float counts of shape ``[sizes[c] for c in clique]``.
    """
    shape = tuple(sizes[c] for c in clique)
    flat = np.ravel_multi_index(tuple(codes[:, c] for c in clique), shape)
    return np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape).astype(np.float64)


def measure(
    codes: np.ndarray,
    sizes: Sequence[int],
    cliques: Sequence[tuple[int, ...]],
    sigma: float,
    rng: np.random.Generator,
) -> list[Measurement]:
    """Release each clique's marginal with independent Gaussian noise of std ``sigma``.

    Parameters
    ----------
    codes, sizes
        The encoded table and its domain sizes.
    cliques : sequence of tuple of int
        The marginals to measure.
    sigma : float
        Noise standard deviation per cell.
    rng : numpy.random.Generator
        The noise source.

    Returns
    -------
    list of Measurement
        One per clique.
    """
    out = []
    for clique in cliques:
        counts = marginal_counts(codes, sizes, clique)
        noisy = counts + rng.normal(0.0, sigma, counts.shape)
        out.append(Measurement(tuple(clique), noisy, np.full(counts.shape, sigma)))
    return out


def compress(
    measurements: Sequence[Measurement], sizes: Sequence[int]
) -> tuple[list[Measurement], list[np.ndarray]]:
    """Merge each column's categories with a noisy count below 3 sigma into one cell.

    Parameters
    ----------
    measurements : sequence of Measurement
        The 1-way measurements, one per column in column order.
    sizes : sequence of int
        Categories per column.

    Returns
    -------
    measurements : list of Measurement
        Re-expressed on the compressed domains (the rare cell's count is the sum of its
        members' noisy counts, with the summed variance).
    supports : list of numpy.ndarray
        Per column, a boolean mask of the categories kept as their own cell.
    """
    out, supports = [], []
    for m, size in zip(measurements, sizes, strict=True):
        sigma = float(m.sigma.reshape(-1)[0])
        keep = m.y >= 3.0 * sigma
        rare = int(size - keep.sum())
        supports.append(keep)
        if rare <= 1 or keep.sum() < 2:
            # nothing to merge (a single rare category is its own cell), or merging would
            # leave fewer than two cells and erase the column: keep it whole
            supports[-1] = np.ones(size, dtype=bool)
            out.append(m)
            continue
        y = np.append(m.y[keep], m.y[~keep].sum())
        s = np.append(m.sigma[keep], sigma * math.sqrt(rare))
        out.append(Measurement(m.clique, y, s))
    return out, supports


def compressed_sizes(supports: Sequence[np.ndarray]) -> list[int]:
    """Cells per column after :func:`compress`."""
    return [int(s.sum()) + (0 if s.all() else 1) for s in supports]


def compress_codes(codes: np.ndarray, supports: Sequence[np.ndarray]) -> np.ndarray:
    """Map category indices to compressed-cell indices (rare categories to the last cell)."""
    out = np.empty_like(codes)
    for column, keep in enumerate(supports):
        mapping = np.full(len(keep), int(keep.sum()), dtype=codes.dtype)
        mapping[keep] = np.arange(int(keep.sum()), dtype=codes.dtype)
        out[:, column] = mapping[codes[:, column]]
    return out


def expand_codes(
    codes: np.ndarray,
    supports: Sequence[np.ndarray],
    rng: np.random.Generator,
    one_way: Sequence[Measurement] | None = None,
) -> np.ndarray:
    """Map compressed cells back to categories.

    A rare cell becomes one of its members, drawn in proportion to the members' noisy
    1-way counts (``one_way``, before compression) projected onto the simplex, or
    uniformly without them. Both use only released values: no privacy cost.
    """
    out = np.empty_like(codes)
    for column, keep in enumerate(supports):
        kept, rare = np.flatnonzero(keep), np.flatnonzero(~keep)
        cells = codes[:, column]
        values = np.empty(len(cells), dtype=codes.dtype)
        common = cells < len(kept)
        values[common] = kept[cells[common]]
        if rare.size:
            weights = np.full(rare.size, 1.0 / rare.size)
            if one_way is not None:
                y = one_way[column].y[rare]
                scale = max(float(np.abs(y).sum()), 1e-12)
                weights = project_simplex(y / scale, np.ones(rare.size))
            values[~common] = rare[rng.choice(rare.size, int((~common).sum()), p=weights)]
        out[:, column] = values
    return out


def _pick(scores: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """Run the exponential mechanism, sensitivity 1: P(i) ~ exp(epsilon * score_i / 2)."""
    logits = 0.5 * epsilon * (scores - scores.max())
    p = np.exp(logits)
    return int(rng.choice(len(scores), p=p / p.sum()))


def select(
    codes: np.ndarray,
    sizes: Sequence[int],
    independent: TreeModel,
    epsilon: float,
    rng: np.random.Generator,
) -> tuple[list[tuple[int, int]], dict[tuple[int, int], float]]:
    """Choose a spanning tree with the exponential mechanism (private Kruskal).

    Parameters
    ----------
    codes, sizes
        The encoded table (compressed) and its domain sizes.
    independent : TreeModel
        The model fitted to the noisy 1-way marginals alone (no edges).
    epsilon : float
        The epsilon of each of the ``n_columns - 1`` selections.
    rng : numpy.random.Generator
        The selection's randomness.

    Returns
    -------
    edges : list of (int, int)
        The tree, in the order the edges were chosen.
    scores : dict
        Each candidate pair's score (the L1 error of independence; NOT private: it
        stays inside this function's caller and is never released).
    """
    d = len(sizes)
    candidates = list(itertools.combinations(range(d), 2))
    scores = {}
    for a, b in candidates:
        expected = independent.total * np.outer(
            independent.marginal((a,)), independent.marginal((b,))
        )
        scores[(a, b)] = float(np.abs(marginal_counts(codes, sizes, (a, b)) - expected).sum())
    component = list(range(d))

    def root(i: int) -> int:
        while component[i] != i:
            component[i] = component[component[i]]
            i = component[i]
        return i

    edges: list[tuple[int, int]] = []
    for _ in range(d - 1):
        open_pairs = [e for e in candidates if root(e[0]) != root(e[1])]
        chosen = open_pairs[_pick(np.array([scores[e] for e in open_pairs]), epsilon, rng)]
        edges.append(chosen)
        component[root(chosen[0])] = root(chosen[1])
    return edges, scores


def fit_independent(one_way: Sequence[Measurement], sizes: Sequence[int]) -> TreeModel:
    """Fit the independent-columns model closest to the noisy 1-way marginals (exact)."""
    return estimate(sizes, [], one_way)
