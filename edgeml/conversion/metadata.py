"""Named JSON documents inside a ``.tflite`` file, and a hash that guards its weights.

A TFLite model can carry *metadata*: named byte buffers the interpreter ignores. edgeml
stores JSON documents there (the ``edgeml`` entry with versions, the conversion report
and the weights hash; the model card), so they travel with the model and can be read on
a device. Everything here works without TensorFlow: it uses the flatbuffer schema that
ships with ``ai-edge-litert`` (the ``litert`` extra), or TensorFlow's copy of it when
only TensorFlow is installed.

Which entries count as documents
    An entry is a *document* when its bytes are UTF-8 JSON whose top level is an object.
    :func:`read_metadata` returns only those. The converter's own entries
    (``min_runtime_version``, ``CONVERSION_METADATA``: binary, not JSON) are left out of
    its result but always preserved by :func:`with_metadata`, and :func:`list_metadata`
    shows every entry with its size. :func:`with_metadata` refuses to overwrite an entry
    that is not a JSON document, so the converter's entries cannot be clobbered by
    accident.

Integrity
    Flipped bits in a weight buffer pass every flatbuffer verifier and the model runs
    with wrong outputs. :func:`weights_sha256` hashes the constant buffers (not the
    metadata), so adding or editing documents never changes it.
    :func:`with_edgeml_entry` stores it in the ``edgeml`` entry, and
    :func:`check_integrity` / :func:`verify_integrity` compare it with the weights
    actually in the file (``edgeml.load`` calls :func:`verify_integrity`).

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

import contextlib
import hashlib
import json
import os
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np

from edgeml._display import to_jsonable
from edgeml._optional import is_available, require
from edgeml.errors import IntegrityError, ModelFormatError, invalid_argument

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

#: Name of the entry edgeml writes into every converted model: versions, the conversion
#: report and ``weights_sha256`` (see :func:`with_edgeml_entry`).
EDGEML_ENTRY = "edgeml"
#: Name of the entry that holds the model card (``edgeml.load(...).card`` reads it).
CARD_ENTRY = "model_card"

_FILE_IDENTIFIER = b"TFL3"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

ModelSource = bytes | bytearray | memoryview | str | os.PathLike[str]


def _flatbuffer_utils() -> ModuleType:
    """Return LiteRT's flatbuffer utilities, or TensorFlow's when only TF is installed."""
    if not is_available("ai_edge_litert") and is_available("tensorflow"):
        return require(
            "tensorflow.lite.tools.flatbuffer_utils",
            extra="tf",
            feature="Reading and writing .tflite metadata",
        )
    return require(
        "ai_edge_litert.tools.flatbuffer_utils",
        extra="litert",
        feature="Reading and writing .tflite metadata",
    )


def _model_bytes(model: object, owner: str) -> bytes:
    """Return the model's bytes from bytes-like content or a file path."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        return Path(model).read_bytes()
    raise invalid_argument(
        owner,
        "model",
        model,
        "the bytes of a .tflite model or the path of a .tflite file",
        fix="pass TFLiteModel.bytes or a file path",
    )


def _check_identifier(content: bytes) -> None:
    """Raise :class:`ModelFormatError` unless ``content`` has the TFLite file identifier."""
    if len(content) < 8 or content[4:8] != _FILE_IDENTIFIER:
        raise ModelFormatError(
            f"These {len(content)} bytes are not a TFLite model: the flatbuffer file "
            f"identifier {_FILE_IDENTIFIER!r} is missing at bytes 4-8. "
            "Fix: pass the bytes of a .tflite file written by a TFLite converter."
        )


def _root(content: bytes) -> Any:
    """Return the flatbuffer accessor for ``content`` after checking the identifier."""
    _check_identifier(content)
    schema = _flatbuffer_utils().schema_fb
    return schema.Model.GetRootAs(content, 0)


def _entries(root: Any) -> list[tuple[str, int]]:
    """Return ``(name, buffer index)`` for every metadata entry."""
    entries = []
    for i in range(root.MetadataLength()):
        entry = root.Metadata(i)
        raw_name = entry.Name()
        name = raw_name.decode("utf-8", "replace") if raw_name is not None else ""
        entries.append((name, int(entry.Buffer())))
    return entries


