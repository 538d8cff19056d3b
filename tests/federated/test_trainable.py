"""The model protocol the client trains through, and local DP-SGD on a device."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edgeml.errors import UnsupportedModelError
from edgeml.privacy import Ledger


def test_importing_the_package_loads_neither_flower_nor_tensorflow():
    code = (
        "import edgeml, edgeml.federated, edgeml.data, edgeml.drift, edgeml.privacy, "
        "edgeml.runtime, edgeml.card, sys, json; dir(edgeml); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    heavy = {"flwr", "ray", "tensorflow", "keras", "tf_keras"}
    assert [m for m in loaded if m.split(".")[0] in heavy] == []


class Counter:
    """A non-Keras model: a vector that fit() moves towards the data mean."""

    def __init__(self):
        self.w = np.zeros(3)

    def get_weights(self):
        return [self.w.copy()]

    def set_weights(self, weights):
        self.w = np.array(weights[0])

    def fit(self, x, y):
        self.w = self.w + 0.5 * (np.mean(x, axis=0) - self.w)
        return {"moved": 1.0}

    def evaluate(self, x, y):
        return {"distance": float(np.linalg.norm(np.mean(x, axis=0) - self.w))}


def test_any_trainable_passes_through_and_junk_is_refused():
    from edgeml.federated import Trainable
    from edgeml.federated._trainable import as_trainable

    model = Counter()
    assert isinstance(model, Trainable)
    assert as_trainable(model) is model
    with pytest.raises(UnsupportedModelError, match="neither a Keras model nor a Trainable"):
        as_trainable(object())


@pytest.mark.tf
def test_keras_trainable_trains_with_local_dp_and_keeps_a_device_ledger():
    keras = pytest.importorskip("keras")
    from edgeml.federated import KerasTrainable, LocalDP

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    before = [w.copy() for w in model.get_weights()]
    trainable = KerasTrainable(
        model,
        compile={
            "optimizer": keras.optimizers.SGD(0.1),
            "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none"),
        },
        fit={"epochs": 1},
        local_dp=LocalDP(l2_norm_clip=1.0, noise_multiplier=1.1, batch_size=20, delta=1e-4),
    )
    metrics = trainable.fit(x, y)
    assert "loss" in metrics
    assert any(not np.allclose(a, b) for a, b in zip(before, trainable.get_weights(), strict=True))
    assert isinstance(trainable.ledger, Ledger)
    # 200 examples, batch 20: one epoch is 10 Poisson-sampled steps at q = 0.1.
    from edgeml.privacy import epsilon

    expected = epsilon(noise_multiplier=1.1, sampling_rate=0.1, steps=10, delta=1e-4)
    assert trainable.ledger.spent().epsilon == pytest.approx(expected, rel=1e-6)
    # Independent reference: dp-accounting's RDP accountant on the same ten sampled steps.
    dp_accounting = pytest.importorskip("dp_accounting")
    step = dp_accounting.PoissonSampledDpEvent(0.1, dp_accounting.GaussianDpEvent(1.1))
    rdp = dp_accounting.rdp.RdpAccountant().compose(dp_accounting.SelfComposedDpEvent(step, 10))
    assert trainable.ledger.spent().epsilon == pytest.approx(rdp.get_epsilon(1e-4), rel=1e-6)
