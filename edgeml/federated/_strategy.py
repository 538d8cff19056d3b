"""Flower strategies: a FedAvg that screens replies, and client-level DP-FedAvg around it.

:class:`DPFedAvg` wraps a FedAvg the way Flower's own DP wrappers do
(``flwr.serverapp.strategy.dp_fixed_clipping``), but samples clients by Poisson sampling
(each joins with probability ``q``, so the accounting may use amplification by
sampling), divides by the *expected* number of clients, supports adaptive clipping with
its noisy count accounted, and reports every excluded reply.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg, Strategy

from edgeml._display import to_jsonable
from edgeml.federated import _clipping
from edgeml.federated._plan import ClientLevelDP
from edgeml.federated._replies import Exclusion, Screened, missing_replies, screen_replies

__all__ = ["DPFedAvg", "RoundRecord", "SafeFedAvg"]

logger = logging.getLogger("edgeml")


@dataclass(frozen=True)
class RoundRecord:
    """What happened in one training round.

    Attributes
    ----------
    round : int
    available, sampled, used : int
        Connected clients, clients asked to train, replies averaged.
    excluded : tuple of Exclusion
        Replies left out (errors, dropouts, bad shapes, NaN, zero examples).
    clip_norm, noise_std : float or None
        The clip norm used this round and the noise standard deviation on the average
        (``None`` without DP).
    epsilon : float or None
        Client-level epsilon spent after this round (``None`` without DP).
    train_metrics, eval_metrics : dict
        Aggregated client metrics (outside the DP guarantee).
    """

    round: int
    available: int
    sampled: int
    used: int
    excluded: tuple[Exclusion, ...] = ()
    clip_norm: float | None = None
    noise_std: float | None = None
    epsilon: float | None = None
    train_metrics: dict[str, float] = field(default_factory=dict)
    eval_metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "round": self.round,
            "available": self.available,
            "sampled": self.sampled,
            "used": self.used,
            "excluded": [e.to_dict() for e in self.excluded],
            "clip_norm": to_jsonable(self.clip_norm),
            "noise_std": to_jsonable(self.noise_std),
            "epsilon": to_jsonable(self.epsilon),
            "train_metrics": to_jsonable(self.train_metrics),
            "eval_metrics": to_jsonable(self.eval_metrics),
        }

    def to_release_dict(self) -> dict[str, Any]:
        """Return what the client-level guarantee covers: the round's DP parameters.

        The clip norm is public (fixed) or follows noisy counts (adaptive), the noise
        standard deviation and epsilon follow the public plan. Client counts,
        exclusions (node ids) and client metrics are exact statistics of the devices
        that took part, which the guarantee does not cover, so they are left out.
        """
        return {
            "round": self.round,
            "clip_norm": to_jsonable(self.clip_norm),
            "noise_std": to_jsonable(self.noise_std),
            "epsilon": to_jsonable(self.epsilon),
        }


def _metrics(record: MetricRecord | None) -> dict[str, float]:
    if record is None:
        return {}
    return {str(k): float(v) for k, v in record.items() if isinstance(v, (int, float))}


def _train_messages(
    node_ids: Iterable[int], arrays: ArrayRecord, config: ConfigRecord
) -> list[Message]:
    content = RecordDict({"arrays": arrays, "config": config})
    return [
        Message(content=content, message_type=MessageType.TRAIN, dst_node_id=node)
        for node in node_ids
    ]


class _ScreensTrainReplies:
    """The train-reply screening both strategies share, and the state it reports."""

    current: list[np.ndarray] | None
    sampled_ids: list[int]
    last_exclusions: tuple[Exclusion, ...]
    last_used: int

    def _screen_train(self, server_round: int, replies: Iterable[Message]) -> list[Screened]:
        """Screen the replies, add the sampled nodes that sent none, record both."""
        replies = list(replies)
        usable, excluded = screen_replies(replies, self.current, round_number=server_round)
        excluded += missing_replies(self.sampled_ids, replies, round_number=server_round)
        self.last_exclusions = tuple(excluded)
        self.last_used = len(usable)
        return usable


class SafeFedAvg(_ScreensTrainReplies, FedAvg):
    """Flower's FedAvg (weighted by ``num-examples``) that screens replies first.

    Replies with errors, wrong shapes, NaN values or zero examples are excluded and
    logged (see ``last_exclusions``) instead of breaking or skewing the average.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.current: list[np.ndarray] | None = None
        self.last_exclusions: tuple[Exclusion, ...] = ()
        self.last_sampled = 0
        self.last_used = 0
        self.sampled_ids: list[int] = []

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Sample clients as FedAvg does; remember the global weights for screening."""
        self.current = arrays.to_numpy_ndarrays()
        messages = list(super().configure_train(server_round, arrays, config, grid))
        self.last_sampled = len(messages)
        self.sampled_ids = [int(m.metadata.dst_node_id) for m in messages]
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Average the usable replies weighted by their example counts."""
        usable = self._screen_train(server_round, replies)
        if not usable:
            logger.warning("round %d: no usable reply; the model is unchanged", server_round)
            return None, None
        total = float(sum(s.num_examples for s in usable))
        averaged = [
            sum(s.weights[i].astype(np.float64) * (s.num_examples / total) for s in usable)
            for i in range(len(usable[0].weights))
        ]
        dtypes = [w.dtype for w in usable[0].weights]
        arrays = ArrayRecord(
            numpy_ndarrays=[np.asarray(a, dtype=d) for a, d in zip(averaged, dtypes, strict=True)]
        )
        metrics = self.train_metrics_aggr_fn([s.message.content for s in usable], "num-examples")
        return arrays, metrics

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """Average evaluation metrics of the usable replies."""
        usable, _ = screen_replies(replies, None, round_number=server_round, need_weights=False)
        if not usable:
            return None
        return super().aggregate_evaluate(server_round, [s.message for s in usable])


