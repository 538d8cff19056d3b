"""Store a model card inside a ``.tflite`` file and read it back, without TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgeml.card._model_card import ModelCard
from edgeml.conversion.metadata import CARD_ENTRY, read_metadata, with_metadata
from edgeml.errors import ModelFormatError, invalid_argument

__all__ = ["CARD_ENTRY", "embed_card", "read_card"]

_SEALED_MAGIC = b"\x89EMLSEAL"  # edgeml.security.SEALED_MAGIC, checked without importing it


def _content(model: Any, owner: str) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        return Path(model).read_bytes()
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


def _refuse_sealed(content: bytes) -> None:
    if content[:8] == _SEALED_MAGIC:
        raise ModelFormatError(
            "These bytes are a sealed edgeml artifact: the card is inside the encryption. "
            "Fix: unseal first (edgeml.security.unseal(data, key)), or keep a copy of the "
            "card next to the sealed file (card.to_json())."
        )


def embed_card(model: Any, card: ModelCard) -> bytes:
    """Return a copy of a ``.tflite`` model with the card in its metadata.

    The card is stored as the JSON document named :data:`CARD_ENTRY` (replacing an
    earlier card); weights, other metadata and the model's outputs are unchanged (see
    :func:`edgeml.conversion.metadata.with_metadata`). Needs the ``litert`` extra, not
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
    >>> from edgeml.conversion.metadata import _tiny_model_for_examples
    >>> card = ModelCard.build("tiny", owner="edge team")
    >>> model = embed_card(_tiny_model_for_examples(), card)
    >>> read_card(model) == card
    True
    """
    if not isinstance(card, ModelCard):
        raise invalid_argument(
            "embed_card", "card", type(card).__name__, "a ModelCard", fix="use ModelCard.build"
        )
    content = _content(model, "embed_card")
    _refuse_sealed(content)
    return with_metadata(content, CARD_ENTRY, card.to_dict())


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
    >>> from edgeml.conversion.metadata import _tiny_model_for_examples
    >>> read_card(_tiny_model_for_examples()) is None
    True
    """
    content = _content(model, "read_card")
    _refuse_sealed(content)
    document = read_metadata(content).get(CARD_ENTRY)
    return None if document is None else ModelCard.from_dict(document)
