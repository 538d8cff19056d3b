"""How close a synthetic table is to the real one, and how close to its records.

These measures read the real table, so they are NOT differentially private: they are
for the data owner deciding whether to release, and never go into a released artifact
(:meth:`~edgeml.data.SynthesisReport.to_release_dict` leaves them out).

- total variation distance (TVD) of every 1-way and 2-way marginal, in [0, 1];
- train on synthetic, test on real (TSTR): a categorical naive Bayes classifier of a
  target column trained on the synthetic rows and scored on a real holdout, beside the
  same classifier trained on the other real half (TRTR) and the majority class;
- distance to the closest record (DCR): the number of columns in which a synthetic
  record differs from the nearest real training record, beside the same distance for
  real holdout records (a synthesizer that copies records would sit far below it).

Examples
--------
>>> import numpy as np
>>> from edgeml.data.synthesis.quality import tvd
>>> tvd(np.array([5.0, 5.0]), np.array([10.0, 0.0]))
0.5
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeml._display import to_jsonable
from edgeml.data.synthesis.mst import marginal_counts

__all__ = ["SynthesisQuality", "measure_quality", "naive_bayes_accuracy", "tvd"]

CAVEAT = (
    "Computed on the real table: not differentially private. Keep these numbers with the "
    "data owner; never publish them with the synthetic table."
)


def tvd(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance between two count arrays (each normalized to sum 1)."""
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


@dataclasses.dataclass(frozen=True)
class SynthesisQuality:
    """Utility and closeness measures of a synthetic table (NOT private; see module doc).

    Attributes
    ----------
    tvd_one_way : dict of str to float
        TVD of each column's marginal.
    tvd_two_way_mean, tvd_two_way_max : float
        Mean and worst TVD over every pair of columns.
    target : str or None
        The column TSTR predicts.
    tstr_accuracy, trtr_accuracy, majority_accuracy : float or None
        Holdout accuracy of naive Bayes trained on synthetic rows, on the other real
        half, and of always predicting the majority class.
    dcr_median, holdout_dcr_median : float
        Median number of differing columns from a synthetic / a real holdout record to
        its closest real training record.
    exact_match_rate, holdout_exact_match_rate : float
        Fraction of synthetic / real holdout records equal to some real training record.
    expected_noise_tvd : float
        The 1-way TVD the noise alone would cause (computed from the real row count).
    rows_real : int
        Real rows the synthesizer used.
    caveat : str
        Why these numbers must not be released.
    """

    tvd_one_way: Mapping[str, float]
    tvd_two_way_mean: float
    tvd_two_way_max: float
    target: str | None
    tstr_accuracy: float | None
    trtr_accuracy: float | None
    majority_accuracy: float | None
    dcr_median: float
    holdout_dcr_median: float
    exact_match_rate: float
    holdout_exact_match_rate: float
    expected_noise_tvd: float
    rows_real: int
    caveat: str = CAVEAT

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(to_jsonable(dataclasses.asdict(self)))


