"""Privacy accounting: epsilon from a noise multiplier, the multiplier for an epsilon, ledgers.

Everything here runs on `dp-accounting <https://pypi.org/project/dp-accounting/>`_ (the
accountant tensorflow-privacy itself uses) and needs no TensorFlow. DP-SGD is modelled
as ``steps`` compositions of the Poisson-subsampled Gaussian mechanism with
add-or-remove-one adjacency, one example per microbatch. Two accountants are offered:

- ``"rdp"``: Rényi DP (Mironov 2017), the classic, slightly loose upper bound.
- ``"pld"``: privacy loss distributions (Koskela et al. 2020; Doroshenko et al. 2022),
  tighter (smaller epsilon for the same training) and slower.

Both are upper bounds. Opacus' GDP accountant is an approximation, not an upper bound,
and is deliberately not offered.

Examples
--------
>>> from edgeml.privacy import accounting
>>> eps = accounting.epsilon(noise_multiplier=1.1, sampling_rate=256 / 60000,
...                          epochs=60, delta=1e-5)
>>> round(eps, 4)
2.5967
>>> sigma = accounting.noise_multiplier(target_epsilon=3.0, delta=1e-5,
...                                     sampling_rate=256 / 60000, epochs=60)
>>> accounting.epsilon(noise_multiplier=sigma, sampling_rate=256 / 60000,
...                    epochs=60, delta=1e-5) <= 3.0
True
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml._io import atomic_write
from edgeml.errors import ConfigError, DataError, PrivacyBudgetExceeded, invalid_argument

if TYPE_CHECKING:
    import dp_accounting

__all__ = [
    "Accountant",
    "Guarantee",
    "Ledger",
    "LedgerEntry",
    "dpsgd_event",
    "epsilon",
    "noise_multiplier",
    "steps_for_epochs",
]

Accountant = Literal["rdp", "pld"]
_ACCOUNTANTS = ("rdp", "pld")
# Largest noise multiplier calibration tries before declaring a budget unreachable.
_MAX_NOISE_MULTIPLIER = 1000.0
_LEDGER_FORMAT = "edgeml.privacy.Ledger/1"


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


def _check_delta(owner: str, delta: object) -> float:
    if (
        isinstance(delta, bool)
        or not isinstance(delta, (int, float))
        or not 0.0 < float(delta) < 1.0
    ):
        raise invalid_argument(
            owner, "delta", delta, "a float in the range (0, 1)", fix="use delta=1e-5"
        )
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
    dp-accounting use, so epsilons computed from epochs agree with theirs.

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
    Reference values (tensorflow-privacy, Opacus and dp-accounting agree for RDP):

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


@dataclass(frozen=True)
class Guarantee:
    """An (epsilon, delta) differential-privacy guarantee and how it was obtained.

    Attributes
    ----------
    epsilon, delta : float
        The guarantee: the training (or releases) are (epsilon, delta)-DP with respect to
        adding or removing one example.
    accountant : str
        ``"rdp"``, ``"pld"``, or ``"composition"`` for a ledger total that also uses
        basic composition of stated (epsilon, delta) pairs.
    sampling : str
        ``"poisson"`` (what the accounting assumes), ``"shuffle"`` (fixed-size shuffled
        batches accounted as if Poisson: a common practice, not a proof), or
        ``"composed"`` for a ledger total.
    noise_multiplier, sampling_rate, l2_norm_clip : float or None
        DP-SGD parameters, ``None`` when not applicable.
    steps : int or None
        DP-SGD steps taken, ``None`` when not applicable.
    releases : int
        How many releases (DP-SGD runs, DP aggregates) the guarantee covers.
    noise_seeded : bool
        Whether some noise was drawn from a seed the user chose (``insecure_noise_seed``)
        instead of a secure generator: the guarantee then does not hold against anyone
        who knows the seed, since they can regenerate the noise and subtract it.

    Examples
    --------
    >>> g = Guarantee(epsilon=2.5967, delta=1e-5, accountant="rdp", noise_multiplier=1.1,
    ...               sampling_rate=256 / 60000, steps=14063, l2_norm_clip=1.0)
    >>> g
    Guarantee(epsilon=2.597, delta=1e-05, accountant='rdp', sampling='poisson')
    >>> print(g.statement())  # doctest: +ELLIPSIS
    The training is (2.597, 1e-05)-differentially private: ... 14063 steps ...
    """

    epsilon: float
    delta: float
    accountant: str
    sampling: str = "poisson"
    noise_multiplier: float | None = None
    sampling_rate: float | None = None
    steps: int | None = None
    l2_norm_clip: float | None = None
    releases: int = 1
    noise_seeded: bool = False

    def __repr__(self) -> str:
        return (
            f"Guarantee(epsilon={self.epsilon:.4g}, delta={self.delta:.4g}, "
            f"accountant={self.accountant!r}, sampling={self.sampling!r})"
        )

    def statement(self) -> str:
        """Explain the guarantee in plain words.

        Returns
        -------
        str
            A few sentences: what is protected, by how much, and under which assumption.

        Examples
        --------
        >>> print(Guarantee(epsilon=1.0, delta=1e-6, accountant="pld",
        ...                 releases=3, sampling="composed").statement())
        The 3 releases together are (1, 1e-06)-differentially private: adding or removing any one person's example changes the probability of any outcome by a factor of at most e^1 = 2.718, except with probability 1e-06. Computed with privacy loss distributions.
        """  # noqa: E501
        subject = (
            "The training is"
            if self.releases == 1
            else f"The {self.releases} releases together are"
        )
        eps = f"{self.epsilon:.4g}"
        if math.isinf(self.epsilon):
            return (
                f"{subject} not differentially private (epsilon is infinite): "
                "without noise nothing bounds what the output reveals about one example."
            )
        parts = [
            f"{subject} ({eps}, {self.delta:.4g})-differentially private: adding or removing "
            f"any one person's example changes the probability of any outcome by a factor "
            f"of at most e^{eps} = {math.exp(self.epsilon):.4g}, except with probability "
            f"{self.delta:.4g}."
        ]
        if self.steps is not None and self.noise_multiplier is not None:
            clip = (
                f", each example's gradient clipped to L2 norm {self.l2_norm_clip:g}"
                if self.l2_norm_clip
                else ""
            )
            parts.append(
                f"DP-SGD ran {self.steps} steps with sampling rate {self.sampling_rate:.4g} "
                f"and noise multiplier {self.noise_multiplier:.4g}{clip}."
            )
        names = {
            "rdp": "Rényi DP accounting",
            "pld": "privacy loss distributions",
            "composition": "dp-accounting plus basic composition of stated (epsilon, delta) pairs",
        }
        parts.append(f"Computed with {names.get(self.accountant, self.accountant)}.")
        if self.noise_seeded:
            parts.append(
                "Warning: the noise was generated from a seed chosen by the user "
                "(insecure_noise_seed); the guarantee does not hold against anyone who "
                "knows the seed, who can regenerate the noise and remove it."
            )
        if self.sampling == "shuffle":
            parts.append(
                "Caution: batches were shuffled with a fixed size, but the accounting "
                "assumes Poisson sampling; the stated epsilon is not proven for shuffling."
            )
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return the guarantee as JSON-safe data (infinite epsilon becomes ``None``)."""
        data: dict[str, Any] = to_jsonable(dataclasses.asdict(self))
        data["statement"] = self.statement()
        return data

    def to_markdown(self) -> str:
        """Return the guarantee as a two-column Markdown table."""
        rows = [[f.name, getattr(self, f.name)] for f in dataclasses.fields(self)]
        return markdown_table(["field", "value"], rows)

    def _repr_html_(self) -> str:
        rows = [[f.name, getattr(self, f.name)] for f in dataclasses.fields(self)]
        return html_table(["field", "value"], rows, caption=self.statement())


