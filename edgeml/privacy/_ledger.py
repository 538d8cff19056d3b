"""A ledger composing several private releases into one total guarantee."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml._io import atomic_write
from edgeml.errors import ConfigError, DataError, PrivacyBudgetExceeded, invalid_argument
from edgeml.privacy._epsilon import (
    Accountant,
    _check_accountant,
    _check_delta,
    _check_positive,
    _check_rate,
    _dp_accounting,
    _new_accountant,
    _quiet_accountant,
    _resolve_steps,
    dpsgd_event,
)
from edgeml.privacy._guarantee import Guarantee

if TYPE_CHECKING:
    import dp_accounting

__all__ = ["Ledger", "LedgerEntry"]

_LEDGER_FORMAT = "edgeml.privacy.Ledger/1"


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
        # spent() of the current entries; entries only grow in record(), which updates it
        self._spent: Guarantee | None = None

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
        total = None
        if self._budget is not None:
            total = self._total([*self._entries, entry])
            if total.epsilon > self._budget:
                raise PrivacyBudgetExceeded(
                    f"Recording {name!r} would raise the total epsilon to {total.epsilon:.4g} "
                    f"(delta {self._delta:g}), over the budget of {self._budget:.4g}; nothing "
                    "was recorded. Fix: release less (more noise, fewer steps) or stop."
                )
        self._entries.append(entry)
        self._spent = total  # the composition just checked, or None: spent() computes it
        return self

    def spent(self) -> Guarantee:
        """Compose everything recorded so far into one guarantee.

        Returns
        -------
        Guarantee
            ``epsilon`` is 0 for an empty ledger.
        """
        if self._spent is None:
            self._spent = self._total(self._entries)
        return self._spent

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
