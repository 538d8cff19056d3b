"""DP-FedAvg aggregation and reply screening, with real Flower messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

pytest.importorskip("flwr", reason="Flower is not installed (pip install edgeml[federated])")

from flwr.app import ArrayRecord, Error, Message, MetricRecord, RecordDict
from flwr.serverapp.strategy import FedAvg
from flwr.supercore.task_identity import TaskIdentity

from edgeml.federated import ClientLevelDP, DPFedAvg
from edgeml.federated._replies import Screened, screen_replies


@pytest.fixture
def flower_task():
    # A Message can only be built inside a Flower task; give this process an identity.
    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 0, 1
    yield
    TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved


def _reply(node, weights=None, n=10, error=None):
    sent = Message(content=RecordDict({}), dst_node_id=node, message_type="train")
    if error:
        return Message(Error(code=0, reason=error), reply_to=sent)
    content = {"metrics": MetricRecord({"num-examples": n})}
    if weights is not None:
        content["arrays"] = ArrayRecord(numpy_ndarrays=weights)
    return Message(content=RecordDict(content), reply_to=sent)


def test_screen_excludes_every_bad_reply_and_says_why(flower_task, caplog):
    ref = [np.zeros((2, 3), np.float32), np.zeros(3, np.float32)]
    good = [np.ones((2, 3), np.float32), np.ones(3, np.float32)]
    nan = [np.full((2, 3), np.nan, np.float32), np.ones(3, np.float32)]
    wrong = [np.ones((3, 2), np.float32), np.ones(3, np.float32)]
    replies = [
        _reply(1, good),
        _reply(2, nan),
        _reply(3, wrong),
        _reply(4, good, n=0),
        _reply(5, error="node went offline"),
        _reply(6, good[:1]),
    ]
    with caplog.at_level("WARNING", logger="edgeml"):
        usable, excluded = screen_replies(replies, ref, round_number=3)
    assert [u.node_id for u in usable] == [1]
    reasons = {e.node_id: e.reason for e in excluded}
    assert "NaN" in reasons[2]
    assert "shape (3, 2)" in reasons[3]
    assert "zero examples" in reasons[4]
    assert "node went offline" in reasons[5]
    assert "1 weight arrays" in reasons[6]
    assert caplog.text.count("round 3: excluded") == 5


def _strategy(**kwargs):
    dp = ClientLevelDP(**{"num_clients": 10, "sampling_rate": 0.4, "rounds": 3, **kwargs})
    strategy = DPFedAvg(FedAvg(), dp, seed=0)
    return strategy, dp


def test_average_is_sum_of_clipped_updates_over_expected_clients():
    strategy, dp = _strategy(noise_multiplier=1e-9, clip_norm=1.0)
    strategy.current = [np.zeros(2), np.zeros(1)]
    updates = [
        [np.array([3.0, 4.0]), np.array([0.0])],  # norm 5 -> clipped to 1
        [np.array([0.3, 0.0]), np.array([0.4])],  # norm 0.5 -> kept
    ]
    usable = [Screened(i, u, 10, None) for i, u in enumerate(updates)]
    new = strategy.aggregate(usable)
    expected_sum = [np.array([0.6 + 0.3, 0.8]), np.array([0.4])]
    assert dp.expected_clients == pytest.approx(0.4 * 10)  # closed form q * N, not ours
    for got, want in zip(new, expected_sum, strict=True):
        np.testing.assert_allclose(got, want / dp.expected_clients, atol=1e-8)


def test_noise_std_on_the_average_is_z_c_over_qn():
    strategy, _ = _strategy(noise_multiplier=1.3, clip_norm=0.7)
    strategy.current = [np.zeros(200_000)]
    new = strategy.aggregate([])  # no client joined: the release is pure noise
    want = 1.3 * 0.7 / (0.4 * 10)
    assert strategy.last_noise_std == pytest.approx(want)
    # Sample std of 200k normals is within 1% of sigma with overwhelming probability.
    assert np.std(new[0]) == pytest.approx(want, rel=0.01)
    assert abs(np.mean(new[0])) < 5 * want / math.sqrt(200_000)


def test_adaptive_clip_norm_follows_the_centred_noisy_count():
    strategy, dp = _strategy(
        noise_multiplier=1.0,
        clip_norm=1.0,
        adaptive=True,
        count_stddev=1e-9,
        target_quantile=0.5,
        clip_learning_rate=0.2,
    )
    strategy.current = [np.zeros(1)]
    norms = [0.5, 0.9, 3.0]  # two unclipped, one clipped at C = 1
    usable = [Screened(i, [np.array([v])], 5, None) for i, v in enumerate(norms)]
    strategy.aggregate(usable)
    # Andrew et al.: b = sum(unclipped - 1/2) / (qN) + 1/2, C <- C exp(-eta (b - gamma)).
    b = (2 * 0.5 - 0.5) / (0.4 * 10) + 0.5  # qN in closed form
    assert b == pytest.approx((2 * 0.5 - 0.5) / dp.expected_clients + 0.5)
    assert strategy.clip_norm == pytest.approx(math.exp(-0.2 * (b - 0.5)))


def test_poisson_sampling_rate():
    strategy, _ = _strategy(noise_multiplier=1.0)
    nodes = list(range(1000))
    counts = [len(strategy.sample(nodes)) for _ in range(20)]
    # Total is Binomial(20000, 0.4): a two-sided test at level 1e-4.
    result = stats.binomtest(sum(counts), 20 * 1000, 0.4)
    assert result.pvalue > 1e-4
    assert len(set(map(tuple, [strategy.sample(nodes) for _ in range(3)]))) == 3


def test_a_silent_node_is_reported_and_the_round_still_released(flower_task):
    strategy, dp = _strategy(noise_multiplier=1e-9, clip_norm=10.0)
    strategy.current = [np.zeros(2, np.float32)]
    strategy.sampled_ids = [1, 2, 3]
    replies = [_reply(1, [np.array([1.0, 0.0], np.float32)]), _reply(2, error="crashed")]
    arrays, _ = strategy.aggregate_train(7, replies)
    reasons = {e.node_id: e.reason for e in strategy.last_exclusions}
    assert set(reasons) == {2, 3}
    assert "dropped out" in reasons[3]
    assert "crashed" in reasons[2]
    # The one usable update, divided by the expected (not the received) number of clients.
    assert dp.expected_clients == pytest.approx(0.4 * 10)  # q * N = 4, not 1 or 3
    np.testing.assert_allclose(
        arrays.to_numpy_ndarrays()[0], [1.0 / dp.expected_clients, 0.0], atol=1e-6
    )
