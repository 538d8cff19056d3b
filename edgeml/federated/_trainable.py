"""What a federated client trains: a small protocol, and its Keras implementation.

The client app only needs four things from a model: read its weights, write them,
train on local data, evaluate. :class:`Trainable` names them, so a second backend
(an on-device trainable ``.tflite`` loaded with :func:`edgeml.load`, whose
``get_weights``/``set_weights``/``fit`` run without TensorFlow) can plug in by
satisfying the protocol. :class:`KerasTrainable` adapts a Keras model, with the user's
``compile`` and ``fit`` settings and optional local DP-SGD through
:func:`edgeml.privacy.make_private`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from edgeml.errors import ConfigError, UnsupportedModelError, invalid_argument
from edgeml.privacy.accounting import Ledger

__all__ = ["KerasTrainable", "LocalDP", "Trainable", "as_trainable"]


@runtime_checkable
class Trainable(Protocol):
    """A model a federated client can train.

    ``fit`` and ``evaluate`` return final metrics as plain floats (``{"loss": 0.3}``);
    only those and the weights leave the device.
    """

    def get_weights(self) -> list[np.ndarray]:
        """Return the trainable state as numpy arrays, in a fixed order."""
        ...

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Overwrite the state with arrays of the same shapes, in the same order."""
        ...

    def fit(self, x: Any, y: Any) -> Mapping[str, float]:
        """Train on local data; return the final training metrics."""
        ...

    def evaluate(self, x: Any, y: Any) -> Mapping[str, float]:
        """Evaluate on local data; return the metrics."""
        ...


@dataclass(frozen=True)
class LocalDP:
    """Example-level DP-SGD on each device (local training through ``make_private``).

    Each device keeps its own ledger (in the Flower node state) and stops training
    when its ``target_epsilon`` would be exceeded. This protects each example inside a
    device's update; the client-level guarantee comes from
    :class:`~edgeml.federated.ClientLevelDP` on the server.

    Parameters
    ----------
    l2_norm_clip : float
    noise_multiplier : float
    batch_size : int
    delta : float, default 1e-5
        Must be below ``1 / local examples``.
    target_epsilon : float, optional
        The device's example-level budget over all rounds.
    """

    l2_norm_clip: float
    noise_multiplier: float
    batch_size: int
    delta: float = 1e-5
    target_epsilon: float | None = None


def _final(history: Any) -> dict[str, float]:
    logs = getattr(history, "history", {}) or {}
    out: dict[str, float] = {}
    for key, values in logs.items():
        if values:
            value = float(values[-1])
            if math.isfinite(value):
                out[str(key)] = value
    return out


class KerasTrainable:
    """Adapt a Keras model (Keras 3 or tf-keras) to :class:`Trainable`.

    Parameters
    ----------
    model : keras.Model
        A built model; compiled here with ``compile`` before each ``fit``.
    compile : mapping, optional
        Keyword arguments of ``model.compile`` (optimizer, loss, metrics).
    fit : mapping, optional
        Keyword arguments of ``model.fit`` (epochs, batch_size, ...); ``verbose=0``
        unless given.
    local_dp : LocalDP, optional
        Train with DP-SGD through :func:`edgeml.privacy.make_private`.
    ledger : Ledger, optional
        The device's ledger for ``local_dp`` (kept across rounds by the client app).

    Examples
    --------
    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> t = KerasTrainable(model, compile={"optimizer": "sgd",
    ...                    "loss": "sparse_categorical_crossentropy"}, fit={"epochs": 1})
    >>> [w.shape for w in t.get_weights()]
    [(3, 2), (2,)]
    """

    def __init__(
        self,
        model: Any,
        *,
        compile: Mapping[str, Any] | None = None,
        fit: Mapping[str, Any] | None = None,
        local_dp: LocalDP | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        if not all(hasattr(model, name) for name in ("get_weights", "set_weights", "fit")):
            raise UnsupportedModelError(
                f"KerasTrainable needs a Keras model; got {type(model).__name__}. Fix: "
                "return a keras.Model from model_fn, or an object with get_weights, "
                "set_weights, fit and evaluate (the Trainable protocol)."
            )
        self.model = model
        self.compile_kwargs = dict(compile or {})
        self.fit_kwargs = {"verbose": 0, **dict(fit or {})}
        self.local_dp = local_dp
        self.ledger = ledger

    def get_weights(self) -> list[np.ndarray]:
        """Return the model's weights (trainable and not) as numpy arrays."""
        return [np.asarray(w) for w in self.model.get_weights()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Set the model's weights."""
        self.model.set_weights(list(weights))

    def fit(self, x: Any, y: Any) -> dict[str, float]:
        """Compile (with local DP-SGD if configured) and train; return final metrics."""
        model = self.model
        kwargs = dict(self.fit_kwargs)
        if self.local_dp is not None:
            from edgeml.privacy import make_private

            dp = self.local_dp
            if self.ledger is None:
                self.ledger = Ledger(delta=dp.delta, budget=dp.target_epsilon)
            model = make_private(
                model,
                l2_norm_clip=dp.l2_norm_clip,
                noise_multiplier=dp.noise_multiplier,
                delta=dp.delta,
                num_examples=len(x),
                batch_size=min(dp.batch_size, len(x)),
                ledger=self.ledger,
            )
            kwargs.pop("batch_size", None)
            self.model = model
        if self.compile_kwargs:
            model.compile(**self.compile_kwargs)
        elif self.local_dp is not None:
            raise ConfigError(
                "Local DP-SGD needs the compile settings to recompile the private model. "
                "Fix: pass compile={'optimizer': ..., 'loss': ...} to client_app."
            )
        return _final(model.fit(x, y, **kwargs))

    def evaluate(self, x: Any, y: Any) -> dict[str, float]:
        """Evaluate the model; return its metrics by name."""
        model = self.model
        if self.compile_kwargs and getattr(model, "optimizer", None) is None:
            model.compile(**self.compile_kwargs)
        values = model.evaluate(x, y, verbose=0, return_dict=True)
        return {str(k): float(v) for k, v in values.items() if math.isfinite(float(v))}


def as_trainable(
    obj: Any,
    *,
    compile: Mapping[str, Any] | None = None,
    fit: Mapping[str, Any] | None = None,
    local_dp: LocalDP | None = None,
    ledger: Ledger | None = None,
) -> Trainable:
    """Wrap a Keras model in :class:`KerasTrainable`; pass any other Trainable through.

    Parameters
    ----------
    obj : keras.Model or Trainable
    compile, fit, local_dp, ledger
        As for :class:`KerasTrainable` (only used for Keras models).

    Returns
    -------
    Trainable

    Raises
    ------
    UnsupportedModelError
        For an object that is neither.
    """
    is_keras = hasattr(obj, "compile") and hasattr(obj, "get_weights") and hasattr(obj, "layers")
    if is_keras:
        return KerasTrainable(obj, compile=compile, fit=fit, local_dp=local_dp, ledger=ledger)
    if isinstance(obj, Trainable):
        if local_dp is not None:
            raise invalid_argument(
                "client_app",
                "local_dp",
                local_dp,
                "None for a non-Keras model",
                fix="local DP-SGD is only implemented for Keras models",
            )
        return obj
    raise UnsupportedModelError(
        f"model_fn returned {type(obj).__name__}, which is neither a Keras model nor a "
        "Trainable (get_weights, set_weights, fit, evaluate). Fix: return a keras.Model."
    )
