"""The model card's bytes inside a ``.tflite`` file: one compressed JSON entry.

The card is stored as the :data:`~edgeml.modelfile.CARD_ENTRY` entry in the compressed
document form (a marker, then zlib-compressed JSON), so a card with a drift baseline
stays a few kilobytes beside a microcontroller-sized model. Cards stored as plain JSON
(edgeml previews) are read too. :mod:`edgeml.card` builds and validates the card itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeml.errors import ModelFormatError
from edgeml.modelfile._metadata import (
    CARD_ENTRY,
    decode_document,
    read_entries,
    with_metadata,
)

__all__ = ["SEALED_MAGIC", "card_document", "refuse_sealed", "with_card_document"]

#: First bytes of a sealed edgeml artifact (``edgeml.security.SEALED_MAGIC``).
SEALED_MAGIC = b"\x89EMLSEAL"


def refuse_sealed(content: bytes) -> None:
    """Raise :class:`ModelFormatError` for sealed bytes, whose card is encrypted."""
    if content[:8] == SEALED_MAGIC:
        raise ModelFormatError(
            "These bytes are a sealed edgeml artifact: the card is inside the encryption. "
            "Fix: unseal first (edgeml.security.unseal(data, key)), or keep a copy of the "
            "card next to the sealed file (card.to_json())."
        )


def with_card_document(content: bytes, document: Mapping[str, Any]) -> bytes:
    """Return the model with ``document`` as its (compressed) card entry.

    Parameters
    ----------
    content : bytes
        The model's bytes (not sealed).
    document : Mapping
        The card as a JSON object (``ModelCard.to_dict()``).

    Returns
    -------
    bytes
        The new model; other entries and the weights are unchanged.

    Examples
    --------
    >>> from edgeml.modelfile import example_model, list_metadata
    >>> model = with_card_document(example_model(), {"name": "tiny", "notes": "x" * 1000})
    >>> card_document(model)["name"], list_metadata(model)["model_card"] < 100
    ('tiny', True)
    """
    refuse_sealed(content)
    return with_metadata(content, CARD_ENTRY, document, compress=True)


def card_document(content: bytes) -> dict[str, Any] | None:
    """Return the card document stored in the model, or ``None`` when it has none.

    Parameters
    ----------
    content : bytes
        The model's bytes.

    Returns
    -------
    dict or None
        The card's JSON document (compressed or plain in the file).

    Raises
    ------
    ModelFormatError
        When the model is sealed, or has a card entry that is not a JSON document.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> card_document(example_model()) is None
    True
    """
    refuse_sealed(content)
    data = read_entries(content).get(CARD_ENTRY)
    if data is None:
        return None
    document = decode_document(data)
    if document is None:
        raise ModelFormatError(
            f"The model's {CARD_ENTRY!r} entry ({len(data)} bytes) is not a JSON document "
            "(plain or compressed): the card is damaged. Fix: re-embed the card with "
            "edgeml.card.embed_card."
        )
    return document
