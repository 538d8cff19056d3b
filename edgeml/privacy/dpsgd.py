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
import secrets
import types
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from edgeml._optional import require
from edgeml._typing import KerasModel, PrivateModel
from edgeml.errors import (
    ConfigError,
    DataError,
    PrivacyBudgetExceeded,
    UnsupportedModelError,
    invalid_argument,
)
from edgeml.privacy import _ghost
from edgeml.privacy import accounting as _accounting
from edgeml.privacy._keras import KerasFlavor, flavor_of, per_example_loss
from edgeml.privacy._noise import NoiseSource, noise_tail_delta
from edgeml.privacy.accounting import Accountant, Guarantee, Ledger, epsilon

tf = require("tensorflow", extra="tf", feature="DP-SGD (edgeml.privacy.make_private)")

__all__ = [
    "PrivacyState",
    "make_private",
    "poisson_batches",
    "validate_model",
]

logger = logging.getLogger("edgeml.privacy")

_SAMPLING_RATE_ATTR = "_edgeml_poisson_sampling_rate"
_NUM_EXAMPLES_ATTR = "_edgeml_poisson_num_examples"


# ----------------------------------------------------------------------------- sampling


def poisson_batches(
    x: Any,
    y: Any = None,
    *,
    sampling_rate: float,
    seed: int | None = None,
    sample_weight: Any = None,
    steps: int | None = None,
) -> Any:
    """Batches in which each example appears independently with probability ``sampling_rate``.

    This is the sampling DP-SGD's privacy accounting assumes. Batch sizes vary around
    ``sampling_rate * len(x)`` (and can be 0); the private training step handles that.

    Parameters
    ----------
    x : array-like
        Features, first axis = examples.
    y : array-like, optional
        Labels, same length as ``x``.
    sampling_rate : float
        Probability that an example is in a batch, in (0, 1].
    seed : int, optional
        Seed for reproducible batches. ``None`` (the default, and what private training
        should use) draws a fresh seed from the operating system's secure source.
    sample_weight : array-like, optional
        Per-example weights, yielded as the third element.
    steps : int, optional
        Number of batches; infinite when ``None``.

    Returns
    -------
    tf.data.Dataset
        Yields ``(x_batch, y_batch[, weight_batch])`` or ``x_batch``.

    Examples
    --------
    >>> import numpy as np
    >>> ds = poisson_batches(np.arange(1000.0)[:, None], np.zeros(1000), sampling_rate=0.05,
    ...                      seed=0, steps=3)
    >>> sizes = [int(xb.shape[0]) for xb, yb in ds]
    >>> len(sizes), all(20 <= s <= 80 for s in sizes)
    (3, True)
    """
    owner = "poisson_batches"
    if (
        isinstance(sampling_rate, bool)
        or not isinstance(sampling_rate, (int, float))
        or not 0 < sampling_rate <= 1
    ):
        raise invalid_argument(owner, "sampling_rate", sampling_rate, "a float in (0, 1]")
    features = np.asarray(x)
    n = int(features.shape[0]) if features.ndim else 0
    if n == 0:
        raise DataError("poisson_batches needs at least one example in x.")
    parts = [features]
    for name, extra in (("y", y), ("sample_weight", sample_weight)):
        if extra is None:
            continue
        values = np.asarray(extra)
        if values.shape[:1] != (n,):
            raise DataError(
                f"{owner}: {name} has {values.shape[:1]} rows but x has {n}. Fix: pass "
                "arrays with one row per example."
            )
        parts.append(values)
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise invalid_argument(owner, "steps", steps, "a positive integer or None")
    base_seed = secrets.randbits(62) if seed is None else int(seed)
    tensors = tuple(tf.constant(p) for p in parts)
    rate = float(sampling_rate)

    def sample(step: Any) -> Any:
        draws = tf.random.stateless_uniform(
            [n], seed=tf.stack([tf.constant(base_seed, tf.int64), step]), dtype=tf.float64
        )
        chosen = tf.where(draws < rate)[:, 0]
        batch = tuple(tf.gather(t, chosen) for t in tensors)
        return batch if len(batch) > 1 else batch[0]

    counter = tf.data.Dataset.range(steps) if steps is not None else tf.data.Dataset.counter()
    dataset = counter.map(sample, num_parallel_calls=1).prefetch(2)
    setattr(dataset, _SAMPLING_RATE_ATTR, rate)
    setattr(dataset, _NUM_EXAMPLES_ATTR, n)
    return dataset


