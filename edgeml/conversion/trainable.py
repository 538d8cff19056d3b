"""``to_trainable``: a Keras model to a ``.tflite`` that trains on the device with LiteRT.

LiteRT runs training when a model carries signatures that read and assign resource
variables, but only with builtin ops: the pip interpreters have no Flex delegate, the
gradients TensorFlow emits for ``relu`` or convolutions (``ReluGrad``,
``Conv2DBackpropFilter``) are Flex-only, and a Keras 3 model kept inside a ``tf.Module``
converts without the initializer its variables need. So the model is *lowered*: the
frozen layers before the first trained layer become one constant graph (any layers the
converter handles), and every layer from the first trained one on is rewritten from its
config and weights as raw ops on plain ``tf.Variable`` objects (see
:mod:`edgeml.conversion._trainable_layers`), with the loss's gradient written out and the
optimizer (SGD with momentum, Adam) as variable updates. The result is checked: every op
must be a LiteRT builtin, and ``infer`` must agree with the Keras model.

Signatures of the file (inputs -> outputs):

- ``infer(x) -> output``: the model's prediction (the default for ``predict``).
- ``train(x, y) -> loss, applied``: one optimizer step on the batch; ``applied`` is 0
  when the loss or an updated value is not finite, and then nothing was changed.
- ``gradients(x, y) -> loss, g000...`` and ``apply(g000...) -> applied``: the two halves
  of ``train``, for per-example clipping and noise (local differential privacy).
- ``get_weights() -> w000...`` / ``set_weights(w000...)``: the trained weights in a fixed
  order; ``get_state`` / ``set_state`` add the optimizer's slots (``save`` uses them).

An ``on_device_training`` metadata document describes all of it for the runtime.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from edgeml import modelfile as _metadata
from edgeml._optional import require
from edgeml.conversion._quiet import quiet_tensorflow
from edgeml.conversion._sources import kind_of
from edgeml.conversion._trainable_layers import Lowered, activate, lower
from edgeml.conversion.model import TFLiteModel
from edgeml.conversion.report import analyze
from edgeml.errors import UnsupportedModelError, invalid_argument

__all__ = ["LOSSES", "OPTIMIZERS", "TRAINING_ENTRY", "to_trainable"]

logger = logging.getLogger("edgeml.conversion")

#: Name of the metadata document that describes a trainable model's signatures.
TRAINING_ENTRY = "on_device_training"
#: Supported losses and the label each expects.
LOSSES: dict[str, str] = {
    "sparse_categorical_crossentropy": "int32 class index per example",
    "categorical_crossentropy": "float32 one-hot (or soft) row per example",
    "binary_crossentropy": "float32 0/1 per output",
    "mean_squared_error": "float32 target per output",
}
_LOSS_ALIASES = {
    "mse": "mean_squared_error",
    "meansquarederror": "mean_squared_error",
    "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy",
    "categoricalcrossentropy": "categorical_crossentropy",
    "binarycrossentropy": "binary_crossentropy",
}
#: Supported optimizers and their hyperparameters (Keras defaults).
OPTIMIZERS: dict[str, dict[str, float]] = {
    "sgd": {"learning_rate": 0.01, "momentum": 0.0},
    "adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
}
_EPSILON = 1e-7  # Keras' clip of probabilities before a log

LossName = Literal[
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
    "mse",
]


def _resolve_loss(loss: Any) -> tuple[str, bool]:
    """Return (canonical loss name, from_logits)."""
    from_logits = False
    if isinstance(loss, str):
        name = loss
    else:
        name = type(loss).__name__
        config: dict[str, Any] = dict(getattr(loss, "get_config", dict)())
        from_logits = bool(config.get("from_logits", False))
        if name == "function":
            name = str(getattr(loss, "__name__", ""))
    key = name.lower().replace("_", "") if name.lower() not in LOSSES else name.lower()
    canonical = _LOSS_ALIASES.get(key, name.lower())
    if canonical not in LOSSES:
        raise invalid_argument(
            "to_trainable",
            "loss",
            loss,
            f"one of {sorted(LOSSES)} (a name or the Keras loss object)",
        )
    return canonical, from_logits


def _resolve_optimizer(optimizer: Any, learning_rate: float | None) -> dict[str, Any]:
    if isinstance(optimizer, str):
        name, config = optimizer.lower(), dict[str, Any]()
    else:
        name = type(optimizer).__name__.lower()
        raw = dict(getattr(optimizer, "get_config", dict)())
        config = {k: raw[k] for k in OPTIMIZERS.get(name, {}) if k in raw}
        unsupported = [
            key
            for key in (
                "nesterov",
                "amsgrad",
                "weight_decay",
                "clipnorm",
                "global_clipnorm",
                "clipvalue",
                "use_ema",
            )
            if raw.get(key)
        ]
        if name in OPTIMIZERS and unsupported:
            raise invalid_argument(
                "to_trainable",
                "optimizer",
                f"{type(optimizer).__name__} with {unsupported}",
                "plain SGD (momentum allowed) or Adam",
                fix="drop those options; on-device updates implement none of them",
            )
    if name not in OPTIMIZERS:
        raise invalid_argument(
            "to_trainable",
            "optimizer",
            optimizer,
            f"one of {sorted(OPTIMIZERS)} (a name or a Keras optimizer)",
            fix="on-device training supports SGD (with momentum) and Adam",
        )
    settings: dict[str, Any] = {"name": name, **OPTIMIZERS[name]}
    for key, value in config.items():
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            settings[key] = float(value)
        else:
            raise invalid_argument(
                "to_trainable", "optimizer", optimizer, f"a constant {key} (no schedule)"
            )
    if learning_rate is not None:
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
            raise invalid_argument("to_trainable", "learning_rate", learning_rate, "a float > 0")
        settings["learning_rate"] = float(learning_rate)
    if not settings["learning_rate"] > 0:
        raise invalid_argument(
            "to_trainable", "learning_rate", settings["learning_rate"], "a float > 0"
        )
    return settings


def _layers(model: Any) -> list[Any]:
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def _trainable_set(model: Any, layers: list[Any], trainable_layers: Any) -> set[int]:
    if trainable_layers is None:
        # BatchNormalization stays frozen (inference statistics) unless named explicitly.
        chosen = {
            i
            for i, layer in enumerate(layers)
            if layer.trainable
            and model.trainable
            and layer.get_weights()
            and type(layer).__name__ != "BatchNormalization"
        }
    else:
        if isinstance(trainable_layers, (str, int)):
            trainable_layers = [trainable_layers]
        names = [layer.name for layer in layers]
        chosen = set()
        for item in trainable_layers:
            if isinstance(item, str) and item in names:
                chosen.add(names.index(item))
            elif (
                isinstance(item, int)
                and not isinstance(item, bool)
                and -len(names) <= item < len(names)
            ):
                chosen.add(item % len(names))
            else:
                raise invalid_argument(
                    "to_trainable",
                    "trainable_layers",
                    item,
                    f"a layer name or index of {names}",
                )
        for i in sorted(chosen):
            if not layers[i].get_weights():
                raise invalid_argument(
                    "to_trainable",
                    "trainable_layers",
                    layers[i].name,
                    "a layer with weights",
                    fix="list only layers such as Dense or Conv2D",
                )
    if not chosen:
        raise UnsupportedModelError(
            f"Model {getattr(model, 'name', '')!r} has no trainable layer with weights, so "
            "there is nothing to train on the device. Fix: pass trainable_layers=[...] or set "
            "layer.trainable = True on the layers to fine-tune."
        )
    return chosen


def _shape(tensor: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in tuple(tensor.shape))


def _check_chain(model: Any, head: list[Any]) -> None:
    previous = None
    for layer in head:
        inputs = layer.input
        if isinstance(inputs, (list, tuple)):
            raise UnsupportedModelError(
                f"Layer {layer.name!r} ({type(layer).__name__}) has several inputs; layers from "
                "the first trained one on must form a chain. Fix: freeze it and every layer "
                "before it, so that it runs in the frozen backbone."
            )
        if previous is not None and inputs is not previous.output:
            raise UnsupportedModelError(
                f"Layer {layer.name!r} is not fed by the layer before it ({previous.name!r}); "
                "layers from the first trained one on must form a chain. Fix: freeze it and "
                "every layer before it."
            )
        previous = layer
    if previous is not None and previous.output is not model.outputs[0]:
        raise UnsupportedModelError(
            f"The model's output is not the output of its last layer {previous.name!r}. "
            "Fix: train a model whose last layers form a chain."
        )


def _frozen_backbone(tf: Any, model: Any, kind: str, head: list[Any], in_spec: Any) -> Any:
    """Return a constant-folded function computing the frozen layers before the head."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    keras = require("tf_keras" if kind == "tf_keras" else "keras", extra="tf", feature="Keras")
    sub = keras.Model(model.inputs, head[0].input)
    function = tf.function(lambda x: sub(x, training=False))
    return convert_variables_to_constants_v2(function.get_concrete_function(in_spec))


