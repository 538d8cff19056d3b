"""``server_app``: a Flower ``ServerApp`` running FedAvg or client-level DP-FedAvg.

The app's main loop runs the rounds itself (rather than ``Strategy.start``) so that it
can account each round in the :class:`~edgeml.privacy.Ledger` *before* sending it, and
stop before a round would take the ledger over its budget. The result is a
:class:`FederatedResult`: the final weights (set them into a normal Keras model), the
per-round history, the client-level guarantee and, when asked, the fleet drift report.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeml._display import to_jsonable
from edgeml._io import atomic_write
from edgeml.drift import DriftReport, Histogram
from edgeml.errors import ConfigError, invalid_argument
from edgeml.federated._client import SKETCH_KEY
from edgeml.federated._drift import fleet_drift
from edgeml.federated._guarantee import ClientGuarantee
from edgeml.federated._plan import ClientLevelDP, account_round, open_ledger
from edgeml.federated._secagg import SecAggPlus
from edgeml.privacy.accounting import Ledger

__all__ = ["FederatedResult", "server_app", "simulate"]

logger = logging.getLogger("edgeml")


@dataclass(frozen=True, repr=False)
class FederatedResult:
    """The outcome of a federated run.

    Attributes
    ----------
    weights : tuple of numpy.ndarray
        The final global weights.
    rounds : tuple of RoundRecord
        One record per round that ran.
    stopped : str
        ``"completed"``, or ``"budget"`` when the ledger's budget stopped the run early.
    guarantee : ClientGuarantee or None
        The client-level guarantee (``None`` without DP).
    drift : DriftReport or None
        The fleet drift report, when a reference was given.
    ledger : Ledger or None
        The ledger the rounds were recorded in.
    """

    weights: tuple[np.ndarray, ...]
    rounds: tuple[Any, ...]
    stopped: str = "completed"
    guarantee: ClientGuarantee | None = None
    drift: DriftReport | None = None
    ledger: Ledger | None = None

    def __repr__(self) -> str:
        eps = "None" if self.guarantee is None else f"{self.guarantee.epsilon:.4g}"
        return (
            f"FederatedResult(rounds={len(self.rounds)}, stopped={self.stopped!r}, epsilon={eps})"
        )

    def model(self, model: Any) -> Any:
        """Set the final weights into ``model`` (a Keras model or Trainable) and return it.

        Parameters
        ----------
        model : keras.Model or Trainable
            Same architecture as the one trained.

        Returns
        -------
        The same model.
        """
        model.set_weights(list(self.weights))
        return model

    def card(self, name: str, **fields: Any) -> Any:
        """Build a model card recording the client-level guarantee.

        The fleet drift report is not put in the card: its counts are exact unless every
        device noised its sketch, which the server cannot check. Share ``self.drift``
        yourself when the devices used ``drift_noise_multiplier``.

        Parameters
        ----------
        name : str
        **fields
            More :meth:`edgeml.card.ModelCard.build` arguments.

        Returns
        -------
        edgeml.card.ModelCard
        """
        from edgeml.card import ModelCard

        if self.guarantee is not None:
            fields.setdefault("privacy", self.guarantee)
        return ModelCard.build(name, **fields)

    def to_release_dict(self) -> dict[str, Any]:
        """Return what :meth:`save` writes: the parts the client-level guarantee covers.

        Per round only the DP parameters (:meth:`RoundRecord.to_release_dict`); no client
        counts, node ids, client metrics or fleet drift, which stay with the operator in
        :attr:`rounds` and :attr:`drift` (and in :meth:`to_dict`).

        Returns
        -------
        dict
        """
        return {
            "stopped": self.stopped,
            "weight_shapes": [list(w.shape) for w in self.weights],
            "rounds": [r.to_release_dict() for r in self.rounds],
            "guarantee": None if self.guarantee is None else self.guarantee.to_dict(),
            "ledger": None if self.ledger is None else self.ledger.to_dict(),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe summary (weights as shapes only), diagnostics included."""
        return {
            "stopped": self.stopped,
            "weight_shapes": [list(w.shape) for w in self.weights],
            "rounds": [r.to_dict() for r in self.rounds],
            "guarantee": None if self.guarantee is None else self.guarantee.to_dict(),
            "drift": None if self.drift is None else self.drift.to_dict(),
            "ledger": None if self.ledger is None else self.ledger.to_dict(),
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``result.json`` and ``weights.npz`` into ``directory`` (atomically).

        ``result.json`` holds :meth:`to_release_dict` only, so it and the weights can
        leave the server under the client-level guarantee. The operator's diagnostics
        (:meth:`to_dict`: client counts, exclusions, client metrics, fleet drift), which
        the guarantee does not cover, go to ``internal/diagnostics.json``: keep that
        folder on the server.

        Returns
        -------
        pathlib.Path
            The directory.
        """
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        import io

        buffer = io.BytesIO()
        np.savez(buffer, *self.weights)
        atomic_write(path / "weights.npz", buffer.getvalue())
        atomic_write(
            path / "result.json", json.dumps(to_jsonable(self.to_release_dict()), indent=2)
        )
        (path / "internal").mkdir(exist_ok=True)
        atomic_write(
            path / "internal" / "diagnostics.json",
            json.dumps(to_jsonable(self.to_dict()), indent=2),
        )
        return path


def _wait_for_nodes(grid: Any, count: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= count:
            return nodes
        if time.monotonic() > deadline:
            raise ConfigError(
                f"Only {len(nodes)} of min_clients={count} clients connected within "
                f"{timeout:g} s. Fix: start more SuperNodes, or lower min_clients."
            )
        time.sleep(1.0)


def _query_drift(grid: Any, reference: Histogram, nodes: Sequence[int], timeout: float) -> Any:
    from flwr.app import ConfigRecord, Message, MessageType, RecordDict

    content = RecordDict({SKETCH_KEY: ConfigRecord({"reference": reference.empty().to_bytes()})})
    messages = [
        Message(content=content, message_type=MessageType.QUERY, dst_node_id=node) for node in nodes
    ]
    sketches = []
    for reply in grid.send_and_receive(messages, timeout=timeout):
        node = int(reply.metadata.src_node_id)
        if reply.has_error():
            logger.warning("drift query: node %d failed: %s", node, reply.error.reason)
            continue
        record = reply.content.config_records.get(SKETCH_KEY)
        try:
            sketch = Histogram.from_bytes(bytes(record["sketch"]))
            reference.check_compatible(sketch, "fleet drift")
        except Exception as exc:  # a bad device must not stop the fleet report
            logger.warning("drift query: node %d sent an unusable sketch: %s", node, exc)
            continue
        sketches.append(sketch)
    return fleet_drift(reference, sketches) if sketches else None


def server_app(
    model_fn: Callable[[], Any],
    *,
    rounds: int | None = None,
    dp: ClientLevelDP | None = None,
    ledger: Ledger | None = None,
    min_clients: int | None = None,
    fraction_train: float = 1.0,
    fraction_evaluate: float = 1.0,
    train_config: dict[str, Any] | None = None,
    drift_reference: Histogram | None = None,
    timeout: float = 600.0,
    output: str | os.PathLike[str] | None = None,
    on_result: Callable[[FederatedResult], None] | None = None,
    secure_aggregation: SecAggPlus | None = None,
    seed: int | None = None,
) -> Any:
    """Build a Flower ``ServerApp`` that trains ``model_fn()`` with FedAvg or DP-FedAvg.

    Parameters
    ----------
    model_fn : callable
        ``model_fn()`` returns the initial model (Keras model or Trainable); only its
        weights are used (and sent to the clients).
    rounds : int, optional
        Rounds to run; defaults to ``dp.rounds`` (and must match it when both given).
    dp : ClientLevelDP, optional
        Client-level DP-FedAvg. Without it, plain FedAvg weighted by example counts
        (``fraction_train`` of the clients each round).
    ledger : Ledger, optional
        Record each DP round here (e.g. shared with other releases); the run stops
        before a round would exceed its budget. Default: a new ledger with
        ``budget=dp.target_epsilon``.
    min_clients : int, optional
        Wait for this many connected clients before the first round (default
        ``dp.num_clients`` with DP, else 2).
    fraction_train, fraction_evaluate : float
        FedAvg's client fractions (``fraction_train`` only without DP).
    train_config : dict, optional
        Sent to the clients each round (e.g. ``{"local-epochs": 2}``).
    drift_reference : Histogram, optional
        After training, query every client for a sketch over these (public) edges and
        report fleet drift.
    timeout : float, default 600
        Seconds to wait for clients (connection and each round's replies).
    output : path, optional
        Directory where the result is saved (``result.json``, ``weights.npz`` and
        ``internal/diagnostics.json``; see :meth:`FederatedResult.save`).
    on_result : callable, optional
        Called with the :class:`FederatedResult` (e.g. to keep it in a simulation).
    secure_aggregation : SecAggPlus, optional
        Aggregate with Flower's SecAgg+ so that the server sees only the sum of the
        clipped updates (pair with ``client_app(..., secure_aggregation=True)``; needs
        ``dp`` with fixed clipping; no ``drift_reference``). Each device clips its own
        update; the server adds the noise to the sum. Runs Flower's legacy workflow API.
    seed : int, optional
        Reproducible sampling and noise, for tests only.

    Returns
    -------
    flwr.serverapp.ServerApp

    Examples
    --------
    >>> import keras
    >>> from edgeml.federated import ClientLevelDP, server_app
    >>> dp = ClientLevelDP(num_clients=3, sampling_rate=1.0, rounds=2, noise_multiplier=1.0)
    >>> app = server_app(lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
    ...                  dp=dp)
    >>> type(app).__name__
    'ServerApp'
    """
    from edgeml._optional import require

    serverapp = require("flwr.serverapp", extra="federated", feature="edgeml.federated")
    from flwr.app import ArrayRecord, ConfigRecord

    from edgeml.federated._strategy import DPFedAvg, RoundRecord, SafeFedAvg, _metrics

    if dp is not None and not isinstance(dp, ClientLevelDP):
        raise invalid_argument("server_app", "dp", dp, "a ClientLevelDP or None")
    if rounds is None:
        if dp is None:
            raise ConfigError("server_app needs rounds=... (or dp=ClientLevelDP(rounds=...)).")
        rounds = dp.rounds
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise invalid_argument("server_app", "rounds", rounds, "an integer >= 1")
    if dp is not None and rounds != dp.rounds:
        raise ConfigError(
            f"server_app got rounds={rounds} but the DP plan was calibrated for "
            f"dp.rounds={dp.rounds}. Fix: pass the same number (or omit rounds)."
        )
    wait_for = min_clients if min_clients is not None else (dp.num_clients if dp else 2)
    if secure_aggregation is not None:
        if not isinstance(secure_aggregation, SecAggPlus):
            raise invalid_argument(
                "server_app", "secure_aggregation", secure_aggregation, "a SecAggPlus or None"
            )
        secure_aggregation.check(dp)
        if drift_reference is not None:
            raise ConfigError(
                "server_app(secure_aggregation=...) cannot send drift queries: Flower's "
                "SecAgg+ runs in its legacy API, whose client apps have no query handler. "
                "Fix: drop drift_reference, or query drift in a separate run."
            )
        assert dp is not None
        return _secagg_app(
            serverapp,
            model_fn,
            rounds=rounds,
            dp=dp,
            secagg=secure_aggregation,
            ledger=ledger,
            wait_for=wait_for,
            fraction_evaluate=fraction_evaluate,
            train_config=train_config,
            timeout=timeout,
            output=output,
            on_result=on_result,
            seed=seed,
        )
    app = serverapp.ServerApp()

    @app.main()  # type: ignore[untyped-decorator]
    def main(grid: Any, context: Any) -> None:
        initial = model_fn()
        weights = [np.asarray(w) for w in initial.get_weights()]
        _wait_for_nodes(grid, wait_for, timeout)
        fedavg = SafeFedAvg(
            fraction_train=fraction_train,
            fraction_evaluate=fraction_evaluate,
            min_train_nodes=min(2, wait_for),
            min_evaluate_nodes=min(2, wait_for) if fraction_evaluate > 0 else 0,
            min_available_nodes=wait_for,
        )
        strategy: Any = fedavg if dp is None else DPFedAvg(fedavg, dp, seed=seed)
        strategy.summary()
        book = ledger if dp is None else open_ledger(dp, ledger)
        history = []
        stopped = "completed"
        accounted = 0
        for number in range(1, rounds + 1):
            if dp is not None and book is not None:
                if not account_round(book, dp, number):
                    stopped = "budget"
                    break
                accounted += 1
            arrays = ArrayRecord(numpy_ndarrays=weights)
            config = ConfigRecord({"server-round": number, **(train_config or {})})
            messages = strategy.configure_train(number, arrays, config, grid)
            replies = grid.send_and_receive(list(messages), timeout=timeout)
            new_arrays, train_metrics = strategy.aggregate_train(number, replies)
            if new_arrays is not None:
                weights = new_arrays.to_numpy_ndarrays()
            eval_metrics = None
            if fraction_evaluate > 0:
                eval_messages = strategy.configure_evaluate(
                    number, ArrayRecord(numpy_ndarrays=weights), ConfigRecord(), grid
                )
                eval_replies = grid.send_and_receive(list(eval_messages), timeout=timeout)
                eval_metrics = strategy.aggregate_evaluate(number, eval_replies)
            spent = book.spent().epsilon if (dp is not None and book is not None) else None
            history.append(
                RoundRecord(
                    round=number,
                    available=len(list(grid.get_node_ids())),
                    sampled=strategy.last_sampled,
                    used=strategy.last_used,
                    excluded=strategy.last_exclusions,
                    clip_norm=getattr(strategy, "last_clip_norm", None),
                    noise_std=getattr(strategy, "last_noise_std", None),
                    epsilon=spent,
                    train_metrics=_metrics(train_metrics),
                    eval_metrics=_metrics(eval_metrics),
                )
            )
            logger.info("round %d done: %s", number, history[-1].to_dict())
        drift = None
        if drift_reference is not None:
            drift = _query_drift(grid, drift_reference, sorted(grid.get_node_ids()), timeout)
        guarantee = None
        if dp is not None and book is not None:
            guarantee = dp.guarantee(book.spent().epsilon, accounted)
        result = FederatedResult(
            weights=tuple(weights),
            rounds=tuple(history),
            stopped=stopped,
            guarantee=guarantee,
            drift=drift,
            ledger=book,
        )
        _deliver(result, output, on_result)

    return app


def _deliver(
    result: FederatedResult,
    output: str | os.PathLike[str] | None,
    on_result: Callable[[FederatedResult], None] | None,
) -> None:
    """Hand a finished run to the caller: save it to ``output``, then call ``on_result``."""
    if output is not None:
        result.save(output)
    if on_result is not None:
        on_result(result)


def _secagg_app(
    serverapp: Any,
    model_fn: Callable[[], Any],
    *,
    rounds: int,
    dp: ClientLevelDP,
    secagg: SecAggPlus,
    ledger: Ledger | None,
    wait_for: int,
    fraction_evaluate: float,
    train_config: dict[str, Any] | None,
    timeout: float,
    output: str | os.PathLike[str] | None,
    on_result: Callable[[FederatedResult], None] | None,
    seed: int | None,
) -> Any:
    from edgeml.federated._secagg import secagg_server_main

    body = secagg_server_main(
        model_fn,
        rounds=rounds,
        dp=dp,
        secagg=secagg,
        ledger=ledger,
        min_clients=wait_for,
        fraction_evaluate=fraction_evaluate,
        train_config=train_config,
        timeout=timeout,
        seed=seed,
    )
    app = serverapp.ServerApp()

    @app.main()  # type: ignore[untyped-decorator]
    def main(grid: Any, context: Any) -> None:
        state, book = body(grid, context)
        epsilon = book.spent().epsilon
        guarantee = dp.guarantee(epsilon, state.accounted)
        extra = secagg.extra_delta(dp, epsilon, state.accounted)
        if extra > 0:
            # Refused rounds (too few or too many devices sampled) leak a little: pay it.
            guarantee = dataclasses.replace(guarantee, delta=guarantee.delta + extra)
        result = FederatedResult(
            weights=tuple(state.weights),
            rounds=tuple(state.history),
            stopped=state.stopped,
            guarantee=guarantee,
            ledger=book,
        )
        _deliver(result, output, on_result)

    return app


def simulate(
    server: Any,
    client: Any,
    *,
    num_clients: int,
    num_cpus: int = 1,
    client_cpus: float = 1.0,
) -> None:
    """Run a server and client app with Flower's ``run_simulation`` (Ray backend).

    Resources are kept small: Ray starts with ``num_cpus`` CPUs and each virtual client
    takes ``client_cpus`` of them (so ``num_cpus / client_cpus`` clients run at once),
    no dashboard, no GPU. Collect the result with ``server_app(on_result=...)``.

    Parameters
    ----------
    server, client : ServerApp, ClientApp
        From :func:`server_app` and :func:`client_app`.
    num_clients : int
        Virtual SuperNodes (``partition-id`` 0 .. num_clients - 1 in their node config).
    num_cpus : int, default 1
    client_cpus : float, default 1.0
    """
    from edgeml._optional import require

    simulation = require("flwr.simulation", extra="federated", feature="Flower simulation")
    require("ray", extra="federated", feature="Flower simulation (Ray backend)")
    backend_config = {
        "client_resources": {"num_cpus": client_cpus, "num_gpus": 0.0},
        "init_args": {"num_cpus": num_cpus, "num_gpus": 0, "include_dashboard": False},
    }
    simulation.run_simulation(
        server_app=server,
        client_app=client,
        num_supernodes=num_clients,
        backend_config=backend_config,
    )
