"""Client-level accounting against dp-accounting and Flower's own accountant."""

from __future__ import annotations

import dp_accounting
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeml.card import ModelCard
from edgeml.errors import ConfigError
from edgeml.federated import ClientGuarantee, ClientLevelDP, round_event


def _dp_accounting_epsilon(z, q, rounds, delta, pld=False):
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z)), rounds
    )
    accountant = dp_accounting.pld.PLDAccountant() if pld else dp_accounting.rdp.RdpAccountant()
    return accountant.compose(event).get_epsilon(delta)


@pytest.mark.parametrize("accountant", ["rdp", "pld"])
@pytest.mark.parametrize(("q", "rounds"), [(0.1, 1), (0.1, 30), (0.5, 5), (1.0, 3)])
def test_epsilon_equals_dp_accounting_called_directly(accountant, q, rounds):
    dp = ClientLevelDP(
        num_clients=100,
        sampling_rate=q,
        rounds=rounds,
        noise_multiplier=1.0,
        accountant=accountant,
    )
    expected = _dp_accounting_epsilon(1.0, q, rounds, 1e-5, pld=accountant == "pld")
    assert dp.epsilon() == pytest.approx(expected, rel=1e-9)


def _flower_epsilon(sampling, z, sample_size, population, rounds, delta):
    from flwr.serverapp import NeighboringRelation, PrivacyConfig, SamplingMethod
    from flwr.supercore.privacy_accounting import GaussianPrivacyEvent
    from flwr.supercore.privacy_accounting.rdp_accountant import RdpAccountant

    accountant = RdpAccountant(
        PrivacyConfig(
            target_delta=delta,
            population_size=population,
            neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
            sampling_method=getattr(SamplingMethod, sampling),
        )
    )
    event = GaussianPrivacyEvent(
        noise_multiplier=z, sample_size=sample_size, population_size=population
    )
    accountant.compose(event, count=rounds)
    return accountant.get_epsilon(delta)


@pytest.mark.parametrize("rounds", [1, 2, 3, 10])
def test_lower_than_flower_fixed_clipping_accountant_when_sampling(rounds):
    pytest.importorskip("flwr", reason="Flower is not installed (pip install edgeml[federated])")
    dp = ClientLevelDP(num_clients=100, sampling_rate=0.1, rounds=rounds, noise_multiplier=1.0)
    # Flower's DP fixed-clipping wrapper only accepts SamplingMethod.NO_AMPLIFICATION.
    flower = _flower_epsilon("NO_AMPLIFICATION", 1.0, 10, 100, rounds, 1e-5)
    assert dp.epsilon() < flower
    # Flower's accountant with Poisson sampling is an independent wrapper of the same
    # bound: it must agree with ours.
    assert dp.epsilon() == pytest.approx(
        _flower_epsilon("POISSON", 1.0, 10, 100, rounds, 1e-5), rel=1e-9
    )


def test_flower_reference_values_from_the_issue():
    pytest.importorskip("flwr", reason="Flower is not installed (pip install edgeml[federated])")
    # Issue 13 measured Flower's fixed-clipping accountant at 4.73 / 7.08 / 9.01 (noise 1.0).
    values = [_flower_epsilon("NO_AMPLIFICATION", 1.0, 2, 2, r, 1e-5) for r in (1, 2, 3)]
    assert [round(v, 2) for v in values] == [4.73, 7.08, 9.01]
    # Without sampling (q = 1) edgeml's accounting is the same Gaussian composition.
    same = [
        ClientLevelDP(
            num_clients=2, sampling_rate=1.0, rounds=r, noise_multiplier=1.0, delta=1e-5
        ).epsilon()
        for r in (1, 2, 3)
    ]
    assert same == pytest.approx(values, rel=1e-9)


@pytest.mark.parametrize("target", [0.5, 3.0, 8.0])
def test_calibration_never_overshoots(target):
    dp = ClientLevelDP(num_clients=1000, sampling_rate=0.05, rounds=100, target_epsilon=target)
    assert target * 0.98 <= dp.epsilon() <= target


