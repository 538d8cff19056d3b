"""Store a model card inside a ``.tflite`` file and read it back, without TensorFlow."""

from __future__ import annotations

import os
from typing import Any

from edgeml.card._model_card import ModelCard
from edgeml.errors import invalid_argument
from edgeml.modelfile import CARD_ENTRY, card_document, with_card_document
from edgeml.modelfile._flatbuffer import model_bytes

__all__ = ["CARD_ENTRY", "embed_card", "read_card"]


def _content(model: Any, owner: str) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview, str, os.PathLike)):
        return model_bytes(model, owner)
    for attribute in ("bytes", "content"):  # TFLiteModel.bytes, EdgeModel.content
        content = getattr(model, attribute, None)
        if isinstance(content, bytes):
            return content
    raise invalid_argument(
        owner,
        "model",
        type(model).__name__,
        "the bytes of a .tflite model, its path, a TFLiteModel or an EdgeModel",
    )


def embed_card(model: Any, card: ModelCard) -> bytes:
    """Return a copy of a ``.tflite`` model with the card in its metadata.

    The card is stored as the document named :data:`CARD_ENTRY` (replacing an earlier
    card), zlib-compressed so that it stays small beside a microcontroller-sized model;
    weights, other metadata and the model's outputs are unchanged (see
    :func:`edgeml.modelfile.with_metadata`). Needs the ``litert`` extra, not
    TensorFlow.

    Parameters
    ----------
    model : bytes or str or os.PathLike or TFLiteModel
        The model's bytes, the path of a ``.tflite`` file, or a converted model.
    card : ModelCard
        The card to store.

    Returns
    -------
    bytes
        The new model. Seal it afterwards if needed: ``seal(embed_card(m, card), key,
        associated_data=card.hash)``.

    Raises
    ------
    ConfigError
        When ``card`` is not a :class:`ModelCard` or ``model`` has the wrong type.
    ModelFormatError
        When the bytes are not a TFLite model (or are sealed).

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> card = ModelCard.build("tiny", owner="edge team")
    >>> model = embed_card(example_model(), card)
    >>> read_card(model) == card
    True
    """
    if not isinstance(card, ModelCard):
        raise invalid_argument(
            "embed_card", "card", type(card).__name__, "a ModelCard", fix="use ModelCard.build"
        )
    return with_card_document(_content(model, "embed_card"), card.to_dict())


def read_card(model: Any) -> ModelCard | None:
    """Read the card stored in a ``.tflite`` model, or ``None`` when it has none.

    Parameters
    ----------
    model : bytes or str or os.PathLike or TFLiteModel or EdgeModel
        The model's bytes, the path of a ``.tflite`` file, a converted model, or a
        model loaded with ``edgeml.load``.

    Returns
    -------
    ModelCard or None
        The card, or ``None`` when the model carries no :data:`CARD_ENTRY` entry.

    Raises
    ------
    ModelFormatError
        When the bytes are not a TFLite model, are sealed (unseal first), or the stored
        card is not a valid card.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> read_card(example_model()) is None
    True
    """
    document = card_document(_content(model, "read_card"))
    return None if document is None else ModelCard.from_dict(document)
