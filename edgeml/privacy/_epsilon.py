"""Epsilon of DP-SGD from its noise multiplier, and the noise multiplier for an epsilon.

Runs on dp-accounting, imported on first use; no TensorFlow. See
:mod:`edgeml.privacy.accounting` for the model and the accountants.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from edgeml.errors import ConfigError, invalid_argument

if TYPE_CHECKING:
    import dp_accounting

__all__ = ["Accountant", "dpsgd_event", "epsilon", "noise_multiplier", "steps_for_epochs"]

Accountant = Literal["rdp", "pld"]
_ACCOUNTANTS = ("rdp", "pld")
# Largest noise multiplier calibration tries before declaring a budget unreachable.
_MAX_NOISE_MULTIPLIER = 1000.0


def _dp_accounting() -> Any:
    """Import dp-accounting on first use.

    It loads scipy.signal, scipy.optimize and scipy.stats (about 0.6 s), which
    ``import edgeml.privacy`` should not pay for.
    """
    import dp_accounting

    return dp_accounting


def _check_accountant(owner: str, accountant: object) -> Accountant:
    if accountant not in _ACCOUNTANTS:
        raise invalid_argument(owner, "accountant", accountant, "'rdp' or 'pld'")
    return accountant  # type: ignore[return-value]


def _check_delta(owner: str, delta: object, fix: str = "use delta=1e-5") -> float:
    if (
        isinstance(delta, bool)
        or not isinstance(delta, (int, float))
        or not 0.0 < float(delta) < 1.0
    ):
        raise invalid_argument(owner, "delta", delta, "a float in the range (0, 1)", fix=fix)
    return float(delta)


def _check_rate(owner: str, sampling_rate: object) -> float:
    if (
        isinstance(sampling_rate, bool)
        or not isinstance(sampling_rate, (int, float))
        or not 0.0 < float(sampling_rate) <= 1.0
    ):
        raise invalid_argument(
            owner,
            "sampling_rate",
            sampling_rate,
            "a float in the range (0, 1]",
            fix="pass batch_size / num_examples",
        )
    return float(sampling_rate)


def _check_positive(owner: str, name: str, value: object, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (float(value) > 0 or (allow_zero and float(value) == 0)):  # type: ignore[arg-type]
        return float(value)  # type: ignore[arg-type]
    bound = ">= 0" if allow_zero else "> 0"
    raise invalid_argument(owner, name, value, f"a finite number {bound}")


def steps_for_epochs(epochs: float, sampling_rate: float) -> int:
    """Count the Poisson-sampled steps that make ``epochs`` expected passes over the data.

    This is ``ceil(epochs / sampling_rate)``, the convention tensorflow-privacy and
    dp-accounting use, so epsilons computed from epochs agree with theirs
    (``tests/conformance/test_accountants.py``).

    Parameters
    ----------
    epochs : float
        Expected passes over the data (may be fractional), > 0.
    sampling_rate : float
        Probability that an example is in a batch (``batch_size / num_examples``).

    Returns
    -------
    int
        The number of steps.

    Examples
    --------
    >>> steps_for_epochs(60, 256 / 60000), steps_for_epochs(15, 256 / 60000)
    (14063, 3516)
    """
    epochs = _check_positive("steps_for_epochs", "epochs", epochs)
    sampling_rate = _check_rate("steps_for_epochs", sampling_rate)
    # Round first so that 1 / 0.5 == 2.0000000000000004 does not become 3 steps.
    return max(1, math.ceil(round(epochs / sampling_rate, 9)))


def _resolve_steps(owner: str, steps: object, epochs: object, sampling_rate: float) -> int:
    if (steps is None) == (epochs is None):
        raise ConfigError(
            f"{owner} needs exactly one of 'steps' or 'epochs'. Got steps={steps!r} and "
            f"epochs={epochs!r}. Fix: pass steps=<number of training steps> or "
            "epochs=<expected passes over the data>."
        )
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise invalid_argument(owner, "steps", steps, "an integer >= 0")
        return steps
    return steps_for_epochs(_check_positive(owner, "epochs", epochs), sampling_rate)


def dpsgd_event(
    *, noise_multiplier: float, sampling_rate: float, steps: int
) -> dp_accounting.DpEvent:
    """Build the dp-accounting event of ``steps`` Poisson-sampled Gaussian DP-SGD steps.

    Parameters
    ----------
    noise_multiplier : float
        Noise standard deviation divided by the clip norm.
    sampling_rate : float
        Poisson sampling probability of each example per step.
    steps : int
        Number of steps.

    Returns
    -------
    dp_accounting.DpEvent
        ``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(sigma)), steps)``.

    Examples
    --------
    >>> dpsgd_event(noise_multiplier=1.0, sampling_rate=0.01, steps=10)
    SelfComposedDpEvent(event=PoissonSampledDpEvent(sampling_probability=0.01, event=GaussianDpEvent(noise_multiplier=1.0)), count=10)
    """  # noqa: E501
    dp = _dp_accounting()
    gaussian = dp.GaussianDpEvent(float(noise_multiplier))
    sampled = dp.PoissonSampledDpEvent(float(sampling_rate), gaussian)
    return dp.SelfComposedDpEvent(sampled, int(steps))


def _new_accountant(accountant: Accountant) -> dp_accounting.PrivacyAccountant:
    dp = _dp_accounting()
    if accountant == "rdp":
        return dp.rdp.RdpAccountant()
    return dp.pld.PLDAccountant()


class _DropConvergenceNotes(logging.Filter):
    """Drop dp-accounting's notes that a fractional RDP order was skipped.

    RdpAccountant logs a warning through absl for every fractional order whose series
    does not converge (common at sigma < 1); it then excludes that order, which keeps
    the bound valid. Inside edgeml's calls these notes are noise for the user.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "failed to converge" not in record.getMessage()


