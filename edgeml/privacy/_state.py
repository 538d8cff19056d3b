"""What a private model has spent and may still spend (``model.privacy``)."""

from __future__ import annotations

from typing import Any

from edgeml._optional import require
from edgeml.privacy._noise import NoiseSource, noise_tail_delta
from edgeml.privacy.accounting import Accountant, Guarantee, Ledger, epsilon

tf = require("tensorflow", extra="tf", feature="DP-SGD (edgeml.privacy.make_private)")


__all__ = ["PrivacyState"]


class PrivacyState:
    """What a private model has spent and may still spend (``model.privacy``).

    Attributes
    ----------
    noise_multiplier, l2_norm_clip, sampling_rate, delta : float
        The DP-SGD parameters.
    batch_size, num_examples, steps_per_epoch : int
        The expected batch size, the training-set size and the steps in one epoch.
    target_epsilon : float or None
        The budget; training stops before exceeding it.
    max_steps : int or None
        The most steps the budget allows.
    accountant : str
        ``"rdp"`` or ``"pld"``.
    sampling : str
        ``"poisson"`` or ``"shuffle"``.
    ledger : Ledger
        Every finished ``fit`` is recorded here as a release.
    """

    def __init__(
        self,
        *,
        noise_multiplier: float,
        l2_norm_clip: float,
        sampling_rate: float,
        delta: float,
        batch_size: int,
        num_examples: int,
        steps_per_epoch: int,
        target_epsilon: float | None,
        max_steps: int | None,
        accountant: Accountant,
        sampling: str,
        ledger: Ledger,
        seed: int | None,
        shared_ledger: bool = False,
        insecure_noise_seed: int | None = None,
    ) -> None:
        self.noise_multiplier = noise_multiplier
        self.l2_norm_clip = l2_norm_clip
        self.sampling_rate = sampling_rate
        self.delta = delta
        self.batch_size = batch_size
        self.num_examples = num_examples
        self.steps_per_epoch = steps_per_epoch
        self.target_epsilon = target_epsilon
        self.max_steps = max_steps
        self.accountant = accountant
        self.sampling = sampling
        self.ledger = ledger
        self._shared_ledger = shared_ledger
        self._seed = seed
        self._fits = 0
        self._step_counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="dp_steps")
        self._noise = NoiseSource(insecure_noise_seed)
        self._noise_values = 0  # noise values drawn per step (set by make_private)

    @property
    def noise_seeded(self) -> bool:
        """Whether the noise came from ``insecure_noise_seed`` (so it is not secret)."""
        return self._noise.seeded

    @property
    def steps(self) -> int:
        """DP-SGD steps taken so far."""
        return int(self._step_counter.numpy())

    @property
    def remaining_steps(self) -> int | None:
        """Steps left before the budget is reached, or ``None`` without a budget."""
        if self.max_steps is None:
            return None
        return max(0, self.max_steps - self.steps)

    def spent(self) -> Guarantee:
        """Return the guarantee of the training done so far.

        The delta includes the tiny term for the Gaussian tail the noise sampler cannot
        draw (beyond 15.3 standard deviations, see ``edgeml.privacy._noise``), so the
        guarantee holds for the noise actually drawn; for any usual run it is below
        float64 resolution and leaves delta unchanged.

        Returns
        -------
        Guarantee
            Epsilon is 0 before the first step.
        """
        steps = self.steps
        eps = epsilon(
            noise_multiplier=self.noise_multiplier,
            sampling_rate=self.sampling_rate,
            steps=steps,
            delta=self.delta,
            accountant=self.accountant,
        )
        tail = noise_tail_delta(values_per_step=self._noise_values, steps=steps, epsilon=eps)
        return Guarantee(
            epsilon=eps,
            delta=self.delta + tail,
            accountant=self.accountant,
            sampling=self.sampling,
            noise_multiplier=self.noise_multiplier,
            sampling_rate=self.sampling_rate,
            steps=steps,
            l2_norm_clip=self.l2_norm_clip,
            noise_seeded=self.noise_seeded,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters, the budget and the spent guarantee as JSON-safe data."""
        return {
            "noise_multiplier": self.noise_multiplier,
            "l2_norm_clip": self.l2_norm_clip,
            "sampling_rate": self.sampling_rate,
            "delta": self.delta,
            "batch_size": self.batch_size,
            "num_examples": self.num_examples,
            "target_epsilon": self.target_epsilon,
            "max_steps": self.max_steps,
            "steps": self.steps,
            "accountant": self.accountant,
            "sampling": self.sampling,
            "noise_seeded": self.noise_seeded,
            "spent": self.spent().to_dict(),
        }

    def __repr__(self) -> str:
        budget = "none" if self.target_epsilon is None else f"{self.target_epsilon:g}"
        return (
            f"PrivacyState(steps={self.steps}, epsilon={self.spent().epsilon:.4g}, "
            f"budget={budget}, noise_multiplier={self.noise_multiplier:.4g}, "
            f"l2_norm_clip={self.l2_norm_clip:g})"
        )

    def _next_seed(self) -> int | None:
        self._fits += 1
        return None if self._seed is None else self._seed * 1_000_003 + self._fits
