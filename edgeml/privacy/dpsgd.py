"""DP-SGD for Keras models: Poisson sampling, per-example clipping, calibrated noise.

:func:`make_private` turns a Keras model (Keras 3, tf-keras, or Keras 2 on TensorFlow
2.15) into one whose ``fit`` trains with differentially private SGD:

1. every step samples each training example independently with probability
   ``q = batch_size / num_examples`` (Poisson sampling, what the accounting assumes);
2. each example's gradient is clipped to L2 norm ``l2_norm_clip`` (fast "ghost norms",
   see ``edgeml.privacy._ghost``);
3. the clipped gradients are summed, Gaussian noise ``N(0, sigma^2 C^2)`` is added, and
   the result is divided by the expected batch size ``q * num_examples``;
4. the optimizer applies that gradient; a callback stops training before the spent
   epsilon would exceed the target.

This module needs TensorFlow (``pip install "edgeml[tf]"``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from edgeml.errors import ConfigError, PrivacyBudgetExceeded, invalid_argument
from edgeml.privacy import _ghost
from edgeml.privacy import accounting as _accounting
from edgeml.privacy._budget import _max_steps_within, _record_on_copy
from edgeml.privacy._fit import _make_fit, _refuse_train_on_batch
from edgeml.privacy._keras import flavor_of
from edgeml.privacy._sampling import poisson_batches
from edgeml.privacy._state import PrivacyState
from edgeml.privacy._step import _make_train_step
from edgeml.privacy._types import PrivateModel
from edgeml.privacy._validation import validate_model
from edgeml.privacy.accounting import Accountant, Ledger
from edgeml.typing import KerasModel

__all__ = [
    "PrivacyState",
    "make_private",
    "poisson_batches",
    "validate_model",
]

logger = logging.getLogger("edgeml.privacy")


def _check_seed(owner: str, name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise invalid_argument(owner, name, value, "an integer or None")
    return int(value)


def _check_int(owner: str, name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise invalid_argument(owner, name, value, f"an integer >= {minimum}")
    return int(value)


def make_private(
    model: KerasModel,
    *,
    l2_norm_clip: float,
    delta: float,
    num_examples: int,
    batch_size: int,
    target_epsilon: float | None = None,
    noise_multiplier: float | None = None,
    epochs: float | None = None,
    accountant: Accountant = "rdp",
    sampling: str = "poisson",
    chunk_size: int | None = None,
    ledger: Ledger | None = None,
    seed: int | None = None,
    insecure_noise_seed: int | None = None,
    public_statistics: Sequence[str] = (),
) -> PrivateModel:
    """Make a Keras model train with DP-SGD; returns the same model, changed in place.

    Give the privacy you promise (``target_epsilon``, ``delta``) and the training plan
    (``epochs``, ``batch_size``); edgeml picks the smallest noise multiplier that keeps
    the promise. Or give ``noise_multiplier`` directly (and optionally a
    ``target_epsilon`` as a budget). Then ``model.compile(...)`` and ``model.fit(x, y,
    epochs=...)`` as usual: ``fit`` draws Poisson-sampled batches, clips each example's
    gradient, adds noise, and stops before the budget is exceeded.
    ``model.privacy`` (a :class:`PrivacyState`) tells what has been spent.

    Parameters
    ----------
    model : keras.Model
        A built Keras 3, tf-keras or Keras 2 model (single loss).
    l2_norm_clip : float
        The per-example gradient clip norm ``C``, > 0.
    delta : float
        The delta of the guarantee; must be below ``1 / num_examples`` (a larger delta
        would allow releasing an example outright).
    num_examples : int
        Size of the training set.
    batch_size : int
        Expected batch size; the sampling rate is ``batch_size / num_examples``.
    target_epsilon : float, optional
        The epsilon to stay within. Needs ``epochs`` unless ``noise_multiplier`` is given.
    noise_multiplier : float, optional
        Noise standard deviation over ``C``. Calibrated from ``target_epsilon`` when
        omitted.
    epochs : float, optional
        Planned passes over the data (``ceil(num_examples / batch_size)`` steps each).
    accountant : {"rdp", "pld"}, default "rdp"
        Accountant for calibration and reporting.
    sampling : {"poisson", "shuffle"}, default "poisson"
        ``"shuffle"`` trains on fixed-size shuffled batches instead; the guarantee then
        says that its accounting assumes Poisson sampling. In that mode ``fit`` takes
        only the training arrays (``len(x) == num_examples``) and batches and shuffles
        them itself at ``batch_size``, so the rate it charges is the one it uses; a
        ``tf.data.Dataset`` (whose batch size and rows cannot be checked) and
        ``shuffle=False`` are refused.
    chunk_size : int, optional
        Bound the memory of per-example computations by processing this many examples
        at a time.
    ledger : Ledger, optional
        Record each ``fit`` here (e.g. a ledger shared with DP aggregates); ``fit``
        stops before the ledger's budget would be exceeded. A new one with
        ``budget=target_epsilon`` is made otherwise.
    seed : int, optional
        Makes the Poisson sampling (which examples go into which batch) reproducible, for
        debugging. It never touches the noise. ``None`` draws the sampling seed from the
        operating system's secure source.
    insecure_noise_seed : int, optional
        Makes the noise reproducible too, for tests only. Anyone who knows this seed can
        regenerate the noise and subtract it from the weights, so the guarantee does not
        hold against them; the guarantee records it (``Guarantee.noise_seeded``) and says
        so. ``None`` (the default) draws every step's noise from a cryptographically
        secure generator (ChaCha20 keyed from the operating system).
    public_statistics : sequence of str, default ()
        Names of adapted preprocessing layers (``Normalization``) whose statistics come
        from public or held-out data; others are refused (see :func:`validate_model`).

    Returns
    -------
    keras.Model
        ``model``, with a private ``train_step``, a Poisson-sampling ``fit`` and a
        ``privacy`` attribute; typed as :class:`edgeml.privacy.PrivateModel` so that IDEs
        know about ``model.privacy``.

    Raises
    ------
    ConfigError
        For invalid or inconsistent arguments (see the messages).
    UnsupportedModelError
        When the model cannot be trained privately (see :func:`validate_model`).

    Examples
    --------
    >>> import numpy as np, keras
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(200, 4)).astype("float32"), rng.integers(0, 2, 200)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> model = make_private(model, target_epsilon=2.0, delta=1e-3, epochs=2,
    ...                      batch_size=20, num_examples=200, l2_norm_clip=1.0, seed=0)
    >>> model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(
    ...     from_logits=True, reduction="none"))
    >>> history = model.fit(x, y, epochs=2, verbose=0)
    >>> model.privacy.steps, model.privacy.spent().epsilon <= 2.0
    (20, True)
    """
    owner = "make_private"
    flavor = flavor_of(model)
    if (
        isinstance(l2_norm_clip, bool)
        or not isinstance(l2_norm_clip, (int, float))
        or not math.isfinite(l2_norm_clip)
        or l2_norm_clip <= 0
    ):
        raise invalid_argument(
            owner, "l2_norm_clip", l2_norm_clip, "a finite float > 0", fix="try l2_norm_clip=1.0"
        )
    num_examples = _check_int(owner, "num_examples", num_examples, 1)
    batch_size = _check_int(owner, "batch_size", batch_size, 1)
    if batch_size > num_examples:
        raise invalid_argument(
            owner,
            "batch_size",
            batch_size,
            f"at most num_examples ({num_examples})",
            fix="use a smaller batch_size",
        )
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1:
        raise invalid_argument(owner, "delta", delta, "a float in (0, 1)")
    if delta >= 1.0 / num_examples:
        raise invalid_argument(
            owner,
            "delta",
            delta,
            f"below 1 / num_examples = {1.0 / num_examples:.3g}: a delta that large allows "
            "a mechanism that publishes some example in the clear",
            fix=f"use delta <= {0.1 / num_examples:.1g}",
        )
    if sampling not in ("poisson", "shuffle"):
        raise invalid_argument(owner, "sampling", sampling, "'poisson' or 'shuffle'")
    if chunk_size is not None:
        chunk_size = _check_int(owner, "chunk_size", chunk_size, 1)
    if target_epsilon is None and noise_multiplier is None:
        raise ConfigError(
            "make_private needs target_epsilon (with epochs) or noise_multiplier. Fix: "
            "e.g. make_private(model, target_epsilon=3.0, epochs=10, ...)."
        )
    rate = batch_size / num_examples
    steps_per_epoch = math.ceil(num_examples / batch_size)
    planned = None
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, (int, float)) or epochs <= 0:
            raise invalid_argument(owner, "epochs", epochs, "a number > 0")
        planned = max(1, math.ceil(round(epochs * steps_per_epoch, 9)))
    max_steps = None
    if noise_multiplier is None:
        if planned is None:
            raise ConfigError(
                "make_private needs epochs to calibrate the noise for target_epsilon. Fix: "
                "pass epochs=<planned passes over the data>, or pass noise_multiplier."
            )
        assert target_epsilon is not None
        sigma = _accounting.noise_multiplier(
            target_epsilon=target_epsilon,
            delta=delta,
            sampling_rate=rate,
            steps=planned,
            accountant=accountant,
        )
        max_steps = planned
    else:
        if (
            isinstance(noise_multiplier, bool)
            or not isinstance(noise_multiplier, (int, float))
            or not math.isfinite(noise_multiplier)
            or noise_multiplier < 0
        ):
            raise invalid_argument(owner, "noise_multiplier", noise_multiplier, "a float >= 0")
        sigma = float(noise_multiplier)
        if target_epsilon is not None:
            if sigma == 0:
                raise ConfigError(
                    "noise_multiplier=0 gives no privacy, so no target_epsilon can be met."
                )
            max_steps = _max_steps_within(
                float(target_epsilon), sigma, rate, delta, accountant, planned or steps_per_epoch
            )
            if max_steps == 0:
                raise PrivacyBudgetExceeded(
                    f"Even one step with noise_multiplier={sigma:g} spends more than "
                    f"target_epsilon={target_epsilon:g}. Fix: raise the noise or the target."
                )
    validate_model(model, public_statistics=public_statistics)
    plans = _ghost.plan_layers(model)
    shared_ledger = ledger is not None
    if ledger is None:
        ledger = Ledger(delta=delta, accountant=accountant, budget=target_epsilon)
    elif ledger.budget is not None and (max_steps or planned):
        # Refuse now rather than after training, when the run could no longer be recorded.
        steps = int(max_steps or planned or 0)
        try:
            _record_on_copy(ledger, sigma, rate, steps)
        except PrivacyBudgetExceeded as exc:
            raise PrivacyBudgetExceeded(
                f"The planned training ({steps} steps at noise multiplier {sigma:.4g}) would "
                f"take the ledger over its budget of {ledger.budget:g}: {exc}"
            ) from exc
    state = PrivacyState(
        noise_multiplier=float(sigma),
        l2_norm_clip=float(l2_norm_clip),
        sampling_rate=rate,
        delta=float(delta),
        batch_size=batch_size,
        num_examples=num_examples,
        steps_per_epoch=steps_per_epoch,
        target_epsilon=None if target_epsilon is None else float(target_epsilon),
        max_steps=max_steps,
        accountant=accountant,
        sampling=sampling,
        ledger=ledger,
        seed=seed,
        shared_ledger=shared_ledger,
        insecure_noise_seed=_check_seed(owner, "insecure_noise_seed", insecure_noise_seed),
    )
    state._noise_values = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    target: Any = model  # Keras models take new attributes; the protocol does not say so
    target.train_step = _make_train_step(model, state, flavor, plans, chunk_size)
    target.fit = _make_fit(model, state, flavor)
    target.train_on_batch = _refuse_train_on_batch
    target.privacy = state
    if state.noise_seeded:
        logger.warning(
            "DP-SGD noise is reproducible from insecure_noise_seed: anyone who knows the "
            "seed can remove it, so the privacy guarantee does not hold against them. Use "
            "this for tests only."
        )
    logger.info(
        "DP-SGD: noise multiplier %.4g, clip %g, sampling rate %.4g, %s steps planned (%s)",
        sigma,
        l2_norm_clip,
        rate,
        planned,
        [f"{p.name}:{p.kind.value}" for p in plans],
    )
    return cast(PrivateModel, model)
