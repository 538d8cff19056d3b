"""Privacy-by-default data minimization: what a policy does not declare is dropped.

This layer is pure numpy (pandas only when the caller passes a DataFrame); it never
imports TensorFlow.

Examples
--------
>>> import edgeml
>>> policy = edgeml.data.Policy(keep={"age": edgeml.data.bins([0, 30, 120])})
>>> table, report = edgeml.data.minimize({"age": [25, 40], "name": ["Ann", "Bo"]}, policy)
>>> table["age"], report.columns_dropped
(['[0, 30)', '[30, 120]'], {'name': 'not declared in the policy'})
"""

from edgeml.data.anonymity import AnonymityResult, DiversityResult, k_anonymity, l_diversity
from edgeml.data.minimization import minimize
from edgeml.data.pii import PII_TYPES, PIIFinding, PIIScan, detect_pii
from edgeml.data.policy import Policy
from edgeml.data.pseudonyms import pseudonymize
from edgeml.data.report import MinimizationReport
from edgeml.data.synthesis import SynthesisReport, synthesize
from edgeml.data.transforms import (
    Transform,
    bins,
    chain,
    coarsen_geo,
    coarsen_time,
    redact,
    round_to,
    suppress,
    top_k,
    transform_from_dict,
    truncate,
)

__all__ = [
    "PII_TYPES",
    "AnonymityResult",
    "DiversityResult",
    "MinimizationReport",
    "PIIFinding",
    "PIIScan",
    "Policy",
    "SynthesisReport",
    "Transform",
    "bins",
    "chain",
    "coarsen_geo",
    "coarsen_time",
    "detect_pii",
    "k_anonymity",
    "l_diversity",
    "minimize",
    "pseudonymize",
    "redact",
    "round_to",
    "suppress",
    "synthesize",
    "top_k",
    "transform_from_dict",
    "truncate",
]
