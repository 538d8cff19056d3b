"""Federated learning on Flower with client-level differential privacy.

Edge fleets train one model together while each device's data stays on the device.
:func:`client_app` and :func:`server_app` build Flower ``ClientApp``/``ServerApp``
objects (Flower's Message API); :class:`ClientLevelDP` turns the server into
client-level DP-FedAvg with Poisson client sampling, fixed or adaptive clipping, and
accounting in an :class:`~edgeml.privacy.Ledger` (sampling amplification included);
:class:`SecAggPlus` adds Flower's secure aggregation, so the server sees only the sum.
The result is a normal set of Keras weights plus a :class:`ClientGuarantee` ("adding or
removing one device's whole data") for the model card. Devices can also answer a
drift query with a histogram sketch, which :func:`fleet_drift` merges into one
:class:`~edgeml.drift.DriftReport`.

This package needs ``pip install "edgeml[federated]"`` (Flower with its simulation
engine, and TensorFlow for Keras models). Nothing outside it imports Flower, and
``import edgeml.federated`` itself loads neither Flower nor TensorFlow.

Examples
--------
>>> from edgeml.federated import ClientLevelDP
>>> dp = ClientLevelDP(num_clients=100, sampling_rate=0.1, rounds=50, target_epsilon=3.0)
>>> dp.epsilon() <= 3.0 and dp.expected_clients == 10.0
True
"""

from __future__ import annotations

import importlib
from typing import Any

from edgeml.federated._guarantee import ClientGuarantee as ClientGuarantee
from edgeml.federated._plan import ClientLevelDP as ClientLevelDP
from edgeml.federated._plan import round_event as round_event
from edgeml.federated._secagg import SecAggPlus as SecAggPlus

# Names imported on first use: name -> defining module (these import Flower or Keras).
_LAZY: dict[str, str] = {
    "DPFedAvg": "edgeml.federated._strategy",
    "FederatedResult": "edgeml.federated._server",
    "KerasTrainable": "edgeml.federated._trainable",
    "LocalDP": "edgeml.federated._trainable",
    "RoundRecord": "edgeml.federated._strategy",
    "SafeFedAvg": "edgeml.federated._strategy",
    "Trainable": "edgeml.federated._trainable",
    "client_app": "edgeml.federated._client",
    "device_ledger": "edgeml.federated._client",
    "fleet_drift": "edgeml.federated._drift",
    "server_app": "edgeml.federated._server",
    "simulate": "edgeml.federated._server",
}

__all__ = sorted(["ClientGuarantee", "ClientLevelDP", "SecAggPlus", "round_event", *_LAZY])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'edgeml.federated' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
