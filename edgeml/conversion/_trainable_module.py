"""The ``tf.Module`` that ``to_trainable`` converts: the lowered head, loss and optimizer.

The loss's gradient is written out (no broadcast-gradient ops) and the optimizer (SGD with
momentum, Adam) is a set of variable updates, assigned only when every new value is
finite; the module's ``tf.function`` methods become the file's signatures.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeml.conversion._trainable_layers import Lowered, activate
from edgeml.errors import invalid_argument

_EPSILON = 1e-7  # Keras' clip of probabilities before a log


def lowered_loss(tf: Any, loss: str, mode: str, num_outputs: int) -> Any:
    """Mean loss over the batch with its gradient written out (no broadcast-gradient ops).

    ``mode`` says what the last layer's pre-activation ``z`` is: ``"softmax"`` /
    ``"sigmoid"`` logits, or ``"output"`` (the prediction itself).
    """

    @tf.custom_gradient  # type: ignore[untyped-decorator]
    def mean_loss(z: Any, target: Any) -> Any:
        n = tf.cast(tf.shape(z)[0], tf.float32)
        width = float(num_outputs)
        if loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
            if mode == "softmax":
                log_p = tf.nn.log_softmax(z)
                p = tf.exp(log_p)
                value = -tf.reduce_sum(target * log_p) / n
                dz = (p * tf.reduce_sum(target, axis=-1, keepdims=True) - target) / n
            else:
                total = tf.reduce_sum(z, axis=-1, keepdims=True)
                ratio = z / total
                p = tf.clip_by_value(ratio, _EPSILON, 1.0 - _EPSILON)
                value = -tf.reduce_sum(target * tf.math.log(p)) / n
                inside = tf.cast((ratio > _EPSILON) & (ratio < 1 - _EPSILON), tf.float32)
                dp = -target / p * inside / n
                dz = (dp - tf.reduce_sum(dp * z, axis=-1, keepdims=True) / total) / total
        elif loss == "binary_crossentropy":
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
            diff = z - target
            value = tf.reduce_sum(tf.square(diff)) / n / width
            dz = 2.0 * diff / n / width

        def grad(g: Any) -> tuple[Any, Any]:
            return g * dz, tf.zeros_like(target)

        return value, grad

    return mean_loss


class Plan:
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


def build_module(tf: Any, plan: Plan, backbone: Any) -> Any:
    trained = [(s, k) for s in plan.steps if s.trainable for k in s.weights]
    optimizer = plan.optimizer
    adam = optimizer["name"] == "adam"
    momentum = optimizer.get("momentum", 0.0)
    loss_fn = lowered_loss(tf, plan.loss, plan.mode, plan.num_outputs)
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