# ----------------------------------------------------------------------------- validation


def validate_model(
    model: Any, *, strict: bool = True, public_statistics: Sequence[str] = ()
) -> list[str]:
    """Check that a Keras model can be trained with DP-SGD.

    Refused: layers that mix examples within a batch, found two ways: by type
    (BatchNormalization in training mode, activity regularizers: a penalty on the
    batch's activations that is not clipped per example) and by behaviour, whatever the
    layers are called: in training mode, on random inputs, the model's output for a
    batch must equal its outputs for each example alone (within float32 tolerance).
    When the model is random in training mode (dropout, noise layers), the check is
    instead that the gradient of one example's output with respect to the other
    examples' float inputs is zero (plus the comparison in inference mode for integer
    inputs). Also refused: ``Normalization`` layers whose mean and variance came from
    ``adapt()`` (statistics of the data, presumably the private training data, released
    with the weights and not protected by DP-SGD) unless named in
    ``public_statistics``, weights that belong to no layer, and models without
    trainable weights. A model whose inputs cannot be generated (no ``Input`` shape,
    string inputs) is not checked for mixing; a warning says so.

    Parameters
    ----------
    model : keras.Model
        A built Keras model.
    strict : bool, default True
        Raise on the first call if there are problems; otherwise return them.
    public_statistics : sequence of str, default ()
        Names of adapted preprocessing layers whose statistics come from public data
        (or data held out of the private set), which may therefore be released.

    Returns
    -------
    list of str
        One message per problem; empty when the model is fine.

    Raises
    ------
    UnsupportedModelError
        When ``strict`` and there is a problem.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
    ...                           keras.layers.BatchNormalization(name="bn"),
    ...                           keras.layers.Dense(2)])
    >>> print(validate_model(model, strict=False)[0][:50])
    Layer 'bn' is a BatchNormalization layer in traini
    """
    flavor_of(model)
    problems: list[str] = []
    layers = list(model._flatten_layers(include_self=False, recursive=True))
    public = set(public_statistics)
    for layer in layers:
        names = {cls.__name__ for cls in type(layer).__mro__}
        if names & {"BatchNormalization", "SyncBatchNormalization"} and layer.trainable:
            problems.append(
                f"Layer {layer.name!r} is a BatchNormalization layer in training mode: it "
                "normalizes each example with statistics of the whole batch, so one "
                "example's gradient depends on the others and clipping it no longer bounds "
                "its influence (the privacy guarantee would be void). Use "
                "LayerNormalization or GroupNormalization instead, or freeze it "
                "(layer.trainable = False) so it runs in inference mode."
            )
        if getattr(layer, "activity_regularizer", None) is not None:
            problems.append(
                f"Layer {layer.name!r} has an activity regularizer, a penalty on the "
                "batch's activations whose gradient is not clipped per example. Remove it "
                "or use a weight regularizer."
            )
        if _adapted_normalization(layer) and layer.name not in public:
            problems.append(
                f"Layer {layer.name!r} is a Normalization layer whose mean and variance "
                "were computed by adapt() from data: they are stored in the model and "
                "released with it, and DP-SGD does not protect them. Fix: build it with "
                "Normalization(mean=..., variance=...) from public knowledge or DP "
                "estimates (edgeml.privacy.dp_mean), or, if it was adapted on public or "
                f"held-out data, pass public_statistics=[{layer.name!r}]."
            )
    try:
        _ghost.plan_layers(model)
    except UnsupportedModelError as exc:
        problems.append(str(exc))
    mixing = _batch_mixing(model)
    if mixing is not None:
        problems.append(mixing)
    if problems and strict:
        raise UnsupportedModelError(
            "The model cannot be trained with DP-SGD:\n- " + "\n- ".join(problems)
        )
    return problems


def _adapted_normalization(layer: Any) -> bool:
    """Whether ``layer`` is a ``Normalization`` layer whose statistics came from adapt()."""
    if "Normalization" not in {cls.__name__ for cls in type(layer).__mro__}:
        return False
    if getattr(layer, "input_mean", None) is not None:
        return False  # built with mean= and variance=
    adapted = getattr(layer, "is_adapted", None)  # tf-keras says; Keras 3 requires adapt()
    return bool(layer.built if adapted is None else adapted)


_MIXING_BATCH = 4


