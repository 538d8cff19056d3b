"""Which Keras a model belongs to, and the few things DP-SGD needs from it.

edgeml accepts Keras 3 models (``keras``, what ``tf.keras`` is on TensorFlow >= 2.16),
tf-keras models (``tf_keras``) and Keras 2 models (``tf.keras`` on TensorFlow 2.15). The
flavour is read from the model's class, never from ``TF_USE_LEGACY_KERAS``, so importing
another library that sets that variable cannot change how a model is trained.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from edgeml.errors import ConfigError, UnsupportedModelError

__all__ = ["KerasFlavor", "flavor_of", "leaf_layers", "per_example_loss"]


@dataclass(frozen=True)
class KerasFlavor:
    """The Keras package a model comes from.

    Attributes
    ----------
    module : types.ModuleType
        ``keras`` or ``tf_keras``.
    name : str
        ``"keras3"``, ``"tf_keras"`` or ``"keras2"``.
    """

    module: ModuleType
    name: str

    @property
    def is_keras3(self) -> bool:
        """Whether this is Keras 3."""
        return self.name == "keras3"


def flavor_of(model: object) -> KerasFlavor:
    """Return the Keras flavour of ``model`` (from its class, not from the environment).

    Raises
    ------
    UnsupportedModelError
        When ``model`` is not a Keras model.
    """
    roots = {cls.__module__.split(".")[0] for cls in type(model).__mro__}
    if "tf_keras" in roots:
        return KerasFlavor(importlib.import_module("tf_keras"), "tf_keras")
    if "keras" in roots:
        keras = importlib.import_module("keras")
        major = int(str(getattr(keras, "__version__", "3")).split(".")[0])
        return KerasFlavor(keras, "keras3" if major >= 3 else "keras2")
    raise UnsupportedModelError(
        f"make_private needs a Keras model (keras.Model or tf_keras.Model); got "
        f"{type(model).__module__}.{type(model).__name__}."
    )


def _sublayers(layer: Any) -> list[Any]:
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is None:
        return []
    return list(flatten(include_self=False, recursive=False))


def leaf_layers(model: Any) -> Iterator[Any]:
    """Yield the layers of ``model`` that own trainable weights and have no sublayers that do.

    Nested models and layers are walked recursively; each layer is yielded once.
    """
    seen: set[int] = set()

    def walk(layer: Any) -> Iterator[Any]:
        for sub in _sublayers(layer):
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            if any(s.trainable_weights for s in _sublayers(sub)):
                yield from walk(sub)
            elif sub.trainable_weights:
                yield sub

    yield from walk(model)


def _reduction_of(loss: Any) -> str | None:
    reduction = getattr(loss, "reduction", None)
    if reduction is None:
        return None
    return str(getattr(reduction, "value", reduction)).lower()


def _same_rank(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    """Match label and prediction ranks the way Keras' compiled losses do.

    A trailing axis of size 1 on one side and none on the other (``y.shape == (n,)``
    against ``Dense(1)``'s ``(n, 1)``) is added to the lower-rank side when it is 1-D,
    and squeezed from the higher-rank side otherwise. Sparse labels against class
    scores (``(n,)`` against ``(n, classes)``) are left alone.
    """
    import tensorflow as tf  # this module stays importable without TensorFlow

    y_true = tf.convert_to_tensor(y_true)
    y_pred = tf.convert_to_tensor(y_pred)
    true_rank, pred_rank = y_true.shape.rank, y_pred.shape.rank
    if true_rank is None or pred_rank is None or true_rank == pred_rank:
        return y_true, y_pred
    if pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
        if true_rank == 1:
            return tf.expand_dims(y_true, -1), y_pred
        return y_true, tf.squeeze(y_pred, -1)
    if true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
        if pred_rank == 1:
            return y_true, tf.expand_dims(y_pred, -1)
        return tf.squeeze(y_true, -1), y_pred
    return y_true, y_pred


def per_example_loss(model: Any, flavor: KerasFlavor) -> Callable[[Any, Any], Any]:
    """Return the compiled loss as a function giving one value per example.

    The loss is the one the user would compile a non-private model with: a string
    (``"binary_crossentropy"``), a loss function, or a ``Loss`` object with any
    reduction. A ``Loss`` object is used through a copy whose reduction is ``"none"``
    (a batch-averaged loss cannot be clipped per example; edgeml sums the clipped
    per-example gradients and divides by the expected batch size itself). Labels are
    matched to the outputs the way Keras does (1-D labels for ``Dense(1)``); sample
    and class weights are applied by the caller to each example's loss.

    Raises
    ------
    ConfigError
        When the model is not compiled or the loss is not callable.
    UnsupportedModelError
        When the model has several losses (several outputs).
    """
    loss = getattr(model, "loss", None)
    if loss is None:
        raise ConfigError(
            "The private model has no loss. Fix: call model.compile(optimizer=..., "
            "loss=...) before model.fit()."
        )
    if isinstance(loss, (dict, list, tuple)):
        raise UnsupportedModelError(
            "DP-SGD in edgeml supports one loss (one output); the model was compiled with "
            f"{type(loss).__name__} of losses. Fix: combine the outputs into one loss function "
            "that returns one value per example."
        )
    fn: Any
    if isinstance(loss, str):
        fn = flavor.module.losses.get(loss)
    else:
        fn = loss
        reduction = _reduction_of(loss)
        if reduction is not None and reduction != "none":
            fn = copy.copy(loss)
            fn.reduction = "none"
    if not callable(fn):
        raise ConfigError(
            f"The compiled loss {loss!r} is not callable. Fix: compile with a Keras loss "
            "name, function or object."
        )

    def per_example(y_true: Any, y_pred: Any) -> Any:
        return fn(*_same_rank(y_true, y_pred))

    return per_example