class DPFedAvg(_ScreensTrainReplies, Strategy):
    """Client-level DP-FedAvg around a FedAvg (McMahan et al. 2018; Andrew et al. 2021).

    Each round: every connected client joins with probability ``q``; each usable
    update (new weights minus global weights) is clipped to L2 norm ``C``; the clipped
    updates are summed, Gaussian noise ``N(0, (z C)^2)`` is added, and the result divided
    by the expected number of clients ``q N``. With adaptive clipping, the noisy
    centred count of unclipped updates moves ``C`` towards the target quantile.
    Evaluation is delegated to the wrapped strategy.

    Parameters
    ----------
    strategy : FedAvg
        Used for evaluation and metric aggregation.
    dp : ClientLevelDP
        The plan (noise, clipping, sampling rate, fleet size).
    seed : int, optional
        For tests only: makes sampling and noise reproducible.
    """

    def __init__(self, strategy: FedAvg, dp: ClientLevelDP, *, seed: int | None = None) -> None:
        self.strategy = strategy
        self.dp = dp
        self.clip_norm = dp.clip_norm
        self.rng = np.random.default_rng(seed)
        self.current: list[np.ndarray] = []
        self.last_exclusions: tuple[Exclusion, ...] = ()
        self.last_sampled = 0
        self.last_used = 0
        self.last_available = 0
        self.sampled_ids: list[int] = []
        self.last_noise_std = 0.0
        self.last_clip_norm = dp.clip_norm

    def __repr__(self) -> str:
        return (
            f"DPFedAvg(q={self.dp.sampling_rate:g}, z={self.dp.update_noise_multiplier:.4g}, "
            f"clip_norm={self.clip_norm:.4g}, adaptive={self.dp.adaptive})"
        )

    def summary(self) -> None:
        """Log the DP settings."""
        logger.info("%r, expected clients per round %.4g", self, self.dp.expected_clients)

    def sample(self, node_ids: list[int]) -> list[int]:
        """Poisson sampling: keep each node independently with probability ``q``."""
        return _clipping.poisson_sample(self.rng, node_ids, self.dp.sampling_rate)

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Poisson-sample the clients of this round and send them the global weights."""
        self.current = arrays.to_numpy_ndarrays()
        nodes = sorted(grid.get_node_ids())
        self.last_available = len(nodes)
        chosen = self.sample(nodes)
        self.last_sampled = len(chosen)
        self.sampled_ids = chosen
        config["server-round"] = server_round
        logger.info(
            "round %d: Poisson sampling chose %d of %d clients (q=%g)",
            server_round,
            len(chosen),
            len(nodes),
            self.dp.sampling_rate,
        )
        return _train_messages(chosen, arrays, config)

    def aggregate(self, usable: list[Screened]) -> list[np.ndarray]:
        """Clip, sum, add noise, divide by ``q N``; update the clip norm if adaptive."""
        clip = self.clip_norm
        total = [np.zeros(w.shape, dtype=np.float64) for w in self.current]
        centred_unclipped = 0.0
        for reply in usable:
            delta = [
                w.astype(np.float64) - c.astype(np.float64)
                for w, c in zip(reply.weights, self.current, strict=True)
            ]
            clipped, was_clipped = _clipping.clip_update(delta, clip)
            for acc, part in zip(total, clipped, strict=True):
                acc += part
            centred_unclipped += -0.5 if was_clipped else 0.5
        expected = self.dp.expected_clients
        sum_std = self.dp.update_noise_multiplier * clip
        self.last_noise_std = _clipping.noise_std(
            noise_multiplier=self.dp.update_noise_multiplier,
            clip_norm=clip,
            expected_clients=expected,
        )
        self.last_clip_norm = clip
        new = _clipping.noisy_step(
            self.current, total, self.rng, sum_std=sum_std, expected_clients=expected
        )
        if self.dp.adaptive:
            assert self.dp.count_stddev is not None
            noisy_count = centred_unclipped + self.rng.normal(0.0, self.dp.count_stddev)
            unclipped_fraction = noisy_count / expected + 0.5
            self.clip_norm = _clipping.adaptive_clip_update(
                clip,
                1.0 - unclipped_fraction,
                target_quantile=self.dp.target_quantile,
                learning_rate=self.dp.clip_learning_rate,
            )
        return new

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Screen the replies, then release the noisy average (always, even if empty)."""
        usable = self._screen_train(server_round, replies)
        new = self.aggregate(usable)
        logger.info(
            "round %d: averaged %d clipped updates (C=%.4g), noise std %.4g on the average",
            server_round,
            len(usable),
            self.last_clip_norm,
            self.last_noise_std,
        )
        metrics = None
        if usable:
            metrics = self.strategy.train_metrics_aggr_fn(
                [s.message.content for s in usable], "num-examples"
            )
        return ArrayRecord(numpy_ndarrays=new), metrics

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Delegate to the wrapped strategy."""
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """Delegate to the wrapped strategy."""
        return self.strategy.aggregate_evaluate(server_round, replies)
