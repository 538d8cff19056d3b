"""A real Flower simulation (Ray backend): DP-FedAvg with bad clients, budget stop, drift."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("flwr", reason="Flower is not installed (pip install edgeml[federated])")
pytest.importorskip("ray", reason="Flower's simulation needs Ray (pip install edgeml[federated])")
keras = pytest.importorskip("keras")

import dp_accounting  # noqa: E402

from edgeml.drift import Histogram  # noqa: E402
from edgeml.federated import ClientLevelDP, client_app, server_app, simulate  # noqa: E402
from edgeml.privacy import Ledger  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.tf]


def model_fn():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])


def data_fn(context):
    partition = int(context.node_config["partition-id"])
    rng = np.random.default_rng(partition)
    if partition == 2:  # a device with no data yet
        return np.zeros((0, 4), "float32"), np.zeros(0, "int64")
    x = rng.normal(size=(200, 4)).astype("float32")
    x[:, 0] += 3.0  # the fleet drifted on feature 0
    if partition == 3:  # a device whose data breaks training: it fails mid-round
        x = x[:, :3]
    return x, (x[:, 1] > 0).astype("int64")


def test_simulation_runs_accounts_and_stops_at_the_budget():
    dp = ClientLevelDP(
        num_clients=4,
        sampling_rate=1.0,
        rounds=3,
        noise_multiplier=2.0,
        clip_norm=0.5,
        adaptive=True,
    )
    # A shared ledger whose budget admits two of the three planned rounds.
    budget = 0.5 * (dp.epsilon(2) + dp.epsilon(3))
    ledger = Ledger(delta=dp.delta, budget=budget)
    reference = Histogram.fit(np.random.default_rng(9).normal(size=(1000, 4)), bins=5)
    results = []
    server = server_app(
        model_fn,
        dp=dp,
        ledger=ledger,
        drift_reference=reference,
        on_result=results.append,
        seed=0,
        timeout=120,
    )
    client = client_app(
        model_fn,
        data_fn,
        compile={
            "optimizer": "sgd",
            "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        },
        fit={"epochs": 1, "batch_size": 64},
        drift_noise_multiplier=0.3,
        seed=0,
    )
    simulate(server, client, num_clients=4)

    (result,) = results
    assert result.stopped == "budget"
    assert [r.round for r in result.rounds] == [1, 2]
    for record in result.rounds:
        assert (record.sampled, record.used) == (4, 2)
        reasons = sorted(e.reason for e in record.excluded)
        assert len(reasons) == 2
        assert "client error" in reasons[0]
        assert reasons[1] == "trained on zero examples"
    # Ledger: the two rounds, each Poisson(q, Gaussian(z_eff)); epsilon from dp-accounting.
    assert len(ledger) == 2
    z_eff = dp.effective_noise_multiplier
    direct = (
        dp_accounting.rdp.RdpAccountant()
        .compose(dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(z_eff), 2))
        .get_epsilon(dp.delta)
    )
    assert result.guarantee.epsilon == pytest.approx(direct, rel=1e-9)
    assert result.guarantee.rounds == 2
    assert result.guarantee.unit.startswith("client-level")
    # Adaptive clipping moved the clip norm between the rounds.
    assert result.rounds[0].clip_norm == 0.5
    assert result.rounds[1].clip_norm != 0.5
    # A normal Keras model comes out, with the federated weights.
    model = result.model(model_fn())
    assert all(
        np.array_equal(a, b) for a, b in zip(model.get_weights(), result.weights, strict=True)
    )
    card = result.card("fleet")
    assert card.privacy["unit"].startswith("client-level")
    # Fleet drift: two devices answered with 200 rows each (noisy counts); feature 0 moved.
    assert result.drift is not None
    assert result.drift.drifted_features == ["0"]
    assert 350 < result.drift.n_current < 450
