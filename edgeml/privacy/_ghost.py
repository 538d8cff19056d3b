"""Per-example clipping without per-example gradients ("ghost norms"), for Keras models.

One forward pass is recorded while each layer that owns trainable weights reports its
input ``a`` and its (pre-activation) output ``z``. One backward pass gives ``g = dL/dz``
for every such layer; because examples do not interact, row ``i`` of ``g`` is the
gradient of example ``i``'s own loss. Each layer then contributes the squared norm of
its per-example weight gradient:

- Dense on 2-D inputs: ``||a_i||^2 ||g_i||^2`` (the kernel gradient is the outer
  product ``a_i g_i^T``), plus ``||g_i||^2`` for the bias;
- Dense on 3-D inputs (``(batch, time, features)``): ``<a_i a_i^T, g_i g_i^T>`` (Gram
  matrices over time), or the materialised ``a_i^T g_i`` when that is cheaper;
- Conv2D and Conv1D: the same on the input's patches (built from strided slices);
- Embedding: ``sum_{t,s} [id_t = id_s] g_t . g_s``;
- any other layer: per-example gradients with ``tf.vectorized_map`` (the fallback).

With the clip factors ``w_i = min(1, C / ||grad_i||)``, the clipped sum of gradients is
then, layer by layer, ``dz/dtheta^T (w * g)``: a local backward step through the layer
alone, not a second pass through the network. Memory-heavy per-example work is done in
chunks of ``chunk_size`` examples.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgeml._optional import require
from edgeml.errors import ConfigError, UnsupportedModelError
from edgeml.privacy._keras import KerasFlavor, leaf_layers

if TYPE_CHECKING:
    import tensorflow as tf
else:
    tf = require("tensorflow", extra="tf", feature="DP-SGD (edgeml.privacy.make_private)")

__all__ = ["ClippedGradients", "LayerKind", "clipped_gradient_sum", "plan_layers"]


class LayerKind(enum.Enum):
    """How a layer's per-example gradient norms are computed."""

    DENSE = "dense"
    CONV1D = "conv1d"
    CONV2D = "conv2d"
    EMBEDDING = "embedding"
    FALLBACK = "vectorized"


@dataclass
class _Record:
    inputs: Any = None
    outputs: Any = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    calls: int = 0


@dataclass
class LayerPlan:
    """A layer with trainable weights and the way its norms are computed."""

    layer: Any
    kind: LayerKind
    record: _Record = field(default_factory=_Record)

    @property
    def name(self) -> str:
        """The layer's name."""
        return str(self.layer.name)


def _class_names(layer: Any) -> set[str]:
    return {cls.__name__ for cls in type(layer).__mro__}


def _kind_of(layer: Any) -> LayerKind:
    names = _class_names(layer)
    # Keras 3 layers can carry LoRA adapters or quantized kernels; those change the math.
    plain = not getattr(layer, "lora_enabled", False) and not getattr(
        layer, "quantization_mode", None
    )
    if "Dense" in names and type(layer).__name__ == "Dense" and plain:
        return LayerKind.DENSE
    conv = {
        "Conv1D": LayerKind.CONV1D,
        "Convolution1D": LayerKind.CONV1D,
        "Conv2D": LayerKind.CONV2D,
        "Convolution2D": LayerKind.CONV2D,
    }
    if (
        type(layer).__name__ in conv
        and plain
        and getattr(layer, "data_format", "channels_last") == "channels_last"
        and getattr(layer, "groups", 1) == 1
        and str(getattr(layer, "padding", "")).lower() in {"valid", "same"}
    ):
        return conv[type(layer).__name__]
    if type(layer).__name__ == "Embedding" and plain:
        return LayerKind.EMBEDDING
    return LayerKind.FALLBACK


