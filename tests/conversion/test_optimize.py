"""tfmot wrappers: Keras 3 rebuild, layer checks, QAT calibration, pruning, clustering.

Expected structure is checked on the weights themselves (zeros counted, distinct values
counted), not taken from tfmot's own reports.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from edgeml.conversion import (
    check_optimizable,
    cluster,
    convert,
    prune,
    pruning_callbacks,
    quantize_aware,
    strip,
)
from edgeml.errors import ConfigError, UnsupportedModelError

pytestmark = pytest.mark.tf


def _compile(model: Any) -> Any:
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _kernels(model: Any) -> list[np.ndarray]:
    return [
        w for layer in model.layers for w in layer.get_weights() if w.ndim == 2 and w.size >= 640
    ]


def _run(code: str, env: dict[str, str] | None = None) -> str:
    full_env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    full_env.update(env or {})
    full_env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_tfmot_import_does_not_change_users_keras() -> None:
    # tfmot's own import sets TF_USE_LEGACY_KERAS=1 before tf.keras is resolved; a bare
    # `import tensorflow_model_optimization` there turns tf.keras into Keras 2.
    bare = _run(
        "import tensorflow as tf, tensorflow_model_optimization, os\n"
        "print(tf.keras.Model.__module__.split('.')[0], os.environ.get('TF_USE_LEGACY_KERAS'))"
    )
    assert bare == "tf_keras 1"  # the trap exists
    guarded = _run(
        "import tensorflow as tf, os\n"
        "import keras\n"
        "from edgeml.conversion import check_optimizable\n"
        "check_optimizable(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))\n"
        "print(tf.keras.Model.__module__.split('.')[0], os.environ.get('TF_USE_LEGACY_KERAS'),\n"
        "      isinstance(tf.keras.layers.Dense(1), keras.layers.Layer))"
    )
    assert guarded == "keras None True"


def test_users_own_legacy_setting_is_kept() -> None:
    out = _run(
        "import os, tensorflow as tf\n"
        "from edgeml.conversion._tfmot import tfmot\n"
        "tfmot()\n"
        "print(tf.keras.Model.__module__.split('.')[0], os.environ.get('TF_USE_LEGACY_KERAS'))",
        env={"TF_USE_LEGACY_KERAS": "1"},
    )
    assert out == "tf_keras 1"


def test_no_leak_in_this_process(mlp: Any) -> None:
    import tensorflow as tf

    check_optimizable(mlp)
    assert "TF_USE_LEGACY_KERAS" not in os.environ
    assert tf.keras.version().startswith("3.")


def test_keras3_functional_rebuild_is_exact(caplog: Any) -> None:
    import keras
    import tf_keras

    keras.utils.set_random_seed(3)
    layers = keras.layers
    inputs = keras.Input((8, 8, 1), name="image")
    conv = layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    first = layers.ReLU(name="relu")(layers.BatchNormalization(name="norm")(conv))
    depthwise = layers.DepthwiseConv2D(3, padding="same", name="depthwise")(first)
    second = layers.ReLU(name="relu2")(layers.BatchNormalization(name="norm2")(depthwise))
    flat = layers.Flatten(name="flat")(layers.Add(name="add")([first, second]))
    outputs = layers.Dense(3, name="out")(layers.Dropout(0.3, name="drop")(flat))
    model = keras.Model(inputs, outputs)
    # non-default BatchNorm statistics, so a wrong copy would show
    norm_layer = model.get_layer("norm")
    norm_layer.set_weights([w + 0.5 for w in norm_layer.get_weights()])
    x = np.random.default_rng(0).normal(size=(5, 8, 8, 1)).astype(np.float32)
    with caplog.at_level(logging.WARNING, logger="edgeml.conversion"):
        wrapped = quantize_aware(model, calibration_data=x)
    assert any("Rebuilt Keras 3 model" in r.message for r in caplog.records)
    assert isinstance(wrapped, tf_keras.Model)
    from edgeml.conversion._rebuild import rebuild_as_tf_keras

    copy = rebuild_as_tf_keras(model)
    np.testing.assert_allclose(copy(x, training=False), model(x, training=False), atol=1e-6)


def test_mobilenetv2_rebuilds() -> None:
    import keras

    from edgeml.conversion._rebuild import rebuild_as_tf_keras

    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None)
    x = np.random.default_rng(0).uniform(-1, 1, size=(2, 96, 96, 3)).astype(np.float32)
    copy = rebuild_as_tf_keras(model)
    np.testing.assert_allclose(copy(x, training=False), model(x, training=False), atol=1e-6)


def test_unsupported_layers_listed_before_any_work() -> None:
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="dense"),
            keras.layers.Lambda(lambda v: v * 2, name="double"),
            keras.layers.Lambda(lambda v: v + 1, name="shift"),
        ]
    )
    issues = check_optimizable(model)
    assert [(i.layer, i.layer_class) for i in issues] == [("double", "Lambda"), ("shift", "Lambda")]
    with pytest.raises(UnsupportedModelError, match=r"double \(Lambda\).*shift \(Lambda\)"):
        quantize_aware(model)
    with pytest.raises(UnsupportedModelError, match="double"):
        cluster(model, n_clusters=4)


def test_batchnorm_must_follow_a_foldable_layer() -> None:
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="relu", name="dense"),
            keras.layers.BatchNormalization(name="late_norm"),
        ]
    )
    (issue,) = check_optimizable(model, "quantize")
    assert issue.layer == "late_norm"
    assert "without activation" in issue.reason
    assert check_optimizable(model, "prune") == []


def test_subclassed_keras3_model_is_explained() -> None:
    import keras

    class Tiny(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x: Any) -> Any:
            return self.dense(x)

    model = Tiny()
    model(np.zeros((1, 3), np.float32))
    (issue,) = check_optimizable(model, "prune")
    assert "subclassed" in issue.reason
    with pytest.raises(UnsupportedModelError, match="subclassed"):
        prune(model, target_sparsity=0.5)


def test_tf_keras_layer_without_tfmot_support() -> None:
    import tf_keras

    model = tf_keras.Sequential(
        [tf_keras.Input((6, 4)), tf_keras.layers.LSTM(3, name="lstm"), tf_keras.layers.Dense(2)]
    )
    assert check_optimizable(model, "cluster") == []
    issues = check_optimizable(model, "prune")
    assert issues == [] or issues[0].layer == "lstm"
    lambda_model = tf_keras.Sequential(
        [tf_keras.Input((4,)), tf_keras.layers.Lambda(lambda v: v, name="identity")]
    )
    (issue,) = check_optimizable(lambda_model, "quantize")
    assert issue.layer == "identity"


def test_qat_needs_calibration_and_calibration_works(mlp: Any, digits: Any) -> None:
    reference = mlp.predict(digits.x_test, verbose=0)
    raw = quantize_aware(mlp)
    calibrated = quantize_aware(mlp, calibration_data=digits.x_train)
    raw_error = np.abs(raw.predict(digits.x_test, verbose=0) - reference).max()
    calibrated_error = np.abs(calibrated.predict(digits.x_test, verbose=0) - reference).max()
    assert raw_error > 0.3  # the trap: uncalibrated input quantizer, wild outputs
    assert calibrated_error < 0.15
    assert calibrated_error < raw_error / 3


def test_qat_converts_to_int8_without_representative_data(mlp: Any, digits: Any) -> None:
    model = _compile(quantize_aware(mlp, calibration_data=digits.x_train))
    model.fit(digits.x_train, digits.y_train, epochs=1, batch_size=32, verbose=0)
    tfl = convert(model, quantization="int8", io="int8")
    assert [t.dtype for t in tfl.report.inputs + tfl.report.outputs] == ["int8", "int8"]
    assert tfl.report.float_ops == ()
    float_accuracy = float(
        np.mean(mlp.predict(digits.x_test, verbose=0).argmax(1) == digits.y_test)
    )
    assert tfl.evaluate(digits.x_test, digits.y_test) >= float_accuracy - 0.03


@pytest.fixture(scope="module")
def pruned(tf_keras_mlp: Any, digits: Any) -> Any:
    before = [w.copy() for w in tf_keras_mlp.get_weights()]
    model = _compile(prune(tf_keras_mlp, target_sparsity=0.5))
    model.fit(
        digits.x_train,
        digits.y_train,
        epochs=2,
        batch_size=32,
        verbose=0,
        callbacks=pruning_callbacks(),
    )
    # tfmot wraps the layers it is given; edgeml hands it a copy, so the caller's model
    # must be untouched by the fine-tuning.
    for old, new in zip(before, tf_keras_mlp.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    return model


def test_prune_reaches_target_sparsity_and_compresses(
    pruned: Any, tf_keras_mlp: Any, digits: Any
) -> None:
    stripped = strip(pruned)
    for kernel in _kernels(stripped):
        assert np.mean(kernel == 0) == pytest.approx(0.5, abs=0.01)
    tfl = convert(pruned)  # convert strips the wrappers itself
    dense = convert(tf_keras_mlp)
    assert tfl.report.gzip_bytes < 0.8 * dense.report.gzip_bytes
    assert tfl.evaluate(digits.x_test, digits.y_test) > 0.93


def test_prune_then_qat_keeps_zeros(pruned: Any, digits: Any) -> None:
    model = _compile(quantize_aware(pruned, calibration_data=digits.x_train))
    model.fit(digits.x_train, digits.y_train, epochs=1, batch_size=32, verbose=0)
    kernels = [v.numpy() for v in model.trainable_variables if v.name.endswith("kernel:0")]
    assert kernels
    for kernel in kernels:
        assert np.mean(kernel == 0) >= 0.49
    tfl = convert(model, quantization="int8")
    assert tfl.evaluate(digits.x_test, digits.y_test) > 0.9


def test_cluster_keras3_model_shares_values(mlp: Any, digits: Any) -> None:
    from edgeml.conversion._tfmot import tfmot

    clustering = tfmot().clustering.keras
    init = clustering.CentroidInitialization.LINEAR
    # the trap: tfmot returns None, without an error, for a Keras 3 model
    assert (
        clustering.cluster_weights(mlp, number_of_clusters=16, cluster_centroids_init=init) is None
    )
    model = _compile(cluster(mlp, n_clusters=16))
    model.fit(digits.x_train, digits.y_train, epochs=1, batch_size=32, verbose=0)
    stripped = strip(model)
    for kernel in _kernels(stripped):
        assert len(np.unique(kernel)) <= 16
    cqat = _compile(quantize_aware(model, calibration_data=digits.x_train))
    cqat.fit(digits.x_train, digits.y_train, epochs=1, batch_size=32, verbose=0)
    tfl = convert(cqat, quantization="int8")
    assert tfl.evaluate(digits.x_test, digits.y_test) > 0.9


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: prune(m, target_sparsity=1.5), "target_sparsity"),
        (lambda m: prune(m, target_sparsity="half"), "target_sparsity"),
        (lambda m: prune(m, target_sparsity=None), "target_sparsity"),
        (lambda m: cluster(m, n_clusters=8.0), "n_clusters"),
        (lambda m: prune(m, target_sparsity=0.5, schedule="polynomial"), "end_step"),
        (lambda m: prune(m, target_sparsity=0.5, schedule="cosine"), "schedule"),
        (lambda m: cluster(m, n_clusters=1), "n_clusters"),
        (lambda m: cluster(m, n_clusters=8, init="best"), "init"),
        (lambda m: quantize_aware(m, preserve="everything"), "preserve"),
        (lambda m: quantize_aware(m, num_calibration_samples=0), "num_calibration_samples"),
        (lambda m: check_optimizable(m, "distill"), "technique"),
    ],
)
def test_invalid_arguments(tf_keras_mlp: Any, call: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call(tf_keras_mlp)