@contextlib.contextmanager
def _quiet_accountant() -> Iterator[None]:
    logger = logging.getLogger("absl")
    note_filter = _DropConvergenceNotes()
    logger.addFilter(note_filter)
    try:
        yield
    finally:
        logger.removeFilter(note_filter)


def _event_epsilon(event: dp_accounting.DpEvent, delta: float, accountant: Accountant) -> float:
    with _quiet_accountant():
        return float(_new_accountant(accountant).compose(event).get_epsilon(delta))


def epsilon(
    *,
    noise_multiplier: float,
    sampling_rate: float,
    delta: float,
    steps: int | None = None,
    epochs: float | None = None,
    accountant: Accountant = "rdp",
) -> float:
    """Epsilon spent by DP-SGD with Poisson sampling at a given delta.

    Parameters
    ----------
    noise_multiplier : float
        Noise standard deviation divided by the clip norm (``sigma``), >= 0.
    sampling_rate : float
        Probability that each example is in a batch, ``batch_size / num_examples``.
    delta : float
        The delta of the (epsilon, delta) guarantee, in (0, 1).
    steps, epochs : int or float
        Exactly one: the number of steps, or the expected passes over the data
        (converted with :func:`steps_for_epochs`).
    accountant : {"rdp", "pld"}, default "rdp"
        Rényi DP or privacy loss distributions (tighter, slower).

    Returns
    -------
    float
        Epsilon; ``inf`` when ``noise_multiplier`` is 0 and ``0`` when ``steps`` is 0.

    Examples
    --------
    Reference values (tensorflow-privacy and dp-accounting agree for RDP; Opacus's exact
    integral is up to 3e-5 relative tighter, see tests/conformance/test_accountants.py):

    >>> q = 256 / 60000
    >>> round(epsilon(noise_multiplier=1.1, sampling_rate=q, steps=14063, delta=1e-5), 4)
    2.5967
    >>> round(epsilon(noise_multiplier=1.1, sampling_rate=q, steps=14063, delta=1e-5,
    ...               accountant="pld"), 4)
    2.3818
    """
    owner = "epsilon"
    sigma = _check_positive(owner, "noise_multiplier", noise_multiplier, allow_zero=True)
    rate = _check_rate(owner, sampling_rate)
    delta = _check_delta(owner, delta)
    acc = _check_accountant(owner, accountant)
    count = _resolve_steps(owner, steps, epochs, rate)
    if count == 0:
        return 0.0
    if sigma == 0.0:
        return math.inf
    return _event_epsilon(
        dpsgd_event(noise_multiplier=sigma, sampling_rate=rate, steps=count), delta, acc
    )