def test_adaptive_clipping_count_is_charged():
    fixed = ClientLevelDP(num_clients=100, sampling_rate=0.2, rounds=20, noise_multiplier=1.0)
    adaptive = ClientLevelDP(
        num_clients=100, sampling_rate=0.2, rounds=20, noise_multiplier=1.0, adaptive=True
    )
    assert adaptive.count_stddev == pytest.approx(100 * 0.2 / 20)  # Andrew et al. default
    assert adaptive.epsilon() > fixed.epsilon()
    z_eff = (1.0**-2 + (2 * adaptive.count_stddev) ** -2) ** -0.5
    assert adaptive.epsilon() == pytest.approx(
        _dp_accounting_epsilon(z_eff, 0.2, 20, 1e-5), rel=1e-9
    )
    # Calibrated from a target, the adaptive plan still meets it.
    calibrated = ClientLevelDP(
        num_clients=100, sampling_rate=0.2, rounds=20, target_epsilon=4.0, adaptive=True
    )
    assert calibrated.epsilon() <= 4.0
    assert calibrated.update_noise_multiplier > calibrated.effective_noise_multiplier


def test_noise_that_cannot_reach_the_target_is_refused():
    with pytest.raises(ConfigError, match="cannot keep target_epsilon=1 over the planned 40"):
        ClientLevelDP(
            num_clients=10, sampling_rate=0.5, rounds=40, noise_multiplier=0.8, target_epsilon=1.0
        )


def test_count_noise_too_small_for_the_target_is_refused():
    with pytest.raises(ConfigError, match="count noise"):
        ClientLevelDP(
            num_clients=20,
            sampling_rate=0.5,
            rounds=50,
            target_epsilon=0.5,
            adaptive=True,
            count_stddev=0.1,
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_clients": 0}, "num_clients"),
        ({"sampling_rate": 0.0}, "sampling_rate"),
        ({"sampling_rate": 1.5}, "sampling_rate"),
        ({"rounds": 0}, "rounds"),
        ({"noise_multiplier": None}, "target_epsilon or noise_multiplier"),
        ({"count_stddev": 1.0}, "only applies to adaptive"),
    ],
)
def test_bad_plans_raise(kwargs, match):
    base = {"num_clients": 10, "sampling_rate": 0.5, "rounds": 5, "noise_multiplier": 1.0}
    with pytest.raises(ConfigError, match=match):
        ClientLevelDP(**{**base, **kwargs})


def test_round_event_matches_ledger_entries():
    dp = ClientLevelDP(num_clients=10, sampling_rate=0.3, rounds=4, noise_multiplier=1.2)
    assert dp.round_event() == round_event(noise_multiplier=1.2, sampling_rate=0.3)
    # Reference: the event built with dp-accounting directly, one round and four.
    one = dp_accounting.PoissonSampledDpEvent(0.3, dp_accounting.GaussianDpEvent(1.2))
    assert dp.round_event() == one
    assert round_event(noise_multiplier=1.2, sampling_rate=0.3, rounds=4) == (
        dp_accounting.SelfComposedDpEvent(one, 4)
    )


def test_card_records_the_client_level_guarantee():
    dp = ClientLevelDP(num_clients=50, sampling_rate=0.2, rounds=10, noise_multiplier=1.0)
    guarantee = dp.guarantee(dp.epsilon(), 10)
    assert isinstance(guarantee, ClientGuarantee)
    card = ModelCard.build("fleet model", privacy=guarantee)
    assert card.privacy["unit"].startswith("client-level")
    assert card.privacy["epsilon"] == pytest.approx(dp.epsilon())
    assert "one device's whole data" in card.privacy["statement"]


@settings(max_examples=15)
@given(
    q=st.floats(0.01, 1.0),
    rounds=st.integers(1, 200),
    target=st.floats(0.5, 20.0),
    adaptive=st.booleans(),
)
def test_calibrated_plans_never_exceed_their_target(q, rounds, target, adaptive):
    try:
        dp = ClientLevelDP(
            num_clients=1000,
            sampling_rate=q,
            rounds=rounds,
            target_epsilon=target,
            adaptive=adaptive,
        )
    except ConfigError:  # refused up front (e.g. the adaptive count alone is too costly)
        return
    assert dp.epsilon() <= target
