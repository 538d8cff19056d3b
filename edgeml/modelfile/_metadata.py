"""Named metadata entries: JSON documents (plain or compressed) and raw bytes.

An entry is a *document* when its bytes are a UTF-8 JSON object, or the compressed
form edgeml writes for large documents such as the model card: the marker
:data:`COMPRESSED_MARKER` followed by a zlib stream of that JSON.
:func:`read_metadata` returns documents of both forms; :func:`list_metadata` lists every
entry with its stored size, including the converter's binary ones.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeml._display import to_jsonable
from edgeml.errors import invalid_argument
from edgeml.modelfile._flatbuffer import (
    ModelSource,
    buffer_bytes,
    decode_name,
    entries,
    flatbuffer_utils,
    model_bytes,
    parsing,
    root,
)

__all__ = [
    "CARD_ENTRY",
    "COMPRESSED_MARKER",
    "EDGEML_ENTRY",
    "MAX_DOCUMENT_BYTES",
    "decode_document",
    "encode_document",
    "list_metadata",
    "read_entries",
    "read_metadata",
    "with_metadata",
]

#: Name of the entry edgeml writes into every converted model: versions, the conversion
#: report and the integrity record (see :func:`edgeml.modelfile.with_edgeml_entry`).
EDGEML_ENTRY = "edgeml"
#: Name of the entry that holds the model card (``edgeml.load(...).card`` reads it).
CARD_ENTRY = "model_card"
#: Name of the entry a trainable model carries: its signatures, weight names and what
#: was trained on the device (written by ``to_trainable``, read by ``edgeml.runtime``).
TRAINING_ENTRY = "on_device_training"
#: First bytes of a compressed document: a NUL (never the start of JSON text), the
#: format name and its version, then a zlib stream of the UTF-8 JSON.
COMPRESSED_MARKER = b"\x00edgeml-zjson\x01"
#: Largest decompressed document accepted (a guard against decompression bombs).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def encode_document(document: Mapping[str, Any], *, compress: bool = False) -> bytes:
    """Serialize a JSON object for an entry, zlib-compressed with a marker if asked.

    Parameters
    ----------
    document : Mapping
        A JSON object; numpy values are converted, non-finite floats become ``null``.
    compress : bool, default False
        Store ``COMPRESSED_MARKER + zlib(json)`` instead of the JSON text.

    Returns
    -------
    bytes
        The entry's bytes.

    Examples
    --------
    >>> encode_document({"a": 1})
    b'{"a": 1}'
    >>> decode_document(encode_document({"a": [1] * 100}, compress=True)) == {"a": [1] * 100}
    True
    """
    if not isinstance(document, Mapping):
        raise invalid_argument("with_metadata", "document", document, "a mapping (a JSON object)")
    try:
        text = json.dumps(to_jsonable(document), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:  # pragma: no cover - to_jsonable makes it safe
        raise invalid_argument(
            "with_metadata", "document", document, "JSON-serializable", fix=str(exc)
        ) from exc
    if compress:
        return COMPRESSED_MARKER + zlib.compress(text, 9)
    return text


def decode_document(data: bytes) -> dict[str, Any] | None:
    r"""Return the JSON object stored in an entry's bytes, or ``None`` when it is not one.

    Both the plain and the compressed form are read; a compressed entry that does not
    decompress to a JSON object within :data:`MAX_DOCUMENT_BYTES` is not a document.

    Examples
    --------
    >>> decode_document(b'{"n": 2}'), decode_document(b"1.5.0"), decode_document(b"\xff")
    ({'n': 2}, None, None)
    """
    if data.startswith(COMPRESSED_MARKER):
        inflater = zlib.decompressobj()
        try:
            text = inflater.decompress(data[len(COMPRESSED_MARKER) :], MAX_DOCUMENT_BYTES)
        except zlib.error:
            return None
        if inflater.unconsumed_tail or not inflater.eof:
            return None  # too large, truncated, or trailing garbage
        data = text
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def read_entries(model: ModelSource) -> dict[str, bytes]:
    r"""Return every metadata entry's raw bytes by name, in file order.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        The model's bytes, or the path of a ``.tflite`` file.

    Returns
    -------
    dict
        Entry name -> stored bytes (names that are not UTF-8 are decoded with
        replacement characters).

    Raises
    ------
    ModelFormatError
        When the bytes are not a parseable TFLite flatbuffer.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> read_entries(example_model())["min_runtime_version"]
    b'1.5.0\x00\x00\x00'
    """
    content = model_bytes(model, "read_entries")
    model_root = root(content)
    with parsing():
        return {
            name: buffer_bytes(model_root, content, index) for name, index in entries(model_root)
        }


def list_metadata(model: ModelSource) -> dict[str, int]:
    """List every metadata entry of a model with its stored size in bytes.

    Unlike :func:`read_metadata` this includes the converter's binary entries
    (``min_runtime_version``, ``CONVERSION_METADATA``). A compressed document counts
    its compressed size, which is what it adds to the file.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        The model's bytes, or the path of a ``.tflite`` file.

    Returns
    -------
    dict
        Entry name -> size of its buffer in bytes, in file order.

    Raises
    ------
    ModelFormatError
        When the bytes are not a parseable TFLite flatbuffer.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> sorted(list_metadata(example_model()))
    ['CONVERSION_METADATA', 'min_runtime_version']
    """
    return {name: len(data) for name, data in read_entries(model).items()}


def read_metadata(model: ModelSource) -> dict[str, dict[str, Any]]:
    """Read the named JSON documents stored in a model's metadata.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        The model's bytes, or the path of a ``.tflite`` file.

    Returns
    -------
    dict
        Entry name -> parsed JSON object, in file order (compressed documents are
        decompressed). Entries that are not JSON objects (the converter's own
        ``min_runtime_version`` and ``CONVERSION_METADATA``) are left out;
        :func:`list_metadata` lists them.

    Raises
    ------
    ModelFormatError
        When the bytes are not a parseable TFLite flatbuffer.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> model = with_metadata(example_model(), "owner", {"team": "edge"})
    >>> read_metadata(model)["owner"]
    {'team': 'edge'}
    """
    documents: dict[str, dict[str, Any]] = {}
    for name, data in read_entries(model).items():
        document = decode_document(data)
        if document is not None:
            documents[name] = document
    return documents


def with_metadata(
    model_bytes: bytes, name: str, document: Mapping[str, Any], *, compress: bool = False
) -> bytes:
    """Return a copy of the model with a named JSON document in its metadata.

    Adds the entry, or replaces the document of an existing entry with the same name
    (an entry name occurs at most once). Every other entry, including the converter's
    own, is kept unchanged, and so are the weights: the integrity hash of the result
    equals that of the input, and an interpreter computes identical outputs.

    The document is converted with :func:`edgeml._display.to_jsonable` first, so numpy
    numbers and arrays are accepted and non-finite floats are stored as ``null``.

    Parameters
    ----------
    model_bytes : bytes
        The model's bytes (bytes-like objects are accepted).
    name : str
        The entry's name, e.g. ``"edgeml"`` or ``"labels"``.
    document : Mapping
        A JSON object (a ``dict`` with string keys).
    compress : bool, default False
        Store the document zlib-compressed (see :func:`encode_document`); readers of
        edgeml 0.1 and later decompress it transparently.

    Returns
    -------
    bytes
        The new model.

    Raises
    ------
    ConfigError
        When ``name`` is empty or not a string, ``document`` is not a mapping, or
        ``name`` is an existing entry that is not a JSON document (such as the
        converter's ``min_runtime_version``), which would be lost.
    ModelFormatError
        When ``model_bytes`` is not a parseable TFLite model.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> model = with_metadata(example_model(), "labels", {"n": 2})
    >>> model = with_metadata(model, "labels", {"n": 3})
    >>> read_metadata(model)["labels"]
    {'n': 3}
    """
    if not isinstance(name, str) or not name:
        raise invalid_argument("with_metadata", "name", name, "a non-empty string")
    if not isinstance(document, Mapping):
        raise invalid_argument("with_metadata", "document", document, "a mapping (a JSON object)")
    if not isinstance(model_bytes, (bytes, bytearray, memoryview)):
        raise invalid_argument(
            "with_metadata",
            "model_bytes",
            model_bytes,
            "the bytes of a .tflite model",
            fix="read the file first, e.g. pathlib.Path(path).read_bytes()",
        )
    content = bytes(model_bytes)
    payload = encode_document(document, compress=compress)
    existing = read_entries(content)
    if name in existing and decode_document(existing[name]) is None:
        raise invalid_argument(
            "with_metadata",
            "name",
            name,
            "the name of a new entry or of an existing JSON document",
            fix=f"choose another name; {name!r} holds {len(existing[name])} bytes of "
            "non-JSON data that the runtime may need",
        )
    return replace_entry(content, name, payload)


def replace_entry(
    content: bytes, name: str, payload: bytes, description: str | None = None
) -> bytes:
    """Write ``payload`` as entry ``name`` (and the model description, if given)."""
    utils = flatbuffer_utils()
    with parsing():
        model = utils.read_model_from_bytearray(content)
    data = np.frombuffer(payload, dtype=np.uint8)
    entry = next((m for m in model.metadata or [] if decode_name(m.name) == name), None)
    if entry is not None:
        model.buffers[entry.buffer].data = data
    else:
        buffer = utils.schema_fb.BufferT()
        buffer.data = data
        model.buffers.append(buffer)
        metadata_entry = utils.schema_fb.MetadataT()
        metadata_entry.name = name
        metadata_entry.buffer = len(model.buffers) - 1
        model.metadata = [*(model.metadata or []), metadata_entry]
    if description is not None:
        model.description = description
    return bytes(utils.convert_object_to_bytearray(model))