def _loss_fn(tf: Any, loss: str, mode: str, num_outputs: int) -> Any:
    """Mean loss over the batch with its gradient written out (no broadcast-gradient ops).

    ``mode`` says what the last layer's pre-activation ``z`` is: ``"softmax"`` /
    ``"sigmoid"`` logits, or ``"output"`` (the prediction itself).
    """

    @tf.custom_gradient  # type: ignore[untyped-decorator]
    def mean_loss(z: Any, target: Any) -> Any:
        n = tf.cast(tf.shape(z)[0], tf.float32)
        if loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
            if mode == "softmax":
                log_p = tf.nn.log_softmax(z)
                p = tf.exp(log_p)
                value = -tf.reduce_sum(target * log_p) / n
                dz = (p * tf.reduce_sum(target, axis=-1, keepdims=True) - target) / n
            else:
                total = tf.reduce_sum(z, axis=-1, keepdims=True)
                p = tf.clip_by_value(z / total, _EPSILON, 1.0 - _EPSILON)
                value = -tf.reduce_sum(target * tf.math.log(p)) / n
                inside = tf.cast((z / total > _EPSILON) & (z / total < 1 - _EPSILON), tf.float32)
                dp = -target / p * inside / n
                dz = (dp - tf.reduce_sum(dp * z, axis=-1, keepdims=True) / total) / total
        elif loss == "binary_crossentropy":
            width = float(num_outputs)
            if mode == "sigmoid":
                value = (
                    tf.reduce_sum(
                        tf.maximum(z, 0.0) - z * target + tf.math.log1p(tf.exp(-tf.abs(z)))
                    )
                    / n
                    / width
                )
                dz = (tf.sigmoid(z) - target) / n / width
            else:
                p = tf.clip_by_value(z, _EPSILON, 1.0 - _EPSILON)
                inside = tf.cast((z > _EPSILON) & (z < 1 - _EPSILON), tf.float32)
                value = (
                    -tf.reduce_sum(target * tf.math.log(p) + (1 - target) * tf.math.log(1 - p))
                    / n
                    / width
                )
                dz = -(target / p - (1 - target) / (1 - p)) * inside / n / width
        else:
            width = float(num_outputs)
            diff = z - target
            value = tf.reduce_sum(tf.square(diff)) / n / width
            dz = 2.0 * diff / n / width

        def grad(g: Any) -> tuple[Any, Any]:
            return g * dz, tf.zeros_like(target)

        return value, grad

    return mean_loss


