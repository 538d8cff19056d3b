"""Shared fixtures: scikit-learn's digits and tiny models trained once per session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")


@dataclass(frozen=True)
class Digits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def images(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(-1, 8, 8, 1)


@pytest.fixture(scope="session")
def digits() -> Digits:
    """sklearn digits, pixels scaled to [0, 1], 80/20 stratified split with seed 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    return Digits(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64))


def _fit(model: Any, x: np.ndarray, y: np.ndarray, epochs: int) -> Any:
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, shuffle=False)
    return model


@pytest.fixture(scope="session")
def mlp(digits: Digits) -> Any:
    """Keras 3 MLP 64-64-10 trained on digits (reaches ~0.97 test accuracy)."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,), name="pixels"),
            keras.layers.Dense(64, activation="relu", name="hidden"),
            keras.layers.Dense(10, activation="softmax", name="scores"),
        ],
        name="mlp",
    )
    return _fit(model, digits.x_train, digits.y_train, epochs=25)


@pytest.fixture(scope="session")
def cnn(digits: Digits) -> Any:
    """Keras 3 small CNN on 8x8x1 digit images."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(inputs)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    outputs = keras.layers.Dense(10, activation="softmax", name="scores")(h)
    model = keras.Model(inputs, outputs, name="cnn")
    return _fit(model, digits.images(digits.x_train), digits.y_train, epochs=20)


@pytest.fixture(scope="session")
def tf_keras_mlp(digits: Digits) -> Any:
    """The same MLP built and trained with tf-keras (Keras 2)."""
    from edgeml.conversion._tfmot import tf_keras

    keras2 = tf_keras()
    keras2.utils.set_random_seed(0)
    model = keras2.Sequential(
        [
            keras2.Input((64,), name="pixels"),
            keras2.layers.Dense(64, activation="relu", name="hidden"),
            keras2.layers.Dense(10, activation="softmax", name="scores"),
        ]
    )
    return _fit(model, digits.x_train, digits.y_train, epochs=25)


def _keras_accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


@pytest.fixture(scope="session")
def float_accuracy() -> Any:
    """Accuracy of a float model computed by Keras itself (independent of the interpreter)."""
    return _keras_accuracy


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
