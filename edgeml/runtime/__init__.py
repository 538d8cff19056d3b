"""Run ``.tflite`` models on a device through LiteRT, without TensorFlow.

:func:`load` returns an :class:`EdgeModel` whose ``predict`` validates inputs, converts
floats to and from quantized tensors exactly as TFLite does, and takes any batch size.
Bad or corrupted model bytes raise :class:`~edgeml.errors.ModelFormatError`, and models
converted by edgeml have their weights checked against the SHA-256 stored inside
(:class:`~edgeml.errors.IntegrityError`). Importing this package loads neither
TensorFlow nor LiteRT; :func:`load` imports LiteRT.

Examples
--------
>>> import numpy as np
>>> import edgeml.runtime
>>> from edgeml.modelfile import example_model
>>> model = edgeml.runtime.load(example_model())
>>> model.predict(np.array([[1.0, 0.0]])).tolist()
[[0.0, 2.0, 4.0]]
"""

from edgeml.runtime._benchmark import BenchmarkResult as BenchmarkResult
from edgeml.runtime._inspect import ModelInfo as ModelInfo
from edgeml.runtime._inspect import inspect_model as inspect_model
from edgeml.runtime._model import EdgeModel as EdgeModel
from edgeml.runtime._model import load as load
from edgeml.runtime._specs import Quantization as Quantization
from edgeml.runtime._specs import Signature as Signature
from edgeml.runtime._specs import TensorSpec as TensorSpec
from edgeml.runtime._training import TrainingHistory as TrainingHistory

__all__ = [
    "BenchmarkResult",
    "EdgeModel",
    "ModelInfo",
    "Quantization",
    "Signature",
    "TensorSpec",
    "TrainingHistory",
    "inspect_model",
    "load",
]
