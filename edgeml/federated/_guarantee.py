"""``ClientGuarantee``: an (epsilon, delta) guarantee whose unit is one device's whole data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edgeml.privacy.accounting import Guarantee

__all__ = ["ClientGuarantee"]

CLIENT_UNIT = "client-level: adding or removing one device's whole data"


@dataclass(frozen=True)
class ClientGuarantee(Guarantee):
    """A client-level guarantee of federated training with DP-FedAvg.

    The neighbouring datasets differ by **one device's whole data** (every example the
    device holds, in every round it joins), not by one example: this is the guarantee
    a fleet of personal devices needs. It is a :class:`~edgeml.privacy.Guarantee` (so
    :meth:`edgeml.card.ModelCard.build` records it) with the unit and the federated
    plan added.

    Attributes
    ----------
    unit : str
        ``"client-level: adding or removing one device's whole data"``.
    rounds : int
        Rounds whose release is accounted.
    num_clients : int
        Fleet size the sampling rate refers to.
    adaptive_clipping : bool
        Whether the clip norm was adapted (its noisy count is included in the epsilon).
    count_stddev : float or None
        The noise on the adaptive clipping count.

    Examples
    --------
    >>> g = ClientGuarantee(epsilon=3.0, delta=1e-5, accountant="rdp", noise_multiplier=1.1,
    ...                     sampling_rate=0.1, steps=50, l2_norm_clip=0.5, rounds=50,
    ...                     num_clients=100)
    >>> g.to_dict()["unit"]
    "client-level: adding or removing one device's whole data"
    >>> print(g.statement())  # doctest: +ELLIPSIS
    The federated training is (3, 1e-05)-differentially private at the client level: ...
    """

    unit: str = CLIENT_UNIT
    rounds: int = 0
    num_clients: int = 0
    adaptive_clipping: bool = False
    count_stddev: float | None = None

    def __repr__(self) -> str:
        return (
            f"ClientGuarantee(epsilon={self.epsilon:.4g}, delta={self.delta:.4g}, "
            f"accountant={self.accountant!r}, rounds={self.rounds}, unit='client-level')"
        )

    def statement(self) -> str:
        """Explain the client-level guarantee in plain words.

        Returns
        -------
        str
        """
        if math.isinf(self.epsilon):
            return (
                "The federated training is not differentially private (epsilon is "
                "infinite): without noise nothing bounds what the model reveals about a device."
            )
        eps = f"{self.epsilon:.4g}"
        clip = (
            f"adaptive clipping starting at L2 norm {self.l2_norm_clip:g} (its noisy count "
            f"with standard deviation {self.count_stddev:.4g} is included)"
            if self.adaptive_clipping
            else f"each device's update clipped to L2 norm {self.l2_norm_clip:g}"
        )
        names = {"rdp": "Rényi DP accounting", "pld": "privacy loss distributions"}
        return (
            f"The federated training is ({eps}, {self.delta:.4g})-differentially private at "
            "the client level: adding or removing one device's whole data changes the "
            f"probability of any model by a factor of at most e^{eps} = "
            f"{math.exp(self.epsilon):.4g}, except with probability {self.delta:.4g}. "
            f"DP-FedAvg ran {self.rounds} rounds, each device joining a round with "
            f"probability {self.sampling_rate:.4g} (Poisson sampling of {self.num_clients} "
            f"devices), {clip}, Gaussian noise multiplier {self.noise_multiplier:.4g}. "
            f"Computed with {names.get(self.accountant, self.accountant)}. Metrics the "
            "devices report (loss, accuracy, example counts) are outside this guarantee."
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the guarantee as JSON-safe data, with ``unit`` and ``statement``."""
        return super().to_dict()