def _buffer_bytes(root: Any, content: bytes, index: int) -> bytes:
    """Return the bytes of buffer ``index``, inline or stored after the flatbuffer."""
    buffer = root.Buffers(index)
    if buffer.DataLength():
        return bytes(buffer.DataAsNumpy().tobytes())
    offset, size = int(buffer.Offset()), int(buffer.Size())
    if offset > 1:
        if offset + size > len(content):
            raise ModelFormatError(
                f"Buffer {index} points past the end of the model "
                f"(offset {offset} + size {size} > {len(content)} bytes)."
            )
        return content[offset : offset + size]
    return b""


@contextlib.contextmanager
def _parsing() -> Iterator[None]:
    """Turn any error the flatbuffer accessors raise into a :class:`ModelFormatError`."""
    try:
        yield
    except ModelFormatError:
        raise
    except Exception as exc:
        raise ModelFormatError(
            "The model's flatbuffer structure is corrupted and cannot be parsed "
            f"({type(exc).__name__}: {exc}). Fix: re-export or re-download the model."
        ) from exc


def _parse_document(data: bytes) -> dict[str, Any] | None:
    """Return the JSON object stored in ``data``, or ``None`` when it is not one."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def list_metadata(model: ModelSource) -> dict[str, int]:
    """List every metadata entry of a model with its size in bytes.

    Unlike :func:`read_metadata` this includes the converter's binary entries
    (``min_runtime_version``, ``CONVERSION_METADATA``).

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
    >>> sorted(list_metadata(_tiny_model_for_examples()))
    ['CONVERSION_METADATA', 'min_runtime_version']
    """
    content = _model_bytes(model, "list_metadata")
    root = _root(content)
    with _parsing():
        return {name: len(_buffer_bytes(root, content, index)) for name, index in _entries(root)}


def read_metadata(model: ModelSource) -> dict[str, dict[str, Any]]:
    """Read the named JSON documents stored in a model's metadata.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        The model's bytes, or the path of a ``.tflite`` file.

    Returns
    -------
    dict
        Entry name -> parsed JSON object, in file order. Entries that are not UTF-8 JSON
        objects (the converter's own ``min_runtime_version`` and
        ``CONVERSION_METADATA``) are left out; :func:`list_metadata` lists them.

    Raises
    ------
    ModelFormatError
        When the bytes are not a parseable TFLite flatbuffer.

    Examples
    --------
    >>> model = with_metadata(_tiny_model_for_examples(), "owner", {"team": "edge"})
    >>> read_metadata(model)["owner"]
    {'team': 'edge'}
    """
    content = _model_bytes(model, "read_metadata")
    root = _root(content)
    documents: dict[str, dict[str, Any]] = {}
    with _parsing():
        for name, index in _entries(root):
            document = _parse_document(_buffer_bytes(root, content, index))
            if document is not None:
                documents[name] = document
    return documents


def _serialize(name: str, document: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(to_jsonable(document), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:  # pragma: no cover - to_jsonable makes it safe
        raise invalid_argument(
            "with_metadata", "document", document, "JSON-serializable", fix=str(exc)
        ) from exc


def with_metadata(model_bytes: bytes, name: str, document: Mapping[str, Any]) -> bytes:
    """Return a copy of the model with a named JSON document in its metadata.

    Adds the entry, or replaces the document of an existing entry with the same name
    (an entry name occurs at most once). Every other entry, including the converter's
    own, is kept unchanged, and so are the weights: :func:`weights_sha256` of the result
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
    >>> model = with_metadata(_tiny_model_for_examples(), "labels", {"n": 2})
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
    payload = _serialize(name, document)
    root = _root(content)
    utils = _flatbuffer_utils()
    with _parsing():
        existing = {key: _buffer_bytes(root, content, index) for key, index in _entries(root)}
        model = utils.read_model_from_bytearray(content)
    if name in existing and _parse_document(existing[name]) is None:
        raise invalid_argument(
            "with_metadata",
            "name",
            name,
            "the name of a new entry or of an existing JSON document",
            fix=f"choose another name; {name!r} holds {len(existing[name])} bytes of "
            "non-JSON data that the runtime may need",
        )
    data = np.frombuffer(payload, dtype=np.uint8)
    entry = next((m for m in model.metadata or [] if _decode(m.name) == name), None)
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
    return bytes(utils.convert_object_to_bytearray(model))


