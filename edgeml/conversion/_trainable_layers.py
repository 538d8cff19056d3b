"""Keras layers lowered to raw TensorFlow ops whose gradients are LiteRT builtins.

:func:`lower` reads a Keras 3 or tf-keras layer's class, config and weights and returns
a :class:`Lowered` step: its weights as numpy arrays and a forward function over plain
tensors. Forward passes avoid ops whose gradient exists only as a TensorFlow (Flex)
kernel: ReLU is ``maximum`` (its gradient is GREATER_EQUAL + SELECT, not ``ReluGrad``),
ReLU6 is ``minimum(maximum(x, 0), 6)``, and the weight gradients of convolutions are
written out as strided slices and matrix products (``Conv2DBackpropFilter`` has no
builtin kernel). A layer that cannot be lowered raises
:class:`~edgeml.errors.UnsupportedModelError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeml.errors import UnsupportedModelError

__all__ = ["ACTIVATIONS", "GRADIENT_LAYERS", "Lowered", "lower"]

#: Activation name -> the ops its forward pass and gradient need (documented in
#: docs/on-device-training.md).
ACTIVATIONS: dict[str, str] = {
    "linear": "none",
    "relu": "MAXIMUM; gradient GREATER_EQUAL, SELECT_V2",
    "relu6": "MAXIMUM, MINIMUM; gradient GREATER_EQUAL, LESS_EQUAL, SELECT_V2",
    "sigmoid": "LOGISTIC; gradient MUL, SUB",
    "tanh": "TANH; gradient MUL, SUB",
    "softmax": "SOFTMAX (fused into LOG_SOFTMAX with cross-entropy); gradient SUM, MUL, SUB",
}
#: Layer class -> what it lowers to (and whether its weights can be trained).
GRADIENT_LAYERS: dict[str, str] = {
    "Dense": "FULLY_CONNECTED / BATCH_MATMUL; trainable",
    "Conv2D": "CONV_2D; trainable (weight gradient: STRIDED_SLICE, BATCH_MATMUL; "
    "input gradient: TRANSPOSE_CONV)",
    "DepthwiseConv2D": "DEPTHWISE_CONV_2D; trainable (weight gradient: STRIDED_SLICE, MUL, "
    "SUM; input gradient: TRANSPOSE_CONV with a block-diagonal kernel)",
    "BatchNormalization": "MUL, ADD with the moving statistics; frozen only",
    "Flatten": "RESHAPE",
    "Reshape": "RESHAPE",
    "Dropout": "identity (no dropout on the device)",
    "Activation": "see the activations table",
    "ReLU": "MAXIMUM (max_value 6 adds MINIMUM)",
    "Softmax": "SOFTMAX",
    "GlobalAveragePooling2D": "MEAN",
    "GlobalMaxPooling2D": "REDUCE_MAX; gradient EQUAL, SELECT_V2",
    "MaxPooling2D": "MAX_POOL_2D, non-overlapping; gradient EQUAL, TILE, RESHAPE, MUL",
    "AveragePooling2D": "AVERAGE_POOL_2D, non-overlapping; gradient TILE, RESHAPE, DIV",
}

Forward = Callable[[Any, dict[str, Any]], Any]


@dataclass
class Lowered:
    """One Keras layer as raw ops.

    Attributes
    ----------
    name, kind : str
        The Keras layer's name and class name.
    weights : dict
        Parameter name (``"kernel"``, ``"bias"``...) -> float32 array.
    forward : callable
        ``forward(x, params)`` with ``params`` holding a tensor per weight name.
    trainable : bool
        Whether the weights become variables updated by the optimizer.
    activation : str
        The activation applied last (``"linear"`` for none).
    """

    name: str
    kind: str
    weights: dict[str, np.ndarray]
    forward: Forward
    trainable: bool = False
    activation: str = "linear"


def _refuse(layer: Any, why: str, fix: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"Layer {layer.name!r} ({type(layer).__name__}) cannot be made trainable with LiteRT "
        f"builtin ops: {why}. Fix: {fix}."
    )


def _activation_name(layer: Any) -> str:
    function = getattr(layer, "activation", None)
    if function is None:
        return "linear"
    name = str(getattr(function, "__name__", type(function).__name__))
    if name not in ACTIVATIONS:
        raise _refuse(
            layer,
            f"activation {name!r} is not supported (supported: {sorted(ACTIVATIONS)})",
            "use one of the supported activations, or freeze this layer and the ones before it",
        )
    return name


def activate(tf: Any, name: str, x: Any) -> Any:
    """Apply activation ``name`` without ops whose gradient is Flex-only."""
    if name == "linear":
        return x
    if name == "relu":
        return tf.maximum(x, 0.0)
    if name == "relu6":
        return tf.minimum(tf.maximum(x, 0.0), 6.0)
    if name == "sigmoid":
        return tf.sigmoid(x)
    if name == "tanh":
        return tf.tanh(x)
    return tf.nn.softmax(x, axis=-1)


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def _conv_geometry(
    layer: Any, config: dict[str, Any], in_shape: tuple[int, ...], kernel_hw: tuple[int, int]
) -> tuple[int, list[list[int]], tuple[int, int]]:
    strides = tuple(int(s) for s in config.get("strides", (1, 1)))
    dilation = tuple(int(d) for d in config.get("dilation_rate", (1, 1)))
    if dilation != (1, 1) or config.get("data_format", "channels_last") != "channels_last":
        raise _refuse(
            layer, "only dilation_rate 1 and channels_last are supported", "freeze this layer"
        )
    if strides[0] != strides[1] or int(config.get("groups", 1)) != 1:
        raise _refuse(layer, "only equal strides and groups=1 are supported", "freeze it")
    stride = strides[0]
    height, width = in_shape[0], in_shape[1]
    if config.get("padding", "valid").lower() == "same":
        top, bottom, out_h = _same_pads(height, kernel_hw[0], stride)
        left, right, out_w = _same_pads(width, kernel_hw[1], stride)
    else:
        top = bottom = left = right = 0
        out_h = (height - kernel_hw[0]) // stride + 1
        out_w = (width - kernel_hw[1]) // stride + 1
    return stride, [[0, 0], [top, bottom], [left, right], [0, 0]], (out_h, out_w)


def _patches(
    tf: Any, x: Any, pads: list[list[int]], i: int, j: int, stride: int, out: tuple[int, int]
) -> Any:
    padded = tf.pad(x, pads) if any(any(p) for p in pads) else x
    return padded[
        :, i : i + stride * (out[0] - 1) + 1 : stride, j : j + stride * (out[1] - 1) + 1 : stride, :
    ]


def _conv2d(
    tf: Any, layer: Any, config: dict[str, Any], in_shape: tuple[int, ...], kernel: np.ndarray
) -> Callable[[Any, Any], Any]:
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    stride, pads, out = _conv_geometry(layer, config, in_shape, (kh, kw))
    padding = "SAME" if config.get("padding", "valid").lower() == "same" else "VALID"

    def conv(x: Any, k: Any) -> Any:
        @tf.custom_gradient  # type: ignore[untyped-decorator]
        def inner(x: Any, k: Any) -> Any:
            y = tf.nn.conv2d(x, k, stride, padding)

            def grad(g: Any) -> tuple[Any, Any]:
                rows = []
                for i in range(kh):
                    cols = [
                        tf.einsum("nhwc,nhwo->co", _patches(tf, x, pads, i, j, stride, out), g)
                        for j in range(kw)
                    ]
                    rows.append(tf.stack(cols))
                dk = tf.stack(rows)
                dx = tf.nn.conv2d_transpose(g, k, tf.shape(x), stride, padding)
                return dx, dk

            return y, grad

        return inner(x, k)

    return conv


def _depthwise(
    tf: Any, layer: Any, config: dict[str, Any], in_shape: tuple[int, ...], kernel: np.ndarray
) -> Callable[[Any, Any], Any]:
    kh, kw, channels, multiplier = (int(d) for d in kernel.shape)
    stride, pads, out = _conv_geometry(layer, config, in_shape, (kh, kw))
    padding = "SAME" if config.get("padding", "valid").lower() == "same" else "VALID"

    def conv(x: Any, k: Any) -> Any:
        @tf.custom_gradient  # type: ignore[untyped-decorator]
        def inner(x: Any, k: Any) -> Any:
            y = tf.nn.depthwise_conv2d(x, k, [1, stride, stride, 1], padding)

            def grad(g: Any) -> tuple[Any, Any]:
                g5 = tf.reshape(g, [-1, out[0], out[1], channels, multiplier])
                rows = []
                for i in range(kh):
                    cols = []
                    for j in range(kw):
                        patch = _patches(tf, x, pads, i, j, stride, out)
                        cols.append(tf.reduce_sum(patch[..., None] * g5, axis=[0, 1, 2]))
                    rows.append(tf.stack(cols))
                # The input gradient: the depthwise convolution is a full one whose kernel
                # is block-diagonal over channels, and TRANSPOSE_CONV runs that one.
                eye = tf.constant(np.eye(channels, dtype=np.float32)[:, :, None])
                full = tf.reshape(
                    k[:, :, :, None, :] * eye, [kh, kw, channels, channels * multiplier]
                )
                dx = tf.nn.conv2d_transpose(g, full, tf.shape(x), stride, padding)
                return dx, tf.stack(rows)

            return y, grad

        return inner(x, k)

    return conv


def _pooling(
    tf: Any, layer: Any, config: dict[str, Any], in_shape: tuple[int, ...], kind: str
) -> Forward:
    """Non-overlapping pooling with its gradient written as TILE, RESHAPE, PAD (and EQUAL)."""
    pool = tuple(int(p) for p in config.get("pool_size", (2, 2)))
    strides = tuple(int(p) for p in (config.get("strides") or pool))
    if (
        strides != pool
        or config.get("padding", "valid").lower() != "valid"
        or config.get("data_format") not in (None, "channels_last")
        or len(in_shape) != 3
    ):
        raise _refuse(
            layer,
            "only non-overlapping pooling (strides equal to pool_size, padding 'valid', "
            "channels_last) has a builtin gradient here",
            "use strides=None and padding='valid', or freeze it with the layers before it",
        )
    ph, pw = pool
    out_h, out_w = in_shape[0] // ph, in_shape[1] // pw
    spare = [[0, 0], [0, in_shape[0] - out_h * ph], [0, in_shape[1] - out_w * pw], [0, 0]]
    channels = in_shape[2]

    def spread(t: Any) -> Any:
        """Repeat each pooled value over its window, back to the input's shape."""
        t = tf.reshape(t, [-1, out_h, 1, out_w, 1, channels])
        t = tf.tile(t, [1, 1, ph, 1, pw, 1])
        t = tf.reshape(t, [-1, out_h * ph, out_w * pw, channels])
        return tf.pad(t, spare) if any(any(p) for p in spare) else t

    def forward(x: Any, p: dict[str, Any]) -> Any:
        @tf.custom_gradient  # type: ignore[untyped-decorator]
        def inner(x: Any) -> Any:
            if kind == "MaxPooling2D":
                y = tf.nn.max_pool2d(x, pool, pool, "VALID")
            else:
                y = tf.nn.avg_pool2d(x, pool, pool, "VALID")

            def grad(g: Any) -> Any:
                if kind == "AveragePooling2D":
                    return spread(g) / float(ph * pw)
                # The gradient goes to the window's maximum (to each one on exact ties).
                winners = tf.cast(tf.equal(x, spread(y)), tf.float32)
                if any(any(p) for p in spare):
                    keep = tf.pad(
                        tf.ones([1, out_h * ph, out_w * pw, 1]), spare, constant_values=0.0
                    )
                    winners = winners * keep
                return winners * spread(g)

            return y, grad

        return inner(x)

    return forward


