"""The device side: errors, safety of failed steps, saving, DP, and no TensorFlow."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import edgeml
from edgeml.conversion import to_trainable
from edgeml.errors import DataError, InferenceError, UnsupportedModelError
from edgeml.runtime._training import secure_normal


@pytest.fixture(scope="module")
def mlp_bytes() -> bytes:
    import keras

    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(6, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )
    model.layers[0].trainable = False
    return to_trainable(model, loss="sparse_categorical_crossentropy", learning_rate=0.5).bytes


@pytest.fixture
def edge(mlp_bytes: bytes) -> Any:
    return edgeml.load(mlp_bytes)


def test_inference_only_model_refuses_to_train(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    from edgeml.modelfile import example_model

    plain = edgeml.load(example_model())
    assert not plain.trainable
    with pytest.raises(UnsupportedModelError, match="to_trainable"):
        plain.train_step(np.zeros((1, 2)), np.zeros(1, dtype=int))
    with pytest.raises(UnsupportedModelError, match="trainable model"):
        plain.get_weights()


def test_unsupported_layer_after_trained_layer_is_named() -> None:
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(2, 3, name="trained_conv"),
            keras.layers.MaxPooling2D(pool_size=3, strides=1, name="the_pool"),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    with pytest.raises(UnsupportedModelError, match="'the_pool'"):
        to_trainable(model, loss="mse")
    # Frozen before the first trained layer, the same pool is fine.
    to_trainable(model, loss="mse", trainable_layers=[-1])


def test_unknown_loss_and_optimizer_are_refused() -> None:
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(edgeml.errors.ConfigError, match="'loss'"):
        to_trainable(model, loss="hinge")
    with pytest.raises(edgeml.errors.ConfigError, match="'optimizer'"):
        to_trainable(model, loss="mse", optimizer="rmsprop")


def test_labels_of_wrong_dtype_shape_or_range_name_y(edge: Any) -> None:
    x = np.zeros((4, 4), dtype=np.float32)
    with pytest.raises(DataError, match=r"'y'.*integer"):
        edge.train_step(x, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(DataError, match=r"'y'.*shape \(4,\)"):
        edge.train_step(x, np.zeros((4, 3), dtype=int))
    with pytest.raises(DataError, match=r"'y'.*\[0, 3\)"):
        edge.train_step(x, np.array([0, 1, 3, 1]))
    with pytest.raises(DataError, match="'x'"):
        edge.train_step(np.zeros((4, 5)), np.zeros(4, dtype=int))


def test_set_weights_wrong_shape_names_the_tensor(edge: Any) -> None:
    weights = edge.get_weights()
    assert edge.weight_names == ["out/kernel", "out/bias"]
    with pytest.raises(DataError, match=r"w000 \(out/kernel\).*\(6, 3\)"):
        edge.set_weights([np.zeros((3, 6)), weights[1]])
    with pytest.raises(DataError, match="needs 2 arrays"):
        edge.set_weights(weights[:1])
    np.testing.assert_array_equal(edge.get_weights()[0], weights[0])


@given(
    hnp.arrays(np.float32, (6, 3), elements=st.floats(-1e6, 1e6, width=32)),
    hnp.arrays(np.float32, (3,), elements=st.floats(-1e6, 1e6, width=32)),
)
def test_set_then_get_weights_round_trips(mlp_bytes: bytes, kernel: Any, bias: Any) -> None:
    model = edgeml.load(mlp_bytes)
    model.set_weights([kernel, bias])
    got = model.get_weights()
    np.testing.assert_array_equal(got[0], kernel)
    np.testing.assert_array_equal(got[1], bias)


def test_failed_step_leaves_every_variable_unchanged(edge: Any) -> None:
    huge = np.full((2, 4), 3e38, dtype=np.float32)
    state = edge._state()
    with pytest.raises(InferenceError, match="not applied"):
        edge.train_step(huge, np.array([0, 1]))
    after = edge._state()
    assert all(np.array_equal(state[k], after[k]) for k in state)
    # The model still trains afterwards.
    assert math.isfinite(edge.train_step(np.ones((2, 4)), np.array([0, 1])))


def test_save_writes_trained_weights_and_record(
    edge: Any, blobs: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    from edgeml.card import ModelCard, embed_card

    with_card = edgeml.load(embed_card(edge.content, ModelCard.build("mlp")))
    x, y = blobs
    history = with_card.fit(x, y, epochs=2, batch_size=32, seed=0)
    assert history.steps == 6
    assert history.num_examples == 96
    path = with_card.save(tmp_path / "trained.tflite")
    again = edgeml.load(path)
    assert again.integrity.status == "verified"
    for a, b in zip(again.get_weights(), with_card.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(again.predict(x), with_card.predict(x), atol=1e-6)
    record = again.metadata["on_device_training"]["history"][-1]
    assert record["steps"] == 6
    assert record["data_left_device"] is False
    assert again.card is not None
    assert again.card.extra["on_device_training"][-1]["steps"] == 6
    assert not list(tmp_path.glob(".*tmp"))


def test_fit_loss_decreases(edge: Any, blobs: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = blobs
    history = edge.fit(x, y, epochs=8, batch_size=16, seed=1)
    assert len(history.losses) == 8
    # The final metrics as a mapping of floats, what a federated client reports.
    assert dict(history) == {"loss": history.losses[-1], "steps": 48.0, "num_examples": 96.0}
    assert history.losses[-1] < 0.7 * history.losses[0]


def test_dp_without_noise_and_clip_equals_full_batch_step(
    mlp_bytes: bytes, blobs: tuple[np.ndarray, np.ndarray]
) -> None:
    """Meaning check (as optax's): huge clip, zero noise, rate 1 is plain SGD."""
    x, y = blobs
    private, plain = edgeml.load(mlp_bytes), edgeml.load(mlp_bytes)
    history = private.fit(x, y, batch_size=len(x), l2_norm_clip=1e9, noise_multiplier=0.0)
    plain.train_step(x, y)
    assert history.steps == 1
    assert history.dp is not None
    for a, b in zip(private.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_dp_clipping_bounds_the_update(
    mlp_bytes: bytes, blobs: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = blobs
    model = edgeml.load(mlp_bytes)
    before = model.get_weights()
    model.fit(x, y, batch_size=len(x), l2_norm_clip=1e-3, noise_multiplier=0.0)
    change = math.sqrt(
        sum(float(np.sum((a - b) ** 2)) for a, b in zip(model.get_weights(), before, strict=True))
    )
    # learning rate 0.5 x (sum of n gradients of norm <= C) / n
    assert 0 < change <= 0.5 * 1e-3 * (1 + 1e-4)


def test_dp_epsilon_matches_dp_accounting(
    mlp_bytes: bytes, blobs: tuple[np.ndarray, np.ndarray]
) -> None:
    import dp_accounting
    from dp_accounting import rdp

    from edgeml.privacy.accounting import Ledger

    x, y = blobs
    ledger = Ledger(delta=1e-5)
    history = edgeml.load(mlp_bytes).fit(
        x, y, epochs=2, batch_size=24, l2_norm_clip=1.0, noise_multiplier=1.3, ledger=ledger
    )
    assert history.dp is not None
    assert history.steps == 8
    accountant = rdp.RdpAccountant()
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(24 / 96, dp_accounting.GaussianDpEvent(1.3)), 8
    )
    accountant.compose(event)
    expected = accountant.get_epsilon(1e-5)
    assert history.dp["epsilon"] == pytest.approx(expected, rel=1e-9)
    assert ledger.spent().epsilon == pytest.approx(expected, rel=1e-9)


def test_secure_normal_is_standard_normal() -> None:
    from scipy import stats

    sample = secure_normal(5001)
    assert sample.shape == (5001,)
    assert stats.kstest(sample, "norm").pvalue > 1e-4


_CHILD = r"""
import importlib.abc, json, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            raise ImportError(f"{name} is blocked: the device has no TensorFlow")
        return None

sys.meta_path.insert(0, Block())
import numpy as np
import edgeml

model = edgeml.load(sys.argv[1])
x = np.load(sys.argv[2])
y = np.load(sys.argv[3])
before = model.predict(x)
history = model.fit(x, y, epochs=3, batch_size=16, seed=0)
model.save(sys.argv[4])
after = edgeml.load(sys.argv[4])
print(json.dumps({
    "losses": list(history.losses),
    "changed": float(np.abs(after.predict(x) - before).max()),
    "tf": sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")),
}))
"""


def test_trains_and_saves_with_tensorflow_blocked(
    mlp_bytes: bytes, blobs: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    x, y = blobs
    (tmp_path / "m.tflite").write_bytes(mlp_bytes)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD]
        + [str(tmp_path / n) for n in ("m.tflite", "x.npy", "y.npy", "out.tflite")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["tf"] == []
    assert result["losses"][-1] < result["losses"][0]
    assert result["changed"] > 0


def test_malformed_training_document_is_a_format_error(mlp_bytes: bytes) -> None:
    from edgeml.modelfile import read_metadata, with_metadata

    document = read_metadata(mlp_bytes)["on_device_training"]
    document["label"] = {"dtype": "int32", "classes": "many"}
    broken = edgeml.load(with_metadata(mlp_bytes, "on_device_training", document))
    with pytest.raises(edgeml.errors.ModelFormatError, match="malformed"):
        broken.get_weights()


def test_batchnorm_stays_frozen_and_nested_trainable_model_is_refused() -> None:
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(5, name="d1"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Dense(2, name="d2"),
        ]
    )
    document = to_trainable(model, loss="mse").metadata["on_device_training"]
    assert document["trained_layers"] == ["d1", "d2"]
    with pytest.raises(UnsupportedModelError, match="'bn'"):
        to_trainable(model, loss="mse", trainable_layers=["bn"])
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)], name="inner")
    outer = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2)])
    with pytest.raises(UnsupportedModelError, match="'inner' is a nested model"):
        to_trainable(outer, loss="mse")