def _decode(name: bytes | str | None) -> str:
    if isinstance(name, bytes):
        return name.decode("utf-8", "replace")
    return name or ""


def weights_sha256(model: ModelSource) -> str:
    """Hash the model's constant buffers (its weights), ignoring metadata.

    The hash covers every buffer that a tensor of any subgraph refers to, in the order
    tensors first refer to them, each framed by its length (8 bytes, little endian);
    empty buffers and metadata buffers are skipped. It is therefore unchanged by
    :func:`with_metadata` (which renumbers buffers but keeps their order), while any
    changed byte in a weight changes it. Tensor shapes, types and quantization
    parameters live in the flatbuffer tables, not in buffers, and are not covered.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        The model's bytes, or the path of a ``.tflite`` file.

    Returns
    -------
    str
        64 lowercase hex digits.

    Raises
    ------
    ModelFormatError
        When the bytes are not a parseable TFLite flatbuffer.

    Examples
    --------
    >>> model = _tiny_model_for_examples()
    >>> digest = weights_sha256(model)
    >>> len(digest)
    64
    >>> weights_sha256(with_metadata(model, "notes", {"text": "hi"})) == digest
    True
    """
    content = _model_bytes(model, "weights_sha256")
    root = _root(content)
    digest = hashlib.sha256()
    with _parsing():
        metadata_buffers = {index for _, index in _entries(root)}
        seen: set[int] = set()
        for s in range(root.SubgraphsLength()):
            subgraph = root.Subgraphs(s)
            for t in range(subgraph.TensorsLength()):
                index = int(subgraph.Tensors(t).Buffer())
                if index == 0 or index in seen or index in metadata_buffers:
                    continue
                seen.add(index)
                data = _buffer_bytes(root, content, index)
                if data:
                    digest.update(struct.pack("<Q", len(data)))
                    digest.update(data)
    return digest.hexdigest()


def with_edgeml_entry(model_bytes: bytes, document: Mapping[str, Any] | None = None) -> bytes:
    """Write the ``edgeml`` entry with the current weights hash.

    The entry is ``document`` plus ``"weights_sha256": weights_sha256(model_bytes)``
    (a ``weights_sha256`` key in ``document`` is overwritten). With ``document=None``
    the fields of an existing ``edgeml`` entry are kept and only the hash is refreshed.
    Call it last, after the weights are final; adding other documents afterwards is
    fine.

    Parameters
    ----------
    model_bytes : bytes
        The model's bytes.
    document : Mapping, optional
        Other fields of the entry (versions, conversion report, ...).

    Returns
    -------
    bytes
        The new model.

    Raises
    ------
    ModelFormatError
        When ``model_bytes`` is not a parseable TFLite model.

    Examples
    --------
    >>> model = with_edgeml_entry(_tiny_model_for_examples(), {"edgeml_version": "0.1"})
    >>> entry = read_metadata(model)["edgeml"]
    >>> entry["edgeml_version"], entry["weights_sha256"] == weights_sha256(model)
    ('0.1', True)
    """
    if document is None:
        document = read_metadata(model_bytes).get(EDGEML_ENTRY, {})
    if not isinstance(document, Mapping):
        raise invalid_argument("with_edgeml_entry", "document", document, "a mapping or None")
    entry = {**document, "weights_sha256": weights_sha256(model_bytes)}
    return with_metadata(model_bytes, EDGEML_ENTRY, entry)


