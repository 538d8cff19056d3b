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

from edgeml.privacy._epsilon import (
    Accountant,
    dpsgd_event,
    epsilon,
    noise_multiplier,
    steps_for_epochs,
)
from edgeml.privacy._guarantee import Guarantee
from edgeml.privacy._ledger import Ledger, LedgerEntry

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
