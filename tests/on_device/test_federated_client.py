"""A Flower fleet whose clients train a trainable ``.tflite`` through ``EdgeModel``.

The clients' ``model_fn`` returns ``edgeml.load(path)``: get/set weights, fit and
evaluate run in LiteRT, so a device needs only ``edgeml[litert]`` and Flower.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr", reason="Flower is not installed (pip install edgeml[federated])")
pytest.importorskip("ray", reason="Flower's simulation needs Ray (pip install edgeml[federated])")

import edgeml
from edgeml.conversion import to_trainable

pytestmark = [pytest.mark.slow, pytest.mark.tf]


def test_edge_model_is_a_federated_trainable(tmp_path: Path) -> None:
    import keras

    from edgeml.federated import Trainable, client_app, server_app, simulate
    from edgeml.federated._trainable import as_trainable

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="softmax", name="head")]
    )
    path = to_trainable(
        model, loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.5
    ).save(tmp_path / "fleet.tflite")
    initial = edgeml.load(path)
    assert isinstance(initial, Trainable)
    assert as_trainable(initial) is initial

    def model_fn() -> edgeml.runtime.EdgeModel:
        return edgeml.load(path)

    def data_fn(context: object) -> tuple[np.ndarray, np.ndarray]:
        partition = int(context.node_config["partition-id"])  # type: ignore[attr-defined]
        rng = np.random.default_rng(partition)
        y = rng.integers(0, 3, 120)
        x = rng.normal(size=(120, 4)).astype(np.float32) + np.eye(4, dtype=np.float32)[y] * 3
        return x, y

    results: list[object] = []
    server = server_app(model_fn, rounds=2, on_result=results.append, seed=0, timeout=120)
    simulate(server, client_app(model_fn, data_fn, seed=0), num_clients=2)

    (result,) = results
    assert [r.round for r in result.rounds] == [1, 2]  # type: ignore[attr-defined]
    weights = result.weights  # type: ignore[attr-defined]
    assert [w.shape for w in weights] == [w.shape for w in initial.get_weights()]
    assert not np.allclose(weights[0], initial.get_weights()[0])
    # The federated weights classify the clients' kind of data.
    x, y = data_fn(type("Context", (), {"node_config": {"partition-id": 5}})())
    initial.set_weights(weights)
    assert initial.evaluate(x, y)["accuracy"] > 0.8