class _Plan:
    """What the module needs: the lowered head, the optimizer and the label format."""

    def __init__(
        self,
        steps: list[Lowered],
        optimizer: dict[str, Any],
        loss: str,
        from_logits: bool,
        in_shape: tuple[int | None, ...],
        out_shape: tuple[int | None, ...],
    ) -> None:
        self.steps = steps
        self.optimizer = optimizer
        self.loss = loss
        last = steps[-1].activation
        if loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
            self.mode = "softmax" if last == "softmax" or from_logits else "output"
            self.logits_from_linear = from_logits and last == "linear"
        elif loss == "binary_crossentropy":
            self.mode = "sigmoid" if last == "sigmoid" or from_logits else "output"
            self.logits_from_linear = from_logits and last == "linear"
        else:
            self.mode, self.logits_from_linear = "output", False
        if from_logits and last != "linear":
            raise invalid_argument(
                "to_trainable",
                "loss",
                f"{loss} with from_logits=True",
                f"from_logits=False: the last layer already applies {last!r}",
            )
        self.in_shape = in_shape
        self.out_shape = out_shape
        self.num_outputs = int(np.prod([d for d in out_shape[1:] if d is not None]))
        if loss == "sparse_categorical_crossentropy":
            self.label_shape: tuple[int | None, ...] = (None,)
            self.label_dtype = "int32"
        else:
            self.label_shape, self.label_dtype = out_shape, "float32"


