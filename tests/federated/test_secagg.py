"""Secure aggregation (Flower's SecAgg+) under client-level DP-FedAvg, in a real simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgeml.errors import ConfigError
from edgeml.federated import ClientLevelDP, SecAggPlus
from edgeml.federated._secagg import _binomial_cdf


def test_settings_are_checked_with_the_fix():
    with pytest.raises(ConfigError, match="below the number of shares"):
        SecAggPlus(num_shares=3, reconstruction_threshold=3)
    with pytest.raises(ValueError, match="power of two"):
        SecAggPlus(modulus_range=3 * 2**22)
    secagg = SecAggPlus(num_shares=5, reconstruction_threshold=3)
    fixed = ClientLevelDP(num_clients=4, sampling_rate=1.0, rounds=2, noise_multiplier=1.0)
    with pytest.raises(ConfigError, match="needs dp=ClientLevelDP"):
        secagg.check(None)
    adaptive = ClientLevelDP(
        num_clients=400, sampling_rate=0.5, rounds=2, noise_multiplier=1.0, adaptive=True
    )
    with pytest.raises(ConfigError, match="adaptive clipping"):
        secagg.check(adaptive)
    small = ClientLevelDP(num_clients=10, sampling_rate=0.2, rounds=2, noise_multiplier=1.0)
    with pytest.raises(ConfigError, match="at least reconstruction_threshold=3"):
        secagg.check(small)
    # 8 expected devices out of 40, threshold 3: refusals are too likely for delta 1e-5.
    risky = ClientLevelDP(num_clients=40, sampling_rate=0.2, rounds=5, noise_multiplier=1.0)
    with pytest.raises(ConfigError, match=r"adds .* to delta"):
        secagg.check(risky)
    secagg.check(fixed)  # every device joins every round: never refused


def test_refusal_probability_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    assert _binomial_cdf(2, 99, 0.1) == pytest.approx(stats.binom.cdf(2, 99, 0.1), rel=1e-9)
    secagg = SecAggPlus(num_shares=5, reconstruction_threshold=3)
    dp = ClientLevelDP(num_clients=1000, sampling_rate=0.02, rounds=10, noise_multiplier=1.0)
    expected = stats.binom.cdf(2, 999, 0.02) + stats.binom.sf(secagg.max_clients, 1000, 0.02)
    assert secagg.refusal_probability(dp) == pytest.approx(expected, rel=1e-6)
    eps = 3.0
    assert secagg.extra_delta(dp, eps, 10) == pytest.approx((1 + math.exp(eps)) * 10 * expected)


def test_max_clients_is_the_largest_sum_that_does_not_wrap():
    secagg = SecAggPlus()
    n = secagg.max_clients
    assert n * secagg.quantization_range < secagg.modulus_range
    assert (n + 1) * secagg.quantization_range >= secagg.modulus_range


# --------------------------------------------------------------------------- simulation

CLIP = 0.5
FEATURES = 3


class CentroidModel:
    """A deterministic Trainable: one fit step moves the weights halfway to the data mean.

    Each device's update is then a closed form the test computes on its own.
    """

    def __init__(self):
        self.w = np.zeros((FEATURES,), np.float32)
        self.b = np.zeros((1,), np.float32)

    def get_weights(self):
        return [self.w.copy(), self.b.copy()]

    def set_weights(self, weights):
        self.w, self.b = (np.asarray(w, np.float32).copy() for w in weights)

    def fit(self, x, y):
        self.w = self.w + 0.5 * (x.mean(axis=0).astype(np.float32) - self.w)
        self.b = self.b + 0.5 * (np.float32(y.mean()) - self.b)
        return {"loss": float(np.mean((x @ self.w + self.b - y) ** 2))}

    def evaluate(self, x, y):
        return {"loss": float(np.mean((x @ self.w + self.b - y) ** 2))}


def data(partition):
    rng = np.random.default_rng(partition)
    # Devices 0 and 1 sit far from the origin (updates clipped), 2 and 3 near it (not).
    scale = 2.0 if partition < 2 else 0.2
    x = (scale + 0.1 * rng.normal(size=(30, FEATURES))).astype(np.float32)
    y = (0.1 * rng.normal(size=30)).astype(np.float32)
    return x, y


def data_fn(context):
    partition = int(context.node_config["partition-id"])
    if partition == 4:  # this device fails while training: it drops out mid-protocol
        raise OSError("device 4 lost its storage")
    return data(partition)


def clipped_update(weights, partition):
    model = CentroidModel()
    model.set_weights(weights)
    model.fit(*data(partition))
    update = [
        np.asarray(a, np.float64) - np.asarray(b, np.float64)
        for a, b in zip(model.get_weights(), weights, strict=True)
    ]
    norm = math.sqrt(sum(float(np.sum(u**2)) for u in update))
    factor = min(1.0, CLIP / norm)
    return [u * factor for u in update], norm


@pytest.mark.slow
def test_secagg_simulation_sums_clipped_updates_and_accounts(monkeypatch):
    pytest.importorskip("flwr", reason="Flower is not installed (pip install edgeml[federated])")
    pytest.importorskip("ray", reason="Flower's simulation needs Ray")
    import dp_accounting

    from edgeml.federated import _secagg, client_app, server_app, simulate

    # What the server-side strategy receives, captured by wrapping our own strategy class.
    seen = []
    make_class = _secagg._strategy_class

    def recording_class():
        cls = make_class()
        original = cls.aggregate_fit

        def aggregate_fit(self, server_round, results, failures):
            seen.append(
                {
                    "round": server_round,
                    "weights": [w.copy() for w in self.state.weights],
                    "payloads": [r.parameters.tensors for _, r in results],
                    "counts": [r.num_examples for _, r in results],
                    "metrics": [dict(r.metrics) for _, r in results],
                }
            )
            return original(self, server_round, results, failures)

        cls.aggregate_fit = aggregate_fit
        return cls

    monkeypatch.setattr(_secagg, "_strategy_class", recording_class)

    dp = ClientLevelDP(
        num_clients=5, sampling_rate=1.0, rounds=2, noise_multiplier=1.0, clip_norm=CLIP
    )
    secagg = SecAggPlus(num_shares=5, reconstruction_threshold=3)
    results = []
    server = server_app(
        CentroidModel,
        dp=dp,
        secure_aggregation=secagg,
        on_result=results.append,
        fraction_evaluate=0.0,
        seed=0,
        timeout=120,
    )
    client = client_app(CentroidModel, data_fn, secure_aggregation=True)
    simulate(server, client, num_clients=5)

    (result,) = results
    assert result.stopped == "completed"
    assert [r.round for r in result.rounds] == [1, 2]
    # Device 4 dropped out after the key exchange; SecAgg+ recovered its masks from the
    # others' shares, so the round went on with the 4 devices that finished.
    assert [(r.sampled, r.used) for r in result.rounds] == [(5, 4)] * 2
    for record in result.rounds:
        (dropped,) = record.excluded
        assert dropped.reason == "dropped out during secure aggregation"
    assert [s["round"] for s in seen] == [1, 2]
    for step in seen:
        # The server-side code gets ONE already-aggregated array set, copied into every
        # result, and no example count (each device reports weight 1).
        first = step["payloads"][0]
        assert all(p == first for p in step["payloads"])
        assert step["counts"] == [1, 1, 1, 1]
        assert all(m == {} for m in step["metrics"])
        from flwr.common import Parameters, parameters_to_ndarrays

        aggregate = parameters_to_ndarrays(Parameters(tensors=first, tensor_type="numpy.ndarray"))
        # Independently: each device's update from the closed form, clipped to C.
        updates, norms = zip(*(clipped_update(step["weights"], p) for p in range(4)), strict=True)
        assert max(norms) > CLIP > min(norms)  # clipping really happens for some devices
        plain_mean = [sum(u[i] for u in updates) / 4 for i in range(2)]
        # Within the stochastic rounding: below one step 2 r / L per coordinate.
        step_size = 2 * CLIP / secagg.quantization_range
        for got, want in zip(aggregate, plain_mean, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=step_size)
        # It is not any single device's update.
        for update in updates:
            assert not np.allclose(aggregate[0], update[0], atol=1e-3)
    # The noisy release: final = start + (sum of the 4 clipped updates + noise) / (q N),
    # q N = 5: the dropout counts as a device that sent nothing.
    start = seen[1]["weights"]
    updates = [clipped_update(start, p)[0] for p in range(4)]
    residual = np.concatenate(
        [
            (
                (np.asarray(result.weights[i], np.float64) - start[i]) * dp.expected_clients
                - sum(u[i] for u in updates)
            ).ravel()
            for i in range(2)
        ]
    )
    assert np.all(np.abs(residual) < 6 * dp.update_noise_multiplier * CLIP)
    assert np.any(np.abs(residual) > 1e-3)  # noise was added
    # Ledger: two rounds of Poisson(q=1, Gaussian(z)); epsilon from dp-accounting directly.
    assert len(result.ledger) == 2
    direct = (
        dp_accounting.rdp.RdpAccountant()
        .compose(dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(1.0), 2))
        .get_epsilon(dp.delta)
    )
    assert result.guarantee.epsilon == pytest.approx(direct, rel=1e-9)
    assert result.rounds[1].epsilon == pytest.approx(direct, rel=1e-9)
    first_round = (
        dp_accounting.rdp.RdpAccountant()
        .compose(dp_accounting.GaussianDpEvent(1.0))
        .get_epsilon(dp.delta)
    )
    assert result.rounds[0].epsilon == pytest.approx(first_round, rel=1e-9)
    assert result.guarantee.delta == dp.delta  # no refusal possible with q = 1


def test_rounds_outside_the_secure_range_are_refused_but_accounted():
    pytest.importorskip("flwr", reason="Flower is not installed (pip install edgeml[federated])")
    from flwr.common import ndarrays_to_parameters
    from flwr.server.client_manager import SimpleClientManager
    from flwr.server.compat.grid_client_proxy import GridClientProxy

    from edgeml.federated._secagg import _strategy_class
    from edgeml.privacy import Ledger

    manager = SimpleClientManager()
    for node in range(1, 11):
        manager.register(GridClientProxy(node, None, 1))
    # 2 expected devices out of 10, threshold 3: most samples are too small. (check()
    # refuses this plan; the strategy is built directly to exercise the refusals.)
    dp = ClientLevelDP(num_clients=10, sampling_rate=0.2, rounds=12, noise_multiplier=1.0)
    secagg = SecAggPlus(num_shares=5, reconstruction_threshold=3)
    ledger = Ledger(delta=dp.delta)
    weights = [np.zeros(3, np.float32)]
    strategy = _strategy_class()(
        weights,
        dp,
        secagg,
        ledger,
        min_clients=10,
        timeout=1,
        fraction_evaluate=0.0,
        train_config={},
        seed=3,
    )
    sent = [
        strategy.configure_fit(r, ndarrays_to_parameters(weights), manager) for r in range(1, 13)
    ]
    history = strategy.state.history
    assert len(ledger) == 12  # every round accounted, refused or not
    assert [h.round for h in history] == list(range(1, 13))
    refused = [h for h, s in zip(history, sent, strict=True) if not s]
    assert refused  # the seed gives some small samples
    assert len(refused) < 12  # ... and some large enough
    for record in refused:
        assert record.sampled < 3
        assert all("round refused" in e.reason for e in record.excluded)
        assert len(record.excluded) == record.sampled
    for record, instructions in zip(history, sent, strict=True):
        if instructions:
            assert len(instructions) == record.sampled >= 3
            assert instructions[0][1].config["edgeml-clip-norm"] == dp.clip_norm
    # The ledger's epsilon is the Poisson-subsampled Gaussian of dp-accounting, 12 times.
    import dp_accounting

    event = dp_accounting.PoissonSampledDpEvent(0.2, dp_accounting.GaussianDpEvent(1.0))
    direct = (
        dp_accounting.rdp.RdpAccountant()
        .compose(dp_accounting.SelfComposedDpEvent(event, 12))
        .get_epsilon(dp.delta)
    )
    assert ledger.spent().epsilon == pytest.approx(direct, rel=1e-9)


def test_budget_stops_before_the_round_that_would_overshoot():
    pytest.importorskip("flwr", reason="Flower is not installed (pip install edgeml[federated])")
    from flwr.common import ndarrays_to_parameters
    from flwr.server.client_manager import SimpleClientManager
    from flwr.server.compat.grid_client_proxy import GridClientProxy

    from edgeml.federated._secagg import _strategy_class
    from edgeml.privacy import Ledger

    manager = SimpleClientManager()
    for node in range(1, 5):
        manager.register(GridClientProxy(node, None, 1))
    dp = ClientLevelDP(num_clients=4, sampling_rate=1.0, rounds=3, noise_multiplier=2.0)
    ledger = Ledger(delta=dp.delta, budget=0.5 * (dp.epsilon(2) + dp.epsilon(3)))
    weights = [np.zeros(3, np.float32)]
    strategy = _strategy_class()(
        weights,
        dp,
        SecAggPlus(num_shares=5, reconstruction_threshold=3),
        ledger,
        min_clients=4,
        timeout=1,
        fraction_evaluate=0.0,
        train_config={},
        seed=0,
    )
    sent = [strategy.configure_fit(r, ndarrays_to_parameters(weights), manager) for r in (1, 2, 3)]
    assert [len(s) for s in sent] == [4, 4, 0]
    assert strategy.state.stopped == "budget"
    assert strategy.state.accounted == 2
    assert len(ledger) == 2
