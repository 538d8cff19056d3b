"""Fleet drift: merge the devices' histogram sketches and test them against a reference.

Devices answer a ``query`` message with a :class:`~edgeml.drift.Histogram` of their own
rows over edges fixed from PUBLIC reference data (counts only; no row, minimum or
maximum leaves a device). Merging is exact (counts add), so the fleet's PSI is the PSI
of all devices' data pooled, computed without pooling it.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgeml.drift import DriftReport, Histogram, psi
from edgeml.drift._report import FeatureDrift
from edgeml.errors import DataError, invalid_argument

__all__ = ["fleet_drift"]


def fleet_drift(
    reference: Histogram,
    sketches: Sequence[Histogram],
    *,
    threshold: float = 0.2,
    drift_share: float = 0.5,
) -> DriftReport:
    """Merge device sketches and compare the fleet with the reference, feature by feature.

    Parameters
    ----------
    reference : Histogram
        Fitted on public reference data (its edges were sent to the devices).
    sketches : sequence of Histogram
        One per device, made from ``reference.empty()``.
    threshold : float, default 0.2
        PSI above which a feature drifted.
    drift_share : float, default 0.5
        The fleet drifted when at least this share of features drifted.

    Returns
    -------
    DriftReport
        PSI per feature; ``n_current`` is the number of rows counted over the fleet.

    Raises
    ------
    DataError
        No sketch, sketches of another reference, or a fleet with no rows.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reference = Histogram.fit(rng.normal(size=(2000, 2)), bins=10)
    >>> devices = [reference.empty().update(rng.normal([0.0, 1.5], size=(300, 2)))
    ...            for _ in range(3)]
    >>> report = fleet_drift(reference, devices)
    >>> report.drifted_features, report.n_current
    (['1'], 900)
    """
    if not sketches:
        raise invalid_argument(
            "fleet_drift",
            "sketches",
            sketches,
            "at least one device sketch",
            fix="check that the devices answered the drift query",
        )
    merged = sketches[0]
    for sketch in sketches[1:]:
        merged = merged.merge(sketch)
    if int(merged.total.sum()) == 0:
        raise DataError("The fleet's sketches count no rows. Fix: query devices that hold data.")
    results = psi(reference, merged, threshold=threshold)
    results = results if isinstance(results, list) else [results]
    features = tuple(
        FeatureDrift(name, "numeric", result)
        for name, result in zip(reference.names, results, strict=True)
    )
    return DriftReport(
        features=features,
        correction=None,
        alpha=0.05,
        drift_share=float(drift_share),
        n_reference=int(reference.total.max()),
        n_current=int(merged.total.max()),
        settings={
            "numeric": ["psi"],
            "bins": reference.bins,
            "thresholds": {"psi": threshold},
            "devices": len(sketches),
        },
    )