@dataclass(frozen=True)
class Integrity:
    """Whether a model's weights match the hash stored in its ``edgeml`` entry.

    Attributes
    ----------
    status : {"verified", "mismatch", "unverified"}
        ``"verified"`` when the stored hash equals the weights' hash, ``"mismatch"``
        when it differs (or is not a SHA-256 hex digest), ``"unverified"`` when the
        model carries no stored hash (it was not converted by edgeml).
    expected : str or None
        The stored hash, ``None`` when absent.
    actual : str
        The hash of the weights in the file.
    """

    status: Literal["verified", "mismatch", "unverified"]
    expected: str | None
    actual: str

    @property
    def ok(self) -> bool:
        """``True`` unless the status is ``"mismatch"``."""
        return self.status != "mismatch"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {"status": self.status, "expected": self.expected, "actual": self.actual}

    def __repr__(self) -> str:
        return f"Integrity(status={self.status!r}, actual={self.actual[:12]}...)"


def check_integrity(model: ModelSource) -> Integrity:
    """Compare the weights hash stored in the ``edgeml`` entry with the weights.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        The model's bytes, or the path of a ``.tflite`` file.

    Returns
    -------
    Integrity
        The verdict with both hashes; never raises for a mismatch (see
        :func:`verify_integrity`).

    Raises
    ------
    ModelFormatError
        When the bytes are not a parseable TFLite flatbuffer.

    Examples
    --------
    >>> check_integrity(_tiny_model_for_examples()).status
    'unverified'
    """
    content = _model_bytes(model, "check_integrity")
    actual = weights_sha256(content)
    expected = read_metadata(content).get(EDGEML_ENTRY, {}).get("weights_sha256")
    if expected is None:
        return Integrity("unverified", None, actual)
    if not isinstance(expected, str) or not _SHA256_HEX.fullmatch(expected):
        return Integrity("mismatch", str(expected), actual)
    return Integrity("verified" if expected == actual else "mismatch", expected, actual)


def verify_integrity(model: ModelSource) -> Integrity:
    """Like :func:`check_integrity`, but raise when the weights do not match.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        The model's bytes, or the path of a ``.tflite`` file.

    Returns
    -------
    Integrity
        With status ``"verified"`` or ``"unverified"``.

    Raises
    ------
    IntegrityError
        When the stored hash differs from the weights' hash: the weights were altered
        after conversion (corruption in storage or transfer, or tampering).
    ModelFormatError
        When the bytes are not a parseable TFLite flatbuffer.

    Examples
    --------
    >>> model = with_edgeml_entry(_tiny_model_for_examples())
    >>> verify_integrity(model).status
    'verified'
    """
    integrity = check_integrity(model)
    if not integrity.ok:
        raise IntegrityError(
            "The model's weights do not match the SHA-256 stored in its 'edgeml' metadata "
            f"(stored {integrity.expected}, computed {integrity.actual}): the weights were "
            "altered after conversion and would give wrong outputs. Fix: re-download or "
            "re-convert the model."
        )
    return integrity


def _tiny_model_for_examples() -> bytes:
    """Return a small, valid float model (one FULLY_CONNECTED op) for doctests."""
    schema = _flatbuffer_utils().schema_fb
    model = schema.ModelT()
    model.version = 3
    model.description = "edgeml doctest model"
    weights = np.arange(6, dtype=np.float32).reshape(3, 2)
    model.buffers = [schema.BufferT(), schema.BufferT()]
    model.buffers[1].data = np.frombuffer(weights.tobytes(), dtype=np.uint8)
    for name, text in (("min_runtime_version", b"1.5.0\0\0\0"), ("CONVERSION_METADATA", b"\x08")):
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(text, dtype=np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name, len(model.buffers) - 1
        model.metadata = [*(model.metadata or []), entry]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    model.operatorCodes = [code]
    tensors = []
    for name, shape, buffer_index in (("x", [1, 2], 0), ("w", [3, 2], 1), ("y", [1, 3], 0)):
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.buffer = name, shape, buffer_index
        tensor.type = schema.TensorType.FLOAT32
        tensors.append(tensor)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, -1], [2]
    op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    op.builtinOptions = schema.FullyConnectedOptionsT()
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.operators = tensors, [op]
    subgraph.inputs, subgraph.outputs, subgraph.name = [0], [2], "main"
    model.subgraphs = [subgraph]
    return bytes(_flatbuffer_utils().convert_object_to_bytearray(model))