# ----------------------------------------------------------------------------- ledger


def _event_to_dict(event: dp_accounting.DpEvent) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(event).__name__}
    # dp-accounting events are attrs classes: their fields are listed in __attrs_attrs__.
    for field in type(event).__attrs_attrs__:
        data[field.name] = _value_to_json(getattr(event, field.name))
    return data


def _value_to_json(value: Any) -> Any:
    if isinstance(value, _dp_accounting().DpEvent):
        return _event_to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_value_to_json(v) for v in value]
    return to_jsonable(value)


def _event_from_dict(data: Mapping[str, Any]) -> dp_accounting.DpEvent:
    kind = data.get("type")
    dp = _dp_accounting()
    cls = getattr(dp.dp_event, str(kind), None)
    if not (isinstance(cls, type) and issubclass(cls, dp.DpEvent)):
        raise DataError(f"Unknown dp-accounting event type {kind!r} in a saved ledger.")
    fields = {k: _value_from_json(v) for k, v in data.items() if k != "type"}
    return cls(**fields)


def _value_from_json(value: Any) -> Any:
    if isinstance(value, Mapping) and "type" in value:
        return _event_from_dict(value)
    if isinstance(value, list):
        return [_value_from_json(v) for v in value]
    return value


@dataclass(frozen=True)
class LedgerEntry:
    """One release recorded in a :class:`Ledger`.

    Attributes
    ----------
    name : str
        What was released, e.g. ``"dp-sgd run 1"`` or ``"count of active users"``.
    event : dp_accounting.DpEvent
        The mechanism as dp-accounting understands it.
    epsilon, delta : float or None
        The (epsilon, delta) the release itself states, if any; used for basic
        composition when the accountant cannot handle ``event``.
    noise_seeded : bool
        Whether the release's noise came from a user-chosen seed (not secret).
    """

    name: str
    event: dp_accounting.DpEvent
    epsilon: float | None = None
    delta: float | None = None
    noise_seeded: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as JSON-safe data (the event as a nested dict)."""
        return {
            "name": self.name,
            "event": _event_to_dict(self.event),
            "epsilon": to_jsonable(self.epsilon),
            "delta": to_jsonable(self.delta),
            "noise_seeded": self.noise_seeded,
        }


class Ledger:
    """Compose several private releases into one total guarantee.

    Each :meth:`record` adds a release (a DP-SGD run, a DP count, ...). :meth:`spent`
    composes them with dp-accounting; releases the accountant cannot analyse are added
    by basic composition of their stated (epsilon, delta), and when every release states
    one, the smaller of the two totals is reported (both are valid upper bounds).

    Parameters
    ----------
    delta : float, default 1e-5
        The delta of the total guarantee.
    accountant : {"rdp", "pld"}, default "rdp"
        The accountant used to compose events.
    budget : float, optional
        The total epsilon that may be spent; :meth:`record` refuses (raises
        :class:`~edgeml.errors.PrivacyBudgetExceeded`) a release that would exceed it.

    Examples
    --------
    >>> import dp_accounting
    >>> ledger = Ledger(delta=1e-5, budget=5.0)
    >>> ledger.record(name="training", noise_multiplier=1.1, sampling_rate=256 / 60000,
    ...               steps=14063)
    Ledger(releases=1, epsilon=2.597, delta=1e-05, budget=5)
    >>> ledger.record(name="count", event=dp_accounting.LaplaceDpEvent(1.0),
    ...               epsilon=1.0, delta=0.0)
    Ledger(releases=2, epsilon=3.507, delta=1e-05, budget=5)
    >>> ledger.record(name="another count", event=dp_accounting.LaplaceDpEvent(0.5),
    ...               epsilon=2.0, delta=0.0)
    Traceback (most recent call last):
    ...
    edgeml.errors.PrivacyBudgetExceeded: Recording 'another count' would raise ...
    >>> restored = Ledger.from_dict(ledger.to_dict())
    >>> restored.spent().epsilon == ledger.spent().epsilon
    True
    """

    def __init__(
        self, *, delta: float = 1e-5, accountant: Accountant = "rdp", budget: float | None = None
    ) -> None:
        self._delta = _check_delta("Ledger", delta)
        self._accountant = _check_accountant("Ledger", accountant)
        self._budget = None if budget is None else _check_positive("Ledger", "budget", budget)
        self._entries: list[LedgerEntry] = []

    @property
    def delta(self) -> float:
        """The delta of the total guarantee."""
        return self._delta

    @property
    def accountant(self) -> Accountant:
        """The accountant used to compose events."""
        return self._accountant

    @property
    def budget(self) -> float | None:
        """The total epsilon allowed, or ``None`` for no limit."""
        return self._budget

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        """The recorded releases, oldest first."""
        return tuple(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        budget = "None" if self._budget is None else f"{self._budget:.4g}"
        return (
            f"Ledger(releases={len(self)}, epsilon={self.spent().epsilon:.4g}, "
            f"delta={self._delta:.4g}, budget={budget})"
        )

    def record(
        self,
        *,
        name: str,
        event: dp_accounting.DpEvent | None = None,
        epsilon: float | None = None,
        delta: float | None = None,
        noise_multiplier: float | None = None,
        sampling_rate: float | None = None,
        steps: int | None = None,
        noise_seeded: bool = False,
    ) -> Ledger:
        """Record one release; returns the ledger so calls can be chained.

        Either pass ``event`` (any dp-accounting event, optionally with the release's own
        ``epsilon`` and ``delta``), or describe a DP-SGD run with ``noise_multiplier``,
        ``sampling_rate`` and ``steps``.

        Parameters
        ----------
        name : str
            What was released.
        event : dp_accounting.DpEvent, optional
            The mechanism, e.g. ``dp_accounting.LaplaceDpEvent(1 / epsilon)``.
        epsilon, delta : float, optional
            The guarantee the release states on its own.
        noise_multiplier, sampling_rate, steps : optional
            A DP-SGD run (Poisson-sampled Gaussian mechanism, ``steps`` times).
        noise_seeded : bool, default False
            Whether the release's noise was reproducible from a user-chosen seed; the
            ledger's total guarantee then says it does not hold against whoever knows it.

        Returns
        -------
        Ledger
            ``self``.

        Raises
        ------
        PrivacyBudgetExceeded
            When the release would take the total epsilon over ``budget``; the ledger is
            left unchanged.
        ConfigError
            When the arguments describe neither form, or both.
        """
        if not isinstance(name, str) or not name:
            raise invalid_argument("Ledger.record", "name", name, "a non-empty string")
        dpsgd = (noise_multiplier, sampling_rate, steps)
        if event is None:
            if any(v is None for v in dpsgd):
                raise ConfigError(
                    "Ledger.record needs either event=<dp_accounting.DpEvent> or all of "
                    "noise_multiplier, sampling_rate and steps (a DP-SGD run). "
                    f"Got event=None, noise_multiplier={noise_multiplier!r}, "
                    f"sampling_rate={sampling_rate!r}, steps={steps!r}."
                )
            sigma = _check_positive(
                "Ledger.record", "noise_multiplier", noise_multiplier, allow_zero=True
            )
            rate = _check_rate("Ledger.record", sampling_rate)
            count = _resolve_steps("Ledger.record", steps, None, rate)
            event = dpsgd_event(noise_multiplier=sigma, sampling_rate=rate, steps=count)
        elif any(v is not None for v in dpsgd):
            raise ConfigError(
                "Ledger.record takes either event=... or noise_multiplier/sampling_rate/steps, "
                "not both. Fix: build the event with edgeml.privacy.dpsgd_event(...) or drop it."
            )
        elif not isinstance(event, _dp_accounting().DpEvent):
            raise invalid_argument(
                "Ledger.record",
                "event",
                event,
                "a dp_accounting.DpEvent",
                fix="e.g. dp_accounting.LaplaceDpEvent(1 / epsilon)",
            )
        if epsilon is not None:
            epsilon = _check_positive("Ledger.record", "epsilon", epsilon, allow_zero=True)
        if delta is not None:
            delta = 0.0 if delta == 0 else _check_delta("Ledger.record", delta)
        entry = LedgerEntry(
            name=name, event=event, epsilon=epsilon, delta=delta, noise_seeded=bool(noise_seeded)
        )
        if self._budget is not None:
            total = self._total([*self._entries, entry])
            if total.epsilon > self._budget:
                raise PrivacyBudgetExceeded(
                    f"Recording {name!r} would raise the total epsilon to {total.epsilon:.4g} "
                    f"(delta {self._delta:g}), over the budget of {self._budget:.4g}; nothing "
                    "was recorded. Fix: release less (more noise, fewer steps) or stop."
                )
        self._entries.append(entry)
        return self

    def spent(self) -> Guarantee:
        """Compose everything recorded so far into one guarantee.

        Returns
        -------
        Guarantee
            ``epsilon`` is 0 for an empty ledger.
        """
        return self._total(self._entries)

    def remaining(self) -> float | None:
        """Epsilon left in the budget (never negative), or ``None`` without a budget."""
        if self._budget is None:
            return None
        return max(0.0, self._budget - self.spent().epsilon)

    def _total(self, entries: list[LedgerEntry]) -> Guarantee:
        accountant = _new_accountant(self._accountant)
        outside: list[LedgerEntry] = []
        with _quiet_accountant():  # RDP computes (and logs skipped orders) in compose
            for entry in entries:
                if accountant.supports(entry.event):
                    accountant.compose(entry.event)
                else:
                    outside.append(entry)
        missing = [e.name for e in outside if e.epsilon is None or e.delta is None]
        if missing:
            raise ConfigError(
                f"The {self._accountant} accountant cannot analyse the release(s) {missing} "
                "and they state no (epsilon, delta) of their own. Fix: record them with "
                "epsilon=... and delta=..., or use the other accountant."
            )
        outside_eps = sum(float(e.epsilon or 0.0) for e in outside)
        outside_delta = sum(float(e.delta or 0.0) for e in outside)
        inside_delta = self._delta - outside_delta
        if inside_delta <= 0:
            raise PrivacyBudgetExceeded(
                f"The releases' own deltas add up to {outside_delta:g}, not below the "
                f"ledger's delta {self._delta:g}."
            )
        inside_eps = 0.0
        if len(outside) < len(entries):
            with _quiet_accountant():
                inside_eps = float(accountant.get_epsilon(inside_delta))
        total = inside_eps + outside_eps
        how: str = self._accountant if not outside else "composition"
        stated = [e for e in entries if e.epsilon is not None and e.delta is not None]
        if entries and len(stated) == len(entries):
            basic_eps = sum(float(e.epsilon or 0.0) for e in stated)
            basic_delta = sum(float(e.delta or 0.0) for e in stated)
            if basic_delta <= self._delta and basic_eps < total:
                total, how = basic_eps, "composition"
        return Guarantee(
            epsilon=total,
            delta=self._delta,
            accountant=how,
            sampling="composed",
            releases=len(entries),
            noise_seeded=any(e.noise_seeded for e in entries),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the ledger's state as JSON-safe data (see :meth:`from_dict`)."""
        return {
            "format": _LEDGER_FORMAT,
            "delta": self._delta,
            "accountant": self._accountant,
            "budget": self._budget,
            "entries": [entry.to_dict() for entry in self._entries],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ledger:
        """Rebuild a ledger from :meth:`to_dict` output.

        Raises
        ------
        DataError
            When ``data`` is not a saved edgeml ledger.
        """
        if not isinstance(data, Mapping) or data.get("format") != _LEDGER_FORMAT:
            raise DataError(f"Not a saved edgeml ledger (expected format {_LEDGER_FORMAT!r}).")
        ledger = cls(delta=data["delta"], accountant=data["accountant"], budget=data["budget"])
        for item in data["entries"]:
            ledger._entries.append(
                LedgerEntry(
                    name=item["name"],
                    event=_event_from_dict(item["event"]),
                    epsilon=item.get("epsilon"),
                    delta=item.get("delta"),
                    noise_seeded=bool(item.get("noise_seeded", False)),
                )
            )
        return ledger

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the ledger as JSON, atomically.

        Parameters
        ----------
        path : str or os.PathLike
            Destination file.

        Returns
        -------
        pathlib.Path
            The destination.
        """
        return atomic_write(path, json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Ledger:
        """Read a ledger written by :meth:`save`.

        Raises
        ------
        DataError
            When the file is not valid JSON or not a saved ledger.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} is not a saved edgeml ledger: {exc}") from exc
        return cls.from_dict(data)

    def to_markdown(self) -> str:
        """Return the recorded releases as a Markdown table."""
        return markdown_table(["release", "event", "epsilon", "delta"], self._rows())

    def _repr_html_(self) -> str:
        return html_table(
            ["release", "event", "epsilon", "delta"], self._rows(), caption=self.spent().statement()
        )

    def _rows(self) -> list[list[Any]]:
        return [[e.name, type(e.event).__name__, e.epsilon, e.delta] for e in self._entries]