def lower(tf: Any, layer: Any, in_shape: tuple[int, ...], trainable: bool) -> Lowered:
    """Lower one Keras layer.

    Parameters
    ----------
    tf : module
        TensorFlow.
    layer : keras layer
        A Keras 3 or tf-keras layer.
    in_shape : tuple of int
        The layer's input shape without the batch dimension.
    trainable : bool
        Whether its weights are trained.

    Returns
    -------
    Lowered
        The layer as raw ops.

    Raises
    ------
    UnsupportedModelError
        When the layer (or its configuration) has no builtin-only lowering.
    """
    kind = type(layer).__name__
    config = dict(layer.get_config())
    arrays = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
    if kind == "Dense":
        activation = _activation_name(layer)
        weights = {"kernel": arrays[0]}
        if config.get("use_bias", True):
            weights["bias"] = arrays[1]

        def dense(x: Any, p: dict[str, Any]) -> Any:
            y = (
                tf.matmul(x, p["kernel"])
                if len(in_shape) == 1
                else tf.tensordot(x, p["kernel"], axes=1)
            )
            return y + p["bias"] if "bias" in p else y

        return Lowered(layer.name, kind, weights, dense, trainable, activation)
    if kind in ("Conv2D", "DepthwiseConv2D"):
        if len(in_shape) != 3:
            raise _refuse(layer, f"input shape {in_shape} is not (height, width, channels)", "-")
        activation = _activation_name(layer)
        weights = {"kernel": arrays[0]}
        if config.get("use_bias", True):
            weights["bias"] = arrays[1]
        build = _conv2d if kind == "Conv2D" else _depthwise
        conv = build(tf, layer, config, in_shape, weights["kernel"])

        def forward(x: Any, p: dict[str, Any]) -> Any:
            y = conv(x, p["kernel"])
            return y + p["bias"] if "bias" in p else y

        return Lowered(layer.name, kind, weights, forward, trainable, activation)
    if trainable and arrays:
        if kind == "BatchNormalization":
            raise _refuse(
                layer,
                "BatchNormalization trains with batch statistics, which on-device training "
                "does not reproduce",
                "freeze it (layer.trainable = False) or leave it out of trainable_layers",
            )
        raise _refuse(layer, f"{kind} layers cannot be trained on the device", "freeze it")
    if kind == "BatchNormalization":
        epsilon = float(config.get("epsilon", 1e-3))
        names = []
        if config.get("scale", True):
            names.append("gamma")
        if config.get("center", True):
            names.append("beta")
        values = dict(zip([*names, "mean", "variance"], arrays, strict=True))
        scale = values.get("gamma", np.ones_like(values["mean"])) / np.sqrt(
            values["variance"] + epsilon
        )
        offset = values.get("beta", np.zeros_like(values["mean"])) - values["mean"] * scale
        weights = {"scale": scale.astype(np.float32), "offset": offset.astype(np.float32)}
        return Lowered(layer.name, kind, weights, lambda x, p: x * p["scale"] + p["offset"])
    if kind in ("Flatten", "Reshape"):
        if kind == "Flatten":
            target: tuple[int, ...] = (int(np.prod(in_shape)),)
        else:
            target = tuple(int(d) for d in config["target_shape"])
        return Lowered(layer.name, kind, {}, lambda x, p: tf.reshape(x, (-1, *target)))
    if kind in ("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout"):
        return Lowered(layer.name, kind, {}, lambda x, p: x)
    if kind == "Activation":
        activation = _activation_name(layer)
        return Lowered(layer.name, kind, {}, lambda x, p: x, activation=activation)
    if kind == "Softmax":
        return Lowered(layer.name, kind, {}, lambda x, p: x, activation="softmax")
    if kind == "ReLU":
        max_value = config.get("max_value")
        if float(config.get("negative_slope", 0.0)) or float(config.get("threshold", 0.0)):
            raise _refuse(layer, "negative_slope and threshold must be 0", "freeze it")
        if max_value is None:
            return Lowered(layer.name, kind, {}, lambda x, p: x, activation="relu")
        if float(max_value) == 6.0:
            return Lowered(layer.name, kind, {}, lambda x, p: x, activation="relu6")
        cap = float(max_value)
        return Lowered(layer.name, kind, {}, lambda x, p: tf.minimum(tf.maximum(x, 0.0), cap))
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return Lowered(layer.name, kind, {}, _pooling(tf, layer, config, in_shape, kind))
    if kind == "GlobalAveragePooling2D" and config.get("data_format") in (None, "channels_last"):
        keep = bool(config.get("keepdims", False))
        return Lowered(layer.name, kind, {}, lambda x, p: tf.reduce_mean(x, [1, 2], keepdims=keep))
    if kind == "GlobalMaxPooling2D" and config.get("data_format") in (None, "channels_last"):
        keep = bool(config.get("keepdims", False))
        return Lowered(layer.name, kind, {}, lambda x, p: tf.reduce_max(x, [1, 2], keepdims=keep))
    raise _refuse(
        layer,
        f"{kind} has no lowering whose gradient is a builtin op (supported after the first "
        f"trained layer: {sorted(GRADIENT_LAYERS)})",
        "freeze it together with every layer before it, so that it runs in the frozen "
        "backbone, or replace it",
    )
