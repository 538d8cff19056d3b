"""A drift baseline that may be released: a DP histogram over public edges.

``edgeml.drift.Histogram.fit(x_train)`` stores quantile edges, the minimum and the maximum
of the training data verbatim: released in a model card, they are training records.
:func:`dp_baseline` builds the same kind of sketch (an :class:`edgeml.drift.Histogram`,
so every drift test and the monitor accept it) from public choices and noisy counts:

- edges are ``bins`` equal-width bins over a declared range ``[lower, upper]`` per
  feature (chosen without looking at the data); values are clipped into it, so the
  below/above cells are empty by construction;
- each inner count gets exact discrete noise (:mod:`edgeml.privacy._discrete`); one
  record changes one cell of each of the ``p`` features by one, so the release has L1
  sensitivity ``p`` (discrete Laplace, pure DP) or L2 sensitivity ``sqrt(p)`` (discrete
  Gaussian, ``p / (2 sigma**2)``-zCDP);
- negative counts become 0; minimum and maximum are the declared bounds; the scale (used
  to normalise Wasserstein distances) is the noisy histogram's standard deviation. All
  post-processing.

The release is charged to a :class:`~edgeml.privacy.Ledger` (``ledger=``), the one that
holds the training, so the card can state the budget split. :meth:`DPBaseline.sample`
draws representative rows from the noisy marginals (post-processing too: no extra
budget) for int8 calibration.

Layering: privacy uses drift's public ``Histogram`` constructor; drift knows nothing of
privacy.

Examples
--------
>>> import numpy as np
>>> from edgeml.privacy import Ledger
>>> from edgeml.privacy.baseline import dp_baseline
>>> x = np.random.default_rng(0).uniform(0, 1, size=(2000, 3))
>>> ledger = Ledger(delta=1e-5)
>>> base = dp_baseline(x, lower=0.0, upper=1.0, bins=5, epsilon=1.0, delta=1e-6,
...                    ledger=ledger)
>>> base.histogram.edges[0].tolist()
[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
>>> base.protection.kind, [e.name for e in ledger.entries]
('dp', ['drift baseline'])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeml.drift import Histogram
from edgeml.errors import DataError, invalid_argument
from edgeml.privacy._discrete import (
    discrete_laplace_event,
    zcdp_event,
)
from edgeml.privacy._mechanism_base import _check_budget, integer_noise, noise_source
from edgeml.privacy.scope import Declared, Protection

if TYPE_CHECKING:
    import dp_accounting

    from edgeml.privacy._mechanism_base import _Ledger

__all__ = ["DPBaseline", "dp_baseline"]


@dataclasses.dataclass(frozen=True)
class DPBaseline:
    """A differentially private drift baseline and what it cost.

    Attributes
    ----------
    histogram : edgeml.drift.Histogram
        The sketch: public edges, noisy non-negative counts.
    epsilon, delta : float
        The release's own guarantee.
    mechanism : str
        ``"laplace"`` or ``"gaussian"`` (both discrete and exact).
    scale : float
        The discrete Laplace scale or discrete Gaussian sigma of each count's noise.
    name : str
        The release's name in the ledger.
    seeded : bool
        Whether the noise came from a seeded generator (tests only).
    """

    histogram: Histogram
    epsilon: float
    delta: float
    mechanism: str
    scale: float
    name: str = "drift baseline"
    seeded: bool = False

    @property
    def protection(self) -> Protection:
        """The baseline's protection: DP with this release's budget share."""
        return Protection.dp(
            self.epsilon,
            self.delta,
            release=self.name,
            detail=(
                f"discrete {self.mechanism} histogram over declared edges "
                f"({self.histogram.n_features} features x {self.histogram.bins} bins)"
                + (
                    "; the noise was seeded: the guarantee does not hold against anyone who "
                    "knows the seed"
                    if self.seeded
                    else ""
                )
            ),
        )

    def dp_event(self) -> dp_accounting.DpEvent:
        """Return the ``dp_accounting`` event of the release.

        One record moves one count of each of the ``p`` features by one:
        ``SelfComposedDpEvent(DiscreteLaplaceDpEvent(1 / t, 1), p)`` or
        ``ZCDpEvent(p / (2 sigma**2))``.
        """
        from dp_accounting import SelfComposedDpEvent

        p = self.histogram.n_features
        if self.mechanism == "laplace":
            return SelfComposedDpEvent(discrete_laplace_event(1 / self.scale, 1), p)
        return zcdp_event(p / (2 * self.scale**2))

    def sample(self, n: int, *, seed: int | None = None) -> Declared:
        """Draw ``n`` rows from the noisy marginals, for int8 calibration.

        Each feature independently: a cell with probability proportional to its noisy
        count, then a uniform value inside it. Only the released histogram is read, so
        the rows are post-processing of it and cost no budget.

        Parameters
        ----------
        n : int
            Number of rows.
        seed : int, optional
            Seed of the sampling (it protects nothing, so a seed is harmless here).

        Returns
        -------
        Declared
            ``data`` is a float32 array ``(n, features)``; its protection is this
            baseline's DP release (``epsilon`` 0: post-processing).

        Examples
        --------
        >>> import numpy as np
        >>> x = np.random.default_rng(1).uniform(0, 1, size=(500, 2))
        >>> rows = dp_baseline(x, lower=0.0, upper=1.0, epsilon=1.0).sample(4, seed=0)
        >>> rows.data.shape, rows.protection.kind, rows.protection.epsilon
        ((4, 2), 'dp', 0.0)
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise invalid_argument("DPBaseline.sample", "n", n, "an integer >= 1")
        rng = np.random.default_rng(seed)
        h = self.histogram
        rows = np.empty((int(n), h.n_features), dtype=np.float32)
        for j in range(h.n_features):
            inner = h.counts[j, 1:-1].astype(np.float64)
            weights = inner / inner.sum() if inner.sum() > 0 else np.full(h.bins, 1 / h.bins)
            cells = rng.choice(h.bins, size=int(n), p=weights)
            left, right = h.edges[j, cells], h.edges[j, cells + 1]
            rows[:, j] = left + rng.uniform(0, 1, int(n)) * (right - left)
        detail = f"rows sampled from the DP drift baseline {self.name!r} (post-processing)"
        return Declared(rows, Protection.dp(0.0, 0.0, release=self.name, detail=detail))

    def to_dict(self) -> dict[str, Any]:
        """Return the histogram's dict (what the model card stores)."""
        return self.histogram.to_dict()

    def __repr__(self) -> str:
        h = self.histogram
        return (
            f"DPBaseline(features={h.n_features}, bins={h.bins}, epsilon={self.epsilon:g}, "
            f"delta={self.delta:g}, mechanism={self.mechanism!r})"
        )


