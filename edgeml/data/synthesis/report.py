"""What :func:`~edgeml.data.synthesize` did: the guarantee, the tree, and (privately) quality."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from edgeml._display import html_table, to_jsonable
from edgeml.data.synthesis.domain import SynthesisDomain
from edgeml.data.synthesis.mst import NoiseScales
from edgeml.data.synthesis.quality import SynthesisQuality
from edgeml.privacy.accounting import Guarantee

__all__ = ["SynthesisReport"]


@dataclasses.dataclass(frozen=True)
class SynthesisReport:
    """A record of one :func:`~edgeml.data.synthesize` run.

    Everything but :attr:`quality` is differentially private (the domain is public, the
    rest is computed from noisy measurements) and may be published with the synthetic
    table: use :meth:`to_release_dict`. :attr:`quality` compares against the real table
    and is NOT private: it stays with the data owner.

    Attributes
    ----------
    guarantee : Guarantee
        The ``(epsilon, delta)`` guarantee of the whole release, converted from ``rho``.
    scales : NoiseScales
        The zCDP budget ``rho``, its split and the resulting noise levels.
    tree : tuple of (str, str)
        The column pairs whose 2-way marginals were measured, in the order chosen.
    domain : SynthesisDomain
        The public categories of every column.
    compressed_sizes : dict of str to int
        Cells per column after rare categories were merged (from noisy counts).
    rows_out : int
        Synthetic rows produced.
    policy_hash : str
        The policy the output follows (:attr:`Policy.policy_hash`).
    quality : SynthesisQuality or None
        Utility and closeness measures against the real table (NOT private), or
        ``None`` when not computed.
    """

    guarantee: Guarantee
    scales: NoiseScales
    tree: tuple[tuple[str, str], ...]
    domain: SynthesisDomain
    compressed_sizes: Mapping[str, int]
    rows_out: int
    policy_hash: str
    quality: SynthesisQuality | None = None

    def to_release_dict(self) -> dict[str, Any]:
        """Return the private, publishable part as JSON-safe data (no quality measures)."""
        return {
            "format": "edgeml.data.SynthesisReport/1",
            "mechanism": "MST (McKenna, Miklau and Sheldon 2021)",
            "guarantee": self.guarantee.to_dict(),
            "zcdp": to_jsonable(dataclasses.asdict(self.scales)),
            "tree": [list(edge) for edge in self.tree],
            "domain": self.domain.to_dict(),
            "compressed_sizes": dict(self.compressed_sizes),
            "rows_out": self.rows_out,
            "policy_hash": self.policy_hash,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return everything as JSON-safe data, quality included (keep it private)."""
        data = self.to_release_dict()
        data["quality"] = None if self.quality is None else self.quality.to_dict()
        return data

    def __repr__(self) -> str:
        return (
            f"SynthesisReport(epsilon={self.guarantee.epsilon:.4g}, "
            f"delta={self.guarantee.delta:.4g}, rho={self.scales.rho:.4g}, "
            f"columns={len(self.domain.columns)}, tree_edges={len(self.tree)}, "
            f"rows_out={self.rows_out})"
        )

    def _rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [
            ["epsilon, delta", f"{self.guarantee.epsilon:.4g}, {self.guarantee.delta:.4g}"],
            ["zCDP rho", self.scales.rho],
            [
                "noise sigma (1-way, 2-way)",
                f"{self.scales.sigma_one_way:.4g}, {self.scales.sigma_two_way:.4g}",
            ],
            ["tree", ", ".join(f"{a}-{b}" for a, b in self.tree)],
            ["rows out", self.rows_out],
        ]
        q = self.quality
        if q is not None:
            rows += [
                [
                    "2-way TVD mean / max (not private)",
                    f"{q.tvd_two_way_mean:.4g} / {q.tvd_two_way_max:.4g}",
                ],
                [
                    "DCR median synthetic / holdout (not private)",
                    f"{q.dcr_median:g} / {q.holdout_dcr_median:g}",
                ],
            ]
            if q.tstr_accuracy is not None:
                rows.append(
                    [
                        f"accuracy on {q.target!r}: TSTR / TRTR / majority (not private)",
                        f"{q.tstr_accuracy:.3f} / {q.trtr_accuracy:.3f} / "
                        f"{q.majority_accuracy:.3f}",
                    ]
                )
        return rows

    def _repr_html_(self) -> str:
        return html_table(["", "value"], self._rows(), caption=self.guarantee.statement())
