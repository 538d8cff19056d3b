"""Which layers ``to_trainable`` trains, and the frozen backbone that runs before them.

The layers before the first trained one become one constant-folded function (any layers
the converter handles); the layers from the first trained one on must form a chain,
since each is lowered on its own.
"""

from __future__ import annotations

from typing import Any

from edgeml._optional import require
from edgeml.errors import UnsupportedModelError, invalid_argument


def layers_of(model: Any) -> list[Any]:
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def trainable_set(model: Any, layers: list[Any], trainable_layers: Any) -> set[int]:
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


def shape_of(tensor: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in tuple(tensor.shape))


def check_chain(model: Any, head: list[Any]) -> None:
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


def frozen_backbone(tf: Any, model: Any, kind: str, head: list[Any], in_spec: Any) -> Any:
    """Return a constant-folded function computing the frozen layers before the head."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    keras = require("tf_keras" if kind == "tf_keras" else "keras", extra="tf", feature="Keras")
    sub = keras.Model(model.inputs, head[0].input)
    function = tf.function(lambda x: sub(x, training=False))
    return convert_variables_to_constants_v2(function.get_concrete_function(in_spec))
