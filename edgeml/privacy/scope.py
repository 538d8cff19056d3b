"""What protects each released artifact: DP, declared-public or held-out data, or nothing.

A DP guarantee covers what is *released*, not what was trained. Every statistic that
leaves training in a file (weights, a drift baseline, quantization ranges, a report, a
metric) is one of:

- ``"dp"``: computed by a DP mechanism and charged to the same
  :class:`~edgeml.privacy.Ledger` as the training (or post-processing of such a release);
- ``"public"`` or ``"held-out"``: computed only from data the user declares public, or
  held out of training (then no training record can influence it, and the declaration is
  the user's responsibility, written in the card);
- ``"not protected"``: an exact statistic of data nobody declared; a guarantee printed
  next to it does not hold for it.

:class:`Protection` is that statement as a value; :func:`declare` wraps data with the
user's declaration so that the converter and the card can carry it.

Examples
--------
>>> from edgeml.privacy.scope import Protection, declare
>>> Protection.dp(0.5, 1e-6, release="drift baseline").covered
True
>>> calibration = declare([[0.0, 1.0]], kind="public", source="uniform grid over [0, 1]")
>>> calibration.protection
Protection(kind='public', detail='uniform grid over [0, 1]')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from edgeml.errors import invalid_argument

__all__ = ["KINDS", "Declared", "Protection", "declare"]

#: The protection kinds, strongest claim first.
KINDS = ("dp", "public", "held-out", "not protected")


@dataclasses.dataclass(frozen=True)
class Protection:
    """What protects one released part.

    Attributes
    ----------
    kind : {"dp", "public", "held-out", "not protected"}
        See the module docstring.
    detail : str
        Where the part comes from, in words (the data declared, the mechanism...).
    epsilon, delta : float or None
        For ``"dp"``: the part's own share of the budget (``0`` for post-processing of
        another release, named in ``release``).
    release : str or None
        For ``"dp"``: the ledger entry that paid for it.
    """

    kind: str
    detail: str = ""
    epsilon: float | None = None
    delta: float | None = None
    release: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise invalid_argument("Protection", "kind", self.kind, f"one of {list(KINDS)}")
        if self.kind == "dp" and (self.epsilon is None or self.delta is None):
            raise invalid_argument(
                "Protection", "epsilon", self.epsilon, "a number (and delta) for kind 'dp'"
            )

    @classmethod
    def dp(
        cls, epsilon: float, delta: float, *, release: str | None = None, detail: str = ""
    ) -> Protection:
        """Return the protection of a DP release with this ``(epsilon, delta)`` share."""
        return cls("dp", detail, float(epsilon), float(delta), release)

    @classmethod
    def public(cls, detail: str) -> Protection:
        """Return the protection of a part computed from data declared public."""
        return cls("public", detail)

    @classmethod
    def held_out(cls, detail: str) -> Protection:
        """Return the protection of a part computed from data held out of training."""
        return cls("held-out", detail)

    @classmethod
    def none(cls, detail: str) -> Protection:
        """Return "not protected": the part is an exact statistic of undeclared data."""
        return cls("not protected", detail)

    @property
    def covered(self) -> bool:
        """Whether anything protects the part (every kind but ``"not protected"``)."""
        return self.kind != "not protected"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict; ``epsilon``/``delta``/``release`` only for ``"dp"``."""
        data: dict[str, Any] = {"protection": self.kind, "detail": self.detail}
        if self.kind == "dp":
            data.update(epsilon=self.epsilon, delta=self.delta, release=self.release)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Protection:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            str(data.get("protection")),
            str(data.get("detail", "")),
            data.get("epsilon"),
            data.get("delta"),
            data.get("release"),
        )

    def __repr__(self) -> str:
        if self.kind == "dp":
            return (
                f"Protection(kind='dp', epsilon={self.epsilon:g}, delta={self.delta:g}, "
                f"release={self.release!r})"
            )
        return f"Protection(kind={self.kind!r}, detail={self.detail!r})"


@dataclasses.dataclass(frozen=True)
class Declared:
    """Data carrying a statement of what protects statistics computed from it.

    Pass it where edgeml computes released statistics from data, e.g.
    ``edgeml.convert(..., representative_data=declared)``: the protection is written
    into the conversion report and the model card's privacy scope.

    Attributes
    ----------
    data : Any
        The data, unchanged.
    protection : Protection
        What protects statistics of it.
    """

    data: Any
    protection: Protection

    def __repr__(self) -> str:
        return f"Declared(protection={self.protection!r})"


def declare(data: Any, *, kind: str, source: str) -> Declared:
    """Declare data public or held out of training, so statistics of it may be released.

    Parameters
    ----------
    data : Any
        The data (an array, a dataset...).
    kind : {"public", "held-out"}
        ``"public"``: anyone may know it (a published data set, generated inputs).
        ``"held-out"``: real data, but not part of the training set the DP guarantee is
        about. Statistics of it are not private for *its* records: say so to them.
    source : str
        Where the data comes from, in words; it is written into the card.

    Returns
    -------
    Declared

    Examples
    --------
    >>> declare([1.0], kind="held-out", source="2025 validation split").protection.kind
    'held-out'
    """
    if kind not in ("public", "held-out"):
        raise invalid_argument(
            "declare",
            "kind",
            kind,
            "'public' or 'held-out'",
            fix="for private data use a DP release, e.g. edgeml.privacy.dp_baseline(...)",
        )
    if not isinstance(source, str) or not source.strip():
        raise invalid_argument("declare", "source", source, "a non-empty description")
    return Declared(data, Protection(kind, source))
