"""Consistent marginals from noisy measurements: a tree-structured graphical model.

MST measures noisy 1-way marginals of every column and noisy 2-way marginals of the
edges of a spanning tree. Noise makes them negative and mutually inconsistent (a pair's
row sums differ from the 1-way counts). :func:`estimate` finds the distribution ``p``
that minimizes the weighted least-squares loss

    L(p) = sum over measurements m of 1/2 || (N p_m - y_m) / sigma_m ||^2

over the distributions that factor over the tree (``p_m`` is the marginal of ``p`` on
the measured columns, ``N`` the noisy row count). On a tree every set of consistent
pairwise marginals is realised by such a distribution, so this is the projection of the
measurements onto the consistent, non-negative marginals, computed as in private-pgm
(McKenna, Sheldon and Miklau, 2019): entropic mirror descent on the model's log-potentials
with an Armijo line search, the marginals of each iterate computed exactly by belief
propagation on the tree. Every iterate's marginals are consistent and positive by
construction; the loss decreases monotonically.

Examples
--------
>>> import numpy as np
>>> from edgeml.data.synthesis.estimation import Measurement, estimate
>>> x = np.array([[30.0, 10.0], [10.0, 50.0]])
>>> ms = [Measurement((0,), x.sum(1), np.ones(2)), Measurement((1,), x.sum(0), np.ones(2)),
...       Measurement((0, 1), x, np.ones((2, 2)))]
>>> model = estimate((2, 2), [(0, 1)], ms)
>>> np.round(model.marginal((0, 1)) * model.total, 2)
array([[30., 10.],
       [10., 50.]])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Measurement", "TreeModel", "estimate", "noisy_total", "project_simplex"]


@dataclasses.dataclass(frozen=True)
class Measurement:
    """A noisy marginal: ``y = counts of clique + noise`` with per-cell standard deviation.

    Attributes
    ----------
    clique : tuple of int
        One column index (a 1-way marginal) or two (a 2-way marginal, axes in that order).
    y : numpy.ndarray
        The noisy counts, shaped like the marginal.
    sigma : numpy.ndarray
        The noise standard deviation of each cell (same shape as ``y``).
    """

    clique: tuple[int, ...]
    y: np.ndarray
    sigma: np.ndarray


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = a.max(axis=axis)
    shifted = a - (top[:, None] if axis == 1 else top[None, :]) if a.ndim == 2 else a - top
    return np.asarray(np.log(np.exp(shifted).sum(axis=axis)) + top)


class TreeModel:
    """A distribution over a forest of columns: ``p(x) ~ exp(sum of node and edge potentials)``.

    Parameters
    ----------
    sizes : sequence of int
        Categories of each column.
    edges : sequence of (int, int)
        Edges of a forest over the columns.
    total : float
        The (noisy) number of rows the marginals are scaled by.
    """

    def __init__(self, sizes: Sequence[int], edges: Sequence[tuple[int, int]], total: float):
        self.sizes = tuple(int(k) for k in sizes)
        self.total = float(total)
        d = len(self.sizes)
        neighbours: list[list[int]] = [[] for _ in range(d)]
        for a, b in edges:
            neighbours[a].append(b)
            neighbours[b].append(a)
        # Orient every edge from parent to child in breadth-first order from each root.
        self.parent = [-1] * d
        self.order: list[int] = []
        seen = [False] * d
        for root in range(d):
            if seen[root]:
                continue
            seen[root] = True
            queue = [root]
            while queue:
                node = queue.pop(0)
                self.order.append(node)
                for other in neighbours[node]:
                    if not seen[other]:
                        seen[other] = True
                        self.parent[other] = node
                        queue.append(other)
        if len(self.order) != d or sum(p >= 0 for p in self.parent) != len(edges):
            raise ValueError("the edges do not form a forest")
        self.children: list[list[int]] = [[] for _ in range(d)]
        for node in self.order:
            if self.parent[node] >= 0:
                self.children[self.parent[node]].append(node)
        self.node_theta = [np.zeros(k) for k in self.sizes]
        # edge_theta[child] has shape (size of parent, size of child)
        self.edge_theta: dict[int, np.ndarray] = {
            c: np.zeros((self.sizes[self.parent[c]], self.sizes[c]))
            for c in range(d)
            if self.parent[c] >= 0
        }
        self._node_marginals: list[np.ndarray] = []
        self._edge_marginals: dict[int, np.ndarray] = {}
        self.propagate()

    def propagate(self) -> None:
        """Compute every node and edge marginal exactly (sum-product in log space)."""
        d = len(self.sizes)
        up: list[np.ndarray] = [np.zeros(0)] * d  # message child -> parent
        inside = [t.copy() for t in self.node_theta]
        for node in reversed(self.order):
            parent = self.parent[node]
            if parent >= 0:
                up[node] = _logsumexp(self.edge_theta[node] + inside[node][None, :], axis=1)
                inside[parent] = inside[parent] + up[node]
        belief = [np.zeros(0)] * d
        down: list[np.ndarray] = [np.zeros(0)] * d  # message parent -> child
        for node in self.order:
            parent = self.parent[node]
            if parent < 0:
                belief[node] = inside[node]
            else:
                from_parent = belief[parent] - up[node]
                down[node] = _logsumexp(self.edge_theta[node] + from_parent[:, None], axis=0)
                belief[node] = inside[node] + down[node]
        self._node_marginals = []
        for node in range(d):
            log_p = belief[node] - _logsumexp(belief[node], axis=0)
            self._node_marginals.append(np.exp(log_p))
        self._edge_marginals = {}
        for child, theta in self.edge_theta.items():
            parent = self.parent[child]
            joint = (belief[parent] - up[child])[:, None] + theta + inside[child][None, :]
            log_z = _logsumexp(joint.reshape(-1), axis=0)
            self._edge_marginals[child] = np.exp(joint - log_z)

    def marginal(self, clique: tuple[int, ...]) -> np.ndarray:
        """Return the probability marginal of one column, or of a tree edge (axes as given)."""
        if len(clique) == 1:
            return self._node_marginals[clique[0]]
        a, b = clique
        if self.parent[b] == a:
            return self._edge_marginals[b]
        if self.parent[a] == b:
            return self._edge_marginals[a].T
        raise KeyError(f"{clique} is not an edge of the tree")

    def add_to_potential(self, clique: tuple[int, ...], delta: np.ndarray) -> None:
        """Add ``delta`` to the log-potential of a column or an edge (axes as given)."""
        if len(clique) == 1:
            self.node_theta[clique[0]] = self.node_theta[clique[0]] + delta
            return
        a, b = clique
        if self.parent[b] == a:
            self.edge_theta[b] = self.edge_theta[b] + delta
        else:
            self.edge_theta[a] = self.edge_theta[a] + delta.T

    def snapshot(self) -> tuple[Any, ...]:
        """Save the potentials and marginals (for the line search; arrays are never
        modified in place, so no copies are needed).
        """  # noqa: D205
        return (
            list(self.node_theta),
            dict(self.edge_theta),
            list(self._node_marginals),
            dict(self._edge_marginals),
        )

    def restore(self, state: tuple[Any, ...]) -> None:
        """Put back what :meth:`snapshot` saved."""
        self.node_theta = list(state[0])
        self.edge_theta = dict(state[1])
        self._node_marginals = list(state[2])
        self._edge_marginals = dict(state[3])

    def sample(self, n_rows: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n_rows`` records, root first, then each column given its parent.

        Counts are allocated rather than drawn one record at a time: the root's
        categories get ``n_rows * p`` records and each parent category's records are
        split by the child's conditional distribution, rounded with randomized largest
        remainders and shuffled (the "rounding" of private-pgm). The output then follows
        the model with no more than rounding error, instead of adding multinomial
        sampling noise on top of the privacy noise (which matters for small tables).

        Returns
        -------
        numpy.ndarray
            Category indices of shape ``(n_rows, n_columns)``.
        """
        codes = np.empty((n_rows, len(self.sizes)), dtype=np.int32)
        for node in self.order:
            parent = self.parent[node]
            if parent < 0:
                codes[:, node] = _allocate(n_rows, self._node_marginals[node], rng)
                continue
            joint = self._edge_marginals[node]
            for value in range(self.sizes[parent]):
                rows = np.flatnonzero(codes[:, parent] == value)
                if rows.size:
                    codes[rows, node] = _allocate(rows.size, joint[value], rng)
        return codes


