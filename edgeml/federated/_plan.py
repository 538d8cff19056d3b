"""``ClientLevelDP``: the privacy plan of a federated run and its accounting.

One round of DP-FedAvg with Poisson client sampling is the Poisson-subsampled Gaussian
mechanism at the client level: ``PoissonSampledDpEvent(q, GaussianDpEvent(z))``, with
``z`` the effective noise multiplier (which includes adaptive clipping's noisy count, see
:func:`~edgeml.federated._clipping.effective_noise_multiplier`). ``R`` rounds compose
``R`` such events; dp-accounting (RDP or PLD) turns them into epsilon, exactly as
:func:`edgeml.privacy.epsilon` does for DP-SGD with ``steps = R``.

Examples
--------
>>> plan = ClientLevelDP(num_clients=100, sampling_rate=0.1, rounds=30, noise_multiplier=1.0)
>>> round(plan.epsilon(), 3)
4.848
>>> plan.expected_clients, plan.noise_std()
(10.0, 0.1)
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any

from edgeml.errors import ConfigError, PrivacyBudgetExceeded, invalid_argument
from edgeml.federated import _clipping
from edgeml.federated._guarantee import ClientGuarantee
from edgeml.privacy import accounting
from edgeml.privacy._epsilon import _check_accountant, _check_delta

__all__ = ["ClientLevelDP", "round_event"]

logger = logging.getLogger("edgeml")


def round_event(*, noise_multiplier: float, sampling_rate: float, rounds: int = 1) -> Any:
    """Build the dp-accounting event of ``rounds`` Poisson-sampled DP-FedAvg rounds.

    Parameters
    ----------
    noise_multiplier : float
        The effective noise multiplier of a round.
    sampling_rate : float
        The probability ``q`` that a device joins a round.
    rounds : int, default 1

    Returns
    -------
    dp_accounting.DpEvent

    Examples
    --------
    >>> round_event(noise_multiplier=1.0, sampling_rate=0.5)
    PoissonSampledDpEvent(sampling_probability=0.5, event=GaussianDpEvent(noise_multiplier=1.0))
    """
    import dp_accounting

    event = dp_accounting.PoissonSampledDpEvent(
        float(sampling_rate), dp_accounting.GaussianDpEvent(float(noise_multiplier))
    )
    return event if rounds == 1 else dp_accounting.SelfComposedDpEvent(event, int(rounds))


def _number(owner: str, name: str, value: Any, low: float, *, low_open: bool = True) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (low_open and value == low):
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        raise invalid_argument(owner, name, value, f"a finite number {bound}")
    return float(value)


@dataclass(frozen=True)
class ClientLevelDP:
    """Client-level DP-FedAvg settings, checked and resolved when built.

    Give the fleet (``num_clients``), the chance ``sampling_rate`` that a device joins a
    round, the planned ``rounds``, and either the promise (``target_epsilon``; the
    smallest noise that keeps it over all rounds is chosen) or ``noise_multiplier``
    (optionally with ``target_epsilon`` as a budget, checked now: a noise that cannot
    stay within the budget for the planned rounds is refused before any round runs).

    Parameters
    ----------
    num_clients : int
        The fleet size ``N``; the average divides by the expected ``q N`` clients.
    sampling_rate : float
        ``q`` in (0, 1]: each device joins each round independently with this probability.
    rounds : int
        Planned rounds.
    delta : float, default 1e-5
        Should be below ``1 / num_clients``.
    target_epsilon : float, optional
        The client-level budget.
    noise_multiplier : float, optional
        ``z``: noise standard deviation on the sum of updates over the clip norm.
    clip_norm : float, default 1.0
        ``C`` (the initial value with adaptive clipping).
    adaptive : bool, default False
        Adapt ``C`` to a quantile of the update norms (Andrew et al. 2021).
    target_quantile : float, default 0.5
        Fraction of updates meant to fit under ``C``.
    clip_learning_rate : float, default 0.2
        ``eta`` of the geometric update.
    count_stddev : float, optional
        Noise on the adaptive count; default ``expected_clients / 20`` (Andrew et al.).
    accountant : {"rdp", "pld"}, default "rdp"

    Attributes
    ----------
    update_noise_multiplier : float
        The noise multiplier applied to the sum of updates.
    effective_noise_multiplier : float
        What a round costs (update noise combined with the count noise).

    Examples
    --------
    >>> dp = ClientLevelDP(num_clients=50, sampling_rate=0.2, rounds=20, target_epsilon=8.0)
    >>> dp.epsilon() <= 8.0
    True
    >>> ClientLevelDP(num_clients=50, sampling_rate=0.2, rounds=20, noise_multiplier=0.3,
    ...               target_epsilon=1.0)
    Traceback (most recent call last):
    ...
    edgeml.errors.ConfigError: noise_multiplier=0.3 cannot keep ...
    """

    num_clients: int
    sampling_rate: float
    rounds: int
    delta: float = 1e-5
    target_epsilon: float | None = None
    noise_multiplier: float | None = None
    clip_norm: float = 1.0
    adaptive: bool = False
    target_quantile: float = 0.5
    clip_learning_rate: float = 0.2
    count_stddev: float | None = None
    accountant: accounting.Accountant = "rdp"
    update_noise_multiplier: float = dataclasses.field(init=False, default=0.0)
    effective_noise_multiplier: float = dataclasses.field(init=False, default=0.0)

    def __post_init__(self) -> None:
        owner = "ClientLevelDP"
        n = self.num_clients
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise invalid_argument(owner, "num_clients", n, "an integer >= 1")
        r = self.rounds
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise invalid_argument(owner, "rounds", r, "an integer >= 1")
        q = _number(owner, "sampling_rate", self.sampling_rate, 0.0)
        if q > 1:
            raise invalid_argument(owner, "sampling_rate", q, "a probability in (0, 1]")
        delta = _check_delta(owner, self.delta)
        _check_accountant(owner, self.accountant)
        _number(owner, "clip_norm", self.clip_norm, 0.0)
        if not 0.0 <= float(self.target_quantile) <= 1.0:
            raise invalid_argument(owner, "target_quantile", self.target_quantile, "in [0, 1]")
        _number(owner, "clip_learning_rate", self.clip_learning_rate, 0.0)
        count = self.count_stddev
        if self.adaptive:
            count = q * n / 20.0 if count is None else _number(owner, "count_stddev", count, 0.0)
        elif count is not None:
            raise ConfigError(
                f"count_stddev={count!r} only applies to adaptive clipping. Fix: pass "
                "adaptive=True or drop count_stddev."
            )
        object.__setattr__(self, "count_stddev", count)
        if self.target_epsilon is None and self.noise_multiplier is None:
            raise ConfigError(
                "ClientLevelDP needs target_epsilon or noise_multiplier. Got neither. Fix: "
                "e.g. ClientLevelDP(..., target_epsilon=8.0)."
            )
        if self.target_epsilon is not None:
            _number(owner, "target_epsilon", self.target_epsilon, 0.0)
        if self.noise_multiplier is None:
            assert self.target_epsilon is not None
            z_eff = accounting.noise_multiplier(
                target_epsilon=self.target_epsilon,
                delta=delta,
                sampling_rate=q,
                steps=r,
                accountant=self.accountant,
            )
            z_update = _clipping.update_noise_multiplier(z_eff, count)
            if math.isinf(z_update):
                raise ConfigError(
                    f"The adaptive clipping count noise count_stddev={count:.4g} alone spends "
                    f"more than target_epsilon={self.target_epsilon:g} over {r} rounds (it "
                    f"needs an effective noise multiplier of {z_eff:.4g} <= 2 * count_stddev). "
                    "Fix: raise count_stddev, sample more clients, or use fixed clipping."
                )
        else:
            z_update = _number(owner, "noise_multiplier", self.noise_multiplier, 0.0)
            z_eff = _clipping.effective_noise_multiplier(z_update, count)
        object.__setattr__(self, "update_noise_multiplier", z_update)
        object.__setattr__(self, "effective_noise_multiplier", z_eff)
        if self.noise_multiplier is not None and self.target_epsilon is not None:
            planned = self.epsilon()
            if planned > self.target_epsilon:
                raise ConfigError(
                    f"noise_multiplier={self.noise_multiplier:g} cannot keep target_epsilon="
                    f"{self.target_epsilon:g} over the planned {r} rounds (sampling_rate "
                    f"{q:g}, delta {delta:g}): it reaches epsilon {planned:.4g}. Fix: plan fewer "
                    "rounds, raise the noise, lower sampling_rate, or pass only target_epsilon "
                    "to calibrate the noise."
                )

    @property
    def expected_clients(self) -> float:
        """``q N``, the fixed denominator of the average."""
        return self.sampling_rate * self.num_clients

    def noise_std(self, clip_norm: float | None = None) -> float:
        """Noise standard deviation on the averaged update, ``z C / (q N)``.

        Parameters
        ----------
        clip_norm : float, optional
            The current clip norm (default the initial one).

        Returns
        -------
        float
        """
        return _clipping.noise_std(
            noise_multiplier=self.update_noise_multiplier,
            clip_norm=self.clip_norm if clip_norm is None else clip_norm,
            expected_clients=self.expected_clients,
        )

    def round_event(self) -> Any:
        """Return the dp-accounting event of one round."""
        return round_event(
            noise_multiplier=self.effective_noise_multiplier, sampling_rate=self.sampling_rate
        )

    def epsilon(self, rounds: int | None = None) -> float:
        """Client-level epsilon after ``rounds`` rounds (default: all planned rounds).

        Parameters
        ----------
        rounds : int, optional

        Returns
        -------
        float
        """
        count = self.rounds if rounds is None else rounds
        return accounting.epsilon(
            noise_multiplier=self.effective_noise_multiplier,
            sampling_rate=self.sampling_rate,
            steps=count,
            delta=self.delta,
            accountant=self.accountant,
        )

    def guarantee(self, epsilon: float, rounds: int) -> ClientGuarantee:
        """Build the :class:`ClientGuarantee` of ``rounds`` accounted rounds.

        Parameters
        ----------
        epsilon : float
            The spent epsilon (from the ledger).
        rounds : int

        Returns
        -------
        ClientGuarantee
        """
        return ClientGuarantee(
            epsilon=epsilon,
            delta=self.delta,
            accountant=self.accountant,
            sampling="poisson",
            noise_multiplier=self.effective_noise_multiplier,
            sampling_rate=self.sampling_rate,
            steps=rounds,
            l2_norm_clip=self.clip_norm,
            rounds=rounds,
            num_clients=self.num_clients,
            adaptive_clipping=self.adaptive,
            count_stddev=self.count_stddev,
        )


def open_ledger(dp: ClientLevelDP, ledger: accounting.Ledger | None) -> accounting.Ledger:
    """Return the ledger a run records its rounds in: ``ledger``, or a new one for ``dp``."""
    if ledger is not None:
        return ledger
    return accounting.Ledger(delta=dp.delta, accountant=dp.accountant, budget=dp.target_epsilon)


def account_round(book: accounting.Ledger, dp: ClientLevelDP, number: int) -> bool:
    """Record round ``number`` before anything is sent; ``False`` (logged) past the budget."""
    try:
        book.record(name=f"federated round {number}", event=dp.round_event())
    except PrivacyBudgetExceeded as exc:
        logger.warning("stopping before round %d: %s", number, exc)
        return False
    return True