def _per_feature(owner: str, name: str, value: Any, p: int) -> np.ndarray:
    array = np.broadcast_to(np.asarray(value, dtype=np.float64), (p,)).copy()
    if not np.isfinite(array).all():
        raise invalid_argument(owner, name, value, "finite numbers (public bounds)")
    return array


def dp_baseline(
    x: Any,
    *,
    lower: float | Sequence[float],
    upper: float | Sequence[float],
    bins: int = 10,
    epsilon: float,
    delta: float = 0.0,
    mechanism: str | None = None,
    names: Sequence[str] | None = None,
    seed: int | np.random.Generator | None = None,
    ledger: _Ledger | None = None,
    name: str = "drift baseline",
) -> DPBaseline:
    """Release a drift baseline of private data as a DP histogram over declared edges.

    Parameters
    ----------
    x : array-like, shape (n, features)
        The private reference data (for example the training inputs).
    lower, upper : float or sequence of float
        The declared range per feature (or one for all), chosen without looking at the
        data (e.g. pixel intensities are in [0, 1]); values outside are clipped.
    bins : int, default 10
        Equal-width bins per feature.
    epsilon : float
        The baseline's share of the budget.
    delta : float, default 0.0
        0 gives the discrete Laplace (pure DP); a delta in (0, 1) the discrete Gaussian,
        which adds less noise when there are many features.
    mechanism : {"laplace", "gaussian"}, optional
        Chosen from ``delta`` when not given.
    names : sequence of str, optional
        Feature names.
    seed : int or numpy.random.Generator, optional
        Tests only: replaces the CSPRNG.
    ledger : Ledger, optional
        Where the release is charged; recorded before anything is returned, so a refused
        budget releases nothing.
    name : str, default "drift baseline"
        The release's name in the ledger and the card.

    Returns
    -------
    DPBaseline

    Raises
    ------
    DataError
        For data that is not a finite 2-D numeric array.
    PrivacyBudgetExceeded
        When the ledger's budget would be exceeded.
    """
    owner = "dp_baseline"
    chosen = mechanism or ("laplace" if delta == 0 else "gaussian")
    _check_budget(owner, epsilon, delta, chosen)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise invalid_argument(owner, "bins", bins, "an integer >= 1")
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{owner}: x must be numbers; got {type(x).__name__}.") from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or not np.isfinite(array).all():
        raise DataError(
            f"{owner}: x must be a finite 2-D array (rows x features); got shape "
            f"{array.shape}. Fix: drop or impute NaN/inf first."
        )
    p = array.shape[1]
    low = _per_feature(owner, "lower", lower, p)
    high = _per_feature(owner, "upper", upper, p)
    if not (low < high).all():
        raise invalid_argument(owner, "upper", upper, "greater than lower for every feature")
    edges = np.linspace(low, high, int(bins) + 1, axis=1)
    clipped = np.clip(array, low, high)
    inner = np.empty((p, int(bins)), dtype=np.int64)
    for j in range(p):
        inner[j] = np.histogram(clipped[:, j], bins=edges[j])[0]
    draw, seeded = noise_source(owner, seed)
    # one record changes one count of each feature by one: L1 = p, squared L2 = p
    noise, scale = integer_noise(chosen, p, epsilon, delta, inner.size, draw, l2_squared=p)
    noisy = np.maximum(inner + noise.reshape(inner.shape), 0)
    counts = np.zeros((p, int(bins) + 2), dtype=np.int64)
    counts[:, 1:-1] = noisy
    middles = (edges[:, :-1] + edges[:, 1:]) / 2
    totals = noisy.sum(axis=1)
    safe = np.where(totals > 0, totals, 1)
    mean = (noisy * middles).sum(axis=1) / safe
    spread = np.sqrt(np.maximum((noisy * (middles - mean[:, None]) ** 2).sum(axis=1) / safe, 0))
    histogram = Histogram(
        edges,
        counts,
        minimum=low,
        maximum=high,
        nonfinite=np.zeros(p, dtype=np.int64),
        scale=np.where(totals > 0, spread, np.nan),
        names=names,
    )
    result = DPBaseline(histogram, float(epsilon), float(delta), chosen, scale, name, seeded)
    if ledger is not None:
        ledger.record(name=name, event=result.dp_event(), epsilon=result.epsilon, delta=delta)
    return result