def plan_layers(model: Any) -> list[LayerPlan]:
    """List the model's layers with trainable weights and how each is handled.

    Raises
    ------
    UnsupportedModelError
        When the model has no trainable weights, or some trainable weights belong to no
        layer (weights used directly in a subclassed model's ``call``).
    """
    plans = [LayerPlan(layer, _kind_of(layer)) for layer in leaf_layers(model)]
    covered = {id(v) for plan in plans for v in plan.layer.trainable_weights}
    loose = [v.name for v in model.trainable_weights if id(v) not in covered]
    if not model.trainable_weights:
        raise UnsupportedModelError(
            "The model has no trainable weights, so there is nothing to train privately. "
            "Fix: build the model (call it once or give it an Input) and make sure some "
            "layers are trainable."
        )
    if loose:
        raise UnsupportedModelError(
            f"The trainable weights {loose} belong to no layer (they are used directly in "
            "a model's call()), so their per-example gradients cannot be attributed. "
            "Fix: move them into a layer."
        )
    return plans


@contextlib.contextmanager
def _recording(plans: Sequence[LayerPlan], flavor: KerasFlavor) -> Iterator[None]:
    """Patch each planned layer's ``call`` to record its input and (pre-activation) output."""
    linear = flavor.module.activations.linear
    for plan in plans:
        plan.record = _Record()
        original = plan.layer.call

        def recorded_call(
            *args: Any, _plan: LayerPlan = plan, _original: Any = original, **kwargs: Any
        ) -> Any:
            record = _plan.record
            record.calls += 1
            if record.calls > 1:
                raise UnsupportedModelError(
                    f"The layer {_plan.name!r} is called more than once per forward pass "
                    "(a shared layer); DP-SGD in edgeml needs each layer with weights to "
                    "be used once. Fix: use separate layers."
                )
            record.inputs = args[0] if args else kwargs.get("inputs")
            record.kwargs = dict(kwargs)
            if _plan.kind in (LayerKind.DENSE, LayerKind.CONV1D, LayerKind.CONV2D):
                layer = _plan.layer
                activation = layer.activation
                layer.activation = linear  # record the pre-activation output
                try:
                    pre = _original(*args, **kwargs)
                finally:
                    layer.activation = activation
                record.outputs = pre
                return activation(pre) if activation is not None else pre
            record.outputs = _original(*args, **kwargs)
            return record.outputs

        plan.layer.call = recorded_call
    try:
        yield
    finally:
        for plan in plans:
            with contextlib.suppress(AttributeError):
                del plan.layer.call


