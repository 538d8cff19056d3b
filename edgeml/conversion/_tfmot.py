"""The one place edgeml imports tensorflow-model-optimization (tfmot).

Importing tfmot runs ``os.environ["TF_USE_LEGACY_KERAS"] = "1"`` and then reads
``tf.keras``. If TensorFlow had not decided what ``tf.keras`` means yet, that read makes
it tf-keras (Keras 2) for the rest of the process, and the variable stays set for any
child process: a user's Keras 3 code would silently start running on another Keras.
:func:`tfmot` prevents both: it lets ``tf.keras`` resolve under the user's own settings
first, imports tfmot, and puts ``TF_USE_LEGACY_KERAS`` back the way it was.
"""

from __future__ import annotations

import os
import threading
import warnings
from types import ModuleType

from edgeml._optional import require

__all__ = ["tf_keras", "tfmot"]

_ENV_VAR = "TF_USE_LEGACY_KERAS"
_LOCK = threading.Lock()


def tfmot() -> ModuleType:
    """Import ``tensorflow_model_optimization`` without changing the user's Keras.

    Returns
    -------
    types.ModuleType
        The ``tensorflow_model_optimization`` package.

    Raises
    ------
    MissingDependencyError
        When tensorflow-model-optimization (or tf-keras) is not installed.
    """
    with _LOCK:
        tf = require("tensorflow", extra="tf", feature="Model optimization")
        # Resolve tf.keras now, under the user's environment, so tfmot's import-time
        # access cannot re-resolve it as tf-keras.
        getattr(tf.keras, "Model", None)
        before = os.environ.get(_ENV_VAR)
        try:
            require("tf_keras", extra="tf", feature="Model optimization")
            with warnings.catch_warnings():  # tfmot's own distutils deprecation notice
                warnings.simplefilter("ignore", DeprecationWarning)
                return require(
                    "tensorflow_model_optimization", extra="tf", feature="Model optimization"
                )
        finally:
            if before is None:
                os.environ.pop(_ENV_VAR, None)
            else:
                os.environ[_ENV_VAR] = before


def tf_keras() -> ModuleType:
    """Import ``tf_keras`` (Keras 2), which tfmot works with.

    Returns
    -------
    types.ModuleType
        The ``tf_keras`` package.
    """
    return require("tf_keras", extra="tf", feature="Model optimization")
