"""``inspect_model``: what a ``.tflite`` file contains, read without TensorFlow."""

from __future__ import annotations

import collections
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeml._display import html_table, markdown_table, to_jsonable
from edgeml.modelfile import (
    CARD_ENTRY,
    Integrity,
    check_integrity,
    list_metadata,
    read_metadata,
)
from edgeml.modelfile._flatbuffer import flatbuffer_utils, model_bytes
from edgeml.runtime._model import EdgeModel
from edgeml.runtime._specs import Signature, TensorSpec

__all__ = ["ModelInfo", "inspect_model"]


@dataclass(frozen=True)
class ModelInfo:
    """A description of a ``.tflite`` model: I/O, ops, size, metadata and integrity.

    Attributes
    ----------
    path : str or None
        The file, when read from one.
    size : int
        Bytes.
    sha256 : str
        SHA-256 of the whole file.
    signatures : dict
        Signature name -> :class:`Signature` (inputs and outputs with quantization).
    op_counts : dict
        Operator name (builtin, or custom code) -> occurrences over all subgraphs.
    tensor_types : dict
        Tensor dtype -> number of tensors of that type (a view of quantization coverage).
    metadata_entries : dict
        Every metadata entry -> size in bytes (including the converter's own).
    metadata : dict
        The JSON documents among them (see :func:`edgeml.modelfile.read_metadata`).
    integrity : Integrity
        Whether the weights match the hash stored in the ``edgeml`` entry.
    card_bytes : int
        Bytes the embedded model card takes in the file (stored compressed), 0 without
        one; ``size - sum(metadata_entries.values())`` is the model without metadata.
    """

    path: str | None
    size: int
    sha256: str
    signatures: dict[str, Signature]
    op_counts: dict[str, int]
    tensor_types: dict[str, int]
    metadata_entries: dict[str, int]
    metadata: dict[str, dict[str, Any]] = field(repr=False)
    integrity: Integrity
    card_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return dict(to_jsonable(self.__dict__))

    def _io_rows(self) -> list[list[Any]]:
        return [
            [name or "(main)", *row] for name, sig in self.signatures.items() for row in sig._rows()
        ]

    def to_text(self) -> str:
        """Return the human-readable report printed by ``edgeml inspect``."""
        lines = [
            f"{Path(self.path).name if self.path else 'model'}: {self.size:,} bytes, "
            f"sha256 {self.sha256}",
            f"integrity: {self.integrity.status}"
            + (
                f" (stored {self.integrity.expected}, computed {self.integrity.actual})"
                if self.integrity.status == "mismatch"
                else f" (weights sha256 {self.integrity.actual})"
            ),
        ]
        for name, signature in self.signatures.items():
            lines.append(f"signature {name!r}" if name else "main subgraph (no signatures)")
            for direction, specs in (("input", signature.inputs), ("output", signature.outputs)):
                for spec in specs:
                    lines.append(f"  {direction:<6} " + "  ".join(_spec_cells(spec)))
        ops = ", ".join(f"{op} x{n}" for op, n in self.op_counts.items())
        lines.append(f"ops ({sum(self.op_counts.values())}): {ops}")
        types = ", ".join(f"{t} x{n}" for t, n in self.tensor_types.items())
        lines.append(f"tensor types: {types}")
        if self.metadata_entries:
            total = sum(self.metadata_entries.values())
            lines.append(
                f"metadata: {total:,} bytes ({self.card_bytes:,} of them the model card); "
                f"model without metadata: {self.size - total:,} bytes"
            )
            for entry, size in self.metadata_entries.items():
                kind = "JSON" if entry in self.metadata else "binary"
                if entry == CARD_ENTRY:
                    kind = "the model card"
                lines.append(f"  {entry} ({size:,} bytes, {kind})")
        else:
            lines.append("metadata: none")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """Return the signatures' inputs and outputs as a Markdown table."""
        return markdown_table(_HEADERS, self._io_rows())

    def _repr_html_(self) -> str:
        caption = f"{self.size:,} bytes, integrity {self.integrity.status}"
        return html_table(_HEADERS, self._io_rows(), caption=caption)

    def __repr__(self) -> str:
        name = Path(self.path).name if self.path else "bytes"
        return (
            f"ModelInfo({name!r}, {self.size:,} bytes, signatures={list(self.signatures)}, "
            f"ops={sum(self.op_counts.values())}, integrity={self.integrity.status!r})"
        )


_HEADERS = ["signature", "direction", "name", "shape", "dtype", "quantization"]


def _spec_cells(spec: TensorSpec) -> list[str]:
    name, shape, dtype, quant = spec._row()
    return [f"{name:<20}", f"{shape:<16}", f"{dtype:<8}", quant]


def inspect_model(model: bytes | str | os.PathLike[str]) -> ModelInfo:
    """Describe a ``.tflite`` model without running it (and without TensorFlow).

    Unlike :func:`~edgeml.runtime.load`, a weights hash mismatch does not raise: it is
    reported in :attr:`ModelInfo.integrity`.

    Parameters
    ----------
    model : bytes or str or os.PathLike
        The model's bytes, or the path of a ``.tflite`` file.

    Returns
    -------
    ModelInfo
        Inputs and outputs per signature, op counts, tensor types, size, metadata and
        integrity.

    Raises
    ------
    ModelFormatError
        When the bytes are not a valid model.

    Examples
    --------
    >>> from edgeml.modelfile import example_model
    >>> info = inspect_model(example_model())
    >>> info.op_counts, info.integrity.status
    ({'FULLY_CONNECTED': 1}, 'unverified')
    """
    content = model_bytes(model, "inspect_model")
    path = str(model) if isinstance(model, (str, os.PathLike)) else None
    integrity = check_integrity(content)
    documents = read_metadata(content)
    loaded = EdgeModel._from_bytes(content, path, 1, "auto", "raise", (documents, integrity))
    schema = flatbuffer_utils().schema_fb
    op_names = {code: name for name, code in vars(schema.BuiltinOperator).items() if name.isupper()}
    type_names = {
        code: name.lower() for name, code in vars(schema.TensorType).items() if name.isupper()
    }
    root = schema.Model.GetRootAs(content, 0)
    codes = []
    for i in range(root.OperatorCodesLength()):
        code = root.OperatorCodes(i)
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        custom = code.CustomCode()
        codes.append(
            custom.decode("utf-8", "replace") if custom else op_names.get(builtin, str(builtin))
        )
    ops: collections.Counter[str] = collections.Counter()
    types: collections.Counter[str] = collections.Counter()
    for s in range(root.SubgraphsLength()):
        subgraph = root.Subgraphs(s)
        for o in range(subgraph.OperatorsLength()):
            ops[codes[subgraph.Operators(o).OpcodeIndex()]] += 1
        for t in range(subgraph.TensorsLength()):
            kind = int(subgraph.Tensors(t).Type())
            types[type_names.get(kind, str(kind))] += 1
    entries = list_metadata(content)
    return ModelInfo(
        path=path,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        signatures=loaded.signatures,
        op_counts=dict(ops.most_common()),
        tensor_types=dict(types.most_common()),
        metadata_entries=entries,
        metadata=documents,
        integrity=integrity,
        card_bytes=entries.get(CARD_ENTRY, 0),
    )
