"""Models for the metadata tests, built with TensorFlow's own converter (not edgeml's)."""

from __future__ import annotations

import numpy as np
import pytest


def _convert(model: object, *, int8: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.normal(size=(1, 8)).astype(np.float32)] for _ in range(64)
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return bytes(converter.convert())


@pytest.fixture(scope="session")
def mlp_models() -> dict[str, bytes]:
    """A float and an int8 (int8 I/O) MLP 8-16-3 with seeded weights."""
    tf = pytest.importorskip("tensorflow")
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((8,)),
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(3),
        ]
    )
    return {"float": _convert(model, int8=False), "int8": _convert(model, int8=True)}
