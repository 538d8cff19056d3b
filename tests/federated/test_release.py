"""What a federated result releases: only what the client-level guarantee covers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr", reason="Flower is not installed (pip install edgeml[federated])")

from edgeml.drift import Histogram
from edgeml.federated import ClientLevelDP
from edgeml.federated._drift import fleet_drift
from edgeml.federated._replies import Exclusion
from edgeml.federated._server import FederatedResult
from edgeml.federated._strategy import RoundRecord


def _result() -> FederatedResult:
    dp = ClientLevelDP(num_clients=50, sampling_rate=0.2, rounds=1, noise_multiplier=1.0)
    rng = np.random.default_rng(0)
    reference = Histogram.fit(rng.normal(size=(500, 2)), bins=5)
    device = reference.empty().update(rng.normal(size=(37, 2)))
    record = RoundRecord(
        round=1,
        available=50,
        sampled=9,
        used=8,
        excluded=(Exclusion(node_id=4242, reason="NaN update"),),
        clip_norm=1.0,
        noise_std=0.1,
        epsilon=dp.epsilon(),
        train_metrics={"loss": 0.123456},
        eval_metrics={"accuracy": 0.654321},
    )
    return FederatedResult(
        weights=(np.zeros((3, 2)),),
        rounds=(record,),
        guarantee=dp.guarantee(dp.epsilon(), 1),
        drift=fleet_drift(reference, [device]),
    )


def test_save_writes_only_what_the_guarantee_covers(tmp_path: Path) -> None:
    result = _result()
    written = json.loads((result.save(tmp_path) / "result.json").read_text())
    text = json.dumps(written)
    # Exact statistics of the devices that took part stay with the operator.
    for leaked in ("4242", "0.123456", "0.654321", "train_metrics", "sampled", "drift"):
        assert leaked not in text
    assert written["rounds"] == [
        {"round": 1, "clip_norm": 1.0, "noise_std": 0.1, "epsilon": result.rounds[0].epsilon}
    ]
    assert written["guarantee"]["unit"].startswith("client-level")
    # The operator's own view keeps every diagnostic, in a folder that stays on the server.
    full = json.loads((tmp_path / "internal" / "diagnostics.json").read_text())
    assert full == json.loads(json.dumps(result.to_dict()))
    assert full["rounds"][0]["excluded"] == [{"node_id": 4242, "reason": "NaN update"}]
    assert full["drift"]["n_current"] == 37


def test_the_card_carries_the_guarantee_but_not_the_fleet_drift() -> None:
    card = _result().card("fleet")
    assert card.privacy is not None
    assert card.privacy["unit"].startswith("client-level")
    assert "fleet_drift" not in card.to_dict().get("extra", {})