def _log_tables(
    x: np.ndarray, y: np.ndarray, sizes: Sequence[int], n_classes: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    prior = np.bincount(y, minlength=n_classes).astype(np.float64)
    tables = []
    for f, size in enumerate(sizes):
        counts = np.zeros((n_classes, size)) + 1.0  # Laplace smoothing
        np.add.at(counts, (y, x[:, f]), 1.0)
        tables.append(np.log(counts / counts.sum(axis=1, keepdims=True)))
    with np.errstate(divide="ignore"):  # a class absent from training is never predicted
        return np.log(prior / prior.sum()), tables


def naive_bayes_accuracy(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    sizes: Sequence[int],
    n_classes: int,
) -> float:
    """Accuracy of categorical naive Bayes trained and tested as given.

    Class priors are the training frequencies; each feature's conditional
    probabilities are Laplace-smoothed (add one), as scikit-learn's ``CategoricalNB``
    with ``alpha=1``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0], [0], [1], [1]]); y = np.array([0, 0, 1, 1])
    >>> naive_bayes_accuracy(x, y, x, y, [2], 2)
    1.0
    """
    log_prior, tables = _log_tables(train_x, train_y, sizes, n_classes)
    scores = np.tile(log_prior, (len(test_x), 1))
    for f, table in enumerate(tables):
        scores += table[:, test_x[:, f]].T
    return float(np.mean(np.argmax(scores, axis=1) == test_y))


def _closest(queries: np.ndarray, reference: np.ndarray) -> np.ndarray:
    reference = np.unique(reference, axis=0)
    out = np.empty(len(queries), dtype=np.int64)
    block = max(1, 2_000_000 // max(1, reference.size))
    for start in range(0, len(queries), block):
        part = queries[start : start + block]
        out[start : start + block] = (part[:, None, :] != reference[None, :, :]).sum(-1).min(1)
    return out


def measure_quality(
    real: np.ndarray,
    synthetic: np.ndarray,
    names: Sequence[str],
    sizes: Sequence[int],
    *,
    target: str | None,
    expected_noise_tvd: float,
    max_pairs: int = 300,
    sample: int = 1000,
    reference: int = 20000,
) -> SynthesisQuality:
    """Compare encoded real and synthetic tables (same columns and category indices).

    Parameters
    ----------
    real, synthetic : numpy.ndarray
        Category indices, shape ``(rows, columns)``.
    names, sizes : sequence
        Column names and categories per column.
    target : str or None
        Column for TSTR, or None to skip it.
    expected_noise_tvd : float
        Stored as is (see :class:`SynthesisQuality`).
    max_pairs : int, default 300
        Pairs of columns compared at most (the first ones in order).
    sample, reference : int
        Records sampled for DCR, and real training records they are compared with.

    Returns
    -------
    SynthesisQuality
        The measures.
    """
    rng = np.random.default_rng(0)  # fixed: these numbers are for the data owner only
    one_way = {
        name: tvd(marginal_counts(real, sizes, (i,)), marginal_counts(synthetic, sizes, (i,)))
        for i, name in enumerate(names)
    }
    pairs = list(itertools.combinations(range(len(names)), 2))[:max_pairs]
    two_way = [
        tvd(marginal_counts(real, sizes, p), marginal_counts(synthetic, sizes, p)) for p in pairs
    ]
    order = rng.permutation(len(real))
    half = len(real) // 2
    train, holdout = real[order[:half]], real[order[half:]]
    tstr = trtr = majority = None
    if target is not None and half > 0:
        t = list(names).index(target)
        features = [i for i in range(len(names)) if i != t]
        fsizes = [sizes[i] for i in features]
        k = sizes[t]
        tstr = naive_bayes_accuracy(
            synthetic[:, features], synthetic[:, t], holdout[:, features], holdout[:, t], fsizes, k
        )
        trtr = naive_bayes_accuracy(
            train[:, features], train[:, t], holdout[:, features], holdout[:, t], fsizes, k
        )
        top = int(np.argmax(np.bincount(train[:, t], minlength=k)))
        majority = float(np.mean(holdout[:, t] == top))
    ref = train[: min(reference, len(train))] if half > 0 else real
    syn_sample = synthetic[rng.permutation(len(synthetic))[:sample]]
    hold_sample = holdout[:sample]
    syn_dcr = _closest(syn_sample, ref)
    hold_dcr = _closest(hold_sample, ref) if len(hold_sample) else np.zeros(1)
    return SynthesisQuality(
        tvd_one_way=one_way,
        tvd_two_way_mean=float(np.mean(two_way)),
        tvd_two_way_max=float(np.max(two_way)),
        target=target,
        tstr_accuracy=tstr,
        trtr_accuracy=trtr,
        majority_accuracy=majority,
        dcr_median=float(np.median(syn_dcr)),
        holdout_dcr_median=float(np.median(hold_dcr)),
        exact_match_rate=float(np.mean(syn_dcr == 0)),
        holdout_exact_match_rate=float(np.mean(hold_dcr == 0)),
        expected_noise_tvd=float(expected_noise_tvd),
        rows_real=len(real),
    )
