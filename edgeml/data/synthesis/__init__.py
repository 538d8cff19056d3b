"""Differentially private synthetic data: share a table's shape, not its people.

:func:`~edgeml.data.synthesize` implements MST (McKenna, Miklau and Sheldon, 2021) in
numpy and scipy, with the domain read from the minimization policy (never from the
data) and the budget charged to the same :class:`~edgeml.privacy.Ledger` as DP-SGD.
The steps live in small modules: :mod:`~edgeml.data.synthesis.domain` (public
categories), :mod:`~edgeml.data.synthesis.zcdp` (budget conversion),
:mod:`~edgeml.data.synthesis.mst` (measure, compress, select),
:mod:`~edgeml.data.synthesis.estimation` (consistent tree model, sampling) and
:mod:`~edgeml.data.synthesis.quality` (non-private utility measures).
"""

from edgeml.data.synthesis.demo import demo_policy, demo_step
from edgeml.data.synthesis.domain import ColumnDomain, SynthesisDomain, synthesis_domain
from edgeml.data.synthesis.pipeline import mst_event, synthesize
from edgeml.data.synthesis.quality import SynthesisQuality
from edgeml.data.synthesis.report import SynthesisReport
from edgeml.data.synthesis.zcdp import zcdp_epsilon, zcdp_rho

__all__ = [
    "ColumnDomain",
    "SynthesisDomain",
    "SynthesisQuality",
    "SynthesisReport",
    "demo_policy",
    "demo_step",
    "mst_event",
    "synthesis_domain",
    "synthesize",
    "zcdp_epsilon",
    "zcdp_rho",
]