def _build_module(tf: Any, plan: _Plan, backbone: Any) -> Any:
    trained = [(s, k) for s in plan.steps if s.trainable for k in s.weights]
    optimizer = plan.optimizer
    adam = optimizer["name"] == "adam"
    momentum = optimizer.get("momentum", 0.0)
    loss_fn = _loss_fn(tf, plan.loss, plan.mode, plan.num_outputs)
    in_spec = tf.TensorSpec((None, *plan.in_shape[1:]), tf.float32, name="x")
    label_spec = tf.TensorSpec(
        (None, *plan.label_shape[1:]),
        tf.int32 if plan.label_dtype == "int32" else tf.float32,
        name="y",
    )

    class Trainable(tf.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__(name="edgeml_trainable")
            self.weights_ = [
                tf.Variable(s.weights[k], name=f"w{i:03d}") for i, (s, k) in enumerate(trained)
            ]
            self.constants = [
                {k: tf.constant(v) for k, v in s.weights.items()} if not s.trainable else None
                for s in plan.steps
            ]
            self.slots: list[Any] = []
            if adam:
                self.slots = [
                    tf.Variable(tf.zeros_like(w), name=f"m{i:03d}")
                    for i, w in enumerate(self.weights_)
                ] + [
                    tf.Variable(tf.zeros_like(w), name=f"v{i:03d}")
                    for i, w in enumerate(self.weights_)
                ]
                self.count = tf.Variable(0.0, name="iterations")
                self.slots.append(self.count)
            elif momentum:
                self.slots = [
                    tf.Variable(tf.zeros_like(w), name=f"m{i:03d}")
                    for i, w in enumerate(self.weights_)
                ]

        def _params(self) -> list[dict[str, Any]]:
            out, index = [], 0
            for s, constants in zip(plan.steps, self.constants, strict=True):
                if constants is not None:
                    out.append(constants)
                else:
                    params = {}
                    for key in s.weights:
                        params[key] = self.weights_[index]
                        index += 1
                    out.append(params)
            return out

        def _pre_activation(self, x: Any) -> Any:
            if backbone is not None:
                result = backbone(x)
                x = tf.stop_gradient(result[0] if isinstance(result, (list, tuple)) else result)
            params = self._params()
            last = len(plan.steps) - 1
            for i, (s, p) in enumerate(zip(plan.steps, params, strict=True)):
                x = s.forward(x, p)
                if i < last:
                    x = activate(tf, s.activation, x)
            return x

        def _loss_and_grads(self, x: Any, y: Any) -> tuple[Any, list[Any]]:
            if plan.label_dtype == "int32":
                y = tf.one_hot(y, plan.num_outputs, dtype=tf.float32)
            with tf.GradientTape() as tape:
                z = self._pre_activation(x)
                if plan.mode == "output":
                    z = activate(tf, plan.steps[-1].activation, z)
                loss = loss_fn(z, y)
            return loss, tape.gradient(loss, self.weights_)

        def _apply(self, grads: list[Any], ok: Any) -> Any:
            lr = optimizer["learning_rate"]
            updates: list[tuple[Any, Any]] = []
            if adam:
                b1, b2, eps = optimizer["beta_1"], optimizer["beta_2"], optimizer["epsilon"]
                t = self.count + 1.0
                alpha = lr * tf.sqrt(1.0 - tf.pow(b2, t)) / (1.0 - tf.pow(b1, t))
                n = len(self.weights_)
                for i, (w, g) in enumerate(zip(self.weights_, grads, strict=True)):
                    m = self.slots[i] + (g - self.slots[i]) * (1.0 - b1)
                    v = self.slots[n + i] + (tf.square(g) - self.slots[n + i]) * (1.0 - b2)
                    updates += [(w, w - m * alpha / (tf.sqrt(v) + eps))]
                    updates += [(self.slots[i], m), (self.slots[n + i], v)]
                updates.append((self.count, t))
            elif momentum:
                for w, g, m in zip(self.weights_, grads, self.slots, strict=True):
                    velocity = momentum * m - lr * g
                    updates += [(w, w + velocity), (m, velocity)]
            else:
                updates = [(w, w - lr * g) for w, g in zip(self.weights_, grads, strict=True)]
            for _, value in updates:
                ok = tf.logical_and(ok, tf.reduce_all(tf.math.is_finite(value)))
            for variable, value in updates:
                variable.assign(tf.where(ok, value, variable))
            return tf.cast(ok, tf.float32)

        @tf.function(input_signature=[in_spec])  # type: ignore[untyped-decorator]
        def infer(self, x: Any) -> Any:
            z = self._pre_activation(x)
            return {"output": activate(tf, plan.steps[-1].activation, z)}

        @tf.function(input_signature=[in_spec, label_spec])  # type: ignore[untyped-decorator]
        def train(self, x: Any, y: Any) -> Any:
            loss, grads = self._loss_and_grads(x, y)
            applied = self._apply(grads, tf.math.is_finite(loss))
            return {"loss": loss, "applied": applied}

        @tf.function(input_signature=[in_spec, label_spec])  # type: ignore[untyped-decorator]
        def gradients(self, x: Any, y: Any) -> Any:
            loss, grads = self._loss_and_grads(x, y)
            return {"loss": loss, **{f"g{i:03d}": g for i, g in enumerate(grads)}}

        @tf.function(input_signature=[])  # type: ignore[untyped-decorator]
        def get_weights(self) -> Any:
            return {f"w{i:03d}": tf.identity(w) for i, w in enumerate(self.weights_)}

        @tf.function(input_signature=[])  # type: ignore[untyped-decorator]
        def get_state(self) -> Any:
            every = [*self.weights_, *self.slots]
            return {f"s{i:03d}": tf.identity(v) for i, v in enumerate(every)}

    module = Trainable()

    def setter(prefix: str, variables: list[Any], output: str) -> Any:
        specs = [
            tf.TensorSpec(v.shape, v.dtype, name=f"{prefix}{i:03d}")
            for i, v in enumerate(variables)
        ]

        @tf.function(input_signature=specs)  # type: ignore[untyped-decorator]
        def assign(*values: Any) -> Any:
            for variable, value in zip(variables, values, strict=True):
                variable.assign(value)
            return {output: tf.constant(len(variables), tf.int32)}

        return assign

    def applier() -> Any:
        specs = [
            tf.TensorSpec(w.shape, tf.float32, name=f"g{i:03d}")
            for i, w in enumerate(module.weights_)
        ]

        @tf.function(input_signature=specs)  # type: ignore[untyped-decorator]
        def apply(*grads: Any) -> Any:
            return {"applied": module._apply(list(grads), tf.constant(True))}

        return apply

    module.set_weights = setter("w", module.weights_, "count")
    module.set_state = setter("s", [*module.weights_, *module.slots], "count")
    module.apply = applier()
    return module


def _builtin_names() -> set[str]:
    schema = require(
        "ai_edge_litert.tools.flatbuffer_utils", extra="litert", feature="Inspecting a .tflite"
    ).schema_fb
    return {name for name in vars(schema.BuiltinOperator) if name.isupper()}


def to_trainable(
    model: Any,
    *,
    loss: LossName | Any,
    optimizer: str | Any = "sgd",
    learning_rate: float | None = None,
    trainable_layers: Sequence[str | int] | str | int | None = None,
    quantize_backbone: bool = False,
) -> TFLiteModel:
    """Convert a Keras model to a ``.tflite`` model that trains on the device.

    The layers before the first trained layer run as a frozen (constant) backbone; the
    trained layers and everything after them are lowered to raw ops on variables whose
    gradients are LiteRT builtins. The file gets the signatures listed in
    :mod:`edgeml.conversion.trainable`; :func:`edgeml.load` gives an
    :class:`~edgeml.runtime.EdgeModel` whose ``fit``, ``train_step``, ``get_weights``,
    ``set_weights`` and ``save`` run them without TensorFlow.

    Parameters
    ----------
    model : keras.Model or tf_keras.Model
        A built Keras 3 or tf-keras model with one input and one output.
    loss : str or Keras loss
        One of ``LOSSES`` (``"mse"`` is accepted), or a Keras loss object such as
        ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.
    optimizer : {"sgd", "adam"} or Keras optimizer, default "sgd"
        SGD (with ``momentum``) or Adam; a Keras optimizer's constant hyperparameters
        are used. Learning-rate schedules, Nesterov and AMSGrad are refused.
    learning_rate : float, optional
        Overrides the optimizer's learning rate (Keras defaults otherwise).
    trainable_layers : sequence of str or int, optional
        Names or indices (in ``model.layers`` without the input layer) of the layers to
        train. Default: the layers Keras considers trainable (``layer.trainable``), so
        ``backbone.trainable = False`` keeps a backbone frozen; BatchNormalization layers
        stay frozen with their moving statistics unless listed (which is refused).
    quantize_backbone : bool, default False
        Store the frozen weights as int8 (dynamic-range quantization); trained weights
        stay float32.

    Returns
    -------
    TFLiteModel
        The trainable model; ``report.op_counts`` lists its ops (all builtin).

    Raises
    ------
    UnsupportedModelError
        When a layer from the first trained one on has no builtin-only lowering (the
        message names it), the model has several inputs or outputs, or the converted
        file would need non-builtin ops.
    ConfigError
        For an unknown loss or optimizer, or a bad ``trainable_layers``.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from edgeml.conversion import to_trainable
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
    ...                           keras.layers.Dense(3, activation="softmax")])
    >>> tfl = to_trainable(model, loss="sparse_categorical_crossentropy", optimizer="adam")
    >>> sorted(tfl.metadata["on_device_training"]["signatures"])
    ['apply', 'get_state', 'get_weights', 'gradients', 'infer', 'set_state', 'set_weights', 'train']
    >>> "VAR_HANDLE" in tfl.report.op_counts and not tfl.report.flex_ops
    True
    """
    kind = kind_of(model)
    if kind not in ("keras", "tf_keras"):
        raise invalid_argument(
            "to_trainable", "model", type(model).__name__, "a Keras 3 or tf-keras model"
        )
    if not getattr(model, "built", True) or not getattr(model, "inputs", None):
        raise UnsupportedModelError(
            f"The Keras model {getattr(model, 'name', '')!r} has no known input; to_trainable "
            "needs it. Fix: start the model with keras.Input(shape)."
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedModelError(
            f"to_trainable supports models with one input and one output; "
            f"{model.name!r} has {len(model.inputs)} and {len(model.outputs)}."
        )
    loss_name, from_logits = _resolve_loss(loss)
    settings = _resolve_optimizer(optimizer, learning_rate)
    tf = require("tensorflow", extra="tf", feature="On-device training export")
    layers = _layers(model)
    chosen = _trainable_set(model, layers, trainable_layers)
    first = min(chosen)
    head = layers[first:]
    _check_chain(model, head)
    for layer in head:
        if hasattr(layer, "layers"):
            raise UnsupportedModelError(
                f"Layer {layer.name!r} is a nested model; to_trainable runs nested models "
                "only as part of the frozen backbone. Fix: freeze it (layer.trainable = "
                "False) with the layers before it, and train layers after it."
            )
    steps: list[Lowered] = []
    for index, layer in enumerate(head):
        in_shape = _shape(layer.input)[1:]
        steps.append(
            lower(tf, layer, tuple(int(d or 0) for d in in_shape), first + index in chosen)
        )
    in_shape = _shape(model.inputs[0])
    plan = _Plan(steps, settings, loss_name, from_logits, in_shape, _shape(model.outputs[0]))
    start = time.perf_counter()
    with quiet_tensorflow():
        in_spec = tf.TensorSpec((None, *in_shape[1:]), tf.float32)
        backbone = _frozen_backbone(tf, model, kind, head, in_spec) if first else None
        module = _build_module(tf, plan, backbone)
        signatures = {
            name: getattr(module, name).get_concrete_function()
            for name in (
                "infer",
                "train",
                "gradients",
                "apply",
                "get_weights",
                "set_weights",
                "get_state",
                "set_state",
            )
        }
        with tempfile.TemporaryDirectory(prefix="edgeml-trainable-") as directory:
            tf.saved_model.save(module, directory, signatures=signatures)
            converter = tf.lite.TFLiteConverter.from_saved_model(
                directory, signature_keys=list(signatures)
            )
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            converter.experimental_enable_resource_variables = True
            if quantize_backbone:
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
            try:
                model_bytes = bytes(converter.convert())
            except Exception as exc:
                from edgeml.conversion.converter import _conversion_error

                raise _conversion_error(exc, "none") from exc
    seconds = time.perf_counter() - start
    report = analyze(model_bytes, {"mode": "dynamic" if quantize_backbone else "none"})
    foreign = sorted(set(report.op_counts) - _builtin_names())
    if foreign or report.flex_ops:
        raise UnsupportedModelError(
            f"The trainable model would need ops that are not LiteRT builtins: "
            f"{foreign or list(report.flex_ops)}; no pip interpreter can run them. Fix: "
            "freeze the layers that need them."
        )
    _check_agreement(model, model_bytes, in_shape, 0.05 if quantize_backbone else 1e-4)
    weights = [
        {"name": f"w{i:03d}", "layer": s.name, "param": k, "shape": list(s.weights[k].shape)}
        for i, (s, k) in enumerate((s, k) for s in steps if s.trainable for k in s.weights)
    ]
    state = [w["name"] for w in weights]
    if settings["name"] == "adam":
        state += [f"adam_m/{w['name']}" for w in weights] + [f"adam_v/{w['name']}" for w in weights]
        state.append("adam_iterations")
    elif settings.get("momentum"):
        state += [f"momentum/{w['name']}" for w in weights]
    document = {
        "format": "edgeml-trainable/1",
        "signatures": {name: name for name in signatures},
        "loss": loss_name,
        "output_is_logits": bool(plan.logits_from_linear),
        "optimizer": settings,
        "label": {
            "dtype": plan.label_dtype,
            "shape": list(plan.label_shape),
            "classes": plan.num_outputs if plan.label_dtype == "int32" else None,
        },
        "input_shape": list(in_shape),
        "output_shape": list(plan.out_shape),
        "weights": weights,
        "state": state,
        "trained_layers": [s.name for s in steps if s.trainable],
        "frozen_layers": [
            layer.name
            for layer in layers
            if layer.name not in {s.name for s in steps if s.trainable}
        ],
        "backbone_quantized": bool(quantize_backbone),
        "history": [],
    }
    model_bytes = _metadata.with_metadata(model_bytes, TRAINING_ENTRY, document)
    from edgeml import __version__

    summary = analyze(model_bytes, {"mode": report.mode, "source": kind}).to_dict()
    for key in ("bytes", "gzip_bytes", "sha256", "weights_sha256"):
        summary.pop(key, None)
    summary["conversion_seconds"] = round(seconds, 4)
    entry = {
        "edgeml_version": __version__,
        "tensorflow_version": str(tf.__version__),
        "conversion": summary,
    }
    return TFLiteModel(_metadata.with_edgeml_entry(model_bytes, entry))


def _check_agreement(
    model: Any, model_bytes: bytes, in_shape: tuple[int | None, ...], tolerance: float
) -> None:
    """Refuse a conversion whose ``infer`` does not compute what the Keras model does."""
    interpreter_module = require(
        "ai_edge_litert.interpreter", extra="litert", feature="Checking a trainable model"
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *[int(d or 1) for d in in_shape[1:]])).astype(np.float32)
    interpreter = interpreter_module.Interpreter(model_content=model_bytes)
    got = interpreter.get_signature_runner("infer")(x=x)["output"]
    want = np.asarray(model(x, training=False), dtype=np.float32)
    gap = float(np.max(np.abs(got - want)))
    if not gap <= tolerance * (1.0 + float(np.max(np.abs(want)))):
        raise UnsupportedModelError(
            f"The trainable model's 'infer' differs from the Keras model by {gap:.3g} on a "
            "random input; edgeml's lowering of some layer does not match Keras. Fix: report "
            "the model's layers, and freeze the unusual ones meanwhile."
        )
