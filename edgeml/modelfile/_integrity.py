"""The integrity record: a hash of everything that decides a model's outputs.

Flipped bits in a weight buffer, a quantization scale or a zero point pass every
flatbuffer verifier and the model runs with wrong outputs. :func:`weights_sha256`
hashes them; :func:`with_edgeml_entry` stores the hash twice (in the ``edgeml``
metadata entry and, as a marker, in the model's description string), and
:func:`check_integrity` compares it with what is in the file. A model written with a
hash never reads as "unverified": a damaged, renamed or missing ``edgeml`` entry next
to the marker (or a look-alike of it) is reported as ``"damaged"``.

Hash versions
    Version 2 (written since edgeml 0.1.0) covers the constant buffers and the graph
    tables: operator codes, each subgraph's inputs, outputs and operators (opcode and
    tensor indices), each tensor's type, shape, shape signature, buffer and
    quantization parameters (scales, zero points, quantized dimension, min/max), and
    the signature definitions (names and tensor indices).
    Builtin operator options are not covered. Version 1 (earlier previews) covered the
    constant buffers only; such models still verify with it. The version is stored
    next to the hash, and a hash of one version never equals the other's, so editing
    the version cannot downgrade the check.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from edgeml.errors import IntegrityError, invalid_argument
from edgeml.modelfile._flatbuffer import (
    ModelSource,
    buffer_bytes,
    decode_name,
    entries,
    model_bytes,
    parsing,
    root,
)
from edgeml.modelfile._metadata import (
    EDGEML_ENTRY,
    decode_document,
    encode_document,
    read_entries,
    replace_entry,
)

__all__ = [
    "INTEGRITY_VERSION",
    "Integrity",
    "check_integrity",
    "verify_integrity",
    "weights_sha256",
    "with_edgeml_entry",
]

#: The hash version :func:`with_edgeml_entry` writes.
INTEGRITY_VERSION = 2
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_MARK = re.compile(r" ?\[edgeml integrity v(\d+) sha256:([0-9a-f]{64})\]")

Status = Literal["verified", "mismatch", "unverified", "damaged"]


def _frame(digest: Any, data: bytes) -> None:
    digest.update(struct.pack("<Q", len(data)))
    digest.update(data)


def _vector(table: Any, field: str, dtype: str) -> bytes:
    """Return a flatbuffer vector field as bytes of a fixed dtype (empty when absent)."""
    if not getattr(table, f"{field}Length")():
        return b""
    return np.asarray(getattr(table, f"{field}AsNumpy")()).astype(dtype).tobytes()


def _hash_graph(model_root: Any, digest: Any, rank: dict[int, int]) -> None:
    """Feed operator codes, subgraphs, operators and tensors (version 2)."""
    ints = struct.Struct("<qqqq")
    for c in range(model_root.OperatorCodesLength()):
        code = model_root.OperatorCodes(c)
        digest.update(
            ints.pack(
                int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()), int(code.Version()), c
            )
        )
        _frame(digest, code.CustomCode() or b"")
    for s in range(model_root.SubgraphsLength()):
        subgraph = model_root.Subgraphs(s)
        _frame(digest, _vector(subgraph, "Inputs", "<i8"))
        _frame(digest, _vector(subgraph, "Outputs", "<i8"))
        for o in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(o)
            digest.update(ints.pack(int(op.OpcodeIndex()), int(op.BuiltinOptionsType()), o, s))
            _frame(digest, _vector(op, "Inputs", "<i8"))
            _frame(digest, _vector(op, "Outputs", "<i8"))
            _frame(digest, _vector(op, "CustomOptions", "u1"))
        for t in range(subgraph.TensorsLength()):
            tensor = subgraph.Tensors(t)
            buffer = rank.get(int(tensor.Buffer()), 0)
            digest.update(ints.pack(int(tensor.Type()), buffer, int(tensor.IsVariable()), t))
            _frame(digest, _vector(tensor, "Shape", "<i8"))
            _frame(digest, _vector(tensor, "ShapeSignature", "<i8"))
            quantization = tensor.Quantization()
            if quantization is None:
                digest.update(b"\x00")
                continue
            digest.update(b"\x01" + struct.pack("<q", int(quantization.QuantizedDimension())))
            for field, dtype in (
                ("Scale", "<f4"),
                ("ZeroPoint", "<i8"),
                ("Min", "<f4"),
                ("Max", "<f4"),
            ):
                _frame(digest, _vector(quantization, field, dtype))
    for g in range(model_root.SignatureDefsLength()):
        signature = model_root.SignatureDefs(g)
        digest.update(struct.pack("<qq", int(signature.SubgraphIndex()), g))
        _frame(digest, signature.SignatureKey() or b"")
        for kind in ("Inputs", "Outputs"):
            count = getattr(signature, f"{kind}Length")()
            digest.update(struct.pack("<q", count))
            for i in range(count):
                tensor_map = getattr(signature, kind)(i)
                digest.update(struct.pack("<q", int(tensor_map.TensorIndex())))
                _frame(digest, tensor_map.Name() or b"")


def weights_sha256(model: ModelSource, *, version: int = INTEGRITY_VERSION) -> str:
    """Hash what decides the model's outputs: its constants and (version 2) its graph.

    Metadata and the description are not covered, so adding or editing documents
    never changes the hash, while any changed byte in a weight, a scale, a zero point,
    a shape or a tensor index does (see the module docstring for what each version
    covers). Constant buffers are hashed in the order tensors first refer to them,
    each framed by its length, so renumbering buffers does not change the hash.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        The model's bytes, or the path of a ``.tflite`` file.
    version : {2, 1}, default 2
        The hash version; 1 only to check models written by edgeml previews.

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
    >>> from edgeml.modelfile import example_model, with_metadata
    >>> model = example_model()
    >>> digest = weights_sha256(model)
    >>> len(digest), digest == weights_sha256(model, version=1)
    (64, False)
    >>> weights_sha256(with_metadata(model, "notes", {"text": "hi"})) == digest
    True
    """
    if version not in (1, 2):
        raise invalid_argument("weights_sha256", "version", version, "1 or 2")
    content = model_bytes(model, "weights_sha256")
    model_root = root(content)
    digest = hashlib.sha256()
    with parsing():
        metadata_buffers = {index for _, index in entries(model_root)}
        rank: dict[int, int] = {}
        data_in_order: list[bytes] = []
        for s in range(model_root.SubgraphsLength()):
            subgraph = model_root.Subgraphs(s)
            for t in range(subgraph.TensorsLength()):
                index = int(subgraph.Tensors(t).Buffer())
                if index == 0 or index in rank or index in metadata_buffers:
                    continue
                data = buffer_bytes(model_root, content, index)
                if data:
                    data_in_order.append(data)
                    rank[index] = len(data_in_order)
        if version == 2:
            digest.update(b"edgeml-integrity-v2\x00")
            _hash_graph(model_root, digest, rank)
        for data in data_in_order:
            _frame(digest, data)
    return digest.hexdigest()


def _description(content: bytes) -> str:
    with parsing():
        return decode_name(root(content).Description())


def with_edgeml_entry(model_bytes: bytes, document: Mapping[str, Any] | None = None) -> bytes:
    """Write the ``edgeml`` entry with the current integrity hash.

    The entry is ``document`` plus ``"weights_sha256"`` (the hash of
    :func:`weights_sha256`) and ``"integrity_version"``; the same hash is marked in
    the model's description so that a damaged or renamed entry is detected. With
    ``document=None`` the fields of an existing ``edgeml`` entry are kept and only the
    hash is refreshed. Call it last, after the weights are final; adding other
    documents afterwards is fine.

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
    >>> from edgeml.modelfile import example_model, read_metadata
    >>> model = with_edgeml_entry(example_model(), {"edgeml_version": "0.1"})
    >>> entry = read_metadata(model)["edgeml"]
    >>> entry["edgeml_version"], entry["weights_sha256"] == weights_sha256(model)
    ('0.1', True)
    """
    if not isinstance(model_bytes, (bytes, bytearray, memoryview)):
        raise invalid_argument(
            "with_edgeml_entry", "model_bytes", model_bytes, "the bytes of a .tflite model"
        )
    content = bytes(model_bytes)
    if document is None:
        document = decode_document(read_entries(content).get(EDGEML_ENTRY, b"{}")) or {}
    if not isinstance(document, Mapping):
        raise invalid_argument("with_edgeml_entry", "document", document, "a mapping or None")
    digest = weights_sha256(content)
    entry = {**document, "weights_sha256": digest, "integrity_version": INTEGRITY_VERSION}
    base = _MARK.sub("", _description(content))
    mark = f"[edgeml integrity v{INTEGRITY_VERSION} sha256:{digest}]"
    description = f"{base} {mark}" if base else mark
    return replace_entry(content, EDGEML_ENTRY, encode_document(entry), description)


@dataclass(frozen=True)
class Integrity:
    """Whether a model's weights match the hash stored in its ``edgeml`` entry.

    Attributes
    ----------
    status : {"verified", "mismatch", "unverified", "damaged"}
        ``"verified"`` when the stored hash equals the model's hash; ``"mismatch"``
        when it differs (or is not a SHA-256 hex digest); ``"damaged"`` when the model
        was written with a hash but its ``edgeml`` entry is unreadable, renamed,
        missing or disagrees with the description's marker; ``"unverified"`` when the
        model carries no hash at all (it was not written by edgeml).
    expected : str or None
        The stored hash, ``None`` when absent or unreadable.
    actual : str
        The hash of the model as it is.
    version : int
        The hash version compared (see :func:`weights_sha256`).
    reason : str or None
        What is damaged, for ``"damaged"``.
    """

    status: Status
    expected: str | None
    actual: str
    version: int = INTEGRITY_VERSION
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """``True`` for ``"verified"`` and ``"unverified"``."""
        return self.status in ("verified", "unverified")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "status": self.status,
            "expected": self.expected,
            "actual": self.actual,
            "version": self.version,
            "reason": self.reason,
        }

    def __repr__(self) -> str:
        return f"Integrity(status={self.status!r}, actual={self.actual[:12]}...)"


def _looks_like_edgeml_entry(name: str, data: bytes) -> bool:
    """Tell whether an entry is a renamed ``edgeml`` entry (close name or its fields)."""
    close = (
        len(name) == len(EDGEML_ENTRY)
        and sum(a != b for a, b in zip(name, EDGEML_ENTRY, strict=True)) <= 2
    )
    if close and name != EDGEML_ENTRY:
        return True
    document = decode_document(data)
    return document is not None and "weights_sha256" in document and "integrity_version" in document


def check_integrity(model: ModelSource) -> Integrity:
    """Compare the hash stored in the ``edgeml`` entry with the model's own hash.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        The model's bytes, or the path of a ``.tflite`` file.

    Returns
    -------
    Integrity
        The verdict with both hashes; never raises for a mismatch or damage (see
        :func:`verify_integrity`).

    Raises
    ------
    ModelFormatError
        When the bytes are not a parseable TFLite flatbuffer.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> check_integrity(example_model()).status
    'unverified'
    >>> check_integrity(with_edgeml_entry(example_model())).status
    'verified'
    """
    content = model_bytes(model, "check_integrity")
    raw = read_entries(content)
    found = _MARK.search(_description(content))
    marked = (int(found.group(1)), found.group(2)) if found else None
    marked_hash = marked[1] if marked else None

    def damaged(reason: str, version: int = INTEGRITY_VERSION) -> Integrity:
        return Integrity(
            "damaged", marked_hash, weights_sha256(content, version=version), version, reason
        )

    if EDGEML_ENTRY not in raw:
        renamed = [name for name, data in raw.items() if _looks_like_edgeml_entry(name, data)]
        if renamed:
            return damaged(f"the 'edgeml' entry is missing and entry {renamed[0]!r} looks like it")
        if marked is not None:
            return damaged("the 'edgeml' entry is missing but the description records a hash")
        return Integrity("unverified", None, weights_sha256(content), INTEGRITY_VERSION)
    document = decode_document(raw[EDGEML_ENTRY])
    if document is None:
        return damaged("the 'edgeml' entry is not a readable JSON document")
    expected = document.get("weights_sha256")
    version = document.get("integrity_version", 1)
    if expected is None:
        return damaged("the 'edgeml' entry has no 'weights_sha256'")
    if isinstance(version, bool) or version not in (1, 2):
        return damaged(f"the 'edgeml' entry names an unknown hash version {version!r}")
    actual = weights_sha256(content, version=version)
    if not isinstance(expected, str) or not _SHA256_HEX.fullmatch(expected):
        return Integrity("mismatch", str(expected), actual, version)
    if marked is not None and marked != (version, expected):
        return Integrity(
            "damaged",
            expected,
            actual,
            version,
            "the 'edgeml' entry and the description's marker record different hashes",
        )
    return Integrity("verified" if expected == actual else "mismatch", expected, actual, version)


def verify_integrity(model: ModelSource) -> Integrity:
    """Like :func:`check_integrity`, but raise unless the model verifies or has no hash.

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
        When the stored hash differs from the model's hash (the weights or quantization
        parameters were altered after conversion: corruption in storage or transfer, or
        tampering), or when the model was written with a hash whose record is damaged.
    ModelFormatError
        When the bytes are not a parseable TFLite flatbuffer.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> verify_integrity(with_edgeml_entry(example_model())).status
    'verified'
    """
    integrity = check_integrity(model)
    if integrity.status == "mismatch":
        raise IntegrityError(
            "The model's weights do not match the SHA-256 stored in its 'edgeml' metadata "
            f"(stored {integrity.expected}, computed {integrity.actual}): the weights or "
            "quantization parameters were altered after conversion and would give wrong "
            "outputs. Fix: re-download or re-convert the model."
        )
    if integrity.status == "damaged":
        raise IntegrityError(
            f"The model was written with an integrity hash, but {integrity.reason}, so its "
            "weights cannot be verified and may be corrupted. Fix: re-download or "
            "re-convert the model."
        )
    return integrity
