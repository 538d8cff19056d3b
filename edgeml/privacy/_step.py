"""The private training step: clipped per-example gradients plus calibrated noise."""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any

from edgeml._optional import require
from edgeml.privacy import _ghost
from edgeml.privacy._keras import KerasFlavor, per_example_loss
from edgeml.privacy._noise import NoiseSource
from edgeml.privacy._state import PrivacyState

tf = require("tensorflow", extra="tf", feature="DP-SGD (edgeml.privacy.make_private)")


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
