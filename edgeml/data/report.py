"""What :func:`~edgeml.data.minimize` did, as a value for people and for the model card."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml._html import bar_chart, write_page
from edgeml.data.pii import PIIFinding

__all__ = ["DROP_REASONS", "MinimizationReport"]

#: Why rows are dropped, in the order the filters run.
DROP_REASONS: Mapping[str, str] = {
    "consent_withdrawn": "consent withdrawn or never given",
    "no_consent_for_purpose": "consent does not cover the purpose",
    "missing_timestamp": "no collection time, so retention cannot be checked",
    "retention": "older than the retention period",
    "k_anonymity": "in an equivalence class smaller than k",
}


@dataclasses.dataclass(frozen=True)
class MinimizationReport:
    """A record of one :func:`~edgeml.data.minimize` run.

    Attributes
    ----------
    policy_hash : str
        SHA-256 of the policy's canonical JSON (:attr:`Policy.policy_hash`).
    rows_in, rows_out : int
        Rows before and after.
    rows_dropped : dict of str to int
        Rows dropped per reason (keys of :data:`DROP_REASONS`; only non-zero counts).
    columns_kept : tuple of str
        Columns released as-is.
    columns_transformed : dict of str to str
        Column -> how it was generalized.
    columns_pseudonymized : tuple of str
        Columns released as keyed pseudonyms.
    columns_dropped : dict of str to str
        Column -> why it is not in the output.
    pii_findings : tuple of PIIFinding
        PII found in released columns that the policy allowed (``allow_pii``).
    pii_allowed : tuple of str
        The policy's ``allow_pii`` columns (a reviewed decision to release PII).
    quasi_identifiers : tuple of str
        The policy's quasi-identifiers.
    k_required, k_achieved : int or None
        The policy's ``k`` and the k-anonymity of the output (``None`` without
        quasi-identifiers; 0 for an empty output).
    purpose : str or None
        The purpose rows were filtered for.
    retention_days : float or None
        The retention period applied.
    now : str or None
        The reference time of the retention check (ISO 8601).
    """

    policy_hash: str
    rows_in: int
    rows_out: int
    rows_dropped: Mapping[str, int]
    columns_kept: tuple[str, ...]
    columns_transformed: Mapping[str, str]
    columns_pseudonymized: tuple[str, ...]
    columns_dropped: Mapping[str, str]
    pii_findings: tuple[PIIFinding, ...]
    pii_allowed: tuple[str, ...]
    quasi_identifiers: tuple[str, ...]
    k_required: int | None
    k_achieved: int | None
    purpose: str | None
    retention_days: float | None
    now: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (the model card's data sheet reads this)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["pii_findings"] = [f.to_dict() for f in self.pii_findings]
        return dict(to_jsonable(data))

    def _column_rows(self) -> list[list[str]]:
        rows = [[c, "kept as-is", ""] for c in self.columns_kept]
        rows += [[c, "transformed", how] for c, how in self.columns_transformed.items()]
        rows += [[c, "pseudonymized", "keyed HMAC-SHA256"] for c in self.columns_pseudonymized]
        rows += [[c, "dropped", why] for c, why in self.columns_dropped.items()]
        return rows

    def _row_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [["rows in", self.rows_in]]
        rows += [[DROP_REASONS[r], -n] for r, n in self.rows_dropped.items()]
        rows.append(["rows out", self.rows_out])
        return rows

    def _summary(self) -> list[list[Any]]:
        return [
            ["policy hash", self.policy_hash[:16]],
            ["purpose", self.purpose],
            ["retention (days)", self.retention_days],
            ["quasi-identifiers", ", ".join(self.quasi_identifiers)],
            ["k required / achieved", f"{self.k_required} / {self.k_achieved}"],
            ["PII allowed in", ", ".join(self.pii_allowed)],
        ]

    def to_markdown(self) -> str:
        """Return the report as Markdown: summary, rows, columns, PII findings."""
        parts = [
            "### Data minimization",
            markdown_table(["", ""], self._summary()),
            markdown_table(["rows", "count"], self._row_rows()),
            markdown_table(["column", "treatment", "detail"], self._column_rows()),
        ]
        if self.pii_findings:
            parts.append(
                markdown_table(
                    ["column", "PII type", "rows", "score", "reason"],
                    [[f.column, f.pii_type, f.count, f.score, f.reason] for f in self.pii_findings],
                )
            )
        return "\n\n".join(parts)

    def _html_sections(self) -> list[str]:
        parts = [
            html_table(["", ""], self._summary(), caption="Data minimization"),
            html_table(["rows", "count"], self._row_rows(), caption="Rows"),
        ]
        if self.rows_dropped:
            labels = ["kept", *self.rows_dropped]
            counts = [float(self.rows_out), *map(float, self.rows_dropped.values())]
            parts.append(bar_chart(labels, counts, title="Rows kept and dropped, by reason"))
        parts.append(
            html_table(["column", "treatment", "detail"], self._column_rows(), caption="Columns")
        )
        if self.pii_findings:
            parts.append(
                html_table(
                    ["column", "PII type", "rows", "score", "reason"],
                    [[f.column, f.pii_type, f.count, f.score, f.reason] for f in self.pii_findings],
                    caption="PII released by decision (allow_pii)",
                )
            )
        return parts

    def _repr_html_(self) -> str:
        return "".join(self._html_sections())

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as a standalone HTML page (inline styles and charts).

        The page is what a notebook shows for the report (summary, rows kept and
        dropped by reason with their chart, columns, PII released); it opens in a
        browser with no server and loads nothing from the network. Written atomically.

        Parameters
        ----------
        path : str or os.PathLike
            Destination, usually ending in ``.html``.

        Returns
        -------
        pathlib.Path
            The written file.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from edgeml.data import Policy, minimize
        >>> _, report = minimize({"age": [31, 47], "email": ["a@x.org", "b@y.org"]},
        ...                      Policy(keep={"age": None}))
        >>> page = report.save_html(pathlib.Path(tempfile.mkdtemp()) / "minimization.html")
        >>> "email" in page.read_text()
        True
        """
        return write_page(path, "Data minimization report", self._html_sections())

    def __repr__(self) -> str:
        released = len(self.columns_kept) + len(self.columns_transformed)
        released += len(self.columns_pseudonymized)
        return (
            f"MinimizationReport(rows {self.rows_in} -> {self.rows_out}, "
            f"columns released={released}, dropped={len(self.columns_dropped)}, "
            f"k_achieved={self.k_achieved}, policy={self.policy_hash[:12]})"
        )
