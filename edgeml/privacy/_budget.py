"""How many DP-SGD steps a privacy budget (a target epsilon or a shared ledger) allows."""

from __future__ import annotations

from collections.abc import Callable

from edgeml.errors import PrivacyBudgetExceeded
from edgeml.privacy._state import PrivacyState
from edgeml.privacy.accounting import Accountant, Ledger, epsilon


def _max_steps_within(
    target: float, sigma: float, rate: float, delta: float, accountant: Accountant, start: int
) -> int:
    """Return the largest number of steps whose epsilon is <= ``target`` (0 if none)."""

    def fits(steps: int) -> bool:
        eps = epsilon(
            noise_multiplier=sigma,
            sampling_rate=rate,
            steps=steps,
            delta=delta,
            accountant=accountant,
        )
        return eps <= target

    return _most_steps(fits, start)


def _record_on_copy(ledger: Ledger, sigma: float, rate: float, steps: int) -> None:
    """Record a DP-SGD run on a copy of ``ledger``: raises if it would exceed the budget."""
    trial = Ledger.from_dict(ledger.to_dict())
    trial.record(name="planned", noise_multiplier=sigma, sampling_rate=rate, steps=steps)


def _ledger_steps(state: PrivacyState) -> int:
    """Return the most further steps a shared ledger's budget allows (0 if none)."""

    def fits(steps: int) -> bool:
        try:
            _record_on_copy(state.ledger, state.noise_multiplier, state.sampling_rate, steps)
        except PrivacyBudgetExceeded:
            return False
        return True

    return _most_steps(fits, state.steps_per_epoch)


def _most_steps(fits: Callable[[int], bool], start: int) -> int:
    """Return the largest step count for which the monotone ``fits`` holds (0 if none).

    Doubles from ``start`` to bracket the answer, then bisects; only ever returns a
    count that ``fits`` accepted.
    """
    if not fits(1):
        return 0
    low = 1
    high = max(2, start)
    while fits(high):
        low, high = high, high * 2
        if high > 10**9:
            return low
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low
