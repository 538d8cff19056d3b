"""Named JSON documents inside a ``.tflite`` file, and a hash that guards its weights.

This is the documented home of the metadata functions for users of
:mod:`edgeml.conversion`; they live in :mod:`edgeml.modelfile` (the file-format layer
that conversion, the runtime and the model card share) and are re-exported here
unchanged. See :mod:`edgeml.modelfile` for the details.

Examples
--------
>>> from edgeml.conversion.metadata import read_metadata, with_metadata, verify_integrity
>>> model = _tiny_model_for_examples()
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

from edgeml.modelfile import CARD_ENTRY as CARD_ENTRY
from edgeml.modelfile import EDGEML_ENTRY as EDGEML_ENTRY
from edgeml.modelfile import Integrity as Integrity
from edgeml.modelfile import check_integrity as check_integrity
from edgeml.modelfile import list_metadata as list_metadata
from edgeml.modelfile import read_metadata as read_metadata
from edgeml.modelfile import verify_integrity as verify_integrity
from edgeml.modelfile import weights_sha256 as weights_sha256
from edgeml.modelfile import with_edgeml_entry as with_edgeml_entry
from edgeml.modelfile import with_metadata as with_metadata

# Private names kept for code and docs written against edgeml 0.1 previews.
from edgeml.modelfile._examples import example_model as _tiny_model_for_examples  # noqa: F401
from edgeml.modelfile._flatbuffer import check_identifier as _check_identifier  # noqa: F401
from edgeml.modelfile._flatbuffer import flatbuffer_utils as _flatbuffer_utils  # noqa: F401
from edgeml.modelfile._flatbuffer import model_bytes as _model_bytes  # noqa: F401

__all__ = [
    "CARD_ENTRY",
    "EDGEML_ENTRY",
    "Integrity",
    "check_integrity",
    "list_metadata",
    "read_metadata",
    "verify_integrity",
    "weights_sha256",
    "with_edgeml_entry",
    "with_metadata",
]
