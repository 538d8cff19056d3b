"""An (epsilon, delta) guarantee, how it was obtained, and what it says in words."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from edgeml._display import html_table, markdown_table, to_jsonable

__all__ = ["Guarantee"]


@dataclass(frozen=True)
class Guarantee:
    """An (epsilon, delta) differential-privacy guarantee and how it was obtained.

    Attributes
    ----------
    epsilon, delta : float
        The guarantee: the training (or releases) are (epsilon, delta)-DP with respect to
        adding or removing one example.
    accountant : str
        ``"rdp"``, ``"pld"``, or ``"composition"`` for a ledger total that also uses
        basic composition of stated (epsilon, delta) pairs.
    sampling : str
        ``"poisson"`` (what the accounting assumes), ``"shuffle"`` (fixed-size shuffled
        batches accounted as if Poisson: a common practice, not a proof), or
        ``"composed"`` for a ledger total.
    noise_multiplier, sampling_rate, l2_norm_clip : float or None
        DP-SGD parameters, ``None`` when not applicable.
    steps : int or None
        DP-SGD steps taken, ``None`` when not applicable.
    releases : int
        How many releases (DP-SGD runs, DP aggregates) the guarantee covers.
    noise_seeded : bool
        Whether some noise was drawn from a seed the user chose (``insecure_noise_seed``)
        instead of a secure generator: the guarantee then does not hold against anyone
        who knows the seed, since they can regenerate the noise and subtract it.

    Examples
    --------
    >>> g = Guarantee(epsilon=2.5967, delta=1e-5, accountant="rdp", noise_multiplier=1.1,
    ...               sampling_rate=256 / 60000, steps=14063, l2_norm_clip=1.0)
    >>> g
    Guarantee(epsilon=2.597, delta=1e-05, accountant='rdp', sampling='poisson')
    >>> print(g.statement())  # doctest: +ELLIPSIS
    The training is (2.597, 1e-05)-differentially private: ... 14063 steps ...
    """

    epsilon: float
    delta: float
    accountant: str
    sampling: str = "poisson"
    noise_multiplier: float | None = None
    sampling_rate: float | None = None
    steps: int | None = None
    l2_norm_clip: float | None = None
    releases: int = 1
    noise_seeded: bool = False

    def __repr__(self) -> str:
        return (
            f"Guarantee(epsilon={self.epsilon:.4g}, delta={self.delta:.4g}, "
            f"accountant={self.accountant!r}, sampling={self.sampling!r})"
        )

    def statement(self) -> str:
        """Explain the guarantee in plain words.

        Returns
        -------
        str
            A few sentences: what is protected, by how much, and under which assumption.

        Examples
        --------
        >>> print(Guarantee(epsilon=1.0, delta=1e-6, accountant="pld",
        ...                 releases=3, sampling="composed").statement())
        The 3 releases together are (1, 1e-06)-differentially private: adding or removing any one person's example changes the probability of any outcome by a factor of at most e^1 = 2.718, except with probability 1e-06. Computed with privacy loss distributions.
        """  # noqa: E501
        subject = (
            "The training is"
            if self.releases == 1
            else f"The {self.releases} releases together are"
        )
        eps = f"{self.epsilon:.4g}"
        if math.isinf(self.epsilon):
            return (
                f"{subject} not differentially private (epsilon is infinite): "
                "without noise nothing bounds what the output reveals about one example."
            )
        parts = [
            f"{subject} ({eps}, {self.delta:.4g})-differentially private: adding or removing "
            f"any one person's example changes the probability of any outcome by a factor "
            f"of at most e^{eps} = {math.exp(self.epsilon):.4g}, except with probability "
            f"{self.delta:.4g}."
        ]
        if self.steps is not None and self.noise_multiplier is not None:
            clip = (
                f", each example's gradient clipped to L2 norm {self.l2_norm_clip:g}"
                if self.l2_norm_clip
                else ""
            )
            parts.append(
                f"DP-SGD ran {self.steps} steps with sampling rate {self.sampling_rate:.4g} "
                f"and noise multiplier {self.noise_multiplier:.4g}{clip}."
            )
        names = {
            "rdp": "Rényi DP accounting",
            "pld": "privacy loss distributions",
            "composition": "dp-accounting plus basic composition of stated (epsilon, delta) pairs",
            "zcdp": "zero-concentrated DP, converted with the Canonne-Kamath-Steinke bound",
        }
        parts.append(f"Computed with {names.get(self.accountant, self.accountant)}.")
        if self.noise_seeded:
            parts.append(
                "Warning: the noise was generated from a seed chosen by the user "
                "(insecure_noise_seed, or a seed given for a release's noise); the "
                "guarantee does not hold against anyone who knows the seed, who can "
                "regenerate the noise and remove it."
            )
        if self.sampling == "shuffle":
            parts.append(
                "Caution: batches were shuffled with a fixed size, but the accounting "
                "assumes Poisson sampling; the stated epsilon is not proven for shuffling."
            )
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return the guarantee as JSON-safe data (infinite epsilon becomes ``None``)."""
        data: dict[str, Any] = to_jsonable(dataclasses.asdict(self))
        data["statement"] = self.statement()
        return data

    def to_markdown(self) -> str:
        """Return the guarantee as a two-column Markdown table."""
        rows = [[f.name, getattr(self, f.name)] for f in dataclasses.fields(self)]
        return markdown_table(["field", "value"], rows)

    def _repr_html_(self) -> str:
        rows = [[f.name, getattr(self, f.name)] for f in dataclasses.fields(self)]
        return html_table(["field", "value"], rows, caption=self.statement())
