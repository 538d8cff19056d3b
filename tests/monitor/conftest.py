"""Real LiteRT models for the monitoring tests, built with TensorFlow's own converter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

N_FEATURES = 4
N_CLASSES = 3


@pytest.fixture(scope="session")
def classifier_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A float32 MLP 4-8-3 with softmax output and seeded random weights, as .tflite."""
    tf = pytest.importorskip("tensorflow")
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((N_FEATURES,)),
            tf.keras.layers.Dense(8, activation="relu"),
            tf.keras.layers.Dense(N_CLASSES, activation="softmax"),
        ]
    )
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    path = tmp_path_factory.mktemp("models") / "classifier.tflite"
    path.write_bytes(content)
    return path


@pytest.fixture(scope="session")
def image_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny conv net on 16x16x3 images with 2 softmax outputs, as .tflite."""
    tf = pytest.importorskip("tensorflow")
    tf.keras.utils.set_random_seed(1)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((16, 16, 3)),
            tf.keras.layers.Conv2D(4, 3, activation="relu"),
            tf.keras.layers.GlobalAveragePooling2D(),
            tf.keras.layers.Dense(2, activation="softmax"),
        ]
    )
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    path = tmp_path_factory.mktemp("models") / "images.tflite"
    path.write_bytes(content)
    return path


@pytest.fixture(scope="session")
def reference() -> np.ndarray:
    """Reference inputs for the classifier: 600 rows of standard normal features."""
    return np.random.default_rng(42).normal(size=(600, N_FEATURES)).astype(np.float32)
