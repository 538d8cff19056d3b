"""Model cards and data sheets that travel inside the model file.

A :class:`ModelCard` gathers what each step of the pipeline reports (the data
minimization report, the differential-privacy guarantee, the membership-inference
audit, the conversion report and evaluation, the drift baseline) next to what a person
states (owner, intended use, limitations, license). It renders as JSON, Markdown and
HTML, has a JSON Schema (:func:`json_schema`), a content hash (:attr:`ModelCard.hash`)
to bind a sealed model to it, and is stored inside a ``.tflite`` file with
:func:`embed_card` / :func:`read_card`. None of it needs TensorFlow; embedding and
reading need the ``litert`` extra.

Examples
--------
>>> from edgeml.card import ModelCard
>>> card = ModelCard.build("digits", version="1.0", intended_use="demo only")
>>> ModelCard.from_json(card.to_json()).hash == card.hash
True
"""

from __future__ import annotations

from edgeml.card._embed import CARD_ENTRY as CARD_ENTRY
from edgeml.card._embed import embed_card as embed_card
from edgeml.card._embed import read_card as read_card
from edgeml.card._model_card import CARD_FORMAT as CARD_FORMAT
from edgeml.card._model_card import CARD_FORMAT_VERSION as CARD_FORMAT_VERSION
from edgeml.card._model_card import SECTIONS as SECTIONS
from edgeml.card._model_card import ModelCard as ModelCard
from edgeml.card._schema import json_schema as json_schema

__all__ = [
    "CARD_ENTRY",
    "CARD_FORMAT",
    "CARD_FORMAT_VERSION",
    "SECTIONS",
    "ModelCard",
    "embed_card",
    "json_schema",
    "read_card",
]