def _allocate(count: int, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return ``count`` category indices in random order, category ``i`` appearing
    ``count * p_i`` times rounded (``p = weights / sum``; randomized largest remainders).
    """  # noqa: D205
    total = float(weights.sum())
    p = weights / total if total > 0 else np.full(len(weights), 1.0 / len(weights))
    exact = count * p
    counts = np.floor(exact).astype(np.int64)
    left = count - int(counts.sum())
    if left > 0:
        fraction = exact - counts
        extra = rng.choice(len(p), size=left, replace=False, p=fraction / fraction.sum())
        counts[extra] += 1
    values = np.repeat(np.arange(len(p), dtype=np.int32), counts)
    rng.shuffle(values)
    return values


def noisy_total(measurements: Sequence[Measurement]) -> float:
    """Estimate the number of rows from the measurements' sums (inverse-variance weighted).

    Each measurement's sum is an unbiased estimate of the row count with variance equal
    to the sum of its cells' variances. The result is at least 1.
    """
    sums = np.array([float(m.y.sum()) for m in measurements])
    variances = np.array([float(np.sum(m.sigma**2)) for m in measurements])
    weights = 1.0 / variances
    return max(1.0, float(np.sum(weights * sums) / np.sum(weights)))


def project_simplex(target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Minimize ``sum((p - target)**2 / weights)`` over probability vectors ``p``.

    The solution is ``p = max(0, target - lam * weights)`` with ``lam`` chosen so that
    ``p`` sums to 1 (found by bisection; the sum falls as ``lam`` grows).

    Examples
    --------
    >>> project_simplex(np.array([0.7, 0.5, -0.2]), np.ones(3)).round(6).tolist()
    [0.6, 0.4, 0.0]
    """
    low = float(np.min((target - 1.0) / weights))  # every cell >= 1 here: sum >= 1
    high = float(np.max(target / weights))  # every cell is 0 here
    for _ in range(200):
        middle = 0.5 * (low + high)
        if np.maximum(target - middle * weights, 0.0).sum() > 1.0:
            low = middle
        else:
            high = middle
    p = np.maximum(target - high * weights, 0.0)
    total = p.sum()
    return p / total if total > 0 else np.full(len(p), 1.0 / len(p))


def _loss(model: TreeModel, measurements: Sequence[Measurement]) -> tuple[float, list[np.ndarray]]:
    """Return the loss (over N^2) and its gradient for each measured marginal."""
    total = model.total
    value = 0.0
    gradients = []
    for m in measurements:
        scale = (m.sigma / total) ** 2
        residual = model.marginal(m.clique) - m.y / total
        value += 0.5 * float(np.sum(residual**2 / scale))
        gradients.append(residual / scale)
    return value, gradients


def estimate(
    sizes: Sequence[int],
    edges: Sequence[tuple[int, int]],
    measurements: Sequence[Measurement],
    *,
    iterations: int = 1000,
    tolerance: float = 1e-9,
) -> TreeModel:
    """Fit the tree model whose marginals best match the noisy measurements.

    Parameters
    ----------
    sizes : sequence of int
        Categories of each column.
    edges : sequence of (int, int)
        The tree (or forest; none for independent columns). Every 2-way measurement must
        be on one of its edges.
    measurements : sequence of Measurement
        Noisy marginals with their noise levels.
    iterations : int, default 1000
        Most mirror-descent steps.
    tolerance : float, default 1e-9
        Stop when a step lowers the loss by less than this fraction.

    Returns
    -------
    TreeModel
        The fitted model; ``model.marginal(clique) * model.total`` are the consistent,
        non-negative estimated counts.
    """
    model = TreeModel(sizes, edges, noisy_total(measurements))
    # Start from the best independent model (exact), which is optimal when there are
    # no edges.
    for m in measurements:
        if len(m.clique) == 1:
            p = project_simplex(m.y / model.total, (m.sigma / model.total) ** 2)
            model.node_theta[m.clique[0]] = np.log(np.maximum(p, 1e-9))
    model.propagate()
    if not edges:
        return model
    loss, gradients = _loss(model, measurements)
    # The gradient scale is N^2 / sigma^2: start the line search near its inverse.
    step = min(float(np.min((m.sigma / model.total) ** 2)) for m in measurements)
    for _ in range(iterations):
        state = model.snapshot()
        old = [model.marginal(m.clique).copy() for m in measurements]
        step *= 2.0
        while True:
            for m, g in zip(measurements, gradients, strict=True):
                model.add_to_potential(m.clique, -step * g)
            model.propagate()
            new_loss, new_gradients = _loss(model, measurements)
            decrease = sum(
                float(np.sum(g * (o - model.marginal(m.clique))))
                for m, g, o in zip(measurements, gradients, old, strict=True)
            )
            if loss - new_loss >= 0.5 * decrease or step < 1e-300:
                break
            model.restore(state)
            step *= 0.5
        converged = loss - new_loss <= tolerance * max(loss, 1e-12)
        loss, gradients = new_loss, new_gradients
        if converged:
            break
    return model
