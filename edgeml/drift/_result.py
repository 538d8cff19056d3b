"""The value every drift test returns: :class:`DriftResult`.

It unpacks like scipy's ``KstestResult``, ``statistic, pvalue = ks(a, b)``, yet also
carries the decision (``threshold``, ``drifted``), the ``method`` and method details.

Examples
--------
>>> from edgeml.drift import DriftResult
>>> r = DriftResult(0.31, None, threshold=0.2, drifted=True, method="psi")
>>> statistic, pvalue = r
>>> statistic, pvalue, r.drifted
(0.31, None, True)
>>> r
DriftResult(method='psi', statistic=0.31, pvalue=None, threshold=0.2, drifted=True)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeml._display import format_cell, html_table, to_jsonable
from edgeml._html import category_chart, histogram_charts

__all__ = ["DriftResult", "binned", "binned_chart"]


def binned(details: Mapping[str, Any]) -> dict[str, list[Any]] | None:
    """Return the binned samples in a result's details, or ``None`` when it keeps none.

    Binned tests (PSI, JS) keep ``edges`` with ``reference_counts`` and
    ``current_counts`` in ``bins + 2`` bins (below, inner, above); chi-square keeps
    ``categories`` with the two count lists.
    """
    keys = ("reference_counts", "current_counts")
    bins = "edges" if "edges" in details else "categories"
    if not all(k in details for k in (bins, *keys)):
        return None
    return {k: list(details[k]) for k in (bins, *keys)}


def binned_chart(data: Mapping[str, list[Any]], title: str) -> str:
    """Draw :func:`binned` data: reference (grey) and current (blue) as inline SVG."""
    ref, cur = data["reference_counts"], data["current_counts"]
    if "edges" in data:
        grid = histogram_charts([title], [data["edges"]], [ref], [cur])
        return "<svg" + grid.split("<svg", 1)[1].split("</svg>", 1)[0] + "</svg>"
    return category_chart(data["categories"], ref, cur, title=title)


def _detail_cell(value: Any) -> Any:
    value = to_jsonable(value)
    if isinstance(value, list) and len(value) > 8:
        return f"{len(value)} values (charted below)"
    if isinstance(value, list):
        return ", ".join(format_cell(v) for v in value)
    return value


@dataclass(frozen=True, repr=False)
class DriftResult:
    """Outcome of one drift test on one feature.

    Iterating (and indexing) yields ``(statistic, pvalue)`` only, like scipy's
    ``KstestResult``; every other field is an attribute.

    Parameters
    ----------
    statistic : float
        The test statistic (PSI, KS distance, JS distance, ...).
    pvalue : float or None
        The p-value, or ``None`` for effect-size measures that have none (PSI, JS,
        Wasserstein).
    threshold : float
        For p-value tests the significance level (drift when ``pvalue < threshold``);
        for effect sizes the cut-off (drift when ``statistic >= threshold``).
    drifted : bool
        The decision for this feature alone (see :class:`DriftReport` for corrected
        decisions over many features).
    method : str
        Name of the test, e.g. ``"psi"``.
    details : Mapping
        Method-specific values (bins, sample sizes, p-value mode, error bounds, ...).
    feature : str, optional
        The column's name when the result is one of several.

    Examples
    --------
    >>> r = DriftResult(0.5, 0.01, threshold=0.05, drifted=True, method="ks")
    >>> r[1], len(r), r.to_dict()["method"]
    (0.01, 2, 'ks')
    """

    statistic: float
    pvalue: float | None
    threshold: float
    drifted: bool
    method: str
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)
    feature: str | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.statistic, self.pvalue))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> Any:
        return (self.statistic, self.pvalue)[index]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of every field.

        Returns
        -------
        dict
            Plain Python types; non-finite floats become ``None``.

        Examples
        --------
        >>> DriftResult(0.1, None, 0.2, False, "psi").to_dict()["drifted"]
        False
        """
        return {
            "feature": self.feature,
            "method": self.method,
            "statistic": to_jsonable(self.statistic),
            "pvalue": to_jsonable(self.pvalue),
            "threshold": to_jsonable(self.threshold),
            "drifted": bool(self.drifted),
            "details": to_jsonable(dict(self.details)),
        }

    def _repr_html_(self) -> str:
        rule = "p-value < threshold" if self.pvalue is not None else "statistic >= threshold"
        rows: list[list[Any]] = [
            ["feature", self.feature],
            ["method", self.method],
            ["statistic", self.statistic],
            ["p-value", self.pvalue],
            ["threshold", f"{self.threshold:.4g} (drift when {rule})"],
            ["drifted", self.drifted],
        ]
        rows += [[key, _detail_cell(value)] for key, value in self.details.items()]
        shown = [row for row in rows if row[1] is not None or row[0] == "p-value"]
        table = html_table(["field", "value"], shown, caption="Drift test")
        data = binned(self.details)
        return table + (binned_chart(data, self.feature or self.method) if data else "")

    def __repr__(self) -> str:
        feature = f"feature={self.feature!r}, " if self.feature is not None else ""
        pvalue = "None" if self.pvalue is None else f"{self.pvalue:.4g}"
        return (
            f"DriftResult({feature}method={self.method!r}, statistic={self.statistic:.4g}, "
            f"pvalue={pvalue}, threshold={self.threshold:.4g}, drifted={self.drifted})"
        )
