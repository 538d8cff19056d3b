"""The card's JSON Schema (Draft 2020-12), checked with the jsonschema package."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from card_strategies import cards
from hypothesis import given

import edgeml
from edgeml.card import ModelCard, json_schema
from edgeml.privacy import Guarantee, audit

jsonschema = pytest.importorskip("jsonschema")

VALIDATOR = jsonschema.Draft202012Validator(json_schema())


def _full_document() -> dict[str, Any]:
    card = ModelCard.build(
        "digits",
        version="1",
        limitations=["x"],
        metrics={"acc": 0.9, "loss": float("nan")},
        privacy=Guarantee(epsilon=float("inf"), delta=1e-5, accountant="rdp"),
        data={"rows_in": 3, "rows_out": 2, "columns_kept": ["a"]},
        evaluation={"metric": "accuracy", "reference": 0.9, "converted": 0.89, "n": 10},
        audit=audit(None, np.linspace(0.0, 1.0, 50), np.linspace(0.2, 1.2, 50)),
    )
    return card.to_dict()


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json_schema())


def test_schema_ships_inside_the_package() -> None:
    path = Path(edgeml.__file__).parent / "schemas" / "model_card.schema.json"
    assert path.is_file()


def test_schema_lists_exactly_the_cards_fields() -> None:
    declared = set(json_schema()["properties"])
    fields = {f.name for f in dataclasses.fields(ModelCard)}
    assert declared == fields | {"format", "format_version"}


def test_a_full_card_validates() -> None:
    document = _full_document()
    assert document["privacy"]["epsilon"] is None  # unbounded epsilon is stored as null
    VALIDATOR.validate(document)


@given(cards())
def test_every_card_validates(card: ModelCard) -> None:
    VALIDATOR.validate(card.to_dict())


@pytest.mark.parametrize(
    "change",
    [
        {"name": ""},
        {"format_version": 2},
        {"limitations": "not a list"},
        {"metrics": {"acc": "high"}},
        {"privacy": {"accountant": "rdp"}},
        {"privacy": {"epsilon": 1.0, "delta": 2.0}},
        {"data": {"rows_in": -1}},
        {"conversion": {"weights_sha256": "not-hex"}},
        {"audit": {"auc": 1.5}},
        {"audit": {"attacks": [{"auc": 0.5}]}},
        {"unexpected": True},
    ],
)
def test_schema_rejects_broken_documents(change: dict[str, Any]) -> None:
    document = {**_full_document(), **change}
    assert not VALIDATOR.is_valid(document)
