"""``client_app``: a Flower ``ClientApp`` that trains a model on data that stays local.

The app answers three message types of Flower's Message API:

- ``train``: load the global weights, train on the device's data with the user's
  ``compile``/``fit`` settings (optionally DP-SGD), reply with the new weights and the
  declared metrics (``num-examples`` and the final training metrics).
- ``evaluate``: reply with evaluation metrics of the global weights on local data.
- ``query``: reply with a :class:`~edgeml.drift.Histogram` of the local features over
  the edges the server sends (fleet drift), optionally with Gaussian noise on the counts
  charged to the device's ledger.

No raw rows ever leave: only arrays of weights, a histogram of counts, and metrics.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from edgeml._optional import require
from edgeml.errors import ConfigError, DataError, invalid_argument
from edgeml.federated._trainable import LocalDP, as_trainable
from edgeml.privacy.accounting import Ledger

__all__ = ["DEVICE_LEDGER_KEY", "client_app", "device_ledger"]

logger = logging.getLogger("edgeml")

DEVICE_LEDGER_KEY = "edgeml-device-ledger"
SKETCH_KEY = "edgeml-drift"


def _flwr_app() -> Any:
    return require("flwr.app", extra="federated", feature="edgeml.federated")


def device_ledger(context: Any) -> Ledger | None:
    """Return the device's ledger kept in a Flower ``Context`` (``None`` if none yet).

    Parameters
    ----------
    context : flwr.app.Context

    Returns
    -------
    Ledger or None
    """
    record = context.state.config_records.get(DEVICE_LEDGER_KEY)
    if record is None:
        return None
    return Ledger.from_dict(json.loads(str(record["ledger"])))


def _store_ledger(context: Any, ledger: Ledger | None) -> None:
    if ledger is not None:
        flwr_app = _flwr_app()
        context.state[DEVICE_LEDGER_KEY] = flwr_app.ConfigRecord(
            {"ledger": json.dumps(ledger.to_dict())}
        )


def _split(data: Any) -> tuple[Any, Any, Any, Any]:
    if not isinstance(data, Sequence) or len(data) not in (2, 4):
        raise invalid_argument(
            "client_app",
            "data_fn",
            type(data).__name__,
            "a function returning (x, y) or (x, y, x_eval, y_eval)",
        )
    x, y = data[0], data[1]
    if len(data) == 4:
        return x, y, data[2], data[3]
    return x, y, x, y


def _metric_record(values: Mapping[str, float], num_examples: int, prefix: str) -> Any:
    flwr_app = _flwr_app()
    metrics: dict[str, Any] = {"num-examples": int(num_examples)}
    metrics.update({f"{prefix}-{k}": float(v) for k, v in values.items()})
    return flwr_app.MetricRecord(metrics)


def _noisy_counts(
    counts: np.ndarray, noise_multiplier: float, rng: np.random.Generator
) -> np.ndarray:
    # One row adds 1 to one bin of every feature: L2 sensitivity sqrt(features).
    std = noise_multiplier * np.sqrt(counts.shape[0])
    noisy = counts + rng.normal(0.0, std, size=counts.shape)
    return np.maximum(np.rint(noisy), 0).astype(np.int64)


def client_app(
    model_fn: Callable[[], Any],
    data_fn: Callable[[Any], Sequence[Any]],
    *,
    compile: Mapping[str, Any] | None = None,
    fit: Mapping[str, Any] | None = None,
    local_dp: LocalDP | None = None,
    drift_fn: Callable[[Any], Any] | None = None,
    drift_noise_multiplier: float | None = None,
    mods: Sequence[Any] = (),
    secure_aggregation: bool = False,
    seed: int | None = None,
) -> Any:
    """Build a Flower ``ClientApp`` that trains ``model_fn()`` on ``data_fn(context)``.

    Parameters
    ----------
    model_fn : callable
        ``model_fn()`` returns a new model: a built Keras model (uncompiled is fine) or
        any :class:`~edgeml.federated.Trainable`. Its architecture must match the
        server's.
    data_fn : callable
        ``data_fn(context)`` returns ``(x, y)`` or ``(x, y, x_eval, y_eval)``: the
        device's own data. ``context.node_config`` holds the node's settings (e.g.
        ``partition-id`` in simulation). It runs on the device; nothing it returns is sent.
    compile : mapping, optional
        ``model.compile`` keyword arguments (needed unless ``model_fn`` compiles).
    fit : mapping, optional
        ``model.fit`` keyword arguments (epochs, batch_size...). A ``local-epochs`` entry
        in the server's train config overrides ``epochs``.
    local_dp : LocalDP, optional
        Train each round with DP-SGD; the device's ledger persists in the node state.
    drift_fn : callable, optional
        ``drift_fn(context)`` returns the rows (n x features) to sketch for fleet drift;
        default the training ``x`` flattened to 2-D.
    drift_noise_multiplier : float, optional
        Add Gaussian noise (``multiplier * sqrt(features)`` per count) to the drift
        sketch and charge it to the device's ledger.
    mods : sequence, optional
        More Flower client mods for all handlers.
    secure_aggregation : bool, default False
        Pair with ``server_app(secure_aggregation=SecAggPlus(...))``: the device clips its
        own update to the server's clip norm and sends it through Flower's SecAgg+
        (``secaggplus_mod``), so the server only learns the sum. This builds a Flower
        legacy ``ClientApp(client_fn=...)`` (SecAgg+ exists only in that API in Flower
        1.42); it answers train and evaluate, not drift queries. No example count is
        sent.
    seed : int, optional
        Seed of the sketch noise (tests only); secure randomness by default.

    Returns
    -------
    flwr.clientapp.ClientApp

    Examples
    --------
    >>> import numpy as np, keras
    >>> from edgeml.federated import client_app
    >>> def model_fn():
    ...     return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> def data_fn(context):
    ...     rng = np.random.default_rng(int(context.node_config.get("partition-id", 0)))
    ...     return rng.normal(size=(20, 4)).astype("float32"), rng.integers(0, 2, 20)
    >>> app = client_app(model_fn, data_fn, compile={"optimizer": "sgd",
    ...                  "loss": "sparse_categorical_crossentropy"}, fit={"epochs": 1})
    >>> type(app).__name__
    'ClientApp'
    """
    clientapp = require("flwr.clientapp", extra="federated", feature="edgeml.federated")
    flwr_app = _flwr_app()
    if drift_noise_multiplier is not None and not drift_noise_multiplier > 0:
        raise invalid_argument(
            "client_app", "drift_noise_multiplier", drift_noise_multiplier, "> 0"
        )
    fit_settings = dict(fit or {})
    if secure_aggregation not in (True, False):
        raise invalid_argument("client_app", "secure_aggregation", secure_aggregation, "a bool")
    if secure_aggregation and (drift_fn is not None or drift_noise_multiplier is not None):
        raise ConfigError(
            "client_app(secure_aggregation=True) cannot answer drift queries: Flower's "
            "SecAgg+ runs in its legacy API, which has no query messages. Fix: drop "
            "drift_fn / drift_noise_multiplier, or run fleet drift with a separate "
            "client_app without secure aggregation."
        )

    def trainable(context: Any, config: Mapping[str, Any]) -> Any:
        settings = dict(fit_settings)
        if "local-epochs" in config:
            settings["epochs"] = int(config["local-epochs"])
        return as_trainable(
            model_fn(),
            compile=compile,
            fit=settings,
            local_dp=local_dp,
            ledger=device_ledger(context),
        )

    if secure_aggregation:
        from edgeml.federated._secagg import secagg_client_app

        return secagg_client_app(
            trainable,
            lambda context: _split(data_fn(context)),
            list(mods),
            lambda context, model: _store_ledger(context, getattr(model, "ledger", None)),
        )
    app = clientapp.ClientApp(mods=list(mods))

    def reply(msg: Any, content: dict[str, Any]) -> Any:
        return flwr_app.Message(content=flwr_app.RecordDict(content), reply_to=msg)

    @app.train()  # type: ignore[untyped-decorator]
    def train(msg: Any, context: Any) -> Any:
        config = msg.content.config_records.get("config", {})
        model = trainable(context, config)
        weights = msg.content.array_records["arrays"]
        model.set_weights(weights.to_numpy_ndarrays())
        x, y, _, _ = _split(data_fn(context))
        n = len(x)
        if n == 0:
            # Nothing to learn from: send the weights back unchanged and say so; the
            # server excludes the reply and logs it (the round is accounted anyway).
            logger.warning("client has no training examples; replying without training")
            values: Mapping[str, float] = {}
        else:
            values = model.fit(x, y)
            _store_ledger(context, getattr(model, "ledger", None))
        return reply(
            msg,
            {
                "arrays": flwr_app.ArrayRecord(numpy_ndarrays=model.get_weights()),
                "metrics": _metric_record(values, n, "train"),
            },
        )

    @app.evaluate()  # type: ignore[untyped-decorator]
    def evaluate(msg: Any, context: Any) -> Any:
        config = msg.content.config_records.get("config", {})
        model = trainable(context, config)
        model.set_weights(msg.content.array_records["arrays"].to_numpy_ndarrays())
        _, _, x_eval, y_eval = _split(data_fn(context))
        n = len(x_eval)
        values = model.evaluate(x_eval, y_eval) if n else {}
        return reply(msg, {"metrics": _metric_record(values, n, "eval")})

    @app.query()  # type: ignore[untyped-decorator]
    def query(msg: Any, context: Any) -> Any:
        from edgeml.drift import Histogram

        request = msg.content.config_records.get(SKETCH_KEY)
        if request is None:
            raise DataError(
                f"The query message has no {SKETCH_KEY!r} record. Fix: send queries with "
                "edgeml.federated.server_app(drift_reference=...)."
            )
        sketch = Histogram.from_bytes(bytes(request["reference"])).empty()
        if drift_fn is not None:
            rows = np.asarray(drift_fn(context), dtype=np.float64)
        else:
            x = np.asarray(_split(data_fn(context))[0], dtype=np.float64)
            rows = x.reshape(len(x), -1)
        if len(rows):
            sketch.update(rows)
        counts, nonfinite = sketch.counts, sketch.nonfinite
        if drift_noise_multiplier is not None:
            import dp_accounting

            ledger = device_ledger(context) or Ledger(delta=1e-5)
            ledger.record(
                name="fleet drift sketch",
                event=dp_accounting.GaussianDpEvent(float(drift_noise_multiplier)),
            )
            counts = _noisy_counts(counts, drift_noise_multiplier, np.random.default_rng(seed))
            nonfinite = np.zeros_like(nonfinite)
            _store_ledger(context, ledger)
        # Counts only: the exact minimum and maximum would be raw values of single rows.
        sketch = Histogram(
            sketch.edges,
            counts,
            nonfinite=nonfinite,
            scale=sketch.scale,
            names=sketch.names,
            is_1d=sketch.is_1d,
        )
        return reply(msg, {SKETCH_KEY: flwr_app.ConfigRecord({"sketch": sketch.to_bytes()})})

    return app