def _random_inputs(model: Any, rng: np.random.Generator, counts: bool) -> list[Any] | None:
    """Random inputs for ``model`` (one array per input), or ``None`` if unknown.

    ``counts`` draws 0 or 1 even for float inputs (which may feed an ``Embedding``).
    """
    specs = getattr(model, "inputs", None)
    if not specs or not isinstance(specs, (list, tuple)):
        return None
    arrays = []
    for spec in specs:
        dims = [3 if d is None else int(d) for d in list(spec.shape)[1:]]
        dtype = str(getattr(spec.dtype, "name", spec.dtype))
        if "float" in dtype and not counts:
            arrays.append(rng.normal(size=(_MIXING_BATCH, *dims)).astype(dtype))
        elif "int" in dtype or "float" in dtype:
            arrays.append(rng.integers(0, 2, size=(_MIXING_BATCH, *dims)).astype(dtype))
        else:
            return None
    return arrays


def _batch_mixing(model: Any) -> str | None:
    """Return why the model mixes examples within a batch, or ``None`` if it does not.

    Looks at what the model does, not at layer names: see :func:`validate_model`.
    """
    first_error: Exception | None = None
    for counts in (False, True):
        arrays = _random_inputs(model, np.random.default_rng(0), counts)
        if arrays is None:
            break
        try:
            return _mixing_on(model, arrays)
        except Exception as exc:  # any failure here only means "could not check"
            first_error = first_error or exc
    if first_error is not None:
        logger.warning(
            "validate_model could not run %s on random inputs to check that its layers "
            "keep the examples of a batch apart (%s: %s).",
            getattr(model, "name", "the model"),
            type(first_error).__name__,
            first_error,
        )
    else:
        logger.warning(
            "validate_model could not build random inputs for %s (no Input shape, or "
            "non-numeric inputs), so it did not check that its layers keep the examples "
            "of a batch apart; DP-SGD's guarantee needs that.",
            getattr(model, "name", "the model"),
        )
    return None


def _mixing_on(model: Any, arrays: list[Any]) -> str | None:
    """Compare the model on a batch and on each example alone (see :func:`_batch_mixing`)."""

    def run(parts: list[Any], training: bool) -> list[Any]:
        inputs = parts[0] if len(parts) == 1 else parts
        return [np.asarray(o) for o in tf.nest.flatten(model(inputs, training=training))]

    def part(index: int) -> list[Any]:
        return [a[index : index + 1] for a in arrays]

    batch = run(arrays, True)
    random_in_training = any(
        not np.array_equal(a, b) for a, b in zip(batch, run(arrays, True), strict=True)
    )
    if random_in_training:
        mixed = _gradient_mixing(model, arrays)
        training = False
        batch = run(arrays, False)
    else:
        mixed = None
        training = True
    if mixed is None:
        for index in range(_MIXING_BATCH):
            alone = run(part(index), training)
            for whole, single in zip(batch, alone, strict=True):
                row = whole[index : index + 1]
                scale = max(1.0, float(np.max(np.abs(row))) if row.size else 1.0)
                if not np.allclose(row, single, rtol=1e-3, atol=1e-4 * scale):
                    gap = float(np.max(np.abs(row - single)))
                    mixed = (
                        f"on example {index} of a random batch of {_MIXING_BATCH}, the "
                        f"output differs from the output for that example alone by up "
                        f"to {gap:.3g}"
                    )
                    break
            if mixed is not None:
                break
    if mixed is None:
        return None
    mode = "training" if training else "inference"
    return (
        f"The model mixes examples within a batch ({mode} mode): {mixed}. Some layer "
        "computes across the batch (a batch mean, a normalization over the batch axis, "
        "...), so one example changes the others' gradients and clipping each gradient "
        "no longer bounds that example's influence; the privacy guarantee would be void. "
        "Fix: make every layer work on each example separately (e.g. LayerNormalization "
        "instead of normalizing over the batch)."
    )


