"""Secure aggregation (Flower's SecAgg+) under client-level DP-FedAvg.

With :class:`SecAggPlus` the server never sees one device's update: each device clips
its own update to the clip norm ``C``, quantizes it and masks it; the server learns only
the sum of the masked vectors, which Flower's ``SecAggPlusWorkflow`` unmasks into the
(unit-weighted) mean of the clipped updates. The server turns that mean back into the
sum, adds Gaussian noise ``N(0, (z C)^2)`` and divides by the expected number of
devices ``q N``, exactly as :class:`~edgeml.federated.DPFedAvg` does, and records each
round in the same :class:`~edgeml.privacy.Ledger` with the same event.

In Flower 1.42 SecAgg+ exists only in the legacy workflow API
(``DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(...))`` over a legacy ``Strategy``,
with ``secaggplus_mod`` on a legacy ``ClientApp(client_fn=...)``), so this module
builds those legacy objects; :func:`~edgeml.federated.server_app` and
:func:`~edgeml.federated.client_app` choose them when asked for secure aggregation.

Examples
--------
>>> from edgeml.federated import ClientLevelDP, SecAggPlus
>>> secagg = SecAggPlus(num_shares=5, reconstruction_threshold=3)
>>> secagg.min_clients, secagg.max_clients
(3, 1023)
>>> dp = ClientLevelDP(num_clients=4, sampling_rate=1.0, rounds=2, noise_multiplier=1.0)
>>> secagg.rounding_error(dp, participants=4) < 1e-6
True
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeml.errors import ConfigError, invalid_argument
from edgeml.federated import _clipping
from edgeml.federated._plan import ClientLevelDP, _number, account_round, open_ledger
from edgeml.federated._replies import Exclusion
from edgeml.privacy.accounting import Ledger

__all__ = ["SecAggPlus"]

logger = logging.getLogger("edgeml")

CLIP_KEY = "edgeml-clip-norm"


def _binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k), summed in log space (no scipy in this layer)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    total = 0.0
    for i in range(k + 1):
        log_term = (
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * math.log(p)
            + (n - i) * math.log1p(-p)
        )
        total += math.exp(log_term)
    return min(1.0, total)


@dataclass(frozen=True)
class SecAggPlus:
    """Settings of Flower's SecAgg+ secure aggregation for a DP-FedAvg run.

    Parameters
    ----------
    num_shares : int, default 5
        Each device splits its secrets into this many shares, one per neighbour
        (itself included); > 2, and odd as SecAgg+ prefers.
    reconstruction_threshold : int, default 3
        Shares needed to recover a secret, and so the fewest devices a round needs:
        a round whose Poisson sample (or whose survivors) is smaller is refused. At least
        2 and below ``num_shares``. Higher means better protection against a server that
        colludes with devices, lower means more tolerance to dropouts.
    clipping_range : float, optional
        Each coordinate is clipped to ``[-clipping_range, clipping_range]`` before
        quantization. Default: the DP clip norm ``C``, which bounds every coordinate of
        a clipped update, so this second clipping never changes anything.
    quantization_range : int, default 2**22
        Quantization levels over ``[-clipping_range, clipping_range]``.
    modulus_range : int, default 2**32
        The masks' modulus, a power of two above ``quantization_range``; the sum of
        ``n`` quantized updates fits only while ``n < modulus_range /
        quantization_range`` (see :attr:`max_clients`).
    timeout : float, optional
        Seconds to wait for the devices at each of the protocol's four stages (default:
        the ``timeout`` of :func:`~edgeml.federated.server_app`).

    Examples
    --------
    >>> SecAggPlus(num_shares=3, reconstruction_threshold=3)
    Traceback (most recent call last):
    ...
    edgeml.errors.ConfigError: SecAggPlus got reconstruction_threshold=3 ...
    """

    num_shares: int = 5
    reconstruction_threshold: int = 3
    clipping_range: float | None = None
    quantization_range: int = 2**22
    modulus_range: int = 2**32
    timeout: float | None = None

    def __post_init__(self) -> None:
        owner = "SecAggPlus"

        def integer(name: str, value: Any, low: int) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise invalid_argument(owner, name, value, f"an integer >= {low}")

        integer("num_shares", self.num_shares, 3)
        integer("reconstruction_threshold", self.reconstruction_threshold, 2)
        if self.reconstruction_threshold >= self.num_shares:
            raise ConfigError(
                f"SecAggPlus got reconstruction_threshold={self.reconstruction_threshold} "
                f"with num_shares={self.num_shares}, but Flower needs the threshold below the "
                "number of shares. Fix: raise num_shares or lower reconstruction_threshold."
            )
        if self.clipping_range is not None:
            _number(owner, "clipping_range", self.clipping_range, 0.0)
        integer("quantization_range", self.quantization_range, 2)
        integer("modulus_range", self.modulus_range, 4)
        power_of_two = bin(self.modulus_range).count("1") == 1
        if not power_of_two or self.modulus_range <= self.quantization_range:
            raise invalid_argument(
                owner,
                "modulus_range",
                self.modulus_range,
                f"a power of two above quantization_range={self.quantization_range}",
            )
        if self.timeout is not None and not self.timeout > 0:
            raise invalid_argument(owner, "timeout", self.timeout, "a number of seconds > 0")

    @property
    def min_clients(self) -> int:
        """The fewest devices a round can securely aggregate (the threshold)."""
        return self.reconstruction_threshold

    @property
    def max_clients(self) -> int:
        """The most devices whose quantized sum fits in the modulus without wrapping."""
        return -(-self.modulus_range // self.quantization_range) - 1

    def range_for(self, dp: ClientLevelDP) -> float:
        """Return the clipping range used with ``dp`` (default its clip norm)."""
        return dp.clip_norm if self.clipping_range is None else float(self.clipping_range)

    def rounding_error(self, dp: ClientLevelDP, participants: int) -> float:
        """Bound on the quantization error of one coordinate of the released average.

        Each device rounds each coordinate stochastically (unbiased) to a grid of step
        ``2 r / L`` (``r`` the clipping range, ``L`` the quantization range), an error
        below one step; the sum of ``n`` devices is off by less than ``n`` steps and the
        released average, the sum over ``q N``, by less than ``2 r n / (L q N)``.

        Parameters
        ----------
        dp : ClientLevelDP
        participants : int
            ``n``, the devices summed in the round.

        Returns
        -------
        float
        """
        step = 2.0 * self.range_for(dp) / self.quantization_range
        return step * participants / dp.expected_clients

    def refusal_probability(self, dp: ClientLevelDP) -> float:
        """Chance that Poisson sampling makes a round impossible to aggregate securely.

        A round is refused when fewer than :attr:`min_clients` or more than
        :attr:`max_clients` devices are sampled. Whether that happens depends on who
        joined, so it is a (small) release of its own: over ``R`` rounds it adds at most
        ``(1 + e^epsilon) R p`` to delta, with ``p`` this probability for a fleet of
        ``num_clients`` (bounded over ``N - 1`` and ``N`` devices, the two neighbours).

        Parameters
        ----------
        dp : ClientLevelDP

        Returns
        -------
        float
        """
        n = dp.num_clients
        q = dp.sampling_rate
        low = _binomial_cdf(self.min_clients - 1, n - 1, q)
        high = 1.0 - _binomial_cdf(self.max_clients, n, q)
        return min(1.0, low + max(high, 0.0))

    def extra_delta(self, dp: ClientLevelDP, epsilon: float, rounds: int) -> float:
        """Return the delta that refused rounds add: ``(1 + e^epsilon) R p``."""
        p = self.refusal_probability(dp)
        if p == 0.0:
            return 0.0
        return float(min(1.0, (1.0 + math.exp(min(epsilon, 700.0))) * rounds * p))

    def check(self, dp: ClientLevelDP | None) -> None:
        """Refuse DP plans that SecAgg+ cannot serve (raises ``ConfigError``)."""
        if dp is None:
            raise ConfigError(
                "secure_aggregation needs dp=ClientLevelDP(...): SecAgg+ quantizes each "
                "coordinate within a known range, and the DP clip norm is what bounds it. "
                "Fix: pass dp=ClientLevelDP(...) (or drop secure_aggregation)."
            )
        if dp.adaptive:
            raise ConfigError(
                "secure_aggregation does not support adaptive clipping: adaptive clipping "
                "needs the count of updates under the clip norm, and with SecAgg+ the server "
                "sees no update, only the sum. Fix: use fixed clipping "
                "(ClientLevelDP(adaptive=False, clip_norm=...))."
            )
        if dp.expected_clients < self.min_clients:
            raise ConfigError(
                f"secure_aggregation needs at least reconstruction_threshold="
                f"{self.min_clients} devices per round, but the plan expects only "
                f"{dp.expected_clients:g} (sampling_rate * num_clients). Fix: raise "
                "sampling_rate, or lower reconstruction_threshold."
            )
        epsilon = dp.epsilon() if dp.target_epsilon is None else dp.target_epsilon
        extra = self.extra_delta(dp, epsilon, dp.rounds)
        if extra > dp.delta:
            raise ConfigError(
                f"With sampling_rate={dp.sampling_rate:g} over {dp.num_clients} devices, a "
                f"round is refused (fewer than {self.min_clients} or more than "
                f"{self.max_clients} devices sampled) with probability "
                f"{self.refusal_probability(dp):.3g}; over {dp.rounds} rounds that adds "
                f"{extra:.3g} to delta, more than delta={dp.delta:g} itself. Fix: raise "
                "sampling_rate, lower reconstruction_threshold, or raise quantization "
                "headroom (modulus_range / quantization_range)."
            )


# --------------------------------------------------------------------------- server


class _State:
    """What the strategy learnt in a run, read by the server app at the end."""

    def __init__(self) -> None:
        self.history: list[Any] = []
        self.stopped = "completed"
        self.accounted = 0
        self.weights: list[np.ndarray] = []


def _strategy_class() -> type:
    from flwr.common import (
        EvaluateIns,
        FitIns,
        ndarrays_to_parameters,
        parameters_to_ndarrays,
    )
    from flwr.server.strategy import Strategy

    from edgeml.federated._strategy import RoundRecord

    class SecAggDPFedAvg(Strategy):  # type: ignore[misc]
        """Legacy Flower strategy: DP-FedAvg on the sum that SecAgg+ unmasks."""

        def __init__(
            self,
            initial: list[np.ndarray],
            dp: ClientLevelDP,
            secagg: SecAggPlus,
            ledger: Ledger,
            *,
            min_clients: int,
            timeout: float,
            fraction_evaluate: float,
            train_config: Mapping[str, Any],
            seed: int | None,
        ) -> None:
            super().__init__()
            self.dp = dp
            self.secagg = secagg
            self.ledger = ledger
            self.min_wait = min_clients
            self.timeout = timeout
            self.fraction_evaluate = fraction_evaluate
            self.train_config = dict(train_config)
            self.rng = np.random.default_rng(seed)
            self.state = _State()
            self.state.weights = [np.asarray(w) for w in initial]
            self.sampled: list[int] = []
            self.available = 0
            self.epsilon = 0.0

        def __repr__(self) -> str:
            return (
                f"SecAggDPFedAvg(q={self.dp.sampling_rate:g}, "
                f"z={self.dp.update_noise_multiplier:.4g}, clip_norm={self.dp.clip_norm:.4g})"
            )

        def initialize_parameters(self, client_manager: Any) -> Any:
            return ndarrays_to_parameters(self.state.weights)

        def _record(self, number: int, used: int, reasons: str | None) -> None:
            excluded = tuple(Exclusion(node, reasons) for node in self.sampled) if reasons else ()
            record = RoundRecord(
                round=number,
                available=self.available,
                sampled=len(self.sampled),
                used=used,
                excluded=excluded,
                clip_norm=self.dp.clip_norm,
                noise_std=self.dp.noise_std(),
                epsilon=self.epsilon,
            )
            history = self.state.history
            if history and history[-1].round == number:
                history[-1] = record
            else:
                history.append(record)

        def configure_fit(
            self, server_round: int, parameters: Any, client_manager: Any
        ) -> list[tuple[Any, Any]]:
            if self.state.stopped == "budget":
                return []
            if server_round == 1 and not client_manager.wait_for(
                self.min_wait, timeout=max(1, int(self.timeout))
            ):
                raise ConfigError(
                    f"Only {client_manager.num_available()} of min_clients={self.min_wait} "
                    f"clients connected within {self.timeout:g} s. Fix: start more "
                    "SuperNodes, or lower min_clients."
                )
            # Account the round before anything is sent (and stop before the budget).
            if not account_round(self.ledger, self.dp, server_round):
                self.state.stopped = "budget"
                return []
            self.state.accounted += 1
            self.epsilon = self.ledger.spent().epsilon
            clients = client_manager.all()
            nodes = sorted(clients, key=lambda cid: int(clients[cid].node_id))
            self.available = len(nodes)
            chosen = _clipping.poisson_sample(
                self.rng, [clients[c] for c in nodes], self.dp.sampling_rate
            )
            self.sampled = [int(p.node_id) for p in chosen]
            logger.info(
                "round %d: Poisson sampling chose %d of %d clients (q=%g)",
                server_round,
                len(chosen),
                len(nodes),
                self.dp.sampling_rate,
            )
            low, high = self.secagg.min_clients, self.secagg.max_clients
            if not low <= len(chosen) <= high:
                reason = (
                    f"round refused: {len(chosen)} devices sampled, secure aggregation "
                    f"needs {low} to {high}"
                )
                logger.warning("round %d (accounted, model unchanged): %s", server_round, reason)
                self._record(server_round, 0, reason)
                return []
            # Until aggregate_fit runs, the round counts as halted (dropouts).
            self._record(
                server_round,
                0,
                "secure aggregation halted: too few devices answered (dropouts beyond the "
                "reconstruction threshold); the model is unchanged",
            )
            config: dict[str, Any] = {
                "server-round": server_round,
                CLIP_KEY: float(self.dp.clip_norm),
            }
            config.update(self.train_config)
            fit_ins = FitIns(parameters, config)
            return [(proxy, fit_ins) for proxy in chosen]

        def aggregate_fit(
            self, server_round: int, results: list[tuple[Any, Any]], failures: list[Any]
        ) -> tuple[Any, dict[str, Any]]:
            # SecAgg+ hands every result the same unmasked aggregate: the mean of the
            # clipped updates of the devices that sent a masked vector (unit weights).
            used = len(results)
            if used == 0:
                return None, {}
            mean = [
                np.asarray(a, dtype=np.float64)
                for a in parameters_to_ndarrays(results[0][1].parameters)
            ]
            current = self.state.weights
            if len(mean) != len(current) or any(
                m.shape != c.shape for m, c in zip(mean, current, strict=True)
            ):
                raise ConfigError(
                    "The securely aggregated update does not match the model's weight "
                    f"shapes ({[m.shape for m in mean]} vs {[c.shape for c in current]}). "
                    "Fix: use the same model_fn on the server and on every device."
                )
            new = _clipping.noisy_step(
                current,
                [m * used for m in mean],
                self.rng,
                sum_std=self.dp.update_noise_multiplier * self.dp.clip_norm,
                expected_clients=self.dp.expected_clients,
            )
            self.state.weights = new
            dropped = self.sampled_dropped(results)
            self._record(server_round, used, None)
            if dropped:
                last = self.state.history[-1]
                self.state.history[-1] = dataclasses.replace(
                    last,
                    excluded=tuple(
                        Exclusion(node, "dropped out during secure aggregation") for node in dropped
                    ),
                )
            logger.info(
                "round %d: securely summed %d clipped updates (C=%.4g), noise std %.4g on "
                "the average",
                server_round,
                used,
                self.dp.clip_norm,
                self.dp.noise_std(),
            )
            return ndarrays_to_parameters(new), {}

        def sampled_dropped(self, results: list[tuple[Any, Any]]) -> list[int]:
            answered = {int(proxy.node_id) for proxy, _ in results}
            return [node for node in self.sampled if node not in answered]

        def configure_evaluate(
            self, server_round: int, parameters: Any, client_manager: Any
        ) -> list[tuple[Any, Any]]:
            if self.fraction_evaluate <= 0:
                return []
            clients = list(client_manager.all().values())
            count = max(1, round(self.fraction_evaluate * len(clients)))
            chosen = sorted(clients, key=lambda p: int(p.node_id))
            picked = self.rng.permutation(len(chosen))[:count]
            ins = EvaluateIns(ndarrays_to_parameters(self.state.weights), {})
            return [(chosen[int(i)], ins) for i in picked]

        def aggregate_evaluate(
            self, server_round: int, results: list[tuple[Any, Any]], failures: list[Any]
        ) -> tuple[float | None, dict[str, Any]]:
            usable = [(r.loss, r.num_examples, r.metrics) for _, r in results if r.num_examples]
            if not usable:
                return None, {}
            total = float(sum(n for _, n, _ in usable))
            loss = sum(float(l_) * n for l_, n, _ in usable) / total
            metrics: dict[str, float] = {}
            for key in usable[0][2]:
                values = [(m.get(key), n) for _, n, m in usable]
                if all(isinstance(v, (int, float)) for v, _ in values):
                    metrics[key] = sum(float(v) * n for v, n in values) / total  # type: ignore[arg-type]
            if self.state.history and self.state.history[-1].round == server_round:
                last = self.state.history[-1]
                self.state.history[-1] = dataclasses.replace(
                    last, eval_metrics={"loss": loss, **metrics}
                )
            return loss, metrics

        def evaluate(self, server_round: int, parameters: Any) -> None:
            return None

    return SecAggDPFedAvg


def secagg_server_main(
    model_fn: Callable[[], Any],
    *,
    rounds: int,
    dp: ClientLevelDP,
    secagg: SecAggPlus,
    ledger: Ledger | None,
    min_clients: int,
    fraction_evaluate: float,
    train_config: Mapping[str, Any] | None,
    timeout: float,
    seed: int | None,
) -> Callable[[Any, Any], tuple[Any, Ledger]]:
    """Return the body of a legacy-workflow ``ServerApp`` main: ``(grid, context) -> ...``.

    The body runs Flower's ``DefaultWorkflow`` with ``SecAggPlusWorkflow`` as the fit
    workflow and returns ``(state, ledger)``: the strategy's run state and the ledger.
    """
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    strategy_class = _strategy_class()

    def body(grid: Any, context: Any) -> tuple[Any, Ledger]:
        book = open_ledger(dp, ledger)
        initial = [np.asarray(w) for w in model_fn().get_weights()]
        strategy = strategy_class(
            initial,
            dp,
            secagg,
            book,
            min_clients=min_clients,
            timeout=timeout,
            fraction_evaluate=fraction_evaluate,
            train_config=train_config or {},
            seed=seed,
        )
        logger.info("%r with SecAgg+ %r", strategy, secagg)
        legacy = LegacyContext(
            context=context, config=ServerConfig(num_rounds=rounds), strategy=strategy
        )
        workflow = DefaultWorkflow(
            fit_workflow=SecAggPlusWorkflow(
                num_shares=secagg.num_shares,
                reconstruction_threshold=secagg.reconstruction_threshold,
                max_weight=1.0,
                clipping_range=secagg.range_for(dp),
                quantization_range=secagg.quantization_range,
                modulus_range=secagg.modulus_range,
                timeout=secagg.timeout if secagg.timeout is not None else timeout,
            )
        )
        workflow(grid, legacy)
        return strategy.state, book

    return body


# --------------------------------------------------------------------------- client


def secagg_client_app(
    trainable: Callable[[Any, Mapping[str, Any]], Any],
    split: Callable[[Any], tuple[Any, Any, Any, Any]],
    mods: list[Any],
    after_fit: Callable[[Any, Any], None],
) -> Any:
    """Build a legacy ``ClientApp`` whose updates are clipped here, then masked by SecAgg+.

    Parameters
    ----------
    trainable : callable
        ``trainable(context, config)`` returns a fresh Trainable.
    split : callable
        ``split(context)`` returns ``(x, y, x_eval, y_eval)``.
    mods : list
        More Flower mods, run after ``secaggplus_mod``.
    after_fit : callable
        ``after_fit(context, model)`` after local training (keeps the device ledger).
    """
    from flwr.client import NumPyClient
    from flwr.client.mod import secaggplus_mod
    from flwr.clientapp import ClientApp

    class _Device(NumPyClient):  # type: ignore[misc]
        def __init__(self, context: Any) -> None:
            self.context = context

        def fit(
            self, parameters: list[np.ndarray], config: dict[str, Any]
        ) -> tuple[list[np.ndarray], int, dict[str, Any]]:
            clip = float(config[CLIP_KEY])
            model = trainable(self.context, config)
            model.set_weights(parameters)
            x, y, _, _ = split(self.context)
            if len(x) == 0:
                logger.warning("client has no training examples; sending a zero update")
                update = [np.zeros(np.shape(p), np.float64) for p in parameters]
            else:
                model.fit(x, y)
                after_fit(self.context, model)
                update = [
                    np.asarray(w, np.float64) - np.asarray(p, np.float64)
                    for w, p in zip(model.get_weights(), parameters, strict=True)
                ]
            if not all(np.all(np.isfinite(u)) for u in update):
                logger.warning("the local update is not finite; sending a zero update")
                update = [np.zeros_like(u) for u in update]
            clipped, _ = _clipping.clip_update(update, clip)
            # Weight 1 (SecAgg+'s max_weight is 1): the unmasked aggregate is the plain
            # mean of the clipped updates, and no example count leaves the device.
            return clipped, 1, {}

        def evaluate(
            self, parameters: list[np.ndarray], config: dict[str, Any]
        ) -> tuple[float, int, dict[str, Any]]:
            model = trainable(self.context, config)
            model.set_weights(parameters)
            _, _, x_eval, y_eval = split(self.context)
            if len(x_eval) == 0:
                return 0.0, 0, {}
            values = dict(model.evaluate(x_eval, y_eval))
            loss = float(values.pop("loss", 0.0))
            return loss, len(x_eval), {k: float(v) for k, v in values.items()}

    def client_fn(context: Any) -> Any:
        return _Device(context).to_client()

    return ClientApp(client_fn=client_fn, mods=[secaggplus_mod, *mods])
