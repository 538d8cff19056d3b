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
from typing import Any

from edgeml import modelfile as _metadata
from edgeml._optional import require
from edgeml.conversion._quiet import quiet_tensorflow
from edgeml.conversion._sources import kind_of
from edgeml.conversion._trainable_backbone import (
    check_chain,
    frozen_backbone,
    layers_of,
    shape_of,
    trainable_set,
)
from edgeml.conversion._trainable_layers import Lowered, lower
from edgeml.conversion._trainable_module import Plan, build_module
from edgeml.conversion._trainable_settings import (
    LOSSES,
    OPTIMIZERS,
    LossName,
    resolve_loss,
    resolve_optimizer,
)
from edgeml.conversion._trainable_verify import builtin_names, check_agreement
from edgeml.conversion.model import TFLiteModel
from edgeml.conversion.report import analyze
from edgeml.errors import UnsupportedModelError, invalid_argument
from edgeml.modelfile import TRAINING_ENTRY

__all__ = ["LOSSES", "OPTIMIZERS", "TRAINING_ENTRY", "to_trainable"]

logger = logging.getLogger("edgeml.conversion")

#: Name of the metadata document that describes a trainable model's signatures.


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
    loss_name, from_logits = resolve_loss(loss)
    settings = resolve_optimizer(optimizer, learning_rate)
    tf = require("tensorflow", extra="tf", feature="On-device training export")
    layers = layers_of(model)
    chosen = trainable_set(model, layers, trainable_layers)
    first = min(chosen)
    head = layers[first:]
    check_chain(model, head)
    for layer in head:
        if hasattr(layer, "layers"):
            raise UnsupportedModelError(
                f"Layer {layer.name!r} is a nested model; to_trainable runs nested models "
                "only as part of the frozen backbone. Fix: freeze it (layer.trainable = "
                "False) with the layers before it, and train layers after it."
            )
    steps: list[Lowered] = []
    for index, layer in enumerate(head):
        in_shape = shape_of(layer.input)[1:]
        steps.append(
            lower(tf, layer, tuple(int(d or 0) for d in in_shape), first + index in chosen)
        )
    in_shape = shape_of(model.inputs[0])
    plan = Plan(steps, settings, loss_name, from_logits, in_shape, shape_of(model.outputs[0]))
    start = time.perf_counter()
    with quiet_tensorflow():
        in_spec = tf.TensorSpec((None, *in_shape[1:]), tf.float32)
        backbone = frozen_backbone(tf, model, kind, head, in_spec) if first else None
        module = build_module(tf, plan, backbone)
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
    foreign = sorted(set(report.op_counts) - builtin_names())
    if foreign or report.flex_ops:
        raise UnsupportedModelError(
            f"The trainable model would need ops that are not LiteRT builtins: "
            f"{foreign or list(report.flex_ops)}; no pip interpreter can run them. Fix: "
            "freeze the layers that need them."
        )
    check_agreement(model, model_bytes, in_shape, 0.05 if quantize_backbone else 1e-4)
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