def _gradient_mixing(model: Any, arrays: list[Any]) -> str | None:
    """Say whether example 0's output depends on the other examples' float inputs.

    For models that are random in training mode: dropout masks and added noise do not
    depend on the inputs, so they leave these gradients at zero.
    """
    inputs = [tf.constant(a) for a in arrays]
    floats = [t for t in inputs if t.dtype.is_floating]
    if not floats:
        return None
    with tf.GradientTape() as tape:
        tape.watch(floats)
        outputs = tf.nest.flatten(model(inputs[0] if len(inputs) == 1 else inputs, training=True))
        rng = np.random.default_rng(1)
        first = tf.add_n(
            [
                tf.reduce_sum(
                    tf.cast(o[0], tf.float32) * rng.normal(size=o.shape[1:]).astype("float32")
                )
                for o in outputs
            ]
        )
    for grad in tape.gradient(first, floats):
        if grad is None:
            continue
        values = np.asarray(grad)
        own = float(np.max(np.abs(values[0]))) if values[0].size else 0.0
        others = float(np.max(np.abs(values[1:])))
        if others > 1e-6 + 1e-4 * own:
            return (
                f"the gradient of example 0's output with respect to the other examples' "
                f"inputs reaches {others:.3g} (with respect to its own: {own:.3g})"
            )
    return None


# ----------------------------------------------------------------------------- state


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


def _budget_callback(state: PrivacyState, flavor: KerasFlavor, stop_at: int | None) -> Any:
    """Build the Keras callback that stops training at the privacy budget.

    ``make_private``'s ``fit`` adds it automatically. After each step it compares the
    steps taken with the most the budget allows and sets ``model.stop_training``; at the
    end of ``fit`` it records the run in ``state.ledger`` and logs what was spent.

    Parameters
    ----------
    state : PrivacyState
        The model's privacy state (``model.privacy``).
    flavor : KerasFlavor
        The model's Keras (the callback must derive from its ``Callback``).
    stop_at : int or None
        The step count (``state.steps``) at which to stop; ``None`` for no limit.

    Returns
    -------
    keras.callbacks.Callback
    """
    base = flavor.module.callbacks.Callback

    class _Budget(base):  # type: ignore[misc, valid-type]
        def on_train_begin(self, logs: Any = None) -> None:
            self._start = state.steps
            self._announced = False
            params = getattr(self, "params", None) or {}
            epochs, steps = params.get("epochs"), params.get("steps")
            # The step count at which this fit ends by itself, when Keras knows it.
            self._planned_end = self._start + epochs * steps if epochs and steps else None

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if stop_at is not None and state.steps >= stop_at:
                self.model.stop_training = True
                if not self._announced:
                    self._announced = True
                    if self._planned_end is not None and state.steps >= self._planned_end:
                        logger.info(
                            "Training finished as planned after %d DP-SGD steps, the most "
                            "the privacy budget allows (target_epsilon %s, at delta %g).",
                            state.steps,
                            state.target_epsilon,
                            state.delta,
                        )
                        return
                    planned = "" if self._planned_end is None else f" of {self._planned_end}"
                    logger.warning(
                        "Stopping training early: %d%s planned DP-SGD steps reach the "
                        "privacy budget (target_epsilon %s, ledger budget %s, at delta %g); "
                        "another step would exceed it.",
                        state.steps,
                        planned,
                        state.target_epsilon,
                        state.ledger.budget,
                        state.delta,
                    )

        def on_train_end(self, logs: Any = None) -> None:
            done = state.steps - self._start
            if done > 0:
                state.ledger.record(
                    name=f"dp-sgd fit {state._fits}",
                    noise_multiplier=state.noise_multiplier,
                    sampling_rate=state.sampling_rate,
                    steps=done,
                    noise_seeded=state.noise_seeded,
                )
            logger.info("DP-SGD: %s", state.spent().statement())

    return _Budget()


# ----------------------------------------------------------------------------- the step


def _unpack(data: Any) -> tuple[Any, Any, Any]:
    if isinstance(data, (list, tuple)):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data[0], data[1], data[2]
    return data, None, None


def _draw_noise(shapes: Sequence[Any], std: float, dtype: Any, source: NoiseSource) -> list[Any]:
    """Draw ``N(0, std^2)`` noise for each (static) shape, all in one draw."""
    static = [tf.TensorShape(shape) for shape in shapes]
    sizes = [int(shape.num_elements()) for shape in static]
    pieces = tf.split(source.normal(sum(sizes), std, dtype), sizes)
    return [tf.reshape(piece, shape) for piece, shape in zip(pieces, static, strict=True)]


