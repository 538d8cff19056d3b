"""The ``.tflite`` file format: flatbuffer access, named metadata and the integrity record.

The lowest layer above the foundation: :mod:`edgeml.conversion` writes model files,
:mod:`edgeml.runtime` reads and verifies them, :mod:`edgeml.card` embeds cards in them,
all through this package. It needs the flatbuffer schema that ships with
``ai-edge-litert`` (the ``litert`` extra) and imports neither TensorFlow nor LiteRT's
interpreter.

Metadata
    A model carries named byte buffers the interpreter ignores. edgeml stores JSON
    documents there (:func:`read_metadata`, :func:`with_metadata`): the ``edgeml``
    entry (versions, the conversion report, the integrity record) and the model card
    (compressed). :func:`list_metadata` lists every entry with its size, including the
    converter's binary ones, which :func:`with_metadata` never overwrites.

Integrity
    :func:`weights_sha256` hashes the weights and the tensor tables (types, shapes,
    quantization scales and zero points); :func:`with_edgeml_entry` records the hash and
    :func:`verify_integrity` (called by ``edgeml.load``) raises
    :class:`~edgeml.errors.IntegrityError` when the model no longer matches it, or when
    the record itself is damaged.

Examples
--------
>>> from edgeml.modelfile import example_model, read_metadata, verify_integrity
>>> model = example_model()
>>> read_metadata(model)
{}
>>> model = with_metadata(model, "labels", {"classes": ["cat", "dog"]})
>>> read_metadata(model)
{'labels': {'classes': ['cat', 'dog']}}
>>> model = with_edgeml_entry(model, {"producer": "doctest"})
>>> verify_integrity(model).status
'verified'
"""

from __future__ import annotations

from edgeml.modelfile._card import card_document as card_document
from edgeml.modelfile._card import with_card_document as with_card_document
from edgeml.modelfile._examples import example_model as example_model
from edgeml.modelfile._flatbuffer import ModelSource as ModelSource
from edgeml.modelfile._flatbuffer import read_model_file as read_model_file
from edgeml.modelfile._integrity import INTEGRITY_VERSION as INTEGRITY_VERSION
from edgeml.modelfile._integrity import Integrity as Integrity
from edgeml.modelfile._integrity import check_integrity as check_integrity
from edgeml.modelfile._integrity import verify_integrity as verify_integrity
from edgeml.modelfile._integrity import weights_sha256 as weights_sha256
from edgeml.modelfile._integrity import with_edgeml_entry as with_edgeml_entry
from edgeml.modelfile._metadata import CARD_ENTRY as CARD_ENTRY
from edgeml.modelfile._metadata import EDGEML_ENTRY as EDGEML_ENTRY
from edgeml.modelfile._metadata import TRAINING_ENTRY as TRAINING_ENTRY
from edgeml.modelfile._metadata import list_metadata as list_metadata
from edgeml.modelfile._metadata import read_entries as read_entries
from edgeml.modelfile._metadata import read_metadata as read_metadata
from edgeml.modelfile._metadata import with_metadata as with_metadata
from edgeml.modelfile._tensors import quantized_activations as quantized_activations

__all__ = [
    "CARD_ENTRY",
    "EDGEML_ENTRY",
    "INTEGRITY_VERSION",
    "TRAINING_ENTRY",
    "Integrity",
    "ModelSource",
    "card_document",
    "check_integrity",
    "example_model",
    "list_metadata",
    "quantized_activations",
    "read_entries",
    "read_metadata",
    "read_model_file",
    "verify_integrity",
    "weights_sha256",
    "with_card_document",
    "with_edgeml_entry",
    "with_metadata",
]