def _rows(tensor: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
    """Reshape to ``(batch, positions, features)``, keeping static sizes when known."""
    inner, features = tensor.shape[1:-1], tensor.shape[-1]
    if inner.is_fully_defined() and features is not None:
        return tf.reshape(tensor, [-1, inner.num_elements(), features])
    return tf.reshape(tensor, tf.stack([batch, -1, tf.shape(tensor)[-1]]))


def _chunked(
    fn: Callable[..., tf.Tensor], tensors: Sequence[tf.Tensor], chunk_size: int | None
) -> tf.Tensor:
    """Apply a per-example function ``fn(*tensors) -> (batch,)`` chunk by chunk."""
    if chunk_size is None:
        return fn(*tensors)
    batch = tf.shape(tensors[0])[0]
    chunks = (batch + chunk_size - 1) // chunk_size
    padded = []
    for t in tensors:
        pad = [[0, chunks * chunk_size - batch]] + [[0, 0]] * (len(t.shape) - 1)
        p = tf.pad(t, pad)
        padded.append(tf.reshape(p, tf.concat([[chunks, chunk_size], tf.shape(t)[1:]], 0)))
    out = tf.map_fn(
        lambda parts: fn(*parts),
        tuple(padded),
        fn_output_signature=tf.TensorSpec([chunk_size], tensors[1].dtype),
    )
    return tf.reshape(out, [-1])[:batch]


# Per-example squared norms, and optionally a direct way to get the clipped sum from
# per-example gradients already materialised (``factors -> {id(weight): gradient}``).
_Norms = tuple[tf.Tensor, Callable[[tf.Tensor], dict[int, tf.Tensor]] | None]


def _use_gram(t: int | None, d: int | None, p: int | None) -> bool:
    """Whether Gram matrices over ``t`` positions beat materialising ``(d, p)`` gradients."""
    if t is None or d is None or p is None:
        return False
    return t * t * (d + p) < t * d * p


def _outer_sq_norms(a: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
    """Squared Frobenius norms of ``a_i^T g_i`` for ``a: (B, T, d)`` and ``g: (B, T, p)``.

    Uses Gram matrices over ``T`` when ``T^2 (d + p) < T d p`` and the materialised
    per-example product otherwise (both are exact).
    """
    t, d, p = a.shape[1], a.shape[2], g.shape[2]
    if t is not None and d is not None and p is not None and t == 1:
        return tf.reduce_sum(tf.square(a[:, 0]), 1) * tf.reduce_sum(tf.square(g[:, 0]), 1)
    if _use_gram(t, d, p):
        gram_a = tf.matmul(a, a, transpose_b=True)
        gram_g = tf.matmul(g, g, transpose_b=True)
        return tf.reduce_sum(gram_a * gram_g, axis=[1, 2])
    per_example = tf.matmul(a, g, transpose_a=True)  # (B, d, p)
    return tf.reduce_sum(tf.square(per_example), axis=[1, 2])


def _dense_sq_norms(plan: LayerPlan, g: tf.Tensor, chunk_size: int | None) -> _Norms:
    layer = plan.layer
    a = tf.cast(plan.record.inputs, g.dtype)
    batch = tf.shape(g)[0]
    if len(g.shape) == 2:
        norms = tf.reduce_sum(tf.square(a), 1) * tf.reduce_sum(tf.square(g), 1)
        if layer.use_bias:
            norms += tf.reduce_sum(tf.square(g), 1)
        return norms, None
    a3, g3 = _rows(a, batch), _rows(g, batch)
    norms = _chunked(_outer_sq_norms, [a3, g3], chunk_size)
    if layer.use_bias:
        norms += tf.reduce_sum(tf.square(tf.reduce_sum(g3, 1)), 1)
    return norms, None


def _patch_slices(
    a: tf.Tensor,
    size: tuple[int, int],
    strides: tuple[int, int],
    rates: tuple[int, int],
    padding: str,
) -> list[tf.Tensor] | None:
    """Return the ``kh * kw`` strided slices ``(B, out_h, out_w, channels)`` a conv sees.

    Slice ``i * kw + j`` holds the inputs that kernel tap ``(i, j)`` multiplies. ``None``
    when the spatial size is not known statically.
    """
    (kh, kw), (sh, sw), (dh, dw) = size, strides, rates
    height, width = a.shape[1], a.shape[2]
    if height is None or width is None:
        return None
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if padding == "SAME":
        out_h, out_w = -(-height // sh), -(-width // sw)
        pad_h = max((out_h - 1) * sh + span_h - height, 0)
        pad_w = max((out_w - 1) * sw + span_w - width, 0)
        a = tf.pad(
            a, [[0, 0], [pad_h // 2, pad_h - pad_h // 2], [pad_w // 2, pad_w - pad_w // 2], [0, 0]]
        )
    else:
        out_h, out_w = (height - span_h) // sh + 1, (width - span_w) // sw + 1
    return [
        a[
            :,
            i * dh : i * dh + (out_h - 1) * sh + 1 : sh,
            j * dw : j * dw + (out_w - 1) * sw + 1 : sw,
            :,
        ]
        for i in range(kh)
        for j in range(kw)
    ]


def _patches(
    a: tf.Tensor,
    size: tuple[int, int],
    strides: tuple[int, int],
    rates: tuple[int, int],
    padding: str,
) -> tf.Tensor:
    """Image patches ``(B, out_h, out_w, kh * kw * channels)`` in the kernel's order.

    Built from strided slices, several times faster on CPU than
    ``tf.image.extract_patches`` (used only when the spatial size is unknown).
    """
    slices = _patch_slices(a, size, strides, rates, padding)
    if slices is None:
        (kh, kw), (sh, sw), (dh, dw) = size, strides, rates
        return tf.image.extract_patches(
            a, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1], rates=[1, dh, dw, 1], padding=padding
        )
    return slices[0] if len(slices) == 1 else tf.concat(slices, axis=-1)


def _conv_sq_norms(plan: LayerPlan, g: tf.Tensor, chunk_size: int | None) -> _Norms:
    layer = plan.layer
    a = tf.cast(plan.record.inputs, g.dtype)
    if plan.kind is LayerKind.CONV1D:
        # A 1-D convolution is a 2-D one over a height-1 image.
        a, g = a[:, None], g[:, None]
        kh, kw = 1, int(layer.kernel_size[0])
        sh, sw = 1, int(layer.strides[0])
        dh, dw = 1, int(layer.dilation_rate[0])
    else:
        kh, kw = layer.kernel_size
        sh, sw = layer.strides
        dh, dw = layer.dilation_rate
    batch = tf.shape(g)[0]
    padding = str(layer.padding).upper()
    g3 = _rows(g, batch)
    bias_sq = tf.reduce_sum(tf.square(tf.reduce_sum(g3, 1)), 1) if layer.use_bias else 0.0

    if chunk_size is None and not _use_gram(g3.shape[1], a.shape[-1] * kh * kw, g.shape[-1]):
        # Materialise the per-example kernel gradients (small for conv kernels) and reuse
        # them for the clipped sum: this replaces the layer's filter backprop.
        slices = _patch_slices(a, (kh, kw), (sh, sw), (dh, dw), padding)
        if slices is None:
            patches = _rows(_patches(a, (kh, kw), (sh, sw), (dh, dw), padding), batch)
            per_example = tf.matmul(patches, g3, transpose_a=True)  # (B, kh*kw*cin, cout)
        else:
            # One (cin x cout) product per kernel tap: no concatenated patch tensor.
            taps = [tf.matmul(_rows(t, batch), g3, transpose_a=True) for t in slices]
            per_example = tf.reshape(
                tf.stack(taps, axis=1), [-1, kh * kw * a.shape[-1], g.shape[-1]]
            )
        norms = tf.reduce_sum(tf.square(per_example), axis=[1, 2]) + bias_sq

        def clipped_sum(factors: tf.Tensor) -> dict[int, tf.Tensor]:
            out = {
                id(layer.kernel): tf.reshape(
                    tf.tensordot(factors, per_example, 1), tf.shape(layer.kernel)
                )
            }
            if layer.use_bias:
                out[id(layer.bias)] = tf.tensordot(factors, tf.reduce_sum(g3, 1), 1)
            return out

        return norms, clipped_sum

    def norms_of(a_part: tf.Tensor, g_part: tf.Tensor) -> tf.Tensor:
        patches = _patches(a_part, (kh, kw), (sh, sw), (dh, dw), padding)
        rows = tf.shape(g_part)[0]
        return _outer_sq_norms(_rows(patches, rows), _rows(g_part, rows))

    return _chunked(norms_of, [a, g], chunk_size) + bias_sq, None


def _embedding_sq_norms(plan: LayerPlan, g: tf.Tensor, chunk_size: int | None) -> _Norms:
    batch = tf.shape(g)[0]
    ids = tf.reshape(tf.cast(plan.record.inputs, tf.int64), tf.stack([batch, -1]))
    g3 = _rows(g, batch)

    def norms_of(ids_part: tf.Tensor, g_part: tf.Tensor) -> tf.Tensor:
        same = tf.cast(tf.equal(ids_part[:, :, None], ids_part[:, None, :]), g_part.dtype)
        gram = tf.matmul(g_part, g_part, transpose_b=True)
        return tf.reduce_sum(same * gram, axis=[1, 2])

    return _chunked(norms_of, [ids, g3], chunk_size), None


def _fallback_sq_norms(plan: LayerPlan, g: tf.Tensor, chunk_size: int | None) -> _Norms:
    layer, record = plan.layer, plan.record
    call = type(layer).call.__get__(layer)  # the unpatched call
    weights = layer.trainable_weights

    def one(args: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        x_i, g_i = args
        with tf.GradientTape() as tape:
            out = call(x_i[None], **record.kwargs)
        grads = tape.gradient(
            out,
            weights,
            output_gradients=g_i[None],
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        return tf.add_n([tf.reduce_sum(tf.square(tf.convert_to_tensor(gr))) for gr in grads])

    def norms_of(x_part: tf.Tensor, g_part: tf.Tensor) -> tf.Tensor:
        return tf.vectorized_map(one, (x_part, g_part), fallback_to_while_loop=True)

    return _chunked(norms_of, [record.inputs, g], chunk_size), None


_NORMS = {
    LayerKind.DENSE: _dense_sq_norms,
    LayerKind.CONV1D: _conv_sq_norms,
    LayerKind.CONV2D: _conv_sq_norms,
    LayerKind.EMBEDDING: _embedding_sq_norms,
    LayerKind.FALLBACK: _fallback_sq_norms,
}


@dataclass(frozen=True)
class ClippedGradients:
    """The result of one clipped backward pass.

    Attributes
    ----------
    gradients : list of tf.Tensor
        Sum over the batch of clipped per-example gradients, aligned with
        ``model.trainable_weights``.
    norms : tf.Tensor
        Per-example gradient L2 norms before clipping, shape ``(batch,)``.
    losses : tf.Tensor
        Per-example losses, shape ``(batch,)``.
    predictions : Any
        The model's outputs.
    """

    gradients: list[tf.Tensor]
    norms: tf.Tensor
    losses: tf.Tensor
    predictions: Any


def per_example_values(values: tf.Tensor) -> tf.Tensor:
    """Check that a loss gave one value per example; average any further axes."""
    values = tf.convert_to_tensor(values)
    if values.shape.rank == 0:
        raise ConfigError(
            "The loss returned one number for the whole batch, so each example's gradient "
            "cannot be clipped on its own. Fix: return one loss value per example (for "
            "keras.losses.Loss objects pass reduction='none')."
        )
    if values.shape.rank > 1:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
    return values


def clipped_gradient_sum(
    model: Any,
    plans: Sequence[LayerPlan],
    flavor: KerasFlavor,
    loss_fn: Callable[[Any, Any], Any],
    x: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    l2_norm_clip: float,
    chunk_size: int | None = None,
    training: bool = True,
) -> ClippedGradients:
    """Sum of per-example gradients, each clipped to L2 norm ``l2_norm_clip``.

    Parameters
    ----------
    model : keras.Model
        The model; ``plans`` must come from :func:`plan_layers` on it.
    plans : sequence of LayerPlan
        The layers with trainable weights.
    flavor : KerasFlavor
        The model's Keras.
    loss_fn : callable
        ``loss_fn(y, y_pred)`` giving one loss per example.
    x, y, sample_weight : tensors
        One batch; ``sample_weight`` scales each example's loss before clipping.
    l2_norm_clip : float
        The clip norm ``C``.
    chunk_size : int, optional
        Examples per chunk for memory-heavy per-example work.
    training : bool, default True
        Passed to the model call.

    Returns
    -------
    ClippedGradients
    """
    with tf.GradientTape(persistent=True) as tape, _recording(plans, flavor):
        predictions = model(x, training=training)
        losses = per_example_values(loss_fn(y, predictions))
        if sample_weight is not None:
            losses = losses * tf.cast(tf.reshape(sample_weight, [-1]), losses.dtype)
        total = tf.reduce_sum(losses)
    missing = [p.name for p in plans if p.record.calls == 0]
    if missing:
        raise UnsupportedModelError(
            f"The layers {missing} have trainable weights but were not called by the "
            "model's forward pass, so their gradients cannot be clipped per example."
        )
    outputs = [tf.convert_to_tensor(p.record.outputs) for p in plans]
    output_grads = tape.gradient(total, outputs, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    squared = tf.zeros_like(losses)
    direct = []
    for plan, g in zip(plans, output_grads, strict=True):
        layer_squared, clipped_sum = _NORMS[plan.kind](plan, g, chunk_size)
        squared += tf.cast(layer_squared, squared.dtype)
        direct.append(clipped_sum)
    norms = tf.sqrt(squared)
    factors = tf.minimum(1.0, l2_norm_clip / tf.maximum(norms, 1e-12))
    by_id: dict[int, tf.Tensor] = {}
    for plan, z, g, clipped_sum in zip(plans, outputs, output_grads, direct, strict=True):
        if clipped_sum is not None:
            by_id.update(clipped_sum(tf.cast(factors, g.dtype)))
            continue
        weighted = g * tf.reshape(tf.cast(factors, g.dtype), [-1] + [1] * (len(g.shape) - 1))
        weights = plan.layer.trainable_weights
        grads = tape.gradient(
            z,
            weights,
            output_gradients=weighted,
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        for weight, grad in zip(weights, grads, strict=True):
            by_id[id(weight)] = tf.convert_to_tensor(grad)
    del tape
    gradients = [by_id[id(v)] for v in model.trainable_weights]
    return ClippedGradients(gradients, norms, losses, predictions)
