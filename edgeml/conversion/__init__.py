"""Conversion of Keras models, SavedModels and tf.functions to TensorFlow Lite / LiteRT.

``convert`` quantizes (dynamic, float16, int8, int16x8) and checks what came out;
``to_trainable`` exports a model that trains on the device through LiteRT;
``quantize_aware``, ``prune``, ``cluster`` and ``strip`` wrap tensorflow-model-optimization
for tf-keras and Keras 3 models alike; ``read_metadata`` reads the JSON documents stored
inside a ``.tflite`` file. Importing this package is cheap: TensorFlow is imported on
first use of a function that needs it.

Examples
--------
>>> import edgeml.conversion as conversion
>>> "convert" in dir(conversion) and "TFLiteModel" in conversion.__all__
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - names for type checkers and IDEs only
    from edgeml.conversion.converter import convert
    from edgeml.conversion.evaluation import Comparison, compare
    from edgeml.conversion.metadata import read_metadata
    from edgeml.conversion.model import TFLiteModel
    from edgeml.conversion.optimize import (
        LayerIssue,
        check_optimizable,
        cluster,
        prune,
        pruning_callbacks,
        quantize_aware,
        strip,
    )
    from edgeml.conversion.report import ConversionReport, TensorInfo
    from edgeml.conversion.trainable import to_trainable

_LAZY: dict[str, str] = {
    "Comparison": "edgeml.conversion.evaluation",
    "ConversionReport": "edgeml.conversion.report",
    "LayerIssue": "edgeml.conversion.optimize",
    "TFLiteModel": "edgeml.conversion.model",
    "TensorInfo": "edgeml.conversion.report",
    "check_optimizable": "edgeml.conversion.optimize",
    "cluster": "edgeml.conversion.optimize",
    "compare": "edgeml.conversion.evaluation",
    "convert": "edgeml.conversion.converter",
    "prune": "edgeml.conversion.optimize",
    "pruning_callbacks": "edgeml.conversion.optimize",
    "quantize_aware": "edgeml.conversion.optimize",
    "read_metadata": "edgeml.conversion.metadata",
    "strip": "edgeml.conversion.optimize",
    "to_trainable": "edgeml.conversion.trainable",
}

__all__ = [
    "Comparison",
    "ConversionReport",
    "LayerIssue",
    "TFLiteModel",
    "TensorInfo",
    "check_optimizable",
    "cluster",
    "compare",
    "convert",
    "prune",
    "pruning_callbacks",
    "quantize_aware",
    "read_metadata",
    "strip",
    "to_trainable",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'edgeml.conversion' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
