"""Steps through LiteRT equal Keras' own training steps (the independent reference).

Keras' ``train_on_batch`` with its own optimizer is the oracle: edgeml's lowering,
gradients and optimizer updates are separate code, so equal losses and weights after
several steps check all three.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import edgeml
from edgeml.conversion import to_trainable


def _steps(model: Any, edge: Any, x: np.ndarray, y: np.ndarray, n: int = 4) -> None:
    for i in range(n):
        batch = slice(16 * i, 16 * i + 16)
        ours = edge.train_step(x[batch], y[batch])
        theirs = float(np.ravel(model.train_on_batch(x[batch], y[batch]))[0])
        assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-6), f"step {i}"


def _trained_weights(model: Any, edge: Any) -> None:
    trained = [layer for layer in model.layers if layer.trainable and layer.get_weights()]
    expected = [w for layer in trained for w in layer.get_weights()]
    got = edge.get_weights()
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_keras3_mlp_adam(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    import keras

    keras.utils.set_random_seed(1)
    x, y = blobs
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.0),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    edge = edgeml.load(
        to_trainable(model, loss="sparse_categorical_crossentropy", optimizer="adam").bytes
    )
    np.testing.assert_allclose(edge.predict(x), model.predict(x, verbose=0), atol=1e-6)
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    _steps(model, edge, x, y)
    _trained_weights(model, edge)
    loss, accuracy = model.evaluate(x, y, verbose=0, batch_size=len(x))
    result = edge.evaluate(x, y, batch_size=40)
    assert result["loss"] == pytest.approx(loss, rel=1e-5)
    assert result["accuracy"] == pytest.approx(accuracy)
    assert result["num_examples"] == len(x)


def test_tf_keras_frozen_layer_sgd_momentum(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    tf_keras = pytest.importorskip("tf_keras")
    tf_keras.utils.set_random_seed(2)
    x, y = blobs
    model = tf_keras.Sequential(
        [
            tf_keras.Input((4,)),
            tf_keras.layers.Dense(16, activation="relu6"),
            tf_keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.layers[0].trainable = False
    optimizer = tf_keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)
    tfl = to_trainable(model, loss="sparse_categorical_crossentropy", optimizer=optimizer)
    edge = edgeml.load(tfl.bytes)
    assert tfl.metadata["on_device_training"]["frozen_layers"] == [model.layers[0].name]
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    _steps(model, edge, x, y)
    _trained_weights(model, edge)


@pytest.mark.parametrize(
    ("loss", "activation"),
    [
        ("mse", "linear"),
        ("binary_crossentropy", "sigmoid"),
        ("categorical_crossentropy", "softmax"),
    ],
)
def test_other_losses(blobs: tuple[np.ndarray, np.ndarray], loss: str, activation: str) -> None:
    import keras

    keras.utils.set_random_seed(3)
    x, labels = blobs
    y = np.eye(3, dtype=np.float32)[labels]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=activation)])
    edge = edgeml.load(to_trainable(model, loss=loss, optimizer="sgd", learning_rate=0.1).bytes)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    _steps(model, edge, x, y)


def test_cnn_head_on_frozen_backbone(images: tuple[np.ndarray, np.ndarray]) -> None:
    """A frozen conv backbone (any layers) with a trained strided Conv2D and Dense head."""
    import keras

    keras.utils.set_random_seed(4)
    x, y = images
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="frozen_conv")(inputs)
    h = keras.layers.MaxPooling2D(name="frozen_pool")(h)
    h = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv")(h)
    h = keras.layers.Flatten()(h)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(h)
    model = keras.Model(inputs, outputs)
    for name in ("frozen_conv", "frozen_pool"):
        model.get_layer(name).trainable = False
    tfl = to_trainable(model, loss="sparse_categorical_crossentropy", optimizer="sgd")
    assert tfl.metadata["on_device_training"]["trained_layers"] == ["conv", "head"]
    edge = edgeml.load(tfl.bytes)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    for i in range(3):
        batch = slice(16 * i, 16 * i + 16)
        ours = edge.train_step(x[batch], y[batch])
        assert ours == pytest.approx(float(model.train_on_batch(x[batch], y[batch])), rel=1e-5)
    _trained_weights(model, edge)


def test_ops_are_builtin_and_no_flex_gradients(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    import keras
    from ai_edge_litert.tools import flatbuffer_utils

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu")])
    tfl = to_trainable(model, loss="mse")
    builtin = {n for n in vars(flatbuffer_utils.schema_fb.BuiltinOperator) if n.isupper()}
    assert set(tfl.report.op_counts) <= builtin
    assert tfl.report.flex_ops == ()
    assert {"VAR_HANDLE", "ASSIGN_VARIABLE", "READ_VARIABLE"} <= set(tfl.report.op_counts)


def test_two_trained_convolutions_and_depthwise(images: tuple[np.ndarray, np.ndarray]) -> None:
    """Input gradients of Conv2D and DepthwiseConv2D (TRANSPOSE_CONV), strided too."""
    import keras

    keras.utils.set_random_seed(6)
    x, y = images
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw"),
            keras.layers.Conv2D(3, 3, activation="tanh", name="c1"),
            keras.layers.DepthwiseConv2D(2, depth_multiplier=2, strides=2, name="dw2"),
            keras.layers.Conv2D(4, 2, strides=2, activation="sigmoid", name="c2"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    tfl = to_trainable(model, loss="sparse_categorical_crossentropy", optimizer="adam")
    assert "TRANSPOSE_CONV" in tfl.report.op_counts
    edge = edgeml.load(tfl.bytes)
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    _steps(model, edge, x, y, n=3)
    _trained_weights(model, edge)


def test_int8_backbone_trains(images: tuple[np.ndarray, np.ndarray]) -> None:
    import keras

    keras.utils.set_random_seed(8)
    x, y = images
    x = np.repeat(x, 4, axis=-1)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 4)),
            # > 1024 weights: the converter leaves smaller tensors in float
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax", name="head"),
        ]
    )
    float_file = to_trainable(model, loss="sparse_categorical_crossentropy", trainable_layers=[-1])
    int8_file = to_trainable(
        model, loss="sparse_categorical_crossentropy", trainable_layers=[-1], quantize_backbone=True
    )
    assert len(int8_file.bytes) < len(float_file.bytes)
    assert "int8" in int8_file.report.weight_dtypes
    edge = edgeml.load(int8_file.bytes)
    history = edge.fit(x, y, epochs=10, batch_size=16, seed=0)
    assert history.losses[-1] < history.losses[0]


def test_tf_keras_frozen_conv_backbone(images: tuple[np.ndarray, np.ndarray]) -> None:
    tf_keras = pytest.importorskip("tf_keras")
    tf_keras.utils.set_random_seed(9)
    x, y = images
    backbone = tf_keras.Sequential(
        [
            tf_keras.Input((8, 8, 1)),
            tf_keras.layers.Conv2D(4, 3, activation="relu"),
            tf_keras.layers.AveragePooling2D(),
        ],
        name="backbone",
    )
    backbone.trainable = False
    model = tf_keras.Sequential(
        [
            tf_keras.Input((8, 8, 1)),
            backbone,
            tf_keras.layers.Flatten(),
            tf_keras.layers.Dense(3, activation="softmax"),
        ]
    )
    tfl = to_trainable(model, loss="sparse_categorical_crossentropy", optimizer="sgd")
    assert tfl.metadata["on_device_training"]["frozen_layers"][0] == "backbone"
    edge = edgeml.load(tfl.bytes)
    model.compile(optimizer=tf_keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    _steps(model, edge, x, y, n=3)


@pytest.mark.parametrize("pooling", ["MaxPooling2D", "AveragePooling2D"])
def test_trained_convolutions_through_pooling(pooling: str) -> None:
    """Pooling after a trained layer, with a window that leaves a spare row and column."""
    import keras

    keras.utils.set_random_seed(11)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(48, 9, 9, 1)).astype(np.float32)
    y = rng.integers(0, 3, 48)
    pool = getattr(keras.layers, pooling)
    model = keras.Sequential(
        [
            keras.Input((9, 9, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            pool(2),
            keras.layers.Conv2D(3, 2, activation="relu"),
            pool(2),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    edge = edgeml.load(
        to_trainable(
            model, loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.1
        ).bytes
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    _steps(model, edge, x, y, n=3)
    _trained_weights(model, edge)


@pytest.mark.parametrize("binary", [False, True])
def test_keras_loss_objects_from_logits(blobs: tuple[np.ndarray, np.ndarray], binary: bool) -> None:
    import keras

    keras.utils.set_random_seed(12)
    x, labels = blobs
    if binary:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        y = (labels == 0).astype(np.float32)[:, None]
        units = 1
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        y, units = labels, 3
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])
    tfl = to_trainable(model, loss=loss, optimizer=keras.optimizers.SGD(0.2))
    assert tfl.metadata["on_device_training"]["output_is_logits"] is True
    edge = edgeml.load(tfl.bytes)
    model.compile(optimizer=keras.optimizers.SGD(0.2), loss=loss)
    _steps(model, edge, x, y)
    logits = model.predict(x, verbose=0)
    expected = (logits[:, 0] > 0) == (y[:, 0] > 0.5) if binary else logits.argmax(1) == y
    assert edge.evaluate(x, y)["accuracy"] == pytest.approx(float(np.mean(expected)))
