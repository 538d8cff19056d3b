"""Rebuild a Keras 3 model as tf-keras (Keras 2) so tensorflow-model-optimization accepts it.

The architecture is translated layer by layer (each layer's config, with Keras 3
serialization details mapped to tf-keras), connected the same way, and the weights are
copied by layer name. The copy is then run next to the original on the same random
inputs: outputs must agree to 1e-6 (relative to the output scale) or nothing is returned.

What cannot be translated (subclassed models, nested models, custom layers, settings
tf-keras lacks) is reported per layer, before any work, by :func:`translation_issues`.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeml._display import to_jsonable
from edgeml.conversion._tfmot import tf_keras
from edgeml.errors import UnsupportedModelError

__all__ = ["LayerIssue", "rebuild_as_tf_keras", "translate_layer", "translation_issues"]

logger = logging.getLogger("edgeml.conversion")

_TOLERANCE = 1e-6
# Config keys tf-keras layers do not know; they are dropped when they hold these values.
_DEFAULTS_SAFE_TO_DROP: dict[str, tuple[Any, ...]] = {
    "quantization_config": (None,),
    "lora_rank": (None, 0),
    "lora_alpha": (None,),
    "synchronized": (False,),
    "seed": (None,),
}
# Initializers only matter before training; the copied weights replace them.
_INITIALIZER_SUFFIX = "_initializer"


@dataclass(frozen=True)
class LayerIssue:
    """A layer an optimization cannot handle, and why.

    Attributes
    ----------
    layer : str
        The layer's name.
    layer_class : str
        Its class name.
    reason : str
        What is wrong and what to do.
    """

    layer: str
    layer_class: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(to_jsonable(self.__dict__))

    def __str__(self) -> str:
        return f"{self.layer} ({self.layer_class}): {self.reason}"


def _is_keras3_model(obj: Any) -> bool:
    return any(
        c.__module__.startswith("keras.") and c.__name__ in ("Functional", "Sequential")
        for c in type(obj).__mro__
    )


def _translate_value(key: str, value: Any) -> Any:
    """Map one Keras 3 config value to its tf-keras spelling."""
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        if value["class_name"] == "DTypePolicy" or value["class_name"] == "FloatDTypePolicy":
            return value["config"]["name"]
        inner = value["config"]
        config = (
            {k: _translate_value(k, v) for k, v in inner.items()}
            if isinstance(inner, dict)
            else inner
        )
        return {"class_name": value["class_name"], "config": config}
    return value


def translate_layer(layer: Any) -> tuple[Any | None, str | None]:
    """Return an unbuilt tf-keras copy of a Keras 3 layer, or ``(None, reason)``."""
    keras2 = tf_keras()
    class_name = type(layer).__name__
    if hasattr(layer, "layers") and class_name != "InputLayer":
        return None, "nested model; flatten it into the outer model first"
    if class_name == "Lambda":
        return (
            None,
            "Lambda layers hold Python code that cannot be translated; use a built-in layer",
        )
    target = getattr(keras2.layers, class_name, None)
    if target is None or type(layer).__module__.split(".")[0] != "keras":
        return None, "custom or Keras-3-only layer with no tf-keras equivalent"
    try:
        config = dict(layer.get_config())
    except NotImplementedError:
        return None, "the layer does not implement get_config()"
    translated: dict[str, Any] = {}
    accepted = {"name", "trainable", "dtype"}
    for cls in target.__mro__:
        if issubclass(cls, keras2.layers.Layer) and "__init__" in vars(cls):
            accepted |= set(inspect.signature(cls.__init__).parameters)
    for key, value in config.items():
        if key.endswith(_INITIALIZER_SUFFIX):
            continue
        if key == "dtype" and isinstance(value, dict):
            policy = value.get("config", {}).get("name", "float32")
            if policy != "float32":
                return None, f"dtype policy {policy!r}; tfmot needs float32 layers"
        if key not in accepted:
            if value in _DEFAULTS_SAFE_TO_DROP.get(key, ()) or value is None:
                continue
            return None, f"setting {key}={value!r} has no tf-keras equivalent"
        translated[key] = _translate_value(key, value)
    try:
        return target.from_config(translated), None
    except Exception as exc:
        return None, f"tf-keras cannot build it from its config ({exc})"


def _layers(model: Any) -> list[Any]:
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def translation_issues(model: Any) -> list[LayerIssue]:
    """List the layers of a Keras 3 model that cannot be rebuilt as tf-keras."""
    if not _is_keras3_model(model):
        return [
            LayerIssue(
                getattr(model, "name", "model"),
                type(model).__name__,
                "subclassed model: only Sequential and functional models can be rebuilt; "
                "build it with keras.Sequential or keras.Model(inputs, outputs)",
            )
        ]
    issues = []
    for layer in _layers(model):
        copy, reason = translate_layer(layer)
        if copy is None:
            issues.append(LayerIssue(layer.name, type(layer).__name__, str(reason)))
    return issues


def _input(keras2: Any, tensor: Any, name: str) -> Any:
    return keras2.Input(shape=tuple(tensor.shape[1:]), dtype=str(tensor.dtype), name=name)


def _build_functional(model: Any, copies: dict[str, Any]) -> Any:
    import keras

    keras2 = tf_keras()
    tensors: dict[int, Any] = {}
    inputs = []
    for tensor in model.inputs:
        layer = tensor._keras_history.operation
        created = _input(keras2, tensor, layer.name)
        tensors[id(tensor)] = created
        inputs.append(created)

    def mapped(value: Any) -> Any:
        return tensors[id(value)] if isinstance(value, keras.KerasTensor) else value

    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            layer = node.operation
            if type(layer).__name__ == "InputLayer":
                continue
            args = keras.tree.map_structure(mapped, node.arguments.args)
            kwargs = {
                k: keras.tree.map_structure(mapped, v)
                for k, v in node.arguments.kwargs.items()
                if v is not None
            }
            outputs = copies[layer.name](*args, **kwargs)
            for original, created in zip(
                keras.tree.flatten(node.outputs), keras.tree.flatten(outputs), strict=True
            ):
                tensors[id(original)] = created
    outputs = keras.tree.map_structure(lambda t: tensors[id(t)], model.outputs)
    return keras2.Model(inputs, outputs, name=model.name)


def _build(model: Any, copies: dict[str, Any]) -> Any:
    keras2 = tf_keras()
    if type(model).__name__ == "Sequential":
        first = model.inputs[0]
        layers = [copies[layer.name] for layer in _layers(model)]
        return keras2.Sequential([_input(keras2, first, "input"), *layers], name=model.name)
    return _build_functional(model, copies)


def _check_outputs(original: Any, rebuilt: Any, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    samples = []
    for tensor in original.inputs:
        shape = (4, *[d or 1 for d in tuple(tensor.shape)[1:]])
        dtype = np.dtype(str(tensor.dtype))
        samples.append(
            rng.normal(size=shape).astype(dtype)
            if np.issubdtype(dtype, np.floating)
            else np.zeros(shape, dtype)
        )
    x = samples[0] if len(samples) == 1 else samples
    expected = [np.asarray(o) for o in _as_list(original(x, training=False))]
    actual = [np.asarray(o) for o in _as_list(rebuilt(x, training=False))]
    worst = 0.0
    for e, a in zip(expected, actual, strict=True):
        scale = max(1.0, float(np.abs(e).max()))
        worst = max(worst, float(np.abs(e - a).max()) / scale)
    return worst


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def rebuild_as_tf_keras(model: Any) -> Any:
    """Return a tf-keras copy of a Keras 3 Sequential or functional model.

    Raises
    ------
    UnsupportedModelError
        Listing every layer that cannot be translated, or when the copy's outputs
        differ from the original's by more than 1e-6.
    """
    issues = translation_issues(model)
    if issues:
        raise UnsupportedModelError(
            "This Keras 3 model cannot be rebuilt as tf-keras for "
            "tensorflow-model-optimization: "
            + "; ".join(map(str, issues))
            + ". Fix: replace those layers, or build the model with tf_keras directly."
        )
    copies = {layer.name: translate_layer(layer)[0] for layer in _layers(model)}
    rebuilt = _build(model, copies)
    for layer in _layers(model):
        weights = layer.get_weights()
        target = rebuilt.get_layer(layer.name)
        try:
            target.set_weights(weights)
        except ValueError as exc:
            raise UnsupportedModelError(
                f"Layer {layer.name!r} ({type(layer).__name__}): its weights do not fit the "
                f"tf-keras copy ({exc})."
            ) from exc
    difference = _check_outputs(model, rebuilt)
    if difference > _TOLERANCE:
        raise UnsupportedModelError(
            f"The tf-keras copy of {model.name!r} computes different outputs (relative "
            f"difference {difference:.2g} > {_TOLERANCE}); it is not used. Fix: build the "
            "model with tf_keras directly."
        )
    logger.warning(
        "Rebuilt Keras 3 model %r as a tf-keras model for tensorflow-model-optimization "
        "(%d layers, weights copied by name, outputs equal within %.1g). The returned "
        "model is a tf_keras.Model: compile and fit it with tf_keras.",
        model.name,
        len(copies),
        difference,
    )
    return rebuilt