def _noisy_average(
    gradients: Sequence[Any],
    *,
    l2_norm_clip: float,
    noise_multiplier: float,
    expected_batch_size: float,
    source: NoiseSource,
    noise: Sequence[Any] | None = None,
) -> list[Any]:
    """Add ``N(0, (sigma C)^2)`` noise to each summed gradient and divide by the batch.

    ``noise``, if given, is noise already drawn with standard deviation
    ``sigma * C / expected_batch_size`` (see :func:`_draw_noise`).
    """
    scale = 1.0 / expected_batch_size
    std = noise_multiplier * l2_norm_clip * scale
    if std == 0:
        return [grad * scale for grad in gradients]
    if noise is None:
        noise = _draw_noise([g.shape for g in gradients], std, gradients[0].dtype, source)
    return [grad * scale + tf.cast(n, grad.dtype) for grad, n in zip(gradients, noise, strict=True)]


def _make_train_step(
    model: Any,
    state: PrivacyState,
    flavor: KerasFlavor,
    plans: list[_ghost.LayerPlan],
    chunk_size: int | None,
) -> Any:
    expected_batch = state.sampling_rate * state.num_examples

    def train_step(self: Any, data: Any) -> Any:
        x, y, sample_weight = _unpack(data)
        # The noise does not depend on the data: drawn first, it can be generated while
        # the forward and backward passes run.
        std = state.noise_multiplier * state.l2_norm_clip / expected_batch
        weights = self.trainable_weights
        noise = (
            _draw_noise([w.shape for w in weights], std, tf.float32, state._noise)
            if std > 0
            else None
        )
        loss_fn = per_example_loss(self, flavor)
        clipped = _ghost.clipped_gradient_sum(
            self,
            plans,
            flavor,
            loss_fn,
            x,
            y,
            sample_weight,
            l2_norm_clip=state.l2_norm_clip,
            chunk_size=chunk_size,
        )
        gradients = _noisy_average(
            clipped.gradients,
            l2_norm_clip=state.l2_norm_clip,
            noise_multiplier=state.noise_multiplier,
            expected_batch_size=expected_batch,
            source=state._noise,
            noise=noise,
        )
        regularization = 0.0
        if self.losses:
            # Weight penalties do not depend on the data: their gradient needs no noise.
            with tf.GradientTape() as tape:
                regularization = tf.add_n(self.losses)
            extra = tape.gradient(regularization, weights)
            gradients = [g if e is None else g + e for g, e in zip(gradients, extra, strict=True)]
        self.optimizer.apply_gradients(zip(gradients, weights, strict=True))
        state._step_counter.assign_add(1)
        batch = tf.shape(clipped.losses)[0]
        mean_loss = tf.reduce_sum(clipped.losses) / tf.cast(
            tf.maximum(batch, 1), clipped.losses.dtype
        )
        mean_loss = mean_loss + tf.cast(regularization, mean_loss.dtype)
        if flavor.is_keras3:
            tracker = getattr(self, "_loss_tracker", None)
            if tracker is not None:
                tracker.update_state(mean_loss, sample_weight=batch)
        else:
            # Keras 2 updates its loss metric inside the compiled loss container.
            self.compiled_loss(y, clipped.predictions, sample_weight)
        return self.compute_metrics(x, y, clipped.predictions, sample_weight)

    # Plain Python with no data-dependent control flow: autograph would only wrap errors.
    step = tf.autograph.experimental.do_not_convert(train_step)
    return types.MethodType(step, model)


# ----------------------------------------------------------------------------- make_private


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


def _max_steps_within(
    target: float, sigma: float, rate: float, delta: float, accountant: Accountant, start: int
) -> int:
    """Return the largest number of steps whose epsilon is <= ``target`` (0 if none)."""

    def fits(steps: int) -> bool:
        eps = epsilon(
            noise_multiplier=sigma,
            sampling_rate=rate,
            steps=steps,
            delta=delta,
            accountant=accountant,
        )
        return eps <= target

    return _most_steps(fits, start)


def _record_on_copy(ledger: Ledger, sigma: float, rate: float, steps: int) -> None:
    """Record a DP-SGD run on a copy of ``ledger``: raises if it would exceed the budget."""
    trial = Ledger.from_dict(ledger.to_dict())
    trial.record(name="planned", noise_multiplier=sigma, sampling_rate=rate, steps=steps)


def _ledger_steps(state: PrivacyState) -> int:
    """Return the most further steps a shared ledger's budget allows (0 if none)."""

    def fits(steps: int) -> bool:
        try:
            _record_on_copy(state.ledger, state.noise_multiplier, state.sampling_rate, steps)
        except PrivacyBudgetExceeded:
            return False
        return True

    return _most_steps(fits, state.steps_per_epoch)


