"""``synthesize``: a differentially private synthetic copy of a minimized table (MST)."""

from __future__ import annotations

import datetime as _dt
import math
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edgeml.data._table import read_table, write_table
from edgeml.data.minimization import minimize
from edgeml.data.policy import Policy
from edgeml.data.synthesis import mst
from edgeml.data.synthesis.domain import decode, encode, synthesis_domain
from edgeml.data.synthesis.estimation import estimate
from edgeml.data.synthesis.quality import measure_quality
from edgeml.data.synthesis.report import SynthesisReport
from edgeml.data.synthesis.zcdp import zcdp_epsilon, zcdp_rho
from edgeml.errors import ConfigError, DataError, invalid_argument
from edgeml.privacy._discrete import zcdp_event
from edgeml.privacy._epsilon import _check_delta
from edgeml.privacy.accounting import Guarantee

if TYPE_CHECKING:
    import dp_accounting

__all__ = ["mst_event", "synthesize"]

#: Refuse when noise alone would move this much of each column's mass (expected 1-way TVD).
MAX_EXPECTED_NOISE_TVD = 0.5


class _Ledger(Protocol):
    def record(
        self,
        *,
        name: str,
        event: dp_accounting.DpEvent,
        epsilon: float,
        delta: float,
        noise_seeded: bool = ...,
    ) -> Any: ...


def mst_event(scales: mst.NoiseScales) -> dp_accounting.DpEvent:
    """Build the dp-accounting event of one MST run.

    Parameters
    ----------
    scales : NoiseScales
        The run's noise levels (:func:`edgeml.data.synthesis.mst.noise_scales`).

    Returns
    -------
    dp_accounting.DpEvent
        The 1-way measurements (one Gaussian mechanism of L2 sensitivity ``sqrt(d)``),
        the ``d - 1`` selections (each ``epsilon_s^2 / 8``-zCDP) and the 2-way
        measurements (sensitivity ``sqrt(d - 1)``), composed. The RDP accountant reads
        it exactly; the PLD accountant cannot (zCDP events have no loss distribution),
        so a PLD ledger uses the release's stated ``(epsilon, delta)``.

    Examples
    --------
    >>> from edgeml.data.synthesis.mst import noise_scales
    >>> event = mst_event(noise_scales(rho=0.3, n_columns=4))
    >>> type(event).__name__, len(event.events)
    ('ComposedDpEvent', 3)
    """
    import dp_accounting

    d = scales.n_columns
    return dp_accounting.ComposedDpEvent(
        [
            dp_accounting.GaussianDpEvent(scales.sigma_one_way / math.sqrt(d)),
            dp_accounting.SelfComposedDpEvent(zcdp_event(scales.epsilon_select**2 / 8.0), d - 1),
            dp_accounting.GaussianDpEvent(scales.sigma_two_way / math.sqrt(d - 1)),
        ]
    )


def _generator(seed: Any) -> np.random.Generator:
    if seed is None:
        return np.random.Generator(np.random.PCG64(secrets.randbits(128)))
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise invalid_argument(
        "synthesize",
        "seed",
        seed,
        "None, an int or a numpy Generator",
        fix="leave seed=None outside tests (secure noise)",
    )


def _check_budget(epsilon: Any, delta: Any) -> tuple[float, float]:
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, (int, float))
        or not math.isfinite(epsilon)
        or epsilon <= 0
    ):
        raise invalid_argument(
            "synthesize",
            "epsilon",
            epsilon,
            "a finite number > 0",
            fix="pass the release's privacy budget, e.g. epsilon=1.0",
        )
    fix = "use e.g. delta=1e-6 (well below 1 / number of records)"
    return float(epsilon), _check_delta("synthesize", delta, fix=fix)


def _check_rows(n_rows: Any) -> int | None:
    if n_rows is None:
        return None
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
        raise invalid_argument(
            "synthesize",
            "n_rows",
            n_rows,
            "a positive integer or None",
            fix="pass n_rows=None to produce about as many rows as the real table (a noisy "
            "count), or a positive number",
        )
    return int(n_rows)


