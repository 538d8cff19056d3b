"""Structural types for the models edgeml takes, so that IDEs and type checkers can help.

Keras (3 and tf-keras) ships without complete type information, so edgeml's functions
describe what they need of a model as :class:`typing.Protocol` classes: any Keras model
matches them. The result of ``make_private`` is :class:`edgeml.privacy.PrivateModel`,
which also has ``privacy``. Nothing here imports TensorFlow.

Examples
--------
>>> from edgeml.typing import KerasModel
>>> class Toy:
...     trainable_weights: list = []
...     layers: list = []
...     def __call__(self, *args, **kwargs): return None
...     def compile(self, *args, **kwargs): return None
...     def fit(self, *args, **kwargs): return None
...     def evaluate(self, *args, **kwargs): return None
...     def predict(self, *args, **kwargs): return None
...     def get_weights(self): return []
...     def set_weights(self, weights): return None
...     def save(self, *args, **kwargs): return None
>>> isinstance(Toy(), KerasModel)
True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol, TypeAlias, runtime_checkable

__all__ = ["ConvertibleModel", "KerasModel"]


@runtime_checkable
class KerasModel(Protocol):
    """What edgeml relies on in a Keras model (``keras.Model`` or ``tf_keras.Model``)."""

    @property
    def trainable_weights(self) -> list[Any]:
        """The weights training updates."""

    @property
    def layers(self) -> list[Any]:
        """The model's layers."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the model on inputs."""

    def compile(self, *args: Any, **kwargs: Any) -> Any:
        """Configure the optimizer, the loss and the metrics."""

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        """Train the model."""

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the loss and the metrics on data."""

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """Compute outputs for inputs."""

    def get_weights(self) -> list[Any]:
        """Return all weights as arrays."""

    def set_weights(self, weights: Any) -> None:
        """Set all weights from arrays."""

    def save(self, *args: Any, **kwargs: Any) -> Any:
        """Save the model."""


#: What ``edgeml.convert`` takes: a Keras model, a SavedModel directory, or a
#: ``tf.function`` / concrete function.
ConvertibleModel: TypeAlias = KerasModel | str | os.PathLike[str] | Callable[..., Any]
