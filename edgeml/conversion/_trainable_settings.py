"""The losses and optimizers ``to_trainable`` supports, and how a request resolves to one.

A loss or optimizer is given as a name or as the Keras object; either resolves to a
canonical name and constant hyperparameters, or is refused with the supported choices.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from edgeml.errors import invalid_argument

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

LossName = Literal[
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
    "mse",
]


def resolve_loss(loss: Any) -> tuple[str, bool]:
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


def resolve_optimizer(optimizer: Any, learning_rate: float | None) -> dict[str, Any]:
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