def synthesize(
    table: Any,
    policy: Policy,
    *,
    epsilon: float,
    delta: float,
    n_rows: int | None = None,
    ledger: _Ledger | None = None,
    seed: int | np.random.Generator | None = None,
    target: str | None = None,
    domains: Mapping[str, Sequence[Any]] | None = None,
    missing: str = "category",
    max_categories: int = 1000,
    now: _dt.datetime | None = None,
    quality: bool = True,
) -> tuple[Any, SynthesisReport]:
    """Release a differentially private synthetic copy of a table (MST).

    The policy decides what the synthetic table may contain: its ``keep`` columns, with
    categories read from the policy (see :mod:`edgeml.data.synthesis.domain`), never
    from the data. Rows the policy filters out (withdrawn consent, past retention) are
    not used. Pseudonymized identifier columns are omitted (a synthetic row is no one);
    ``k``-anonymity suppression is not applied before synthesis, since it depends on
    other rows and would break the sensitivity analysis: differential privacy protects
    every row instead.

    MST (McKenna, Miklau and Sheldon, 2021) measures every column's histogram with
    Gaussian noise, picks a spanning tree of strongly dependent column pairs with the
    exponential mechanism, measures those pairs' 2-way histograms, fits a consistent
    tree-structured model to all measurements and samples records from it (see
    :mod:`edgeml.data.synthesis.mst`). The zCDP budget ``rho`` is the largest whose
    conversion gives at most ``(epsilon, delta)``
    (:func:`~edgeml.data.synthesis.zcdp.zcdp_rho`).

    Parameters
    ----------
    table : DataFrame, dict of columns, list of dicts or numpy structured array
        The real records (never modified).
    policy : Policy
        The minimization policy the output follows.
    epsilon, delta : float
        The guarantee of the release: ``epsilon > 0``, ``delta`` in (0, 1).
    n_rows : int, optional
        Synthetic rows to produce; by default the noisy estimate of the real row count.
    ledger : Ledger, optional
        Where to record the release (e.g. the ledger of the model's DP-SGD training). It
        is recorded before any noisy statistic is computed; if the ledger refuses
        (budget exceeded) nothing is released.
    seed : int or numpy.random.Generator, optional
        For tests and reproducible examples only; by default the noise is seeded from
        the operating system's CSPRNG. A seed makes the noise reproducible, so the
        report's guarantee records ``noise_seeded=True``: it does not hold against anyone
        who knows the seed.
    target : str, optional
        A modelled column to predict in the train-on-synthetic / test-on-real measure.
    domains : mapping of str to sequence, optional
        Declared categories of columns whose transform does not fix them.
    missing : {"category", "refuse"}, default "category"
        Missing values are the category ``None`` (in the output too), or an error.
    max_categories : int, default 1000
        Most categories a column may declare.
    now : datetime.datetime, optional
        Reference time for the policy's retention check (as in :func:`minimize`).
    quality : bool, default True
        Compute :attr:`SynthesisReport.quality` (not private; kept with the owner).

    Returns
    -------
    table : same kind as the input
        The synthetic records: the policy's ``keep`` columns (minus pseudonyms), values
        from their declared categories only.
    report : SynthesisReport
        The guarantee, the tree, the domain and (not private) quality measures.

    Raises
    ------
    ConfigError
        A column without a public domain, fewer than two columns, a column with one
        category, ``n_rows`` < 1, a bad budget, or an epsilon too small for the table
        to carry any signal (the message gives the expected error).
    DataError
        An empty table (before or after the policy's row filters), values outside the
        declared categories, or missing values with ``missing="refuse"``.
    PrivacyBudgetExceeded
        The ledger's budget would be exceeded; nothing was released.

    Examples
    --------
    >>> import numpy as np
    >>> from edgeml.data import Policy, bins, synthesize
    >>> rng = np.random.default_rng(0)
    >>> age = rng.integers(18, 90, 2000)
    >>> records = {"age": age, "retired": np.where(age > 65, "yes", "no"),
    ...            "name": [f"person {i}" for i in range(2000)]}
    >>> policy = Policy(keep={"age": bins([18, 40, 65, 90]), "retired": None})
    >>> synthetic, report = synthesize(records, policy, epsilon=3.0, delta=1e-6,
    ...                                domains={"retired": ["no", "yes"]}, seed=0)
    >>> sorted(synthetic), report.tree
    (['age', 'retired'], (('age', 'retired'),))
    >>> round(report.guarantee.epsilon, 6) <= 3.0
    True
    """
    epsilon, delta = _check_budget(epsilon, delta)
    rows_wanted = _check_rows(n_rows)
    rng = _generator(seed)
    domain = synthesis_domain(
        policy, domains=domains, missing=missing, max_categories=max_categories
    )
    if target is not None and target not in domain.names:
        raise invalid_argument(
            "synthesize",
            "target",
            target,
            f"one of the synthesized columns {list(domain.names)}",
            fix="name a column the policy keeps, or leave target=None",
        )
    parsed = read_table(table, owner="synthesize", only=policy.required_columns)
    if parsed.n_rows == 0:
        raise DataError(
            "synthesize: the table has no rows, so there is nothing to synthesize. "
            "Fix: check the data source or filters."
        )
    # The policy's row filters (consent, retention) and per-value transforms, through
    # minimize itself; top_k's data-dependent choice and k-anonymity are left out.
    inner = Policy(
        keep={c.name: c.before for c in domain.columns},
        purpose=policy.purpose,
        consent_column=policy.consent_column,
        timestamp_column=policy.timestamp_column,
        retention_days=policy.retention_days,
        allow_pii=domain.names,
    )
    filtered, _ = minimize(table, inner, now=now)
    columns = read_table(filtered, owner="synthesize").columns
    codes = encode(domain, columns)
    n_real, d = codes.shape
    if n_real == 0:
        raise DataError(
            "synthesize: no row is left after the policy's consent and retention filters. "
            "Fix: check the policy's purpose and retention_days."
        )
    sizes = list(domain.sizes)
    rho = zcdp_rho(epsilon, delta)
    spent = zcdp_epsilon(rho, delta)  # the release's epsilon, at most the one asked for
    scales = mst.noise_scales(rho, d)
    noise_tvd = float(
        np.mean([0.5 * k * scales.sigma_one_way * math.sqrt(2 / math.pi) / n_real for k in sizes])
    )
    if noise_tvd >= MAX_EXPECTED_NOISE_TVD:
        raise ConfigError(
            f"synthesize: epsilon={epsilon:g} is too small for {n_real} rows and {d} columns: "
            f"each 1-way count gets Gaussian noise of standard deviation "
            f"{scales.sigma_one_way:.3g} (2-way: {scales.sigma_two_way:.3g}), so the expected "
            f"absolute noise summed over a column's histogram is {2 * noise_tvd:.3g} times "
            "the number of rows (an expected total variation distance of "
            f"{min(noise_tvd, 1.0):.2g}; {MAX_EXPECTED_NOISE_TVD:g} or more leaves no usable "
            "signal). Fix: raise epsilon, use fewer columns or coarser categories, or "
            "synthesize from more rows."
        )
    if ledger is not None:
        ledger.record(
            name="synthesize",
            event=mst_event(scales),
            epsilon=spent,
            delta=delta,
            noise_seeded=seed is not None,
        )

    # 1. noisy 1-way marginals, 2. compression, 3. private tree, 4. noisy 2-way marginals
    one_way = mst.measure(codes, sizes, [(i,) for i in range(d)], scales.sigma_one_way, rng)
    one_way_full = one_way
    one_way, supports = mst.compress(one_way, sizes)
    small = mst.compress_codes(codes, supports)
    small_sizes = mst.compressed_sizes(supports)
    independent = mst.fit_independent(one_way, small_sizes)
    edges, _scores = mst.select(small, small_sizes, independent, scales.epsilon_select, rng)
    two_way = mst.measure(small, small_sizes, edges, scales.sigma_two_way, rng)
    # 5. consistent estimation on the tree, then ancestral sampling
    model = estimate(small_sizes, edges, one_way + two_way)
    count = rows_wanted if rows_wanted is not None else max(1, round(model.total))
    synthetic = mst.expand_codes(model.sample(count, rng), supports, rng, one_way_full)

    out: dict[str, np.ndarray] = {}
    position = {name: i for i, name in enumerate(domain.names)}
    for name in policy.keep:
        if name in position:
            out[name] = decode(domain.columns[position[name]], synthetic[:, position[name]])
        else:  # suppressed
            out[name] = np.full(count, None, dtype=object)
    names = domain.names
    report = SynthesisReport(
        guarantee=Guarantee(
            epsilon=spent,
            delta=delta,
            accountant="zcdp",
            sampling="composed",
            releases=3,
            noise_seeded=seed is not None,
        ),
        scales=scales,
        tree=tuple((names[a], names[b]) for a, b in edges),
        domain=domain,
        compressed_sizes=dict(zip(names, small_sizes, strict=True)),
        rows_out=count,
        policy_hash=policy.policy_hash,
        quality=(
            measure_quality(
                codes, synthetic, names, sizes, target=target, expected_noise_tvd=noise_tvd
            )
            if quality
            else None
        ),
    )
    return write_table(out, parsed), report