def noise_multiplier(
    *,
    target_epsilon: float,
    delta: float,
    sampling_rate: float,
    steps: int | None = None,
    epochs: float | None = None,
    accountant: Accountant = "rdp",
    tolerance: float = 0.01,
) -> float:
    """Find the smallest noise multiplier (up to ``tolerance``) with epsilon <= the target.

    A bisection on the noise multiplier that only ever returns a value it has checked:
    the result's epsilon never exceeds ``target_epsilon``, and is at least
    ``target_epsilon * (1 - tolerance)`` unless the bracket became too narrow first.

    Parameters
    ----------
    target_epsilon : float
        The epsilon to stay within, > 0.
    delta : float
        The delta of the guarantee, in (0, 1).
    sampling_rate : float
        Poisson sampling probability, ``batch_size / num_examples``.
    steps, epochs : int or float
        Exactly one: the number of steps, or the expected passes over the data.
    accountant : {"rdp", "pld"}, default "rdp"
        The accountant used to compute epsilon.
    tolerance : float, default 0.01
        Relative slack below the target at which the search stops, in (0, 1).

    Returns
    -------
    float
        The noise multiplier.

    Raises
    ------
    ConfigError
        When no noise multiplier up to 1000 reaches ``target_epsilon`` (RDP cannot
        certify epsilons below about 0.004 at delta = 1e-5, whatever the noise), or
        an argument is invalid.

    Examples
    --------
    >>> sigma = noise_multiplier(target_epsilon=2.0, delta=1e-5, sampling_rate=0.01, steps=1000)
    >>> 0.9 < sigma < 1.1
    True
    >>> eps = epsilon(noise_multiplier=sigma, sampling_rate=0.01, steps=1000, delta=1e-5)
    >>> 1.98 <= eps <= 2.0
    True
    """
    owner = "noise_multiplier"
    target = _check_positive(owner, "target_epsilon", target_epsilon)
    delta = _check_delta(owner, delta)
    rate = _check_rate(owner, sampling_rate)
    acc = _check_accountant(owner, accountant)
    count = _resolve_steps(owner, steps, epochs, rate)
    if not (
        isinstance(tolerance, float | int) and not isinstance(tolerance, bool) and 0 < tolerance < 1
    ):
        raise invalid_argument(owner, "tolerance", tolerance, "a float in the range (0, 1)")
    if count == 0:
        return 0.0

    def eps_at(sigma: float) -> float:
        event = dpsgd_event(noise_multiplier=sigma, sampling_rate=rate, steps=count)
        return _event_epsilon(event, delta, acc)

    # Start near the answer: for PLD from the (cheap) RDP calibration, which is an upper
    # bound in practice; every bracket end is checked with the requested accountant.
    start = 1.0
    if acc == "pld":
        with contextlib.suppress(ConfigError):
            start = noise_multiplier(
                target_epsilon=target,
                delta=delta,
                sampling_rate=rate,
                steps=count,
                accountant="rdp",
                tolerance=tolerance,
            )
    low, high = 0.0, start
    low_eps, high_eps = math.inf, eps_at(high)
    while high_eps > target:
        if high >= _MAX_NOISE_MULTIPLIER:
            raise ConfigError(
                f"No noise multiplier up to {_MAX_NOISE_MULTIPLIER:g} reaches "
                f"target_epsilon={target:g} at delta={delta:g} with sampling_rate={rate:g} "
                f"and {count} steps ({acc} accounting gives {high_eps:.4g} there). Fix: raise "
                "target_epsilon, train for fewer steps, use a smaller batch, or use "
                "accountant='pld' (tighter at small epsilons)."
            )
        low, low_eps = high, high_eps
        high = min(2.0 * high, _MAX_NOISE_MULTIPLIER)
        high_eps = eps_at(high)
    if low == 0.0:
        # The start already meets the target: walk down to bracket the answer from below
        # (in small steps when the start came from RDP and is close to the answer).
        factor = 0.85 if acc == "pld" else 0.5
        while high > 1e-6:
            lower_eps = eps_at(factor * high)
            if lower_eps > target:
                low, low_eps = factor * high, lower_eps
                break
            high, high_eps = factor * high, lower_eps
    # Invariant: eps(high) <= target < eps(low) (eps(0) is infinite). Interpolate in
    # log-log space (epsilon falls roughly like a power of sigma), kept inside the bracket.
    while high_eps < target * (1.0 - tolerance) and high - low > 1e-6 * high:
        if low > 0 and math.isfinite(low_eps):
            slope = math.log(low_eps / high_eps) / math.log(low / high)
            guess = math.exp(math.log(high) + math.log(target / high_eps) / slope)
            span = high - low
            middle = min(max(guess, low + 0.1 * span), high - 0.1 * span)
        else:
            middle = 0.5 * high if low == 0 else math.sqrt(low * high)
        middle_eps = eps_at(middle)
        if middle_eps <= target:
            high, high_eps = middle, middle_eps
        else:
            low, low_eps = middle, middle_eps
    return high