def _most_steps(fits: Callable[[int], bool], start: int) -> int:
    """Return the largest step count for which the monotone ``fits`` holds (0 if none).

    Doubles from ``start`` to bracket the answer, then bisects; only ever returns a
    count that ``fits`` accepted.
    """
    if not fits(1):
        return 0
    low = 1
    high = max(2, start)
    while fits(high):
        low, high = high, high * 2
        if high > 10**9:
            return low
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


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
        ``privacy`` attribute; typed as :class:`edgeml._typing.PrivateModel` so that IDEs
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


def _refuse_train_on_batch(*args: Any, **kwargs: Any) -> Any:
    """Stand in for ``train_on_batch``, which would bypass what keeps the promise."""
    raise ConfigError(
        "train_on_batch on a private model would skip Poisson sampling, the stop at the "
        "privacy budget and the ledger record, so the stated epsilon would not hold. Fix: "
        "train with model.fit (pass steps_per_epoch= to run a few steps at a time)."
    )


def _class_weights(y: Any, class_weight: Any, sample_weight: Any) -> Any:
    """Turn ``class_weight`` into per-example weights (times ``sample_weight``), as Keras.

    One-hot labels (last axis > 1) are read with argmax, others as integer classes.
    """
    labels = np.asarray(y)
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = np.argmax(labels, axis=-1)
    labels = np.rint(labels.reshape(len(labels), -1)[:, 0]).astype(np.int64)
    try:
        weights = np.array([float(class_weight[int(c)]) for c in labels], dtype=np.float32)
    except KeyError as exc:
        raise invalid_argument(
            "fit",
            "class_weight",
            class_weight,
            f"a weight for every class in y (class {exc.args[0]} has none)",
        ) from exc
    if sample_weight is not None:
        weights = weights * np.asarray(sample_weight, dtype=np.float32).reshape(len(weights))
    return weights


def _steps_per_execution(model: Any) -> int:
    """Return the steps one compiled train call runs (Keras 3: an int; Keras 2: a variable)."""
    value = getattr(model, "steps_per_execution", None)
    return 1 if value is None else int(np.asarray(value))


