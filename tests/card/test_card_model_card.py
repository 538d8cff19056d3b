"""ModelCard: assembly from other layers' results, JSON round trips, canonical hash."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from card_strategies import cards
from hypothesis import given

import edgeml
from edgeml.card import ModelCard
from edgeml.drift import Histogram
from edgeml.errors import ConfigError, IntegrityError, ModelFormatError
from edgeml.privacy import Guarantee, audit
from edgeml.security import generate_key, seal, unseal

pytestmark = pytest.mark.compat

GUARANTEE = Guarantee(
    epsilon=2.5967,
    delta=1e-5,
    accountant="rdp",
    noise_multiplier=1.1,
    sampling_rate=256 / 60000,
    steps=14063,
    l2_norm_clip=1.0,
)


def _report() -> object:
    policy = edgeml.data.Policy(
        keep={"age": edgeml.data.bins([0, 30, 120]), "heart_rate": None},
        pseudonymize=["user_id"],
    )
    records = {
        "age": [25, 40, 33],
        "heart_rate": [60, 70, 65],
        "user_id": ["u1", "u2", "u3"],
        "name": ["Ann", "Bo", "Cy"],
    }
    _, report = edgeml.data.minimize(records, policy, key=b"0123456789abcdef")
    return report


def _audit() -> object:
    rng = np.random.default_rng(0)
    # Per-example losses: members slightly lower than non-members.
    return audit(None, rng.exponential(0.8, size=200), rng.exponential(1.0, size=200))


def _full_card() -> ModelCard:
    sketch = Histogram.fit(np.random.default_rng(0).normal(size=(50, 2)), bins=4)
    return ModelCard.build(
        "digits",
        version="1.0",
        owner="edge team <edge@example.org>",
        description="Classifies 8x8 digits.",
        intended_use="Demonstrations.",
        limitations=["8x8 digits only", "not for handwriting of children"],
        license="Apache-2.0",
        created=dt.date(2026, 11, 26),
        training_data="scikit-learn digits",
        metrics={"accuracy": np.float32(0.875)},
        data=_report(),
        privacy=GUARANTEE,
        audit=_audit(),
        drift_baseline=sketch,
        extra={"dataset_size": np.int64(1797)},
    )


def test_sections_hold_each_results_to_dict() -> None:
    card = _full_card()
    assert card.privacy == GUARANTEE.to_dict()
    assert card.data == _report().to_dict()  # type: ignore[attr-defined]
    assert card.audit == _audit().to_dict()  # type: ignore[attr-defined]
    assert card.drift_baseline is not None
    assert Histogram.from_dict(card.drift_baseline).counts.sum() == 100
    assert card.sections == ("data", "privacy", "audit", "drift_baseline")
    assert card.metrics == {"accuracy": 0.875}
    assert card.created == "2026-11-26"
    assert card.extra == {"dataset_size": 1797}
    assert card.edgeml_version == edgeml.__version__


def test_json_round_trip_keeps_everything_and_the_hash() -> None:
    card = _full_card()
    again = ModelCard.from_json(card.to_json())
    assert again == card
    assert again.hash == card.hash
    assert again.to_dict() == card.to_dict()
    assert ModelCard.from_json(card.to_json(indent=None).encode()) == card


@given(cards())
def test_any_card_round_trips(card: ModelCard) -> None:
    again = ModelCard.from_json(card.to_json())
    assert again == card
    assert again.canonical_json() == card.canonical_json()


def test_hash_is_sha256_of_sorted_compact_json() -> None:
    card = _full_card()
    # Independent reference: the canonical form as documented, built with json directly.
    reference = json.dumps(
        json.loads(card.to_json()), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert card.canonical_json() == reference
    assert card.hash == hashlib.sha256(reference).hexdigest()


def test_hash_ignores_key_order_but_not_content() -> None:
    first = ModelCard.build("m", extra={"a": 1, "b": 2})
    second = ModelCard.build("m", extra={"b": 2, "a": 1})
    assert first.hash == second.hash
    for change in ({"version": "2"}, {"limitations": ["x"]}, {"extra": {"a": 1, "b": 3}}):
        assert first.replace(**change).hash != first.hash
    assert hash(first) == hash(second)


def test_card_hash_binds_a_sealed_model() -> None:
    card, key = _full_card(), generate_key()
    sealed = seal(b"model bytes", key, associated_data=card.hash)
    assert unseal(sealed, key, associated_data=card.hash) == b"model bytes"
    edited = card.replace(limitations=[])
    with pytest.raises(IntegrityError):
        unseal(sealed, key, associated_data=edited.hash)


def test_replace_accepts_result_objects_and_keeps_the_rest() -> None:
    card = ModelCard.build("m", owner="me")
    updated = card.replace(privacy=GUARANTEE)
    assert updated.privacy == GUARANTEE.to_dict()
    assert updated.owner == "me"
    assert card.privacy is None


def test_a_single_limitation_string_is_one_item() -> None:
    assert ModelCard.build("m", limitations="only cats").limitations == ("only cats",)


def test_non_finite_metrics_become_null() -> None:
    card = ModelCard.build("m", metrics={"loss": float("nan"), "auc": float("inf")})
    assert card.metrics == {"loss": None, "auc": None}
    assert "NaN" not in card.to_json()


def test_cards_are_frozen() -> None:
    card = ModelCard.build("m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        card.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"name": ""}, "name"),
        ({"name": "m", "metrics": {"acc": "high"}}, "metrics"),
        ({"name": "m", "metrics": [0.9]}, "metrics"),
        ({"name": "m", "metrics": {1: 0.9}}, "metrics"),
        ({"name": "m", "metrics": {"passed": True}}, "metrics"),
        ({"name": "m", "privacy": {"accountant": "rdp"}}, "privacy"),
        ({"name": "m", "data": [1, 2]}, "data"),
        ({"name": "m", "owner": 3}, "owner"),
        ({"name": "m", "limitations": [1]}, "limitations"),
        ({"name": "m", "created": 20261126}, "created"),
        ({"name": "m", "colour": "red"}, "colour"),
    ],
)
def test_bad_fields_are_config_errors(kwargs: dict[str, object], argument: str) -> None:
    with pytest.raises(ConfigError, match=f"'{argument}' argument"):
        ModelCard.build(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"name": "m"}, "not an edgeml model card"),
        ({"format": "edgeml.ModelCard", "format_version": 2, "name": "m"}, "upgrade edgeml"),
        ({"format": "edgeml.ModelCard", "format_version": "1", "name": "m"}, "format_version"),
        ({"format": "edgeml.ModelCard", "format_version": 1}, "no 'name'"),
        ({"format": "edgeml.ModelCard", "format_version": 1, "name": "m", "x": 1}, "unknown"),
        ({"format": "edgeml.ModelCard", "format_version": 1, "name": "m", "owner": 1}, "owner"),
    ],
)
def test_invalid_documents_are_model_format_errors(
    document: dict[str, object], message: str
) -> None:
    with pytest.raises(ModelFormatError, match=message):
        ModelCard.from_dict(document)


def test_from_json_rejects_text_that_is_not_json() -> None:
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        ModelCard.from_json("{oops")


def test_repr_is_short() -> None:
    assert repr(_full_card()) == (
        "ModelCard(name='digits', version='1.0', "
        "sections=['data', 'privacy', 'audit', 'drift_baseline'])"
    )


def test_importing_the_card_layer_loads_no_tensorflow_or_litert() -> None:
    code = (
        "import json, sys\n"
        "import edgeml.card\n"
        "card = edgeml.card.ModelCard.build('m', metrics={'acc': 0.5})\n"
        "card.to_json(); card.to_markdown(); card._repr_html_(); card.hash\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    heavy = {"tensorflow", "keras", "tf_keras", "ai_edge_litert"}
    assert [m for m in loaded if m.split(".")[0] in heavy] == []
