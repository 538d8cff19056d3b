"""The synthetic-data step of ``edgeml demo``: a DP copy of the demo's minimized records."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

from edgeml.data.policy import Policy
from edgeml.data.synthesis.pipeline import _Ledger, synthesize
from edgeml.data.synthesis.report import SynthesisReport
from edgeml.data.transforms import bins, truncate

__all__ = ["demo_policy", "demo_step"]


def demo_policy() -> Policy:
    """Return the policy of the demo's synthetic copy: every column binned or truncated.

    The rows it keeps are the demo's minimization policy's (consent to ``training``,
    collected within 365 days); heart rate and steps are binned because a synthetic
    table needs a finite, public domain.

    Returns
    -------
    Policy
        The policy.

    Examples
    --------
    >>> demo_policy().released_columns
    ('age', 'zip', 'heart_rate', 'steps')
    """
    return Policy(
        keep={
            "age": bins([0, 18, 30, 45, 65, 120]),
            "zip": truncate(2),
            "heart_rate": bins([0, 60, 70, 80, 90, 250]),
            "steps": bins([0, 4000, 6000, 8000, 10000, 1_000_000]),
        },
        purpose="training",
        consent_column="consent",
        timestamp_column="collected_at",
        retention_days=365,
    )


def demo_step(
    records: Mapping[str, Sequence[Any]],
    *,
    zip_prefixes: Sequence[str],
    now: _dt.datetime,
    epsilon: float = 1.0,
    delta: float = 1e-6,
    ledger: _Ledger | None = None,
    seed: int | None = 0,
) -> tuple[Any, SynthesisReport]:
    """Synthesize the demo's records under :func:`demo_policy`.

    Parameters
    ----------
    records : mapping
        The demo's raw records (``edgeml.demo.synthetic_records``).
    zip_prefixes : sequence of str
        The public two-character postcode regions (the synthetic ``zip`` domain).
    now : datetime.datetime
        Reference time of the retention check.
    epsilon, delta : float
        The release's budget.
    ledger : Ledger, optional
        Where to charge it.
    seed : int or None, default 0
        The demo repeats; pass None for secure noise.

    Returns
    -------
    table : dict of columns
        The synthetic records.
    report : SynthesisReport
        Write its :meth:`~SynthesisReport.to_release_dict` next to the table; keep the
        quality measures private.

    Examples
    --------
    >>> import datetime as dt
    >>> from edgeml.demo import DEMO_NOW, synthetic_records
    >>> table, report = demo_step(synthetic_records(1500), zip_prefixes=["10", "12", "20",
    ...                           "40", "60", "80"], now=DEMO_NOW)
    >>> sorted(table), report.rows_out > 500
    (['age', 'heart_rate', 'steps', 'zip'], True)
    """
    return synthesize(
        records,
        demo_policy(),
        epsilon=epsilon,
        delta=delta,
        domains={"zip": list(zip_prefixes)},
        ledger=ledger,
        seed=seed,
        now=now,
    )
