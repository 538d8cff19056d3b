"""Differential privacy: accounting, DP aggregates, DP-SGD for Keras and membership audits.

Also what protects each released artifact (:class:`Protection`, :func:`declare`), a DP
drift baseline (:func:`dp_baseline`) and :func:`audit_release`, which lists every
statistic a model file or a demo folder carries with its protection.

``edgeml.privacy.accounting``, ``edgeml.privacy.mechanisms`` and the membership audit
need no TensorFlow; only DP-SGD (``edgeml.privacy.dpsgd``) does, and it is imported the
first time one of its names is used.

Examples
--------
>>> import edgeml.privacy as privacy
>>> round(privacy.epsilon(noise_multiplier=1.1, sampling_rate=256 / 60000, steps=14063,
...                       delta=1e-5, accountant="pld"), 4)
2.3818
>>> "Ledger" in dir(privacy)
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from edgeml.privacy.accounting import Accountant as Accountant
from edgeml.privacy.accounting import Guarantee as Guarantee
from edgeml.privacy.accounting import Ledger as Ledger
from edgeml.privacy.accounting import LedgerEntry as LedgerEntry
from edgeml.privacy.accounting import dpsgd_event as dpsgd_event
from edgeml.privacy.accounting import epsilon as epsilon
from edgeml.privacy.accounting import noise_multiplier as noise_multiplier
from edgeml.privacy.accounting import steps_for_epochs as steps_for_epochs

if TYPE_CHECKING:  # the lazy names, for type checkers and IDEs only
    from edgeml.privacy._types import PrivateModel as PrivateModel
    from edgeml.privacy.dpsgd import PrivacyState as PrivacyState
    from edgeml.privacy.dpsgd import make_private as make_private
    from edgeml.privacy.dpsgd import poisson_batches as poisson_batches
    from edgeml.privacy.dpsgd import validate_model as validate_model
    from edgeml.privacy.mechanisms import dp_count as dp_count
    from edgeml.privacy.mechanisms import dp_histogram as dp_histogram
    from edgeml.privacy.mechanisms import dp_mean as dp_mean
    from edgeml.privacy.mechanisms import dp_quantile as dp_quantile
    from edgeml.privacy.mechanisms import dp_sum as dp_sum
    from edgeml.privacy.membership import AttackResult as AttackResult
    from edgeml.privacy.membership import AuditResult as AuditResult
    from edgeml.privacy.membership import audit as audit
    from edgeml.privacy.membership import dp_advantage_bound as dp_advantage_bound

# Names imported on first use: name -> defining module. DP-SGD needs TensorFlow.
_LAZY: dict[str, str] = {
    "PrivacyState": "edgeml.privacy.dpsgd",
    "PrivateModel": "edgeml.privacy._types",
    "make_private": "edgeml.privacy.dpsgd",
    "poisson_batches": "edgeml.privacy.dpsgd",
    "validate_model": "edgeml.privacy.dpsgd",
    "AttackResult": "edgeml.privacy.membership",
    "AuditResult": "edgeml.privacy.membership",
    "audit": "edgeml.privacy.membership",
    "dp_advantage_bound": "edgeml.privacy.membership",
    "dp_count": "edgeml.privacy.mechanisms",
    "dp_histogram": "edgeml.privacy.mechanisms",
    "dp_mean": "edgeml.privacy.mechanisms",
    "dp_quantile": "edgeml.privacy.mechanisms",
    "dp_sum": "edgeml.privacy.mechanisms",
    "Declared": "edgeml.privacy.scope",
    "Protection": "edgeml.privacy.scope",
    "declare": "edgeml.privacy.scope",
    "DPBaseline": "edgeml.privacy.baseline",
    "dp_baseline": "edgeml.privacy.baseline",
    "ReleaseAudit": "edgeml.privacy.release_audit",
    "audit_release": "edgeml.privacy.release_audit",
}
_SUBMODULES = frozenset(
    {"accounting", "baseline", "dpsgd", "mechanisms", "membership", "release_audit", "scope"}
)

__all__ = sorted(
    [
        "Accountant",
        "Guarantee",
        "Ledger",
        "LedgerEntry",
        "dpsgd_event",
        "epsilon",
        "noise_multiplier",
        "steps_for_epochs",
        *_LAZY,
    ]
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"edgeml.privacy.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'edgeml.privacy' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