def _make_fit(model: Any, state: PrivacyState, flavor: KerasFlavor) -> Any:
    original_fit = model.fit

    def fit(
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        *,
        callbacks: Sequence[Any] | None = None,
        sample_weight: Any = None,
        steps_per_epoch: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Train with DP-SGD (Poisson-sampled batches unless ``sampling='shuffle'``)."""
        if state.max_steps is not None and state.steps >= state.max_steps:
            raise PrivacyBudgetExceeded(
                f"The privacy budget is spent: {state.steps} steps reach epsilon "
                f"{state.spent().epsilon:.4g} of the target {state.target_epsilon:g}. "
                "Training more would break the promise."
            )
        stop_at = state.max_steps
        if state._shared_ledger and state.ledger.budget is not None:
            # Other releases share the ledger's budget: stop where it would be exceeded,
            # since a run the ledger refuses to record would go unaccounted.
            affordable = _ledger_steps(state)
            if affordable == 0:
                raise PrivacyBudgetExceeded(
                    f"The shared ledger's budget of {state.ledger.budget:g} does not allow "
                    f"even one more step (it has spent {state.ledger.spent().epsilon:.4g})."
                )
            ledger_stop = state.steps + affordable
            stop_at = ledger_stop if stop_at is None else min(stop_at, ledger_stop)
        per_example_loss(model, flavor)  # refuse a missing or multi-output loss before tracing
        steps_per_execution = _steps_per_execution(model)
        if stop_at is not None and steps_per_execution > 1:
            raise ConfigError(
                f"compile(steps_per_execution={steps_per_execution}) runs "
                f"{steps_per_execution} DP-SGD steps between the checks that stop training "
                "at the privacy budget, so the spent epsilon could exceed target_epsilon. "
                "Fix: compile with steps_per_execution=1 (the default)."
            )
        if kwargs.get("validation_split"):
            raise ConfigError(
                "fit(validation_split=...) would hold out part of the examples that "
                "make_private accounts for (num_examples). Fix: split the data yourself, "
                "call make_private with the training part's size, and pass "
                "validation_data=(x_val, y_val)."
            )
        if batch_size is not None and batch_size != state.batch_size:
            raise invalid_argument(
                "fit",
                "batch_size",
                batch_size,
                f"None or the batch_size given to make_private ({state.batch_size})",
                fix="leave it out",
            )
        if isinstance(x, tf.data.Dataset):
            if state.sampling == "shuffle":
                raise ConfigError(
                    "fit got a tf.data.Dataset under sampling='shuffle'. Its batch size and "
                    "its rows (repeated or duplicated examples) cannot be checked, so the "
                    f"sampling rate charged (batch_size / num_examples = "
                    f"{state.sampling_rate:.6g}) could be far below what the dataset "
                    "really does. Fix: pass the training arrays x and y (fit shuffles and "
                    f"batches them at batch_size={state.batch_size} itself), or use "
                    "sampling='poisson' with edgeml.privacy.poisson_batches(...)."
                )
            rate = getattr(x, _SAMPLING_RATE_ATTR, None)
            if rate is None:
                raise ConfigError(
                    "fit got a tf.data.Dataset that is not Poisson-sampled, but the privacy "
                    "accounting assumes Poisson sampling. Fix: pass arrays (fit samples "
                    "them itself), or edgeml.privacy.poisson_batches(x, y, sampling_rate="
                    f"{state.sampling_rate:.6g}), or make_private(..., sampling='shuffle') "
                    "and pass arrays to knowingly train on shuffled batches."
                )
            if not math.isclose(rate, state.sampling_rate):
                raise ConfigError(
                    f"The dataset is Poisson-sampled at rate {rate:g}, but make_private was "
                    f"set up for {state.sampling_rate:g} (batch_size / num_examples)."
                )
            sampled_from = getattr(x, _NUM_EXAMPLES_ATTR, None)
            if sampled_from != state.num_examples:
                raise DataError(
                    f"The dataset is Poisson-sampled from {sampled_from} examples but "
                    f"make_private was told num_examples={state.num_examples}; the "
                    "accounting would be wrong. Fix: sample the whole training set."
                )
            steps_per_epoch = steps_per_epoch or state.steps_per_epoch
            kwargs["shuffle"] = False
        elif x is not None:
            if not hasattr(x, "shape") or not hasattr(x, "__len__"):
                raise ConfigError(
                    f"fit got x of type {type(x).__name__}, whose number of examples and "
                    "batching edgeml cannot check, so the privacy accounting could not be "
                    "trusted. Fix: pass x and y as arrays (numpy or tf.Tensor), or a "
                    "dataset from edgeml.privacy.poisson_batches(...)."
                )
            n = len(x)
            if y is not None and n:
                # Fail here, in plain Python, rather than deep inside a traced step.
                _ghost.per_example_values(per_example_loss(model, flavor)(y[:2], model(x[:2])))
            if n != state.num_examples:
                raise DataError(
                    f"fit got {n} examples but make_private was told num_examples="
                    f"{state.num_examples}; the accounting would be wrong. Fix: pass the "
                    "same training set."
                )
            if y is None:
                raise DataError("fit needs labels y with the examples x.")
            class_weight = kwargs.pop("class_weight", None)
            if class_weight is not None:
                sample_weight = _class_weights(y, class_weight, sample_weight)
            if state.sampling == "poisson":
                x = poisson_batches(
                    x,
                    y,
                    sampling_rate=state.sampling_rate,
                    seed=state._next_seed(),
                    sample_weight=sample_weight,
                )
                y = sample_weight = None
                steps_per_epoch = steps_per_epoch or state.steps_per_epoch
                kwargs["shuffle"] = False  # the batches are already random
            else:
                if kwargs.get("shuffle", True) is not True and state.batch_size < n:
                    raise ConfigError(
                        "fit(shuffle=False) under sampling='shuffle' would train on the "
                        "same fixed batches every epoch, which nothing in the accounting "
                        "covers. Fix: leave shuffle at its default (True)."
                    )
                batch_size = state.batch_size
        if flavor.is_keras3 and getattr(model, "jit_compile", False):
            # Poisson batches vary in size; XLA would recompile the step for each size.
            model.jit_compile = False
            model.train_function = None
        budget = _budget_callback(state, flavor, stop_at)
        return original_fit(
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            callbacks=[*(callbacks or []), budget],
            sample_weight=sample_weight,
            steps_per_epoch=steps_per_epoch,
            **kwargs,
        )

    return fit
